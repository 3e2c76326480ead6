from __future__ import annotations

from django.urls import path

from evals import views

app_name = "evals"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("replay/", views.replay_summary, name="replay"),
]
