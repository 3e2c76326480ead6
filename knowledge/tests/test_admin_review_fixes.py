"""The KB admin's fixes after review: bulk actions need the change permission; an import's zip
is checked entry by entry (never a 500, never expanded without bound); chunks are read-only;
publishing or unpublishing a learned article re-calibrates the learned thresholds; metadata's
"revisions" has the shape approving a revision needs."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from dramatiq import Message

from knowledge.actors import calibrate_learned_articles, reindex_document
from knowledge.models import (
    ChunkKind,
    DocumentSource,
    DocumentStatus,
    EmbeddingStatus,
    KBChunk,
    KBDocument,
    Proposal,
    ProposalKind,
)
from knowledge.tests.articles import change_form

CHANGELIST = "/admin/knowledge/kbdocument/"
ZIP_MAX_MEMBERS = 10_000  # knowledge/admin.py's
IMPORT = f"{CHANGELIST}import/"


def _staff(*codenames: str) -> Client:
    user = User.objects.create_user("kb_staff", password="unused", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _article(external_id: str, **fields: Any) -> KBDocument:
    values: dict[str, Any] = {
        "source": DocumentSource.MANUAL,
        "title": f"Article {external_id}",
        "content": "Refunds take five days.",
        "status": DocumentStatus.PUBLISHED,
        "public": True,
        "embedding_status": EmbeddingStatus.READY,
        **fields,
    }
    return KBDocument.objects.create(external_id=external_id, **values)


# A. Bulk actions


ACTIONS = ["publish", "unpublish", "show_in_help_center", "hide_from_help_center", "reembed"]


@pytest.mark.parametrize("action", ACTIONS)
def test_a_view_only_staff_user_cannot_run_the_bulk_actions(db: None, action: str) -> None:
    client = _staff("view_kbdocument")
    published = _article("a", status=DocumentStatus.PUBLISHED, public=True)
    draft = _article("b", status=DocumentStatus.DRAFT, public=False)
    before = list(KBDocument.objects.order_by("pk").values("status", "public", "embedding_status"))

    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert f'value="{action}"' not in page.content.decode()
    client.post(CHANGELIST, {"action": action, "_selected_action": [published.pk, draft.pk]})

    after = list(KBDocument.objects.order_by("pk").values("status", "public", "embedding_status"))
    assert after == before


def test_a_staff_user_who_may_change_documents_runs_them(db: None) -> None:
    client = _staff("view_kbdocument", "change_kbdocument")
    doc = _article("a")
    assert 'value="unpublish"' in client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "unpublish", "_selected_action": [doc.pk]})
    assert KBDocument.objects.get(pk=doc.pk).status == DocumentStatus.DRAFT


# B. Importing a zip


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


def _patched(data: bytearray, local: int, central: int, change: Callable[[int], int]) -> bytes:
    """The zip with one byte of every entry's local header (at `local`) and central directory
    record (at `central`) changed, as a zip tool other than Python's writes it."""
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = data.find(signature)
        while at != -1:
            data[at + offset] = change(data[at + offset])
            at = data.find(signature, at + 4)
    return bytes(data)


def _encrypted() -> bytes:
    data = _zip({"faq.md": b"# FAQ\n\nReturns within 30 days."})
    return _patched(data, 6, 8, lambda flags: flags | 0x1)  # flag bit 0: encrypted


def _deflate64() -> bytes:
    data = _zip({"faq.md": b"# FAQ\n\nReturns within 30 days."})
    return _patched(data, 8, 10, lambda method: 9)  # Deflate64, which zipfile cannot read


def _import(client: Client, name: str, data: bytes, source: str = "markdown") -> list[str]:
    upload = SimpleUploadedFile(name, data, content_type="application/zip")
    response = client.post(IMPORT, {"source": source, "file": upload}, follow=True)
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (_encrypted, "faq.md is encrypted in the zip"),
        (_deflate64, "faq.md is compressed with a method that cannot be read (zip method 9)"),
        (
            lambda: bytes(_zip({"guide.md": b"# Guide\n\nText.", "guide.md/more.md": b"# More"})),
            "cannot extract guide.md/more.md: ",
        ),
        (
            lambda: bytes(_zip({"x" * 300 + ".md": b"# A\n\nText."})),
            "cannot extract xxxxxxxxxx",
        ),
        (
            lambda: bytes(_zip({f"kb/{i}.md": b"" for i in range(ZIP_MAX_MEMBERS + 1)})),
            f"the zip holds {ZIP_MAX_MEMBERS + 1} entries, more than {ZIP_MAX_MEMBERS}",
        ),
    ],
    ids=["encrypted", "deflate64", "file-and-folder-of-one-name", "name-too-long", "too-many"],
)
def test_a_zip_that_cannot_be_extracted_imports_nothing_with_a_reason(
    admin_client: Client, build: Any, said: str
) -> None:
    """Each was a 500 (RuntimeError, NotImplementedError, NotADirectoryError, ENAMETOOLONG) or,
    for the many empty entries, files written without bound."""
    messages = _import(admin_client, "kb.zip", build())
    assert len(messages) == 1 and messages[0].startswith("Nothing imported: "), messages
    assert said in messages[0]
    assert not KBDocument.objects.exists()


def test_a_zip_expanding_beyond_the_upload_limit_imports_nothing(
    admin_client: Client, settings: Any
) -> None:
    """A zip expands to no more than the largest file the page accepts (PAGE_UPLOAD_MAX_BYTES):
    a 298 KiB zip wrote 300 MiB. Here the limit is lowered to keep the zip small."""
    settings.PAGE_UPLOAD_MAX_BYTES = 64 * 1024
    bomb = bytes(_zip({"bomb.md": b"# Bomb\n\n" + b"a " * (32 * 1024)}))
    assert len(bomb) < 2048
    messages = _import(admin_client, "kb.zip", bomb)
    assert messages == [f"Nothing imported: the zip expands to more than {64 * 1024:,} bytes"]
    assert not KBDocument.objects.exists()


def test_a_zip_of_folders_and_articles_still_imports(admin_client: Client) -> None:
    data = _zip({"help/": b"", "help/returns.md": b"# Returns\n\nWithin 30 days."})
    messages = _import(admin_client, "kb.zip", bytes(data))
    assert messages[0].startswith("Imported: created 1,"), messages
    doc = KBDocument.objects.get()
    assert (doc.title, doc.external_id) == ("Returns", "help/returns.md")


# C. Chunks


def test_chunks_are_read_only_in_admin(admin_client: Client) -> None:
    """Adding one with an unknown search configuration was a 500; editing one's text left its
    text_hash and embedding stale (the document still "ready"), undone by the next re-embed."""
    doc = _article("a")
    chunk = KBChunk.objects.create(
        document=doc, kind=ChunkKind.CONTENT, ordinal=0, text=doc.content, text_hash="h"
    )
    add = admin_client.post(
        "/admin/knowledge/kbchunk/add/",
        {"document": doc.pk, "kind": "content", "ordinal": 9, "text": "x", "search_config": "x"},
    )
    assert add.status_code == 403
    change = f"/admin/knowledge/kbchunk/{chunk.pk}/change/"
    edit = {"document": doc.pk, "kind": "content", "ordinal": 0, "text": "Gift cards."}
    assert admin_client.post(change, {**edit, "search_config": "english"}).status_code == 403
    assert KBChunk.objects.get().text == doc.content
    assert admin_client.get(change).status_code == 200  # still shown
    delete = f"/admin/knowledge/kbchunk/{chunk.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert KBChunk.objects.count() == 1
    # A document's chunks go with it: the read-only chunk admin stopped its deletion (403).
    removed = admin_client.post(f"{CHANGELIST}{doc.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert not KBDocument.objects.filter(pk=doc.pk).exists() and not KBChunk.objects.exists()


# D. Learned thresholds after a status change


@pytest.fixture
def knowledge_queue(redis_client: redis.Redis) -> Iterator[Any]:
    """The actor names of messages sent to the knowledge queue during the test (no worker
    here: they are taken off the queue afterwards, so no later test's worker runs them)."""
    key = f"{settings.DRAMATIQ_NAMESPACE}:knowledge.msgs"
    before = set(cast(dict[bytes, bytes], redis_client.hgetall(key)))

    def sent() -> list[str]:
        now = cast(dict[bytes, bytes], redis_client.hgetall(key))
        return [Message.decode(raw).actor_name for mid, raw in now.items() if mid not in before]

    yield sent
    for message_id in set(cast(dict[bytes, bytes], redis_client.hgetall(key))) - before:
        redis_client.hdel(key, message_id.decode())
        redis_client.lrem(key.removesuffix(".msgs"), 0, message_id.decode())


def _learned(external_id: str, title: str, content: str, questions: list[str]) -> KBDocument:
    doc = _article(
        external_id,
        source=DocumentSource.LEARNED,
        title=title,
        content=content,
        public=False,
        embedding_status=EmbeddingStatus.PENDING,
        metadata={"questions": questions},
    )
    reindex_document.fn(doc.pk)  # embedded and calibrated, as the worker does
    return doc


@pytest.fixture
def gift_topics(db: None) -> tuple[KBDocument, KBDocument]:
    """Two learned topics close to each other: each one's threshold is set by the other."""
    wrap = _learned(
        "gift-wrap",
        "Gift wrapping",
        "We gift wrap any order for 3 dollars; choose it at checkout.",
        [
            "Do you offer gift wrapping?",
            "Can you wrap my present?",
            "Is gift wrap available for my order?",
        ],
    )
    note = _learned(
        "gift-note",
        "Gift messages",
        "Add a free gift message at checkout, up to 200 characters.",
        [
            "Can I add a gift message?",
            "Can I include a note with my gift?",
            "Can you wrap it and add a gift note?",
        ],
    )
    wrap.refresh_from_db()
    assert wrap.metadata["match"]["nearest_other_document"] == note.pk
    return wrap, note


def _unpublish_in_the_form(client: Client, doc: KBDocument) -> None:
    # A learned article is not in the help center until approved: "public" stays off.
    form = change_form(doc, status=DocumentStatus.DRAFT, public="")
    response = client.post(f"{CHANGELIST}{doc.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]


def _unpublish_with_the_action(client: Client, doc: KBDocument) -> None:
    client.post(CHANGELIST, {"action": "unpublish", "_selected_action": [doc.pk]})


@pytest.mark.parametrize("unpublish", [_unpublish_with_the_action, _unpublish_in_the_form])
def test_unpublishing_a_learned_article_recalibrates_the_others(
    admin_client: Client,
    gift_topics: tuple[KBDocument, KBDocument],
    knowledge_queue: Any,
    django_capture_on_commit_callbacks: Any,
    unpublish: Any,
) -> None:
    """The learned thresholds derive from the published learned articles: the gift-wrap topic's
    was set against the gift-note topic's keys, and stayed so once that was unpublished."""
    wrap, note = gift_topics
    with django_capture_on_commit_callbacks(execute=True):
        unpublish(admin_client, note)
    assert KBDocument.objects.get(pk=note.pk).status == DocumentStatus.DRAFT
    assert calibrate_learned_articles.actor_name in knowledge_queue()

    calibrate_learned_articles.fn()  # as the worker runs it
    wrap.refresh_from_db()
    assert wrap.metadata["match"]["nearest_other_document"] != note.pk


def test_a_status_change_of_other_articles_does_not_recalibrate(
    admin_client: Client, knowledge_queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = _article("a")
    learned_draft = _article("b", source=DocumentSource.LEARNED, status=DocumentStatus.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        _unpublish_with_the_action(admin_client, doc)
        _unpublish_with_the_action(admin_client, learned_draft)  # already a draft
    assert KBDocument.objects.get(pk=doc.pk).status == DocumentStatus.DRAFT
    assert calibrate_learned_articles.actor_name not in knowledge_queue()


def test_deleting_a_published_learned_article_recalibrates_the_others(
    admin_client: Client, knowledge_queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    learned = _article("b", source=DocumentSource.LEARNED)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{CHANGELIST}{learned.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not KBDocument.objects.exists()
    assert calibrate_learned_articles.actor_name in knowledge_queue()


# E. Metadata "revisions"


@pytest.mark.parametrize(
    "revisions",
    [
        '"see the old wiki"',
        '{"proposal": 1, "previous": "Old text."}',
        '["Old text."]',
        '[{"proposal": 1}]',
        '[{"proposal": "1", "previous": "Old text."}]',
        "null",
    ],
)
def test_revisions_the_learning_loop_cannot_extend_are_a_form_error(
    admin_client: Client, revisions: str
) -> None:
    """Approving a revision proposal appends to them (support/learning/decisions.py): a string
    there was saved, and the approval then failed."""
    doc = _article("a")
    form = change_form(
        doc, intent="", category="", metadata=f'{{"questions": [], "revisions": {revisions}}}'
    )
    response = admin_client.post(f"{CHANGELIST}{doc.pk}/change/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["metadata"]
    assert errors[0].startswith('"revisions" must be a list of earlier versions')
    assert KBDocument.objects.get(pk=doc.pk).metadata == {}


def test_revisions_as_the_learning_loop_keeps_them_save_and_extend(
    admin_client: Client,
) -> None:
    doc = _article("a")
    kept = [{"proposal": 7, "previous": "Refunds take ten days."}]
    form = change_form(doc, intent="", category="", metadata=json.dumps({"revisions": kept}))
    saved = admin_client.post(f"{CHANGELIST}{doc.pk}/change/", form, follow=True)
    assert saved.redirect_chain[-1][0] == CHANGELIST
    proposal = Proposal.objects.create(
        kind=ProposalKind.KB_EDIT,
        title=doc.title,
        question="how long do refunds take?",
        answer="Refunds take three days.",
        document=doc,
    )
    response = admin_client.post(
        "/admin/knowledge/proposal/",
        {"action": "approve", "_selected_action": [proposal.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["Approved 1 proposal(s)."]
    doc.refresh_from_db()
    assert doc.metadata["revisions"] == [
        *kept,
        {"proposal": proposal.pk, "previous": "Refunds take five days."},
    ]
    assert doc.content == "Refunds take three days."
