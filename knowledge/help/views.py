"""The help center's pages: thin views over articles.py. Public (no session needed), cached by
nobody but the browser, under the site's CSP and security headers like every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from knowledge.help import articles
from knowledge.search import EmptyQueryError
from resolver.api.middleware import over_limit

QUERY_MAX_CHARS = 500


def _page(request: HttpRequest, path: str, language: str, available: list[str]) -> dict[str, Any]:
    """What every negotiated page's head and footer need: its canonical URL, and the URLs of
    its languages (`available`: the ones this page exists in).

    Every language's URL says `?lang=`, the default's included: the bare URL reads the
    browser's Accept-Language, so it is no language's page (a German browser sent to a bare
    "EN" link got German). The bare URL is only the `x-default` alternate, and the canonical
    of a page asked for by it; a page asked for with `?lang=` has its language's URL."""

    def url(lang: str) -> str:
        return request.build_absolute_uri(f"{path}?lang={lang}")

    bare = request.build_absolute_uri(path)
    return {
        "language": language,
        "canonical": url(language) if "lang" in request.GET else bare,
        "alternates": [(lang, url(lang)) for lang in available] if len(available) > 1 else [],
        "default_url": bare,
    }


# On the pages whose language may come from the browser's Accept-Language
# (articles.requested_language): a shared cache must not serve one visitor's language to another.
varies_by_language = vary_on_headers("Accept-Language")


@require_GET
@varies_by_language
def home(request: HttpRequest) -> HttpResponse:
    available = articles.languages()
    language = articles.requested_language(request, available)
    context = {
        **_page(request, reverse("help:home"), language, available),
        "categories": articles.categories(language),
    }
    return render(request, "help/home.html", context)


@require_GET
@varies_by_language
def category(request: HttpRequest, code: str) -> HttpResponse:
    # Its own languages, not the help center's: a page in another language does not exist,
    # so it is neither linked to nor what the bare URL falls back to.
    available = articles.category_languages(code)
    language = articles.requested_language(request, available)
    shown = articles.category(code, language) if available else None
    if shown is None:
        raise Http404("no such category")
    path = articles.category_path(code)
    context = {**_page(request, path, language, available), "category": shown}
    return render(request, "help/category.html", context)


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    document = articles.article(slug)
    if document is None:
        raise Http404("no such article")
    language = document.language
    path = reverse("help:article", args=[document.slug])
    context = {
        # The page is in the article's language: its links (breadcrumbs, header, search form)
        # say `?lang=` with it, English too (bare, they followed the browser's language).
        "language": language,
        "canonical": request.build_absolute_uri(path),
        "alternates": [],
        "document": document,
        "category_title": articles.categories_title(document.category),
        "category_path": articles.category_path(document.category),
        "related": articles.related(document),
    }
    return render(request, "help/article.html", context)


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@require_GET
@varies_by_language
def search(request: HttpRequest) -> HttpResponse:
    """The agents' hybrid search over public articles, limited per client address."""
    available = articles.languages()
    language = articles.requested_language(request, available)
    query = request.GET.get("q", "")
    context: dict[str, Any] = {
        **_page(request, reverse("help:search"), language, available),
        "query": query,
        "results": None,
        "error": "",
    }
    status = 200
    if "\x00" in query or len(query) > QUERY_MAX_CHARS:
        context["error"] = f"A search can be up to {QUERY_MAX_CHARS} characters of text."
        context["query"] = ""
        return render(request, "help/search.html", context, status=400)
    limit = settings.HELP_SEARCH_RATE_LIMIT_PER_MINUTE
    if query.strip() and limit and (retry := over_limit([(f"help:ip:{_client(request)}", limit)])):
        context["error"] = f"Too many searches: please try again in {retry} seconds."
        response = render(request, "help/search.html", context, status=429)
        response["Retry-After"] = str(retry)
        return response
    try:
        context["results"] = articles.search(query, language) if query.strip() else None
    except EmptyQueryError:
        context["results"] = None
    return render(request, "help/search.html", context, status=status)


@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    rows = [
        (request.build_absolute_uri(reverse("help:article", args=[slug])), updated)
        for slug, updated in articles.sitemap_rows()
    ]
    context = {"home": request.build_absolute_uri(reverse("help:home")), "rows": rows}
    return render(request, "help/sitemap.xml", context, content_type="application/xml")
