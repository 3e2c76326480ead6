"""Customer data rights (#18): export and erase through the API, the command and admin, the
privacy scope, and erase completeness: after an erase no column of any table holds the customer's
words, reference, name, e-mail or order number, while another customer's data is untouched."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models
from django.test import Client

from evals.models import EvalCase, EvalRun
from knowledge.models import (
    DocumentSource,
    KBDocument,
    Proposal,
    ProposalKind,
    ProposalStatus,
    TriageExample,
)
from knowledge.specifics import generalise
from resolver.audit_actor import Actor
from resolver.models import DeadLetter, IdempotencyRecord
from resolver.personal_data import registry
from support import customer_data, review
from support.models import (
    Action,
    AuditAction,
    AuditLog,
    Conversation,
    Customer,
    CustomerRating,
    Draft,
    InboundEmail,
    InboundStatus,
    Message,
    Order,
    Task,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.tests.conftest import API, MakeDraft, key_client
from support.vocabulary import TaskCreator

REF = "zelda.q@example.org"
# Every value planted below contains one of these; none may survive the erase.
TRACES = ("zqmark", "Quarrington", "zelda.q@example.org", "ZQ-ORDER")
OTHER = "keepmark"

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def _text_fields(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, TEXT_FIELDS) and not f.choices and not f.primary_key
    ]


def test_every_text_field_is_erased_or_declared_not_personal() -> None:
    """A new model or column that can hold text must be listed by its app's personal_data module
    (erased and exported) or declared unable to hold a customer's data, with the reason."""
    found = registry()
    handled = {f"{h.label}.{name}" for h in found.holders for name in h.fields}
    columns = {
        f"{model._meta.label}.{name}" for model in apps.get_models() for name in _text_fields(model)
    }
    assert sorted(columns - handled - set(found.not_personal)) == []
    # Nothing listed that does not exist (a renamed field would otherwise pass unnoticed).
    assert sorted((handled | set(found.not_personal)) - columns) == []
    assert sorted(handled & set(found.not_personal)) == []


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-root-123")


def _plant(make_draft: MakeDraft, ref: str, mark: str, name: str = "") -> dict[str, Any]:
    """A customer with data in every place the product keeps it; each value holds `mark`."""
    customer = Customer.objects.create(
        ref=ref, name=name or f"{mark} Customer", email=f"{mark}@example.net", metadata={"m": mark}
    )
    order = Order.objects.create(number=f"{mark.upper()}-ORDER-1", customer=customer)
    WebhookEndpoint.objects.get_or_create(url="https://hooks.example.com/in")

    sent = make_draft(f"{mark} where is my parcel", customer_ref=ref, answer=f"{mark} answer")
    review.approve(sent.pk, Actor.agent(), edited=f"{mark} edited reply, {name}")
    guard = {"grounded": True, "tone": True, "policy": False, "reasons": [f"{mark} promised"]}
    rejected = make_draft(
        f"{mark} refund please", customer_ref=ref, answer=f"{mark} bad", guard=guard
    )
    review.reject(rejected.pk, Actor.agent(), reason=f"{mark} wrong policy", category="policy")
    conversation_id = str(sent.conversation_id)
    # What #26 and #27 keep: the summary memory reads, a draft's context, an action's
    # arguments and sentences, a follow-up task.
    Conversation.objects.filter(pk=conversation_id).update(summary=f"{mark} wanted a refund")
    Draft.objects.filter(pk=rejected.pk).update(
        context={"earlier_conversations": [], "documents": [{"fields": {"email": [mark]}}]},
        # #28: the question a complaint also asks, verbatim; tone cues quoting its words.
        triage_scores={
            "intent": 0.9,
            "cues": {"sentiment": [f"“{mark}”"]},
            "signals": {"question": f"{mark} refund?", "vetoes": [f"“{mark}”"], "praise": False},
        },
    )
    Action.objects.create(
        draft=rejected,
        conversation_id=conversation_id,
        name="update_shipping_address",
        arguments={"order_number": order.number, "address": f"{mark} Lane 1"},
        confirmation=f"I've changed the address to {mark} Lane 1.",
        fallback=f"I could not change it to {mark} Lane 1.",
        result={"address": f"{mark} Lane 1"},
    )
    Task.objects.create(
        conversation_id=conversation_id, title=f"Call {mark} back", created_by=TaskCreator.AGENT
    )
    reply = Message.objects.filter(conversation_id=conversation_id, role="AGENT").first()
    assert reply is not None
    CustomerRating.objects.create(
        conversation_id=conversation_id, message=reply, score=-1, comment=f"{mark} rude"
    )
    delivery = WebhookDelivery.objects.filter(payload__conversation_id=conversation_id).first()
    assert delivery is not None
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, latency_ms=5, response_snippet=f"{mark} echoed"
    )
    DeadLetter.objects.create(
        actor_name="process_draft",
        queue_name="drafts",
        message_id="m1",
        args=[str(sent.pk)],
        error=f"ValueError: {mark} broke",
    )
    source = {"conversation_id": conversation_id, "draft_id": str(sent.pk)}
    Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title=generalise(f"{mark} where is my parcel")[:120],
        question=generalise(f"{mark} where is my parcel"),
        answer="Parcels arrive within 5 days.",
        sources=[source],
    )
    TriageExample.objects.create(text=f"{mark} refund please", intent="get_refund")
    # An e-mail from their address (the customer row's, not the reference) that could not be
    # stored: kept as it arrived, with no message.
    InboundEmail.objects.create(
        door="imap",
        from_address=customer.email,
        raw=f"From: {customer.email}\n\n{mark} order never came".encode(),
        status=InboundStatus.QUARANTINED,
        error="stored nothing",
    )
    run = EvalRun.objects.create(suite="drafts", dataset="replay")
    EvalCase.objects.create(
        run=run,
        position=0,
        case_id=str(sent.pk),
        expect={"reference": f"{mark} edited"},
        passed=True,
    )
    admin_user = User.objects.create_user(f"admin-{len(mark)}-{ref[:3]}")
    for edited in (sent.message, order):  # admin's history keeps their str()
        LogEntry.objects.create(
            content_type=ContentType.objects.get_for_model(edited),
            object_id=str(edited.pk),
            object_repr=str(edited),
            action_flag=CHANGE,
            user=admin_user,
        )
    return {"conversation_id": conversation_id, "source": source}


def _rows_holding(*needles: str) -> dict[str, int]:
    """Every text, varchar and JSON column of every table, searched for the needles."""
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type IN ('text', 'character varying', 'json', 'jsonb')"
        )
        for table, column in cursor.fetchall():
            likes = " OR ".join([f'"{column}"::text ILIKE %s'] * len(needles))
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE {likes}',
                [f"%{needle}%" for needle in needles],
            )
            count = cursor.fetchone()[0]
            if count:
                found[f"{table}.{column}"] = count
    return found


def test_erase_leaves_no_row_holding_the_customers_data(
    make_draft: MakeDraft, superuser: User
) -> None:
    mine = _plant(make_draft, REF, "zqmark", name="Zelda Quarrington")
    theirs = _plant(make_draft, "other-customer", OTHER)
    # A proposal the other customer raised and ours backs: it stays with their words only.
    shared = Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title=f"{OTHER} where is my parcel",
        question=f"{OTHER} where is my parcel",
        variants=["zqmark where is my parcel"],
        notes=[f"Incorrect: {generalise('zqmark wrong policy')}", f"Outdated: {OTHER} stale"],
        answer="Parcels arrive within 5 days.",
        sources=[theirs["source"], mine["source"]],
    )
    # An open revision ours backs: its text may hold our correction, so it goes.
    revision = Proposal.objects.create(
        kind=ProposalKind.KB_EDIT,
        title="Revise: parcels",
        question="",
        answer="zqmark corrected the article",
        sources=[theirs["source"], mine["source"]],
    )
    # An approved answer: its article was indexed with both customers' questions.
    article = KBDocument.objects.create(
        source=DocumentSource.LEARNED,
        external_id="proposal-x",
        title="Parcel times",
        content="Parcels arrive within 5 days.",
        metadata={"questions": [f"{OTHER} when is it here", "zqmark refund please"]},
    )
    Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        status=ProposalStatus.APPROVED,
        title=f"{OTHER} when is it here",
        question=f"{OTHER} when is it here",
        variants=["zqmark refund please"],
        answer="Parcels arrive within 5 days.",
        sources=[theirs["source"], mine["source"]],
        document=article,
    )
    client = key_client("privacy")
    client.get(f"{API}/customers/{REF}/export")  # the export's audit row names the customer
    assert _rows_holding(*TRACES)  # the search finds what was planted

    response = client.delete(f"{API}/customers/{REF}")

    assert response.status_code == 200, response.content
    erased = response.json()["erased"]
    assert erased["support.Customer"] == 1
    assert erased["support.Message"] == 3  # two questions and the sent reply
    assert erased["support.Draft"] == 2
    assert erased["resolver.DeadLetter"] == 1
    assert erased["knowledge.TriageExample"] == 1
    assert _rows_holding(*TRACES) == {}
    assert erased["support.InboundEmail"] == 1  # raw bytes: not in the text search above
    assert not InboundEmail.objects.filter(from_address="zqmark@example.net").exists()
    # The other customer's data is whole, and the shared proposal keeps their question.
    assert len(_rows_holding(OTHER)) >= 10
    shared.refresh_from_db()
    assert (shared.question, shared.variants, shared.notes, shared.sources) == (
        f"{OTHER} where is my parcel",
        [],
        [f"Outdated: {OTHER} stale"],
        [theirs["source"]],
    )
    assert not Proposal.objects.filter(pk=revision.pk).exists()
    article.refresh_from_db()
    assert article.metadata["questions"] == [f"{OTHER} when is it here"]
    # The rows the dashboards count stay, anonymised; the audit keeps who did what.
    conversation = Conversation.objects.get(pk=mine["conversation_id"])
    assert conversation.anonymised_at is not None and conversation.customer_ref == ""
    assert Draft.objects.filter(conversation=conversation, status="SENT").count() == 1
    assert AuditLog.objects.filter(conversation=conversation, action=AuditAction.SENT).exists()
    erasure = AuditLog.objects.get(action=AuditAction.CUSTOMER_ERASED)
    assert erasure.actor.startswith("key:") and erasure.metadata["erased"] == erased
    assert erasure.metadata["ref_digest"] == customer_data.ref_digest(REF)

    again = client.delete(f"{API}/customers/{REF}")
    assert again.status_code == 200 and again.json() == {"erased": {}}


def test_export_holds_everything_stored_about_the_customer(make_draft: MakeDraft) -> None:
    planted = _plant(make_draft, REF, "zqmark", name="Zelda Quarrington")
    _plant(make_draft, "other-customer", OTHER)
    IdempotencyRecord.objects.create(
        owner="key:1",
        key="k1",
        request_hash="h",
        response={"id": "x", "conversation_id": planted["conversation_id"]},
        status_code=202,
    )

    response = key_client("privacy").get(f"{API}/customers/{REF}/export")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer_ref"] == REF
    data = body["data"]
    assert [row["fields"]["ref"] for row in data["support.Customer"]] == [REF]
    assert [row["fields"]["number"] for row in data["support.Order"]] == ["ZQMARK-ORDER-1"]
    bodies = sorted(row["fields"]["body"] for row in data["support.Message"])
    assert bodies == sorted(
        [
            "zqmark where is my parcel",
            "zqmark refund please",
            "zqmark edited reply, Zelda Quarrington",
        ]
    )
    assert {row["fields"]["status"] for row in data["support.Draft"]} == {"SENT", "REJECTED"}
    assert data["support.CustomerRating"][0]["fields"]["comment"] == "zqmark rude"
    assert {row["fields"]["action"] for row in data["support.AuditLog"]} >= {"sent", "rejected"}
    for label in ("resolver.IdempotencyRecord", "resolver.DeadLetter", "knowledge.Proposal"):
        assert len(data[label]) == 1, label
    assert OTHER not in json.dumps(data)
    exported = AuditLog.objects.get(action=AuditAction.CUSTOMER_EXPORTED)
    assert exported.metadata["customer_ref"] == REF
    assert exported.metadata["rows"]["support.Message"] == 3


def test_an_article_learned_from_their_question_loses_its_title_and_slug(
    make_draft: MakeDraft,
) -> None:
    from support.learning import decisions

    mine = _plant(make_draft, REF, "zqmark", name="Zelda Quarrington")
    proposal = Proposal.objects.get(sources=[mine["source"]], status=ProposalStatus.OPEN)
    decisions.approve(proposal.pk, Actor.agent())
    article = KBDocument.objects.get(external_id=f"proposal-{proposal.pk}")
    assert "zqmark" in article.slug  # made from their generalised question

    response = key_client("privacy").delete(f"{API}/customers/{REF}")

    assert response.status_code == 200, response.content
    article.refresh_from_db()
    assert "zqmark" not in article.title and "zqmark" not in article.slug and article.slug
    assert _rows_holding(*TRACES) == {}


def test_unknown_customers_and_bad_references(db: None) -> None:
    client = key_client("privacy")
    missing = client.get(f"{API}/customers/nobody/export")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.delete(f"{API}/customers/nobody").json() == {"erased": {}}
    too_long = client.delete(f"{API}/customers/{'x' * 201}")
    assert too_long.status_code == 422 and "detail" in too_long.json()
    nul = client.get(f"{API}/customers/a%00b/export")  # PostgreSQL cannot store NUL
    assert nul.status_code == 422 and nul.json()["code"] == "invalid"


def test_only_the_privacy_scope_and_superusers_may_export_or_erase(
    make_draft: MakeDraft, console: Client, superuser: User
) -> None:
    make_draft("zqmark hello", customer_ref=REF)
    url = f"{API}/customers/{REF}/export"
    assert key_client("ingest", "read", "act").get(url).status_code == 403
    assert key_client("read").delete(f"{API}/customers/{REF}").status_code == 403
    assert Client().get(url).status_code == 401
    assert console.get(url).status_code == 403  # an agent's session
    admin = Client()
    admin.force_login(superuser)
    assert admin.get(url).status_code == 200


def test_only_a_superuser_may_make_a_privacy_key(db: None, superuser: User) -> None:
    staff = User.objects.create_user("staffer", password="pw-staff-123", is_staff=True)
    staff.user_permissions.add(*_apikey_permissions())
    page = "/admin/resolver/apikey/add/"
    as_staff, as_root = Client(), Client()
    as_staff.force_login(staff)
    as_root.force_login(superuser)
    assert 'value="privacy"' not in as_staff.get(page).content.decode()
    assert 'value="privacy"' in as_root.get(page).content.decode()
    refused = as_staff.post(page, {"name": "sneaky", "scope_choices": ["privacy"]})
    assert refused.status_code == 200  # the form again, with the error
    assert not _keys_named("sneaky")
    as_root.post(page, {"name": "dpo", "scope_choices": ["privacy"]})
    assert _keys_named("dpo") == [["privacy"]]
    # Staff editing that key neither see nor drop the scope they may not give.
    from resolver.models import ApiKey

    dpo = ApiKey.objects.get(name="dpo")
    as_staff.post(
        f"/admin/resolver/apikey/{dpo.pk}/change/", {"name": "dpo", "scope_choices": ["read"]}
    )
    assert _keys_named("dpo") == [["privacy", "read"]]


def _apikey_permissions() -> list[Any]:
    from django.contrib.auth.models import Permission

    return list(
        Permission.objects.filter(content_type__app_label="resolver", codename__endswith="apikey")
    )


def _keys_named(name: str) -> list[Any]:
    from resolver.models import ApiKey

    return list(ApiKey.objects.filter(name=name).values_list("scopes", flat=True))


def test_the_command_exports_and_erases(make_draft: MakeDraft) -> None:
    make_draft("zqmark where is my parcel", customer_ref=REF)
    out = StringIO()
    call_command("customer_data", "export", REF, stdout=out)
    exported = json.loads(out.getvalue())
    assert exported["data"]["support.Message"][0]["fields"]["body"] == "zqmark where is my parcel"

    out = StringIO()
    call_command("customer_data", "erase", REF, stdout=out)
    assert json.loads(out.getvalue())["erased"]["support.Message"] == 1
    assert not Message.objects.filter(body__contains="zqmark").exists()
    erasure = AuditLog.objects.get(action=AuditAction.CUSTOMER_ERASED)
    assert erasure.actor == "system:manage.py customer_data"


def test_admin_erase_asks_first_and_is_for_superusers(
    make_draft: MakeDraft, superuser: User
) -> None:
    draft = make_draft("zqmark where is my parcel", customer_ref=REF)
    customer = Customer.objects.create(ref=REF, name="Zelda Quarrington")
    admin = Client()
    admin.force_login(superuser)
    page = "/admin/support/customer/"
    action = {"action": "erase_customer_data", "_selected_action": [customer.pk]}

    confirm = admin.post(page, action)
    assert confirm.status_code == 200 and "Yes, erase" in confirm.content.decode()
    assert Customer.objects.filter(pk=customer.pk).exists()

    done = admin.post(page, {**action, "confirm": "yes"}, follow=True)
    assert "Erased the data of 1 customer(s)" in done.content.decode()
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert Message.objects.get(pk=draft.message_id).body == "[erased]"

    staff = User.objects.create_user("staffer", password="pw", is_staff=True)
    staff.user_permissions.add(*_permissions("support", "conversation"))
    as_staff = Client()
    as_staff.force_login(staff)
    listing = as_staff.get("/admin/support/conversation/").content.decode()
    assert "resolve" in listing and "erase_customer_data" not in listing


def _permissions(app_label: str, model: str) -> list[Any]:
    from django.contrib.auth.models import Permission

    return list(
        Permission.objects.filter(content_type__app_label=app_label, codename__endswith=model)
    )


def test_erase_closes_open_drafts_so_a_run_in_flight_writes_nothing(db: None) -> None:
    """A worker drafting the customer's message while it is erased must not write the answer
    (which may quote them) back into the anonymised draft."""
    from support.agent_runs import AlreadyRecorded, record_outcome
    from support.inbound import receive_message
    from support.outcome import DraftOutcome
    from support.vocabulary import DraftStatus

    _, draft = receive_message("zqmark where is my parcel", customer_ref=REF, enqueue=False)
    customer_data.do_erase(REF, Actor.agent())
    draft.refresh_from_db()
    assert (draft.status, draft.reject_reason) == ("REJECTED", review.CLOSED_BY_ERASURE)

    outcome = DraftOutcome(
        status=DraftStatus.SUGGESTED,
        escalation_reason=None,
        triage={},
        answer="zqmark, your parcel arrives Monday",
        citations=[],
        suggested_action=None,
        confidence=0.9,
        guard={"grounded": True, "tone": True, "policy": True, "reasons": []},
        facts={},
        model="stub",
        prompt_version="v",
        tokens=0,
        cost=0.0,
        latency_ms=1,
    )
    with pytest.raises(AlreadyRecorded):
        record_outcome(draft.pk, outcome)
    assert _rows_holding("zqmark") == {}


@pytest.mark.django_db(transaction=True)
def test_a_conversation_being_started_during_an_erase_is_erased_too() -> None:
    """An erase waits for a conversation of the same reference that is being started (the
    advisory lock both take), then reads it: nothing of it survives."""
    import threading

    from django.db import connections, transaction

    from support.inbound import receive_message

    started, release = threading.Event(), threading.Event()
    erased: dict[str, int] = {}

    def start_conversation() -> None:
        with transaction.atomic():
            receive_message("zqmark still there?", customer_ref=REF, enqueue=False)
            started.set()
            release.wait(10)
        connections.close_all()

    def erase() -> None:
        erased.update(customer_data.do_erase(REF, Actor.agent()))
        connections.close_all()

    writer = threading.Thread(target=start_conversation)
    writer.start()
    assert started.wait(10)
    eraser = threading.Thread(target=erase)
    eraser.start()
    eraser.join(1.0)
    assert eraser.is_alive()  # waiting for the conversation being started
    release.set()
    writer.join(10)
    eraser.join(10)
    assert erased.get("support.Message") == 1
    assert not Message.objects.filter(body__contains="zqmark").exists()


def test_other_peoples_learned_examples_stay(make_draft: MakeDraft) -> None:
    """A triage example is theirs when it is their message (or a long enough cut of it), not
    when it merely starts theirs ("hi there" is not "hi there, my parcel...")."""
    make_draft("hi there, my parcel never came and I want my money back", customer_ref=REF)
    kept = [
        TriageExample.objects.create(text=text, intent="track_order")
        for text in ("hi there", "hi", "the")
    ]
    customer_data.do_erase(REF, Actor.agent())
    assert TriageExample.objects.filter(pk__in=[k.pk for k in kept]).count() == 3


def test_examples_an_approved_relabel_learned_from_them_go(
    make_draft: MakeDraft, superuser: User
) -> None:
    """An approved re-label keeps the others' sources; the example it stored from their message
    is found through it (before its sources lose theirs) and deleted, with admin's history of
    it (which support's list erases before knowledge's deletes the example)."""
    mine = make_draft("zqmark my kettle arrived broken, I want a refund", customer_ref=REF)
    other = make_draft(f"{OTHER} where is my parcel", customer_ref="other-customer")
    text = generalise(mine.message.body)
    proposal = Proposal.objects.create(
        kind=ProposalKind.TRIAGE_EXAMPLE,
        status=ProposalStatus.APPROVED,
        title="Re-label: get_refund",
        question=text,
        answer="get_refund",
        sources=[
            {"conversation_id": str(c.conversation_id), "draft_id": str(c.pk)}
            for c in (other, mine)
        ],
    )
    example = TriageExample.objects.create(text=text, intent="get_refund", proposal=proposal)
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(example),
        object_id=str(example.pk),
        object_repr=str(example),
        action_flag=CHANGE,
        user=superuser,
    )

    erased = customer_data.do_erase(REF, Actor.agent())

    assert erased["knowledge.TriageExample"] == 1
    assert not TriageExample.objects.filter(pk=example.pk).exists()
    assert _rows_holding("zqmark") == {}


def test_admin_erases_a_conversation_no_reference_names(db: None, superuser: User) -> None:
    """A widget visitor's conversation has no customer reference to ask for: the conversation
    list's action erases it by itself."""
    from support.inbound import receive_message

    message, _ = receive_message("zqmark, my e-mail is zq@example.org", enqueue=False)
    admin = Client()
    admin.force_login(superuser)
    action = {
        "action": "erase_customer_data",
        "_selected_action": [message.conversation_id],
        "confirm": "yes",
    }
    done = admin.post("/admin/support/conversation/", action, follow=True)
    assert "1 conversation(s) without a customer reference" in done.content.decode()
    assert _rows_holding("zqmark") == {}
    assert AuditLog.objects.filter(
        action=AuditAction.CUSTOMER_ERASED, conversation_id=message.conversation_id
    ).exists()
