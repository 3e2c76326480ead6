"""Deflections (issue #31): a widget visitor said a suggested help article answered their
question, so they sent no message. check_* validates, do_* writes; the dashboard counts them
(support/dashboard_figures.py:deflections)."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from knowledge.models import KBDocument
from resolver.errors import ClientError
from support.models import Deflection, WidgetKey


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


def record_deflection(key: WidgetKey, article_id: int, query: str) -> Deflection:
    return do_record_deflection(key, check_deflection(article_id), query)
