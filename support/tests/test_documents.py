"""Documents a customer sends (support/documents/, #26 must 4), on the real database, disk and
worker path: invoices written as real PDFs (fpdf2) and sent as real e-mail attachments through
receive_email; read once by the worker, their fields compared with the verified customer's
orders; a mismatch shown in the draft's context and the console, and blocking auto-send; hostile
PDFs fail their reading, never the run; erasure removes what was read."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from fpdf import FPDF

from agents.actors import process_message
from resolver.audit_actor import Actor
from support import customer_data
from support.documents import documents_for
from support.documents.read import read_attachments
from support.email.receive import receive_email
from support.inbound import message_created
from support.models import (
    Customer,
    DocumentReading,
    Draft,
    Message,
    MessageRole,
    Order,
    OrderStatus,
)
from support.tests.autonomy_fixtures import make_auto
from support.tests.conftest import API, key_client
from support.tests.email_fixtures import email_settings, unique_sender  # noqa: F401
from support.tests.emails.build import PNG, build
from support.vocabulary import DocumentStatus, Verification

pytestmark = pytest.mark.usefixtures("email_settings")

REFUND = "How do I get a refund for order NW-10001?"


def invoice_pdf(total: str = "EUR 59.00", order: str = "NW-10001", pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in range(pages):
        pdf.add_page()
        if page == 0:
            for line in (
                "Northwind Shop - Invoice no. 778",
                f"Order {order}",
                "Date: 2026-11-02",
                "1 x Kettle    EUR 39.00",
                f"Total: {total}",
            ):
                pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.cell(0, 10, f"Terms and conditions, page {page + 1}")
    return bytes(pdf.output())


def encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Order NW-10001 Total: EUR 59.00")
    return bytes(pdf.output())


def assemble_pdf(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (numbered from 1, the first the catalogue), with its xref table."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def bomb_pdf(megabytes: int = 200) -> bytes:
    """One page whose content stream inflates to `megabytes` MB of zeros (a few hundred KB on
    the wire)."""
    deflate = zlib.compressobj(9)
    chunk = b"0" * (1 << 20)
    stream = b"".join(deflate.compress(chunk) for _ in range(megabytes)) + deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return assemble_pdf(objects)


def surrogate_pdf() -> bytes:
    """One page whose font's ToUnicode map turns code 01 into U+D800, a lone surrogate (pypdf
    decodes with surrogatepass): UTF-8, so PostgreSQL, cannot store it."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        b"1 beginbfchar\n<01> <D800>\nendbfchar\n"
        b"1 beginbfrange\n<20> <7E> <0020>\nendbfrange\n"
        b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    )
    content = b"BT /F1 12 Tf 72 700 Td (Order NW-10001 \x01 Total: EUR 59.00) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream",
    ]
    return assemble_pdf(objects)


def _pdf(data: bytes, filename: str = "invoice.pdf") -> dict[str, Any]:
    return {"data": data, "type": "application/pdf", "filename": filename}


def _receive(*attachments: dict[str, Any], body: str = REFUND, verified: bool = True) -> Message:
    sender, _ = unique_sender()
    received = receive_email(build(body, sender=sender, attachments=list(attachments)), door="imap")
    assert received.message_id is not None
    if verified:  # what a trusted Authentication-Results header makes of it (identity's work)
        Message.objects.filter(pk=received.message_id).update(verified_by=Verification.EMAIL_AUTH)
    return Message.objects.select_related("conversation").get(pk=received.message_id)


def _customer_with_order(message: Message, total: str = "49.00", **fields: Any) -> Order:
    """The sender as a customer with order NW-10001 (conversations name their customer)."""
    customer = Customer.objects.create(ref=message.conversation.customer_ref)
    message.conversation.customer = customer
    message.conversation.save(update_fields=["customer"])
    return Order.objects.create(
        number="NW-10001",
        customer=customer,
        status=OrderStatus.DELIVERED,
        refund_eligible=True,
        total=Decimal(total),
        **fields,
    )


def _run_worker(message: Message, capture: Any) -> Draft:
    event = message_created(message)
    with capture(execute=True):
        process_message.fn(str(message.pk), event["event_id"], event=event)
    return Draft.objects.get(message=message)


def _reading(message: Message) -> DocumentReading:
    return DocumentReading.objects.get(attachment__message=message)


def test_an_invoice_pdf_is_read_and_its_fields_found(db: None) -> None:
    message = _receive(_pdf(invoice_pdf()))
    _customer_with_order(message, total="59.00")
    [reading] = read_attachments(message.pk)
    assert reading.status == DocumentStatus.READ and reading.pages == 1
    assert "Invoice no. 778" in reading.text
    assert reading.fields["order_numbers"] == ["NW-10001"]
    assert reading.fields["totals"] == ["EUR 59.00"]
    assert reading.fields["dates"] == ["2026-11-02"]
    assert reading.mismatches == []
    [facts] = documents_for(message)
    assert (facts.filename, facts.status, facts.fields) == (
        "invoice.pdf",
        "read",
        reading.fields,
    )


def test_a_draft_compares_with_the_orders_as_they_are_now(db: None) -> None:
    """The store corrected the order's total after the reading: a reprocessed draft sees no
    mismatch; the reading keeps what it found."""
    message = _receive(_pdf(invoice_pdf(total="EUR 59.00")))
    order = _customer_with_order(message, total="49.00")
    [reading] = read_attachments(message.pk)
    assert [m["field"] for m in reading.mismatches] == ["amount"]
    assert [m["field"] for m in documents_for(message)[0].mismatches] == ["amount"]
    Order.objects.filter(pk=order.pk).update(total=Decimal("59.00"))
    assert documents_for(message)[0].mismatches == ()
    assert len(_reading(message).mismatches) == 1


def test_each_attachment_is_read_once(db: None) -> None:
    message = _receive(_pdf(invoice_pdf()))
    first = read_attachments(message.pk)
    assert len(first) == 1
    assert read_attachments(message.pk) == []  # already read: nothing done again
    assert DocumentReading.objects.filter(attachment__message=message).count() == 1


def test_text_and_csv_are_read_and_images_listed_not_read(db: None) -> None:
    csv = b"order,total,currency\nNW-10001,59.00,EUR\nTotal,59.00 EUR,\n"
    message = _receive(
        {"data": csv, "type": "text/csv", "filename": "order.csv"},
        {"data": b"Tracking number: 1Z999AA10123456784\n", "type": "text/plain"},
        {"data": PNG, "type": "image/png", "filename": "receipt.png"},
    )
    readings = {r.attachment.filename: r for r in read_attachments(message.pk)}
    assert readings["order.csv"].status == DocumentStatus.READ
    assert readings["order.csv"].fields["order_numbers"] == ["NW-10001"]
    assert readings["order.csv"].fields["totals"] == ["EUR 59.00"]
    text = next(r for name, r in readings.items() if name.endswith(".txt"))
    assert text.fields["tracking_numbers"] == ["1Z999AA10123456784"]
    image = readings["receipt.png"]
    assert (image.status, image.text, image.fields) == (DocumentStatus.NOT_READ, "", {})
    assert "no OCR" in image.error


def test_a_message_s_documents_are_bounded_in_number(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("support.documents.read.MAX_DOCUMENTS", 1)
    message = _receive(
        {"data": b"Order NW-10001\n", "type": "text/plain", "filename": "a.txt"},
        {"data": b"Order NW-10002\n", "type": "text/plain", "filename": "b.txt"},
    )
    first, second = read_attachments(message.pk)
    assert (first.status, first.fields["order_numbers"]) == ("read", ["NW-10001"])
    assert (second.status, second.text) == ("not_read", "")
    assert "more than 1 documents" in second.error


@pytest.mark.parametrize(
    ("data", "settings_", "reason"),
    [
        (encrypted_pdf(), {}, "encrypted"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R", {}, "not a readable PDF"),
        (invoice_pdf(pages=3), {"DOCUMENT_MAX_PAGES": 2}, "3 pages, more than"),
        (bomb_pdf(), {}, "too large when decompressed"),
        (invoice_pdf(), {"DOCUMENT_READ_SECONDS": 0.01}, "took longer than 0.01 s"),
    ],
    ids=["encrypted", "broken", "too-many-pages", "decompression-bomb", "too-slow"],
)
def test_a_hostile_pdf_fails_its_reading_not_the_run(
    settings: Any,
    small_kb: object,
    django_capture_on_commit_callbacks: Any,
    data: bytes,
    settings_: dict[str, Any],
    reason: str,
) -> None:
    for name, value in settings_.items():
        setattr(settings, name, value)
    message = _receive(_pdf(data))
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    reading = _reading(message)
    assert reading.status == DocumentStatus.FAILED
    assert reason in reading.error
    assert (reading.text, reading.fields) == ("", {})
    # The run went on: the message was drafted, the document listed as failed.
    assert draft.status in ("SUGGESTED", "ESCALATED")
    [document] = draft.context["documents"]
    assert document["status"] == "failed"


def test_a_mismatching_invoice_blocks_auto_send(
    small_kb: object, django_capture_on_commit_callbacks: Any, console: Client, settings: Any
) -> None:
    """The invoice says €59.00, the order €49.00: the draft is suggested, not sent, and says
    why; the same e-mail with a matching invoice is sent by the same rule."""
    make_auto("get_refund", settings, min_confidence=0.0)
    matching = _receive(_pdf(invoice_pdf(total="EUR 49.00")))
    _customer_with_order(matching)
    sent = _run_worker(matching, django_capture_on_commit_callbacks)
    assert (sent.intent, sent.status, sent.automated) == ("get_refund", "SENT", True)
    assert sent.context["documents"][0]["mismatches"] == []
    Order.objects.all().delete()
    Customer.objects.all().delete()

    message = _receive(_pdf(invoice_pdf(total="EUR 59.00")))
    _customer_with_order(message)
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    assert (draft.intent, draft.status, draft.automated) == ("get_refund", "SUGGESTED", False)
    assert all(draft.guard[check] for check in ("grounded", "tone", "policy"))
    assert not Message.objects.filter(
        conversation_id=message.conversation_id, role=MessageRole.AGENT
    ).exists()
    [document] = draft.context["documents"]
    assert document["filename"] == "invoice.pdf"
    assert document["fields"]["totals"] == ["EUR 59.00"]
    assert document["mismatches"] == [
        {"field": "amount", "document": "EUR 59.00", "record": "EUR 49.00", "order": "NW-10001"}
    ]
    page_ = key_client("read").get(f"{API}/drafts", {"status": "SUGGESTED"}).json()
    [wire] = [item for item in page_["items"] if item["id"] == str(draft.pk)]
    assert wire["context"]["documents"][0]["mismatches"] == document["mismatches"]
    page = console.get(f"/console/conversations/{message.conversation_id}/").content.decode()
    assert "Invoice total €59.00 ≠ order NW-10001 total €49.00" in page
    assert "order numbers: NW-10001" in page  # the attachment's reading in the thread


def test_another_currency_blocks_auto_send_too(
    small_kb: object, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    make_auto("get_refund", settings, min_confidence=0.0)
    message = _receive(_pdf(invoice_pdf(total="USD 49.00")))
    _customer_with_order(message)  # an order in EUR, DEFAULT_CURRENCY
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    assert draft.status == "SUGGESTED"
    assert draft.context["documents"][0]["mismatches"] == [
        {"field": "currency", "document": "USD", "record": "EUR", "order": "NW-10001"}
    ]


def test_an_order_number_of_another_customer_is_a_mismatch_that_names_nobody(
    small_kb: object, django_capture_on_commit_callbacks: Any
) -> None:
    """An unverified sender's document matches no one's records; whose the order is (another
    customer's) appears nowhere in the draft."""
    other = Customer.objects.create(ref="someone-else@example.org", name="Olga Other")
    Order.objects.create(number="NW-10001", customer=other, total=Decimal("59.00"))
    message = _receive(_pdf(invoice_pdf()), body="Refund please, invoice attached.", verified=False)
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    assert draft.context["documents"][0]["mismatches"] == [
        {"field": "order_number", "document": "NW-10001", "record": None}
    ]
    assert "someone-else" not in str(draft.context) and "Olga" not in draft.answer
    assert draft.facts["orders"] == []  # looked up as the customer's claim: not theirs
    assert draft.facts["unknown_orders"] == ["NW-10001"]


def test_erasure_removes_what_was_read(
    small_kb: object, django_capture_on_commit_callbacks: Any
) -> None:
    message = _receive(_pdf(invoice_pdf()))
    _customer_with_order(message)
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    assert _reading(message).text and draft.context["documents"]
    ref = message.conversation.customer_ref

    exported = customer_data.export(ref, Actor.agent())["data"]
    assert "Invoice no. 778" in exported["support.DocumentReading"][0]["fields"]["text"]
    with django_capture_on_commit_callbacks(execute=True):
        erased = customer_data.do_erase(ref, Actor.agent())
    assert erased["support.DocumentReading"] == 1
    assert not DocumentReading.objects.filter(attachment__message=message).exists()
    draft.refresh_from_db()
    assert draft.context == {"earlier_conversations": [], "documents": [], "missing": []}


def test_the_console_lists_the_facts_a_message_lacks(
    small_kb: object, django_capture_on_commit_callbacks: Any, console: Client
) -> None:
    """#26 must 5, through the worker: the reply asks for the order number, the draft card says
    what is missing; given the number, nothing is."""
    asked = _run_worker(_receive(body="How do I get a refund?"), django_capture_on_commit_callbacks)
    assert (asked.intent, asked.status) == ("get_refund", "SUGGESTED")
    assert asked.context["missing"] == ["order_number"]
    assert asked.answer.endswith("could you send me your order number?")
    page = console.get(f"/console/conversations/{asked.conversation_id}/").content.decode()
    assert "<strong>Missing:</strong> order number" in page

    given = _run_worker(_receive(body=REFUND), django_capture_on_commit_callbacks)
    assert given.context["missing"] == []
    page = console.get(f"/console/conversations/{given.conversation_id}/").content.decode()
    assert "<strong>Missing:</strong>" not in page


def test_a_lone_surrogate_in_a_pdf_is_cleaned_and_the_message_drafted(
    small_kb: object, django_capture_on_commit_callbacks: Any
) -> None:
    """A lone surrogate from a crafted PDF used to make the reading's save raise, and every
    retry of the run with it: the message was never drafted."""
    message = _receive(_pdf(surrogate_pdf()))
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    reading = _reading(message)
    assert reading.status == DocumentStatus.READ
    assert "\ud800" not in reading.text and "NW-10001 ? Total" in reading.text
    assert reading.fields["order_numbers"] == ["NW-10001"]
    assert draft.status in ("SUGGESTED", "ESCALATED")
    assert draft.context["documents"][0]["status"] == "read"


def test_a_reader_that_raises_fails_its_documents_not_the_run(
    small_kb: object, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever read_attachments raises (a bug of ours, a file pypdf chokes on in a new way), the
    worker logs it, lists the documents as failed and drafts the message."""

    def broken(*args: object, **kwargs: object) -> DocumentReading:
        raise RuntimeError("a reader bug")

    monkeypatch.setattr("support.documents.read.read_one", broken)
    message = _receive(_pdf(invoice_pdf()))
    draft = _run_worker(message, django_capture_on_commit_callbacks)
    reading = _reading(message)
    assert (reading.status, reading.text) == (DocumentStatus.FAILED, "")
    assert draft.status in ("SUGGESTED", "ESCALATED")
    [document] = draft.context["documents"]
    assert document["status"] == "failed"


def _chatty_pdf(operators: int, pages: int = 1) -> bytes:
    """Pages whose content draws an XObject the page does not name, `operators` times: pypdf's
    text extraction logged ~8 kB per operator, which the worker held in memory."""
    name = b"/" + b"A" * 4000
    content = zlib.compress(b"BT (x) Tj ET\n" + (name + b" Do\n") * operators, 9)
    kids = b" ".join(b"%d 0 R" % (4 + n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /XObject << >> >> /Contents 3 0 R >>"
        )
    return assemble_pdf(objects)


def _child(path: Any, *limits: str) -> Any:
    import subprocess
    import sys

    from support.documents import read

    command = [sys.executable, "-I", str(read._CHILD), str(path), "50", "80000", str(2**30)]
    return subprocess.run([*command, *limits], capture_output=True, timeout=60, check=False)


def test_the_pdf_reader_says_nothing_but_its_answer(tmp_path: Any) -> None:
    path = tmp_path / "chatty.pdf"
    path.write_bytes(_chatty_pdf(300))
    done = _child(path)
    assert b'"ok": true' in done.stdout
    assert len(done.stderr) < 1000  # 300 warnings of ~8 kB each before


def test_the_pdf_reader_stops_at_its_cpu_limit_without_its_parent(tmp_path: Any) -> None:
    """A worker killed mid-read (SIGKILL, OOM) could not kill its reader: it kept spinning."""
    import os
    import time

    path = tmp_path / "slow.pdf"
    path.write_bytes(_chatty_pdf(15_000, pages=20))
    started = time.monotonic()
    done = _child(path, "1", str(os.getpid()))
    assert done.returncode != 0 and b'"ok"' not in done.stdout
    assert time.monotonic() - started < 10


def test_parts_past_the_attachment_count_stay_in_the_raw_email_only(
    db: None, settings: Any, console: Client
) -> None:
    """50,000 one-byte parts (3 MB) took 16 s to store and 24 s of a worker to list."""
    from support.models import Attachment

    settings.ATTACHMENT_MAX_COUNT = 3
    parts = [
        {"data": f"Order NW-1000{n}\n".encode(), "type": "text/plain", "filename": f"{n}.txt"}
        for n in range(5)
    ]
    message = _receive(*parts)
    kept = Attachment.objects.filter(message=message).order_by("filename")
    assert [a.filename for a in kept] == ["0.txt", "1.txt", "2.txt"]
    assert message.attachments_not_kept == 2
    assert len(read_attachments(message.pk)) == 3
    page = console.get(f"/console/conversations/{message.conversation_id}/").content.decode()
    assert "and 2 more parts, not kept" in page
