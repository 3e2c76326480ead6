"""KB curation in admin: import, test search, bulk actions, edits re-embedded by the actor. The
learning loop's rows: proposals and guard rules decided through the actions the console and the
API call (named by settings.LEARNING_DECISIONS), never edited in place; triage examples
deletable."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from knowledge.models import (
    DocumentSource,
    DocumentStatus,
    EmbeddingStatus,
    GuardRule,
    KBDocument,
    Proposal,
    ProposalKind,
    TriageExample,
)
from knowledge.tests.articles import change_form
from resolver.audit_actor import Actor
from resolver.errors import ClientError
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


def test_a_large_import_file_is_not_held_to_the_api_body_limit(
    admin_client: Client, settings: Any
) -> None:
    """A KB file larger than the API's body limit uploads (the limit guards bodies read into
    memory; Django streams an upload to disk)."""
    padding = " " * (settings.REQUEST_BODY_MAX_BYTES + 1024)
    line = json.dumps({"title": "Hours", "content": "Open 9-17." + padding})
    upload = SimpleUploadedFile("kb.jsonl", line.encode())
    response = admin_client.post(
        f"{CHANGELIST}import/", {"source": "jsonl", "file": upload}, follow=True
    )
    assert response.status_code == 200
    assert KBDocument.objects.get().title == "Hours"


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
    form = change_form(doc, content="The Zephyr 3000 lid is dishwasher safe on the top rack.")
    response = admin_client.post(f"{CHANGELIST}{doc.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert wait_for(
        lambda: KBDocument.objects.get(pk=doc.pk).embedding_status == EmbeddingStatus.READY, 60
    ), "the worker did not re-embed the edited document"
    texts = list(KBDocument.objects.get(pk=doc.pk).chunks.values_list("text", flat=True))
    assert texts == ["The Zephyr 3000 lid is dishwasher safe on the top rack."]
    assert KBDocument.objects.hybrid_search("dishwasher lid")[0].kb_id == doc.pk


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("[]", "Metadata must be a JSON object"),
        ('{"questions": [1]}', '"questions" must be a list'),
        ('{"questions": ["How do I pay?", " "]}', '"questions" must be a list'),
        ('{"questions": "How do I pay?"}', '"questions" must be a list'),
        ('{"note": "a\\u0000b"}', "Metadata holds a NUL character."),
        ('{"note": "\\ud83d"}', "Metadata holds an unpaired surrogate."),
    ],
)
def test_article_metadata_the_reindex_cannot_chunk_is_a_form_error(
    admin_client: Client, metadata: str, error: str
) -> None:
    """desired_chunks (ingest/upsert.py) reads metadata's `questions` as a list of strings:
    anything else left the article PENDING, re-queued for ever, or failed the save with a 500."""
    doc = KBDocument.objects.create(
        source=DocumentSource.MANUAL, external_id="pay", title="Paying", content="By card."
    )
    form = change_form(doc, metadata=metadata)
    response = admin_client.post(f"{CHANGELIST}{doc.pk}/change/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["metadata"][0].startswith(error)
    assert KBDocument.objects.get(pk=doc.pk).metadata == {}


def _proposal(title: str) -> Proposal:
    return Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title=title,
        question="do you offer gift wrapping?",
        answer="Yes: choose Gift wrap at checkout, it costs nothing extra.",
        intent="place_order",
        sources=[{"conversation_id": None, "draft_id": None}],
    )


def _act(client: Client, model: str, action: str, *rows: Proposal | GuardRule) -> list[str]:
    response = client.post(
        f"/admin/knowledge/{model}/",
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )
    return [str(m) for m in response.context["messages"]]


def test_admin_decides_proposals_through_the_learning_decisions(
    admin_client: Client, admin_user: User
) -> None:
    approved, dismissed = _proposal("Gift wrapping"), _proposal("Seasonal")
    assert _act(admin_client, "proposal", "approve", approved) == ["Approved 1 proposal(s)."]
    assert _act(admin_client, "proposal", "dismiss", dismissed) == ["Dismissed 1 proposal(s)."]

    approved.refresh_from_db()
    dismissed.refresh_from_db()
    assert (approved.status, approved.decided_by) == ("approved", admin_user)
    assert approved.document is not None and approved.document.source == DocumentSource.LEARNED
    assert (dismissed.status, dismissed.decision_note) == ("dismissed", "dismissed in admin")
    # A refusal is said per row; the others go on.
    again = _act(admin_client, "proposal", "dismiss", approved, _proposal("New"))
    assert again == [
        "Dismissed 1 proposal(s).",
        f"Not changed: {approved.pk}: the proposal is already approved",
    ]
    change = f"/admin/knowledge/proposal/{approved.pk}/change/"
    assert admin_client.post(change, {"answer": "edited in place"}).status_code == 403


def test_admin_switches_a_learned_rule_through_the_learning_decisions(
    admin_client: Client,
) -> None:
    rule = GuardRule.objects.create(pattern=r"\bwaive\b", description="no waivers")
    assert _act(admin_client, "guardrule", "enable", rule) == ["Enabled 1 rule(s)."]
    assert GuardRule.objects.enabled().filter(pk=rule.pk).exists()
    assert _act(admin_client, "guardrule", "disable", rule) == ["Disabled 1 rule(s)."]
    rule.refresh_from_db()
    assert rule.enabled is False
    change = f"/admin/knowledge/guardrule/{rule.pk}/change/"
    assert admin_client.post(change, {"pattern": "x", "enabled": "on"}).status_code == 403


def refuse(pk: int, actor: Actor, *args: object) -> None:
    """A decision that refuses (settings.LEARNING_DECISIONS may name any function)."""
    raise ClientError(f"{actor.label} may not decide this")


@override_settings(LEARNING_DECISIONS={"approve": f"{__name__}.refuse"})
def test_the_actions_run_the_decision_settings_name(admin_client: Client) -> None:
    proposal = _proposal("Gift wrapping")
    said = _act(admin_client, "proposal", "approve", proposal)
    assert said == [f"Not changed: {proposal.pk}: user:admin may not decide this"]
    proposal.refresh_from_db()
    assert proposal.status == "open"


def test_a_wrong_triage_example_can_be_deleted(admin_client: Client) -> None:
    example = TriageExample.objects.create(text="where is my parcel", intent="get_refund")
    delete = f"/admin/knowledge/triageexample/{example.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not TriageExample.objects.filter(pk=example.pk).exists()
