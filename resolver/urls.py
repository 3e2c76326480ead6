from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from resolver.api import build_api
from resolver.health import healthz
from resolver.metrics import metrics
from support.widget.views import demo as widget_demo

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", build_api().urls),
    # Before support's console: its pages live in evals (support does not know evals).
    path("console/evals/", include("evals.urls")),
    path("console/", include("support.console.urls")),
    # The public help center: knowledge's public articles (knowledge/help/).
    path("help/", include("knowledge.help.urls")),
    path("widget/demo/", widget_demo, name="widget-demo"),
    # ESP inbound e-mail webhooks at anymail's standard paths (/anymail/<esp>/inbound/).
    path("anymail/", include("support.email.urls")),
]

# An outage of PostgreSQL or Redis outside a view is a 503, not a 500 (resolver/unavailable.py).
handler500 = "resolver.unavailable.server_error"
