"""What the help center shows: its articles, its categories, search, and which language a
visitor reads. The pages (views.py) only render these."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import reverse

from knowledge.languages import DEFAULT_LANGUAGE as _DEFAULT
from knowledge.models import HelpCategory, KBDocument
from knowledge.models.document import KBDocumentQuerySet
from knowledge.models.help import title_of
from knowledge.search import SearchHit, clean_query, hybrid_search

DEFAULT_LANGUAGE = _DEFAULT.value
ARTICLES_PER_CATEGORY = 6  # on the home page; the category's page lists all of them
CATEGORY_PAGE_MAX = 500
RESULTS = 10
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def in_language(documents: KBDocumentQuerySet, language: str) -> KBDocumentQuerySet:
    """The one filter every help page's articles go through."""
    return documents.in_language(language)


def _default_first(codes: set[str]) -> list[str]:
    return sorted(codes, key=lambda code: (code != DEFAULT_LANGUAGE, code))


def languages() -> list[str]:
    """The languages the help center has articles in, the default first."""
    found = set(KBDocument.objects.public().values_list("language", flat=True).distinct())
    return _default_first(found | {DEFAULT_LANGUAGE})


def category_languages(code: str) -> list[str]:
    """The languages a category has public articles in, the default first (if it has it): the
    only ones its page exists in, so the only ones it links to. [] when it has none."""
    if "\x00" in code:  # from the URL (%00): no category has it, and PostgreSQL refuses it
        return []
    rows = KBDocument.objects.public().filter(category=code).order_by()
    return _default_first(set(rows.values_list("language", flat=True).distinct()))


def requested_language(request: HttpRequest, available: list[str]) -> str:
    """`?lang=xx` when it is one of `available`, else the first of the browser's
    Accept-Language that is, else DEFAULT_LANGUAGE (else, when `available` lacks it, the first
    of `available`: a category with no article in the default language)."""
    asked = request.GET.get("lang", "").strip().lower()
    if _LANGUAGE.match(asked) and asked in available:
        return asked
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in available:
            return code
    if available and DEFAULT_LANGUAGE not in available:
        return available[0]
    return DEFAULT_LANGUAGE


def public_articles(language: str) -> KBDocumentQuerySet:
    return in_language(KBDocument.objects.public(), language)


def category_path(code: str) -> str:
    """A category's page. Articles without a category ("General") have their own URL: a URL
    part cannot be empty. A code may hold "/" (the route's converter is `path`)."""
    return reverse("help:category", args=[code]) if code else reverse("help:general")


@dataclass
class Category:
    code: str
    title: str
    description: str = ""
    count: int = 0
    articles: list[KBDocument] = field(default_factory=list)

    @property
    def path(self) -> str:
        return category_path(self.code)


def _settings() -> dict[str, HelpCategory]:
    return {category.code: category for category in HelpCategory.objects.enabled()}


def _category(code: str, rows: dict[str, HelpCategory]) -> Category:
    row = rows.get(code)
    if row is None:
        return Category(code, title_of(code))
    return Category(code, row.shown_title, row.description)


def categories(language: str, per_category: int = ARTICLES_PER_CATEGORY) -> list[Category]:
    """The home page: each category with articles, in the team's order (then by title), with
    its first articles by title."""
    rows = _settings()
    found: dict[str, Category] = {}
    documents = (
        public_articles(language).order_by("category", "title").only("slug", "title", "category")
    )
    counts: dict[str, int] = defaultdict(int)
    for document in documents:
        code = document.category
        category = found.setdefault(code, _category(code, rows))
        counts[code] += 1
        if len(category.articles) < per_category:
            category.articles.append(document)
    for code, category in found.items():
        category.count = counts[code]

    def order(category: Category) -> tuple[int, str]:
        row = rows.get(category.code)
        return (
            row.position if row else HelpCategory._meta.get_field("position").default,
            category.title,
        )

    return sorted(found.values(), key=order)


def category(code: str, language: str) -> Category | None:
    """One category's page; None when it is switched off or has no public article."""
    if "\x00" in code:  # from the URL (%00): no category has it, and PostgreSQL refuses it
        return None
    documents = list(
        public_articles(language)
        .filter(category=code)
        .order_by("title")
        .only("slug", "title", "category")[:CATEGORY_PAGE_MAX]
    )
    if not documents:
        return None
    shown = _category(code, _settings())
    shown.articles, shown.count = documents, len(documents)
    return shown


def categories_title(code: str) -> str:
    row = HelpCategory.objects.filter(code=code).first() if code else None
    return row.shown_title if row else title_of(code)


def article(slug: str) -> KBDocument | None:
    return KBDocument.objects.public().filter(slug=slug).first()


def related(document: KBDocument, limit: int = 5) -> list[KBDocument]:
    """Other public articles of the same category in the article's language (no search: the
    page stays one query fast)."""
    if not document.category:
        return []
    return list(
        public_articles(document.language)
        .filter(category=document.category)
        .exclude(pk=document.pk)
        .order_by("title")
        .only("slug", "title")[:limit]
    )


@dataclass(frozen=True)
class Result:
    slug: str
    title: str
    snippet: str
    kb_id: int


def search(query: str, language: str, limit: int = RESULTS) -> list[Result]:
    """The agents' hybrid search over the public articles of one language. EmptyQueryError when
    the query has no text."""
    documents = public_articles(language)
    hits: list[SearchHit] = hybrid_search(documents, clean_query(query), limit, language=language)
    slugs = dict(documents.filter(pk__in=[hit.kb_id for hit in hits]).values_list("pk", "slug"))
    # An article unpublished between the search and this read is left out (not a KeyError).
    return [
        Result(slugs[hit.kb_id], hit.title, hit.snippet, hit.kb_id)
        for hit in hits
        if hit.kb_id in slugs
    ]


def sitemap_rows() -> list[tuple[str, object]]:
    """(slug, updated_at) of every public article, in every language."""
    rows = KBDocument.objects.public().order_by("slug").values_list("slug", "updated_at")
    return list(rows)
