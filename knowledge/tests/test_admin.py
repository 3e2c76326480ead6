"""KB curation in admin: import, test search, bulk actions, edits re-embedded by the actor."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from knowledge.models import DocumentStatus, EmbeddingStatus, KBDocument
from resolver.polling import wait_for

CHANGELIST = "/admin/knowledge/kbdocument/"


def test_import_upload_uses_ingest_and_reports(admin_client: Client) -> None:
    lines = [json.dumps({"title": "Hours", "content": "Open 9-17."}), "{broken"]
    upload = SimpleUploadedFile("kb.jsonl", "\n".join(lines).encode())
    response = admin_client.post(
        f"{CHANGELIST}import/", {"source": "jsonl", "file": upload}, follow=True
    )
    assert response.status_code == 200
    texts = [str(m) for m in response.context["messages"]]
    assert texts[0] == "Imported: created 1, updated 0, unchanged 0, skipped 1 (1 chunks embedded)"
    assert texts[1].startswith("Skipped kb.jsonl:2:")
    assert KBDocument.objects.get().title == "Hours"


def test_import_rejects_unreadable_file(admin_client: Client) -> None:
    upload = SimpleUploadedFile("responses.csv", b"a,b\n1,2\n")
    response = admin_client.post(f"{CHANGELIST}import/", {"source": "bitext", "file": upload})
    assert response.status_code == 200
    assert "Nothing imported: CSV header lacks column(s)" in response.content.decode()
    assert not KBDocument.objects.exists()


def test_test_search_page_shows_ranks(
    admin_client: Client, small_kb: dict[str, KBDocument]
) -> None:
    response = admin_client.get(f"{CHANGELIST}test-search/", {"q": "QX-48213", "limit": "5"})
    assert response.status_code == 200
    hits = response.context["hits"]
    assert hits[0].kb_id == small_kb["customs"].pk
    page = response.content.decode()
    assert "Vector rank" in page and "Text rank" in page and "Fused score" in page


def test_bulk_unpublish_and_publish(admin_client: Client, small_kb: dict[str, KBDocument]) -> None:
    ids = [small_kb["refund"].pk, small_kb["zephyr"].pk]
    admin_client.post(CHANGELIST, {"action": "unpublish", "_selected_action": ids})
    assert set(KBDocument.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        DocumentStatus.DRAFT
    }
    admin_client.post(CHANGELIST, {"action": "publish", "_selected_action": ids})
    assert KBDocument.objects.filter(status=DocumentStatus.DRAFT).count() == 0


@pytest.mark.slow
def test_edit_marks_pending_and_worker_reembeds(
    live_worker: subprocess.Popen, admin_client: Client, small_kb: dict[str, KBDocument]
) -> None:
    doc = small_kb["zephyr"]
    form = {
        "source": doc.source,
        "external_id": doc.external_id,
        "title": doc.title,
        "content": "The Zephyr 3000 lid is dishwasher safe on the top rack.",
        "intent": doc.intent,
        "category": doc.category,
        "metadata": json.dumps(doc.metadata),
        "status": doc.status,
        "chunks-TOTAL_FORMS": "0",
        "chunks-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"{CHANGELIST}{doc.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert wait_for(
        lambda: KBDocument.objects.get(pk=doc.pk).embedding_status == EmbeddingStatus.READY, 60
    ), "the worker did not re-embed the edited document"
    texts = list(KBDocument.objects.get(pk=doc.pk).chunks.values_list("text", flat=True))
    assert texts == ["The Zephyr 3000 lid is dishwasher safe on the top rack."]
    assert KBDocument.objects.hybrid_search("dishwasher lid")[0].kb_id == doc.pk
