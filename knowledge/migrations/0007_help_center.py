"""The public help center: an article's slug (backfilled as KBDocument.save sets it) and its
switch (learned articles start off: an admin approves them for customers), and the categories'
titles, order and switches."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def backfill(apps: Any, schema_editor: Any) -> None:
    from knowledge.models.document import slug_for

    KBDocument = apps.get_model("knowledge", "KBDocument")
    taken: set[str] = set()
    rows = KBDocument.objects.order_by("id").only("id", "title", "source", "external_id")
    for document in rows.iterator(chunk_size=2000):
        slug = slug_for(document.title, document.source, document.external_id, taken=False)
        if slug in taken:
            slug = slug_for(document.title, document.source, document.external_id, taken=True)
        taken.add(slug)
        KBDocument.objects.filter(pk=document.pk).update(slug=slug)
    KBDocument.objects.filter(source="learned").update(public=False)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0006_learned_match_threshold"),
    ]

    operations = [
        migrations.CreateModel(
            name="HelpCategory",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.CharField(
                        help_text="The articles' category, e.g. ORDER.", max_length=64, unique=True
                    ),
                ),
                (
                    "title",
                    models.CharField(blank=True, help_text="Shown to customers.", max_length=120),
                ),
                ("description", models.CharField(blank=True, max_length=300)),
                (
                    "position",
                    models.PositiveIntegerField(default=100, help_text="Lower comes first."),
                ),
                (
                    "enabled",
                    models.BooleanField(
                        default=True, help_text="Shown in the public help center."
                    ),
                ),
            ],
            options={
                "verbose_name": "help center category",
                "verbose_name_plural": "help center categories",
                "ordering": ["position", "code"],
            },
        ),
        migrations.AddField(
            model_name="kbdocument",
            name="public",
            field=models.BooleanField(
                default=True,
                help_text="Shown in the public help center (when published and not an internal note).",
            ),
        ),
        migrations.AddField(
            model_name="kbdocument",
            name="slug",
            field=models.SlugField(blank=True, db_index=False, max_length=100),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="kbdocument",
            constraint=models.UniqueConstraint(fields=("slug",), name="kbdocument_slug_uniq"),
        ),
    ]
