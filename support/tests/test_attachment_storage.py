"""Attachments' files through Django's storage API (support/email/attachments.py:
STORAGES["attachments"], from ATTACHMENT_STORAGE and ATTACHMENT_STORAGE_OPTIONS). The default is
a FileSystemStorage at ATTACHMENT_DIR with the layout files always had; any other backend works
the same way end to end. Django's InMemoryStorage stands in for a remote one (S3, GCS, Azure):
no local path, so the PDF reader gets a temporary copy. Real database and Redis throughout."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from resolver.audit_actor import Actor
from resolver.env import ConfigError, env_json_object
from resolver.settings import attachment_storage
from support import customer_data
from support.documents.read import read_attachments
from support.email import attachments as files
from support.email.receive import _Stored, receive_email
from support.models import Attachment, DocumentReading, InboundEmail, InboundStatus, Message
from support.tests.conftest import API, key_client
from support.tests.email_fixtures import email_settings, unique_sender  # noqa: F401
from support.tests.emails.build import build
from support.tests.test_documents import invoice_pdf
from support.vocabulary import DocumentStatus

pytestmark = pytest.mark.usefixtures("email_settings")

ROOT = Path(__file__).resolve().parents[2]
IN_MEMORY = "django.core.files.storage.InMemoryStorage"


@pytest.fixture
def in_memory(email_settings: Any) -> Storage:  # noqa: F811
    """The attachments storage an InMemoryStorage, as ATTACHMENT_STORAGE would make it."""
    email_settings.ATTACHMENT_STORAGE = IN_MEMORY
    email_settings.ATTACHMENT_STORAGE_OPTIONS = {}
    storage = attachment_storage(IN_MEMORY, {}, email_settings.ATTACHMENT_DIR)
    email_settings.STORAGES = {**email_settings.STORAGES, "attachments": storage}
    store = files.storage()
    assert isinstance(store, InMemoryStorage)
    return store


def _receive(data: bytes, filename: str, content_type: str) -> Message:
    sender, _ = unique_sender()
    raw = build(
        "The invoice for order NW-10001 is attached.",
        sender=sender,
        attachments=[{"data": data, "type": content_type, "filename": filename}],
    )
    received = receive_email(raw, door="imap")
    assert received.message_id is not None, received
    return Message.objects.select_related("conversation").get(pk=received.message_id)


def _names(store: Storage, directory: str = "") -> list[str]:
    """Every file the storage holds."""
    directories, found = store.listdir(directory)
    names = [f"{directory}/{name}".lstrip("/") for name in found]
    for child in directories:
        names += _names(store, f"{directory}/{child}".lstrip("/"))
    return names


def _on_disk(settings: Any) -> list[Path]:
    return [p for p in Path(settings.ATTACHMENT_DIR).rglob("*") if p.is_file()]


def test_the_default_storage_is_the_file_system_at_attachment_dir(db: None, settings: Any) -> None:
    """Files stored before storages keep working: same place, same name from the id."""
    store = files.storage()
    assert type(store) is FileSystemStorage
    assert Path(store.location) == Path(settings.ATTACHMENT_DIR)
    pdf = invoice_pdf()
    attachment = _receive(pdf, "invoice.pdf", "application/pdf").attachments.get()
    hexed = attachment.pk.hex
    assert attachment.path == f"{hexed[:2]}/{hexed}"
    on_disk = Path(settings.ATTACHMENT_DIR) / hexed[:2] / hexed
    assert on_disk.read_bytes() == pdf and _on_disk(settings) == [on_disk]
    response = key_client("read").get(f"{API}/attachments/{attachment.pk}")
    assert b"".join(response.streaming_content) == pdf  # type: ignore[attr-defined]


def test_an_attachment_is_kept_served_and_read_from_another_storage(
    db: None,
    settings: Any,
    in_memory: Storage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdf = invoice_pdf()
    message = _receive(pdf, "invoice.pdf", "application/pdf")
    attachment = message.attachments.get()

    # In the storage, under the id's name; nothing on disk.
    assert _names(in_memory) == [attachment.path] == [files.name_for(attachment.pk)]
    with in_memory.open(attachment.path, "rb") as stored:
        assert stored.read() == pdf
    assert _on_disk(settings) == []

    # Downloaded from it.
    response = key_client("read").get(f"{API}/attachments/{attachment.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == pdf  # type: ignore[attr-defined]

    # Read from it: the PDF reader's child process gets a temporary copy, deleted after.
    copies = tmp_path / "tmp"
    copies.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(copies))
    [reading] = read_attachments(message.pk)
    assert reading.status == DocumentStatus.READ, reading.error
    assert "Invoice no. 778" in reading.text
    assert reading.fields["order_numbers"] == ["NW-10001"]
    assert list(copies.iterdir()) == []


def test_text_is_read_from_another_storage_and_a_lost_file_is_gone(
    db: None, in_memory: Storage
) -> None:
    message = _receive(b"Tracking number: 1Z999AA10123456784\n", "tracking.txt", "text/plain")
    [reading] = read_attachments(message.pk)
    assert reading.status == DocumentStatus.READ
    assert reading.fields["tracking_numbers"] == ["1Z999AA10123456784"]

    lost = _receive(invoice_pdf(), "invoice.pdf", "application/pdf")
    attachment = lost.attachments.get()
    in_memory.delete(attachment.path)
    response = key_client("read").get(f"{API}/attachments/{attachment.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "not_stored")
    [reading] = read_attachments(lost.pk)
    assert (reading.status, reading.error) == (DocumentStatus.FAILED, "the file is gone")


def test_a_file_larger_than_the_limit_is_not_copied_to_read(
    db: None, settings: Any, in_memory: Storage
) -> None:
    """The local copy is bounded by ATTACHMENT_MAX_BYTES (lowered since the file was kept)."""
    message = _receive(invoice_pdf(), "invoice.pdf", "application/pdf")
    settings.ATTACHMENT_MAX_BYTES = 100
    [reading] = read_attachments(message.pk)
    assert (reading.status, reading.error) == (
        DocumentStatus.FAILED,
        "larger than ATTACHMENT_MAX_BYTES",
    )


def test_erasure_deletes_the_file_from_the_storage_after_commit(
    db: None, in_memory: Storage, django_capture_on_commit_callbacks: Any
) -> None:
    message = _receive(invoice_pdf(), "invoice.pdf", "application/pdf")
    other = _receive(b"Someone else's notes.", "notes.txt", "text/plain")
    mine, theirs = message.attachments.get(), other.attachments.get()
    read_attachments(message.pk)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        erased = customer_data.do_erase(message.conversation.customer_ref, Actor.agent())
    assert erased["support.Attachment"] == 1 and erased["support.DocumentReading"] == 1
    assert in_memory.exists(mine.path)  # not before the erasure commits
    for callback in callbacks:
        callback()

    assert _names(in_memory) == [theirs.path]  # another customer's file stays
    assert not Attachment.objects.filter(pk=mine.pk).exists()
    assert not DocumentReading.objects.filter(attachment_id=mine.pk).exists()


@pytest.mark.parametrize("backend", ["file_system", "in_memory"])
def test_a_receive_that_rolls_back_leaves_no_file_behind(
    db: None,
    settings: Any,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    store = request.getfixturevalue("in_memory") if backend == "in_memory" else files.storage()

    def fail(self: _Stored, message: Message) -> None:
        raise RuntimeError("the database refused the attachments")

    monkeypatch.setattr(_Stored, "save", fail)
    sender, _ = unique_sender()
    attached = [
        {"data": invoice_pdf(), "type": "application/pdf", "filename": "invoice.pdf"},
        {"data": b"Order NW-10001", "type": "text/plain", "filename": "order.txt"},
    ]
    raw = build("Two files.", sender=sender, attachments=attached)
    received = receive_email(raw, door="imap")

    row = InboundEmail.objects.get(pk=received.inbound_id)
    assert row.status == InboundStatus.QUARANTINED and "refused" in row.error
    assert not Attachment.objects.exists()
    assert _on_disk(settings) == []
    if isinstance(store, InMemoryStorage):
        assert _names(store) == []


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "ab/../../outside",
        "/etc/passwd",
        "ab\\..\\..\\win.ini",
        "C:/Windows/win.ini",
        "ab//cd",
        "./ab",
        "ab/\x00",
        "",
    ],
)
@pytest.mark.parametrize("backend", ["file_system", "in_memory"])
def test_a_name_outside_the_storage_is_refused(
    db: None, request: pytest.FixtureRequest, backend: str, name: str
) -> None:
    if backend == "in_memory":
        request.getfixturevalue("in_memory")
    with pytest.raises(ValueError, match="outside the attachments storage"):
        files.stored_name(name)
    with pytest.raises(ValueError):
        files.open_stored(name)
    with pytest.raises(ValueError), files.local_file(name):
        pass


def test_a_row_naming_a_file_outside_the_storage_is_not_served(
    db: None, settings: Any, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("not an attachment")
    message = _receive(b"Order NW-10001", "order.txt", "text/plain")
    attachment = message.attachments.get()
    Attachment.objects.filter(pk=attachment.pk).update(path="../secret.txt")
    response = key_client("read").get(f"{API}/attachments/{attachment.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "not_stored")
    [reading] = read_attachments(message.pk)
    assert (reading.status, reading.error) == (DocumentStatus.FAILED, "the file is gone")


def test_a_symbolic_link_out_of_the_directory_is_refused(
    db: None, settings: Any, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("not an attachment")
    Path(settings.ATTACHMENT_DIR).mkdir(parents=True, exist_ok=True)
    (Path(settings.ATTACHMENT_DIR) / "ab").symlink_to(outside)
    with pytest.raises(ValueError):
        files.open_stored("ab/secret")


# Settings: ATTACHMENT_STORAGE and ATTACHMENT_STORAGE_OPTIONS from the environment.


def test_storage_options_must_be_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "ATTACHMENT_STORAGE_OPTIONS"

    def read(value: str) -> dict[str, object]:
        monkeypatch.setenv(name, value)
        return env_json_object(name)

    assert read("") == {}
    options = '{"bucket_name": "attachments", "querystring_auth": false}'
    assert read(options) == {"bucket_name": "attachments", "querystring_auth": False}
    for value, kind in [('["attachments"]', "array"), ('"s3"', "string"), ("3", "number")]:
        with pytest.raises(ConfigError, match=f"must be a JSON object .*got a JSON {kind}"):
            read(value)
    # Not JSON at all: the error says where, never what (the options may hold a secret key).
    with pytest.raises(ConfigError, match="must be a JSON object") as info:
        read("{'secret_key': 'hunter2-s3cret'}")
    assert "hunter2" not in str(info.value)


def test_the_default_backend_s_location_is_attachment_dir_unless_given(tmp_path: Path) -> None:
    fs = "django.core.files.storage.FileSystemStorage"
    assert attachment_storage(fs, {}, tmp_path) == {
        "BACKEND": fs,
        "OPTIONS": {"location": str(tmp_path)},
    }
    given = {"location": "/srv/files", "file_permissions_mode": 0o640}
    assert attachment_storage(fs, given, tmp_path)["OPTIONS"] == given
    s3 = "storages.backends.s3.S3Storage"
    assert attachment_storage(s3, {"bucket_name": "b"}, tmp_path) == {
        "BACKEND": s3,
        "OPTIONS": {"bucket_name": "b"},
    }


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_storage_is_configured_from_the_environment() -> None:
    import resolver.settings as loaded  # as settings.py made them, whatever a test overrides

    if "ATTACHMENT_STORAGE" not in os.environ:
        assert loaded.STORAGES["attachments"] == {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(loaded.ATTACHMENT_DIR)},
        }
    script = (
        "from support.email.attachments import storage; s = storage();"
        "print(type(s).__name__, s.location)"
    )
    other = _manage(
        "shell",
        "-c",
        script,
        ATTACHMENT_STORAGE=IN_MEMORY,
        ATTACHMENT_STORAGE_OPTIONS='{"location": "/in-memory/attachments"}',
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.splitlines()[-1].split() == ["InMemoryStorage", "/in-memory/attachments"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ATTACHMENT_STORAGE_OPTIONS", '["bucket"]', "must be a JSON object"),
        ("ATTACHMENT_STORAGE_OPTIONS", "bucket_name=x", "must be a JSON object"),
        ("ATTACHMENT_STORAGE", "s3", "ATTACHMENT_STORAGE must be a dotted Python path"),
    ],
)
def test_a_bad_storage_setting_is_one_line_and_exit_1(name: str, value: str, expected: str) -> None:
    result = _manage("check", **{name: value})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("resolver: configuration error: ") and expected in lines[0]
