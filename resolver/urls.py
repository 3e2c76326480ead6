from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from resolver.api import build_api
from resolver.health import healthz
from resolver.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", build_api().urls),
    path("console/", include("support.console.urls")),
]
