"""Retrieval quality per search leg (hybrid, vector, full text, answers) and speed, plus ingest
cost vs raw encode. The messages are the eval harness's `template_dev` suite (held-out Bitext
template families, evals/sets/template_dev.jsonl; `manage.py evaluate` reports the pipeline's
recall@5 on it); this script adds the per-leg comparison a suite run cannot. The KB is built from
responses.csv with the questions of dev families removed from its question index, so no dev
template is matched question-to-question. A hit is a same-intent article.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import TYPE_CHECKING, Any, cast

from _setup import (
    DATASETS,
    latency_summary,
    read_csv,
    require_datasets,
    setup_django,
    write_result,
)

if TYPE_CHECKING:
    from knowledge.search import Legs


def dev_split() -> tuple[list[tuple[str, str]], set[str]]:
    """(text, intent) of the template_dev suite's answerable cases, and the normalised response
    instructions of dev families (kept out of the KB's question index)."""
    from agents.splits import dev_mask, normalise
    from evals.sets import load_set

    train = read_csv(DATASETS / "bitext" / "intents_train.csv")
    responses = read_csv(DATASETS / "bitext" / "responses.csv")
    # Families span both files, so a KB question and a dev message of one template agree.
    items = [("train", r["intent"], r["text"]) for r in train]
    items += [("kb", r["intent"], r["instruction"]) for r in responses]
    mask = dev_mask([(intent, text) for _, intent, text in items])
    held_out = {
        normalise(text)
        for (kind, _, text), dev in zip(items, mask, strict=True)
        if dev and kind == "kb"
    }
    cases = load_set("template_dev").cases
    messages = [(c.text, c.expect["intent"]) for c in cases if c.expect.get("kb_ids")]
    return messages, held_out


def build_kb(held_out: set[str]) -> dict[str, float]:
    """Fresh ingest, timed, and raw model.encode of exactly the same passages, timed."""
    from agents.splits import normalise
    from knowledge.embeddings import embed_documents, get_model
    from knowledge.ingest.bitext import BitextRow, build_articles
    from knowledge.ingest.upsert import desired_chunks, upsert_documents
    from knowledge.models import KBChunk, KBDocument

    fields = ("instruction", "intent", "category", "response")
    csv_rows = read_csv(DATASETS / "bitext" / "responses.csv")
    rows = [BitextRow(**{f: r[f] for f in fields}) for r in csv_rows]
    get_model()
    KBDocument.objects.all().delete()
    # Warm up on the same passages first, so neither timing below pays one-off start-up costs.
    preview = build_articles(rows, keep_question=lambda q: normalise(q) not in held_out)
    texts = [t for s in preview for _, _, t in desired_chunks(_as_document(s))]
    texts = list(dict.fromkeys(texts))  # ingest embeds each distinct passage once
    embed_documents(texts)
    started = time.perf_counter()
    specs = build_articles(rows, keep_question=lambda q: normalise(q) not in held_out)
    report = upsert_documents(specs)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    embed_documents(texts)
    encode_s = time.perf_counter() - started
    return {
        "documents": report.created,
        "chunks": KBChunk.objects.count(),
        "ingest_seconds": round(ingest_s, 2),
        "raw_encode_seconds": round(encode_s, 2),
        "ingest_overhead": round(ingest_s / encode_s - 1, 4),
        "chunks_per_second": round(KBChunk.objects.count() / ingest_s, 1),
    }


def _as_document(spec: Any) -> Any:
    from knowledge.models import KBDocument

    return KBDocument(content=spec.content, metadata={"questions": list(spec.questions)})


def evaluate(messages: list[tuple[str, str]], mode: Legs) -> dict[str, float]:
    from knowledge import embeddings, search
    from knowledge.models import KBDocument

    hits1 = hits5 = 0
    reciprocal = 0.0
    millis = []
    embeddings._cached_query_vector.cache_clear()  # every mode pays for its query embeddings
    for text, intent in messages:
        started = time.perf_counter()
        results = search.hybrid_search(KBDocument.objects.published(), text, 5, legs=mode)
        millis.append((time.perf_counter() - started) * 1000)
        intents = [hit.intent for hit in results]
        if intents[:1] == [intent]:
            hits1 += 1
        if intent in intents:
            hits5 += 1
            reciprocal += 1 / (intents.index(intent) + 1)
    n = len(messages)
    return {
        "recall_at_1": round(hits1 / n, 4),
        "recall_at_5": round(hits5 / n, 4),
        "mrr": round(reciprocal / n, 4),
        **latency_summary(millis),
    }


ALL_MODES = "hybrid,vector,text,answers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=0, help="evaluate on N dev messages")
    parser.add_argument("--modes", default=ALL_MODES)
    args = parser.parse_args()
    require_datasets()
    setup_django()
    messages, held_out = dev_split()
    if args.sample:
        messages = random.Random(0).sample(messages, min(args.sample, len(messages)))
    ingest = build_kb(held_out)
    results = {mode: evaluate(messages, mode) for mode in cast(list["Legs"], args.modes.split(","))}
    # A sample or some of the modes is a quick look, not the committed measurement: it is
    # written beside it (retrieval_sample.json), never over it.
    partial = args.sample or args.modes != ALL_MODES
    write_result(
        "retrieval_sample" if partial else "retrieval",
        {
            "dev_messages": len(messages),
            "held_out_kb_questions": len(held_out),
            "ingest": ingest,
            "search": results,
        },
    )


if __name__ == "__main__":
    main()
