"""/widget/demo/: a page that embeds the widget with the demo key, as a customer's site would."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from support.models import WidgetKey


def demo(request: HttpRequest) -> HttpResponse:
    origin = f"{request.scheme}://{request.get_host()}"  # get_host() checks ALLOWED_HOSTS
    key = WidgetKey.objects.demo_for(origin)
    script_tag = key.script_tag(origin)
    return render(request, "widget/demo.html", {"key": key, "script_tag": script_tag})
