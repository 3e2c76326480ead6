"""Per-case trace of a learning-curve set (#28): where does each held-out paraphrase or look-alike
negative stop? Teaches the set as `evaluate` does (evals/learning_curve.py, rolled back), then
for each case after learning prints the nearest learned article (by its keys), its threshold, the
best KB article, what the retrieve node decided and the outcome. With --dump it also writes the
similarities (every case to every learned key, to each learned article's text, and the best KB
article's) as JSON for studying a matching rule without the graph.

    RESOLVER_DATA_DIR=var/test .venv/bin/python bench/learning_trace.py learning_curve_2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set")
    parser.add_argument("--dump", help="write the similarities here (JSON)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from agents.graph import build_graph
    from agents.services import default_services
    from evals import learning_curve as lc
    from evals.metrics import token_f1
    from evals.runner import _run
    from evals.sets import load_set
    from knowledge.embeddings import embed_query
    from knowledge.matching import key_vectors
    from knowledge.models import ChunkKind, DocumentSource, DocumentStatus, KBChunk, KBDocument
    from resolver.audit_actor import Actor

    eval_set = load_set(args.set)
    train = [c for c in eval_set.cases if c.learn]
    others = [c for c in eval_set.cases if not c.learn]
    answers = {c.learn["topic"]: c.learn["answer"] for c in train}
    dump: dict[str, Any] = {"cases": [], "learned": {}}

    class Done(Exception):
        pass

    try:
        with transaction.atomic():
            agent, _ = get_user_model().objects.get_or_create(username=lc.SCRIPTED_AGENT)
            actor = Actor.for_user(agent)
            graph = build_graph(default_services())
            _, topic_of = lc._teach(graph, train, actor)
            learned, _, per_document = lc._approve_all(actor, topic_of)
            graph = build_graph(default_services())
            docs = {d.pk: d for d in KBDocument.objects.filter(pk__in=learned)}
            keys = {pk: key_vectors([pk]) for pk in learned}
            for pk, d in docs.items():
                texts = list(
                    KBChunk.objects.filter(document_id=pk, kind=ChunkKind.QUESTION)
                    .order_by("ordinal")
                    .values_list("text", flat=True)
                )
                print(f"learned {pk} {per_document[pk]} thr={d.match_threshold} keys={texts}")
                print(f"   match={d.metadata.get('match')}")
                dump["learned"][pk] = {
                    "topic": per_document[pk],
                    "threshold": d.match_threshold,
                    "keys": texts,
                    "content": d.content,
                    "key_vectors": keys[pk].tolist(),
                }
            kb = KBDocument.objects.filter(status=DocumentStatus.PUBLISHED).exclude(
                source=DocumentSource.LEARNED
            )
            for case in others:
                outcome, state = _run(graph, case)[:2]
                vector = embed_query(case.text)
                sims = {pk: float((keys[pk] @ vector).max()) for pk in learned if len(keys[pk])}
                best = max(sims, key=lambda pk: sims[pk]) if sims else None
                evidence = state.get("evidence", [])
                kb_best = kb.hybrid_search(case.text, 5)
                answer = outcome.answer or ""
                reason = outcome.escalation_reason or ""
                shown = [
                    ("L" if e.kb_id in learned else "") + f"{e.similarity:.2f}" for e in evidence
                ]
                f1 = token_f1(answer, case.expect.get("reference", "")) if answer else 0.0
                topic = lc._topic(case) or "NEG"
                mark = "OK " if outcome.status == "SUGGESTED" and f1 >= 0.6 else "-- "
                if topic == "NEG":
                    mark = "NEG" if outcome.status != "SUGGESTED" else "neg"
                print(
                    f"{mark} {case.id:28} {outcome.status:9} {reason:18} "
                    f"f1={f1:.2f} key={per_document.get(best, '-') if best else '-'}:"
                    f"{sims.get(best, 0) if best else 0:.3f}"
                    f"/thr={docs[best].match_threshold if best else None} "
                    f"kb={kb_best[0].title[:30] if kb_best else '-'}:"
                    f"{kb_best[0].similarity if kb_best else 0:.3f} "
                    f"ev={shown}"
                    f" tr={'>'.join(outcome.trace)[-60:]} | {case.text[:60]}"
                )
                dump["cases"].append(
                    {
                        "id": case.id,
                        "topic": topic,
                        "text": case.text,
                        "status": outcome.status,
                        "reason": outcome.escalation_reason,
                        "f1": f1,
                        "vector": vector.tolist(),
                        "kb": [(h.kb_id, h.title, h.similarity) for h in kb_best],
                        "evidence": [(e.kb_id, e.similarity, e.learned) for e in evidence],
                        "trace": outcome.trace,
                    }
                )
            dump["answers"] = answers
            raise Done
    except Done:
        pass
    if args.dump:
        Path(args.dump).write_text(json.dumps(dump))


if __name__ == "__main__":
    main()
