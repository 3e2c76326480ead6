"""#31: an article's language (ISO 639-1, "en" for every existing one) and each chunk's
text-search configuration, which the stored tsvector now reads per row (a Spanish passage is
stemmed as Spanish). A generated column's expression cannot be altered in place: the tsvector
and its GIN index are dropped and made again (PostgreSQL recomputes it for every chunk)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

import knowledge.models.chunk


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0007_help_center"),
    ]

    operations = [
        migrations.AddField(
            model_name="kbdocument",
            name="language",
            field=models.CharField(
                choices=[
                    ("en", "English"),
                    ("es", "Spanish"),
                    ("fr", "French"),
                    ("de", "German"),
                    ("pt", "Portuguese"),
                    ("it", "Italian"),
                    ("nl", "Dutch"),
                ],
                default="en",
                max_length=8,
            ),
        ),
        migrations.AddConstraint(
            model_name="kbdocument",
            constraint=models.CheckConstraint(
                condition=models.Q(("language__in", ["en", "es", "fr", "de", "pt", "it", "nl"])),
                name="kbdocument_language_valid",
            ),
        ),
        migrations.AddIndex(
            model_name="kbdocument",
            index=models.Index(fields=["language", "status"], name="kbdocument_language_status_idx"),
        ),
        migrations.RemoveIndex(model_name="kbchunk", name="kbchunk_search_vector_gin_idx"),
        migrations.RemoveField(model_name="kbchunk", name="search_vector"),
        migrations.AddField(
            model_name="kbchunk",
            name="search_config",
            field=knowledge.models.chunk.RegConfigField(default="english"),
        ),
        migrations.AddField(
            model_name="kbchunk",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    "text", config=models.F("search_config")
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="kbchunk",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="kbchunk_search_vector_gin_idx"
            ),
        ),
    ]
