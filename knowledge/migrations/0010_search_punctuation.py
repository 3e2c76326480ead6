"""The chunks' tsvector with the punctuation PostgreSQL's parser glues to words in a locale-C
database ("¿dónde", "«mes", words with a typographic apostrophe) blanked out first (knowledge/languages.py:
SEARCH_PUNCTUATION). A generated column's expression cannot be altered in place: the column and
its GIN index are dropped and added again, which recomputes every chunk's vector."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

PUNCTUATION = "\u00bf\u00a1\u00ab\u00bb\u201c\u201d\u201e\u201f\u2018\u2019\u201a\u201b\u2039\u203a\u2014\u2013\u2015\u2026\u00b7\u2022\u2032\u2033"


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0009_hnsw_ef_construction_256"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="kbchunk", name="kbchunk_search_vector_gin_idx"),
        migrations.RemoveField(model_name="kbchunk", name="search_vector"),
        migrations.AddField(
            model_name="kbchunk",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    models.Func(
                        models.F("text"),
                        models.Value(PUNCTUATION),
                        models.Value(" " * len(PUNCTUATION)),
                        function="translate",
                        output_field=models.TextField(),
                    ),
                    config=models.F("search_config"),
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
