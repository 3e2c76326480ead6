from __future__ import annotations

from django.urls import path

from knowledge.help import views

app_name = "help"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    # The articles without a category ("General"); `path`: a category's code may hold "/".
    path("category/", views.category, {"code": ""}, name="general"),
    path("category/<path:code>/", views.category, name="category"),
    path("<slug:slug>/", views.article, name="article"),
]
