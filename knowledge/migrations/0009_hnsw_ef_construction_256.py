"""HNSW graph built with ef_construction=256 (was 128): a better-connected graph reaches the exact
top 10 more often at the same ef_search (bench/search_scale.py). Rebuilds the index."""

import pgvector.django.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0008_languages"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="kbchunk",
            name="kbchunk_embedding_hnsw_idx",
        ),
        migrations.AddIndex(
            model_name="kbchunk",
            index=pgvector.django.indexes.HnswIndex(
                ef_construction=256,
                fields=["embedding"],
                m=32,
                name="kbchunk_embedding_hnsw_idx",
                opclasses=["vector_cosine_ops"],
            ),
        ),
    ]
