from __future__ import annotations

from django.contrib import admin

from knowledge.models import KBChunk, KBDocument


class KBChunkInline(admin.TabularInline):
    model = KBChunk
    fields = ["kind", "ordinal", "text"]
    readonly_fields = ["kind", "ordinal", "text"]
    extra = 0
    can_delete = False


@admin.register(KBDocument)
class KBDocumentAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "source",
        "intent",
        "category",
        "status",
        "embedding_status",
        "updated_at",
    ]
    list_filter = ["source", "status", "embedding_status", "category", "intent"]
    search_fields = ["title", "content", "external_id", "intent"]
    readonly_fields = [
        "content_hash",
        "embedding_status",
        "embedded_at",
        "created_at",
        "updated_at",
    ]
    inlines = [KBChunkInline]


@admin.register(KBChunk)
class KBChunkAdmin(admin.ModelAdmin):
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
