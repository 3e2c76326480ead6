from __future__ import annotations

import lzma
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.module_loading import import_string

from knowledge.actors import enqueue_calibration, enqueue_reindex
from knowledge.forms import ImportForm, KBDocumentForm, TestSearchForm
from knowledge.ingest import IngestReport, SourceError, ingest
from knowledge.models import (
    DocumentSource,
    DocumentStatus,
    GuardRule,
    HelpCategory,
    KBChunk,
    KBDocument,
    Proposal,
    TriageExample,
)
from knowledge.search import EmptyQueryError
from knowledge.specifics import find_specifics
from resolver.admin_mixins import ActionsNeedChangePermission, ReadOnlyAdminMixin, row_action
from resolver.audit_actor import Actor

# Edits to these fields change what is chunked and embedded.
# A change to these rebuilds the chunks (the language: their text-search configuration).
INDEXED_FIELDS = {"content", "metadata", "language"}


class KBChunkInline(admin.TabularInline):
    model = KBChunk
    fields = ["kind", "ordinal", "text", "search_config"]
    readonly_fields = ["kind", "ordinal", "text", "search_config"]
    extra = 0
    can_delete = False


# A zip is checked entry by entry before anything is written, and written member by member
# with bounded reads (never `extractall`): all it may expand to is the largest file the page
# accepts unzipped (settings.PAGE_UPLOAD_MAX_BYTES, 200 MB by default, the request body limit of
# this upload: a KB export of that size is legitimate, a 300 KiB zip expanding to gigabytes
# is not), in at most ZIP_MAX_MEMBERS entries (each file becomes an article; 10,000 is far
# more than any help center holds, and bounds the files a tiny zip of empty entries creates).
ZIP_MAX_MEMBERS = 10_000
# The compression methods zipfile can read (Deflate64, PKWARE's implode... it cannot).
ZIP_READABLE_METHODS = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}
ZIP_ENCRYPTED_FLAG = 0x1
COPY_BLOCK = 1 << 20


def _shown(name: str) -> str:
    return name if len(name) <= 80 else f"{name[:77]}..."


def _checked_members(archive: zipfile.ZipFile, extracted: Path) -> list[zipfile.ZipInfo]:
    """The archive's entries, if every one can be extracted safely; else SourceError."""
    members = archive.infolist()
    if len(members) > ZIP_MAX_MEMBERS:
        raise SourceError(f"the zip holds {len(members)} entries, more than {ZIP_MAX_MEMBERS}")
    limit = int(settings.PAGE_UPLOAD_MAX_BYTES)
    declared = 0
    for member in members:
        name = _shown(member.filename)
        destination = (extracted / member.filename).resolve()
        if extracted.resolve() not in destination.parents:  # no "../" escapes
            raise SourceError(f"unsafe path in zip: {name}")
        if member.flag_bits & ZIP_ENCRYPTED_FLAG:
            raise SourceError(f"{name} is encrypted in the zip: upload it without a password")
        if member.compress_type not in ZIP_READABLE_METHODS:
            raise SourceError(
                f"{name} is compressed with a method that cannot be read "
                f"(zip method {member.compress_type}): zip it again with Deflate"
            )
        declared += member.file_size
        if declared > limit:
            raise SourceError(f"the zip expands to more than {limit:,} bytes")
    return members


def _extract(archive: zipfile.ZipFile, extracted: Path) -> None:
    """Writes the checked entries, counting what is written against the size limit (a member
    cannot yield more than its declared size, but the count does not rely on that)."""
    limit = int(settings.PAGE_UPLOAD_MAX_BYTES)
    written = 0
    for member in _checked_members(archive, extracted):
        destination = extracted / member.filename
        try:
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as target:
                while block := source.read(COPY_BLOCK):
                    written += len(block)
                    if written > limit:
                        raise SourceError(f"the zip expands to more than {limit:,} bytes")
                    target.write(block)
        except OSError as exc:
            # A name the file system refuses (too long; a file and a folder of one name).
            reason = exc.strerror or str(exc)
            raise SourceError(f"cannot extract {_shown(member.filename)}: {reason}") from exc


def _save_upload(upload: UploadedFile, folder: Path) -> Path:
    target = folder / Path(upload.name or "upload").name
    with target.open("wb") as handle:
        for part in upload.chunks():
            handle.write(part)
    if target.suffix.lower() != ".zip":
        return target
    extracted = folder / "extracted"
    extracted.mkdir()
    try:
        with zipfile.ZipFile(target) as archive:
            _extract(archive, extracted)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise SourceError(f"the zip cannot be read: {exc}") from exc
    except (RuntimeError, NotImplementedError) as exc:  # what the checks above did not foresee
        raise SourceError(f"the zip cannot be extracted: {exc}") from exc
    return extracted


def import_upload(source: str, upload: UploadedFile) -> IngestReport:
    """Same code path as `ingest_kb`: the upload is saved to a temporary file and ingested."""
    with tempfile.TemporaryDirectory() as folder:
        saved = _save_upload(upload, Path(folder))
        if source == "markdown" and saved.is_file():
            saved = saved.parent
        return ingest(source, saved)


def _set_status(queryset: QuerySet[KBDocument], status: str) -> int:
    """Sets the documents' status; when a learned article's changes, the learned articles'
    thresholds are derived again after commit (knowledge/matching.py: from the published ones)."""
    with transaction.atomic():
        moved_learned = (
            queryset.exclude(status=status).filter(source=DocumentSource.LEARNED).exists()
        )
        count = queryset.update(status=status)
        if moved_learned:
            enqueue_calibration()
    return count


class ExampleSpecificsFilter(admin.SimpleListFilter):
    """Articles whose text carries amounts, numbers, dates or names (knowledge/specifics.py):
    drafts leave those sentences out, so the article should say it with a placeholder."""

    title = "example specifics"
    parameter_name = "specifics"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has example specifics"), ("no", "None")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[KBDocument]
    ) -> QuerySet[KBDocument]:
        if self.value() not in ("yes", "no"):
            return queryset
        flagged = [
            pk for pk, content in queryset.values_list("pk", "content") if find_specifics(content)
        ]
        if self.value() == "yes":
            return queryset.filter(pk__in=flagged)
        return queryset.exclude(pk__in=flagged)


@admin.register(KBDocument)
class KBDocumentAdmin(admin.ModelAdmin):
    form = KBDocumentForm  # its metadata checked: the reindex reads it
    list_display = [
        "title",
        "source",
        "intent",
        "category",
        "language",
        "status",
        "public",
        "embedding_status",
        "example_specifics",
        "updated_at",
    ]
    list_filter = [
        "source",
        "language",
        "status",
        "public",
        "embedding_status",
        ExampleSpecificsFilter,
        "category",
        "intent",
    ]
    search_fields = ["title", "content", "external_id", "intent"]
    readonly_fields = [
        "content_hash",
        "embedding_status",
        "embedded_at",
        # A learned article's own threshold, derived from its keys (knowledge/matching.py).
        "match_threshold",
        "slug",  # the help center's URL: stable once set
        "created_at",
        "updated_at",
    ]
    actions = ["publish", "unpublish", "show_in_help_center", "hide_from_help_center", "reembed"]
    inlines = [KBChunkInline]
    change_list_template = "admin/knowledge/kbdocument/change_list.html"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"source": DocumentSource.MANUAL, "external_id": uuid.uuid4().hex[:12]}

    def save_model(self, request: HttpRequest, obj: KBDocument, form: Any, change: bool) -> None:
        reindex = not change or bool(INDEXED_FIELDS & set(form.changed_data))
        if reindex:
            obj.content_hash = ""  # no longer what the source said: a re-ingest will update it
        # Published or unpublished as a learned article (or made one, or no longer one): the
        # other learned articles' thresholds are derived from the published ones.
        was_learned = form.initial.get("source") == DocumentSource.LEARNED
        calibrate = change and bool({"status", "source"} & set(form.changed_data))
        super().save_model(request, obj, form, change)
        if reindex:
            enqueue_reindex([obj.pk])
            messages.info(request, "Re-embedding in the background; the list shows progress.")
        if calibrate and (was_learned or obj.source == DocumentSource.LEARNED):
            enqueue_calibration()

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """A document's chunks go with it: their admin is read-only (no one deletes a chunk
        alone), which must not stop the document's deletion."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(KBChunk._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: KBDocument) -> None:
        super().delete_model(request, obj)
        if obj.source == DocumentSource.LEARNED and obj.status == DocumentStatus.PUBLISHED:
            enqueue_calibration()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        published_learned = queryset.filter(
            source=DocumentSource.LEARNED, status=DocumentStatus.PUBLISHED
        ).exists()
        super().delete_queryset(request, queryset)
        if published_learned:
            enqueue_calibration()

    @admin.display(description="Example specifics")
    def example_specifics(self, obj: KBDocument) -> str:
        return ", ".join(find_specifics(obj.content)[:5])

    @admin.action(description="Publish selected documents", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        count = _set_status(queryset, DocumentStatus.PUBLISHED)
        self.message_user(request, f"Published {count} document(s).")

    @admin.action(description="Unpublish selected documents", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        count = _set_status(queryset, DocumentStatus.DRAFT)
        self.message_user(request, f"Unpublished {count} document(s).")

    @admin.action(description="Show selected documents in the help center", permissions=["change"])
    def show_in_help_center(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        """The help center's switch; for a learned article, its approval for customers."""
        count = queryset.update(public=True)
        self.message_user(request, f"{count} document(s) shown in the help center.")

    @admin.action(
        description="Hide selected documents from the help center", permissions=["change"]
    )
    def hide_from_help_center(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        count = queryset.update(public=False)
        self.message_user(request, f"{count} document(s) hidden from the help center.")

    @admin.action(description="Re-embed selected documents", permissions=["change"])
    def reembed(self, request: HttpRequest, queryset: QuerySet[KBDocument]) -> None:
        with transaction.atomic():
            enqueue_reindex(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {queryset.count()} document(s) for re-embedding.")

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("import/", self.admin_site.admin_view(self.import_view), name="knowledge_import"),
            path(
                "test-search/",
                self.admin_site.admin_view(self.test_search_view),
                name="knowledge_test_search",
            ),
        ]
        return own + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = import_upload(form.cleaned_data["source"], form.cleaned_data["file"])
            except (SourceError, zipfile.BadZipFile) as exc:
                messages.error(request, f"Nothing imported: {exc}")
            else:
                messages.success(request, f"Imported: {report.summary()}")
                for problem in report.problems[:20]:
                    messages.warning(request, f"Skipped {problem}")
                return redirect("admin:knowledge_kbdocument_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import"}
        return TemplateResponse(request, "admin/knowledge/kbdocument/import.html", context)

    def test_search_view(self, request: HttpRequest) -> HttpResponse:
        form = TestSearchForm(request.GET or None)
        hits, error = [], ""
        if form.is_valid():
            try:
                hits = KBDocument.objects.hybrid_search(
                    form.cleaned_data["q"],
                    form.cleaned_data["limit"],
                    intent=form.cleaned_data["intent"] or None,
                )
            except EmptyQueryError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "hits": hits,
            "error": error,
            "title": "Test search",
        }
        return TemplateResponse(request, "admin/knowledge/kbdocument/test_search.html", context)


@admin.register(HelpCategory)
class HelpCategoryAdmin(admin.ModelAdmin):
    """The help center's categories: a title and place for a KB category, or its switch off."""

    list_display = ["code", "title", "position", "enabled"]
    list_editable = ["title", "position", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["code", "title"]


@admin.register(KBChunk)
class KBChunkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Chunks are derived from their document (the reindex rebuilds them from its text and
    questions): viewable here, changed by editing the document. An edit here left text_hash and
    the embedding stale, and was undone by the next re-embed."""

    list_display = ["document", "kind", "ordinal", "short_text", "has_embedding"]
    list_filter = ["kind", "document__source", "document__status"]
    search_fields = ["text", "document__title"]
    raw_id_fields = ["document"]
    exclude = ["embedding"]
    readonly_fields = ["text_hash"]

    @admin.display(description="Text")
    def short_text(self, obj: KBChunk) -> str:
        return obj.text[:80]

    @admin.display(boolean=True, description="Embedded")
    def has_embedding(self, obj: KBChunk) -> bool:
        return obj.embedding is not None


# The learning loop's rows. Deciding a proposal and switching a rule are support's actions
# (support/learning/: lock, write, audit with its AuditLog), the ones the console and the API
# call; knowledge does not import support, so its admin names them (settings.LEARNING_DECISIONS)
# and looks them up when an action runs.


def _learning(name: str, *args: Any) -> Callable[[Any, Actor], Any]:
    """The row action calling the decision `name` with the row's pk, the actor and `args`."""

    def decide(row: Any, actor: Actor) -> Any:
        return import_string(settings.LEARNING_DECISIONS[name])(row.pk, actor, *args)

    return decide


@admin.register(Proposal)
class ProposalAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The learning loop's proposals: decided through support/learning/ (audited), never
    edited in place; an approval with an edited answer goes through the console or the API."""

    list_display = ["title", "kind", "status", "source_count", "impact", "intent", "updated_at"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "question", "answer"]
    actions = ["approve", "dismiss"]

    approve = admin.action(
        description="Approve the selected proposals as they are", permissions=["act_on_rows"]
    )(row_action(_learning("approve"), "Approved", noun="proposal"))
    dismiss = admin.action(
        description="Dismiss the selected proposals", permissions=["act_on_rows"]
    )(row_action(_learning("dismiss", "dismissed in admin"), "Dismissed", noun="proposal"))


@admin.register(GuardRule)
class GuardRuleAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Policy rules learned from agents' rejections: approved on the learning page, off until
    an admin enables one here (audited); a rule is changed by approving a new proposal."""

    list_display = ["description", "pattern", "enabled", "created_at", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["description", "pattern"]
    actions = ["enable", "disable"]

    enable = admin.action(
        description="Enable the selected rules (drafts they match escalate)",
        permissions=["act_on_rows"],
    )(row_action(_learning("set_rule_enabled", True), "Enabled", noun="rule"))
    disable = admin.action(description="Disable the selected rules", permissions=["act_on_rows"])(
        row_action(_learning("set_rule_enabled", False), "Disabled", noun="rule")
    )


@admin.register(TriageExample)
class TriageExampleAdmin(admin.ModelAdmin):
    """Training rows agents taught by re-labelling drafts; `train_triage` adds them. A wrong
    example can be deleted here before the next training."""

    list_display = ["text", "intent", "category", "created_at"]
    list_filter = ["intent"]
    search_fields = ["text"]
    readonly_fields = ["proposal", "created_at"]
