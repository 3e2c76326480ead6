"""Deflections (issue #31): a widget visitor said a suggested help article answered their
question, so they sent no message. check_* validates, do_* writes; the dashboard counts them
(support/dashboard_figures.py:deflections)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac

from django.conf import settings

from knowledge.models import KBDocument
from resolver.errors import ClientError
from resolver.redis_client import get_redis
from support.models import Deflection, WidgetKey

# One deflection per visitor, widget key and article in this long.
DEDUPLICATE_SECONDS = 24 * 3600
ONCE_PREFIX = "resolver:deflection:once:"


class NotAnArticle(ClientError):
    status_code = 404
    code = "not_found"


def query_hash(query: str) -> str:
    """A keyed hash of what the visitor typed, normalised (case, spaces): the same question
    counts together, and the words cannot be recovered without SECRET_KEY."""
    text = " ".join(query.lower().split())
    if not text:
        return ""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def check_deflection(article_id: int) -> KBDocument:
    """Only an article the help center shows can have answered a visitor."""
    article = KBDocument.objects.public().filter(pk=article_id).only("pk").first()
    if article is None:
        raise NotAnArticle(f"no public help article {article_id}")
    return article


def do_record_deflection(key: WidgetKey, article: KBDocument, query: str) -> Deflection:
    return Deflection.objects.create(article=article, widget_key=key, query_hash=query_hash(query))


def _once_key(key: WidgetKey, article: KBDocument, visitor: str) -> str:
    digest = hmac.new(
        # The key's public value, random per key, not its row id: a database made afresh
        # (tests, a reinstall) beside a Redis that kept its markers must not find old ones.
        settings.SECRET_KEY.encode(),
        f"{key.public_key}:{article.pk}:{visitor}".encode(),
        hashlib.sha256,
    ).hexdigest()[:32]
    return f"{ONCE_PREFIX}{digest}"


def record_deflection(
    key: WidgetKey, article_id: int, query: str, visitor: str = ""
) -> tuple[Deflection | None, bool]:
    """(the deflection, whether it is new). One per visitor (their address, keyed-hashed), widget
    key and article in DEDUPLICATE_SECONDS: the endpoint needs no more than a public key, and a
    loop of posts would otherwise inflate the dashboard's deflection rate and top articles. A
    repeat returns the first one (None if it is gone); Redis down, each one counts."""
    article = check_deflection(article_id)
    marker = _once_key(key, article, visitor)
    try:
        first = get_redis().set(marker, "", nx=True, ex=DEDUPLICATE_SECONDS)
    except Exception:
        first = True
    if not first:
        stored = _stored_id(marker)
        found = Deflection.objects.filter(pk=stored).first() if stored is not None else None
        return found, False
    deflection = do_record_deflection(key, article, query)
    with contextlib.suppress(Exception):
        get_redis().set(marker, str(deflection.pk), ex=DEDUPLICATE_SECONDS)
    return deflection, True


def _stored_id(marker: str) -> int | None:
    try:
        value = get_redis().get(marker)
        return int(str(value, "ascii")) if isinstance(value, bytes) and value else None
    except Exception:
        return None
