"""Issue #28 experiment: does the tuning half of the real tweets (real_tweets_dev), labelled by the
same annotators and guide as the evaluation half, teach the wording heads more than it tunes them?

tone-v3 trains on written messages and 4,057 labelled pool tweets and uses real_tweets_dev only
to calibrate each head and choose its decision rules (the HIGH cut, the acknowledgement cut, the
sentiment weights). Here the dev half is cut into 5 folds; for each fold a model is trained on
tone-v3's data plus the other 4 folds (sentiment, urgency and ack heads only, weighted
--dev-weight; the kind head, which routes, keeps its data) and predicts the held-out fold. The
pooled out-of-fold probabilities are compared with tone-v3's own on the same messages, each
calibrated and given its decision rules by the same cross-validation (tuned on 4 folds' out-of-
fold probabilities, applied to the 5th), so neither side is scored on what it was tuned on.
Nothing reads the evaluation half (real_tweets).

Run: .venv/bin/python bench/tone_crossfit.py [--dev-weight 3]  (Django set up by bench/_setup.py)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _setup import RESULTS, setup_django

FOLDS = 5
SEED = 20261206


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev-weight", type=float, default=3.0, help="0: no dev folds taught")
    parser.add_argument(
        "--relabelled",
        nargs="*",
        default=[],
        help="JSONL files of the pool tweets labelled again (sha1, sentiment, urgency)",
    )
    parser.add_argument(
        "--mode",
        choices=("replace", "both"),
        default="replace",
        help="the second reading replaces the first, or both are taught at half weight each",
    )
    parser.add_argument("--out", default=str(RESULTS / "tone_crossfit.json"))
    parser.add_argument(
        "--prototypes",
        help="JSON {rule: [example sentences]}: each rule's nearest example's similarity is a "
        "feature of every head (after the embedding)",
    )
    args = parser.parse_args()
    setup_django()
    from agents.management.commands import train_tone as tt
    from agents.triage import tone_model as tm

    started = time.perf_counter()
    data = tt.examples(tt.DATASETS)
    if args.relabelled:
        data = relabelled(data, args.relabelled, args.mode)
    dev = tt.labelled_set(tt.TUNING_SET)
    texts = list(
        dict.fromkeys([t for h in tm.HEADS for t in data[h][0]] + [c["text"] for c in dev])
    )
    matrix = tm.features(texts)
    if args.prototypes:
        matrix = with_prototypes(matrix, json.loads(Path(args.prototypes).read_text()))
    row_of = {t: i for i, t in enumerate(texts)}
    rng = np.random.default_rng(SEED)
    fold_of = rng.permutation(np.arange(len(dev)) % FOLDS)
    shipped = tm.load_tone_model()
    plain = tm.features(dev_texts := [c["text"] for c in dev])
    dev_matrix = matrix[[row_of[t] for t in dev_texts]]
    baseline = shipped.raw_probabilities(plain, dev_texts)
    crossfit = {head: np.zeros_like(p) for head, p in baseline.items()}
    for fold in range(FOLDS if args.dev_weight else 1):
        taught = [c for c, f in zip(dev, fold_of, strict=True) if f != fold and args.dev_weight]
        examples: dict[str, tuple[list[str], list[str], list[float]]] = {}
        for head in tm.HEADS:
            h_texts, labels, weights = list(data[head][0]), list(data[head][1]), list(data[head][2])
            if head in tm.WORDING_HEADS:
                for case in taught:
                    if case[head]:
                        h_texts.append(case["text"])
                        labels.append(case[head])
                        weights.append(args.dev_weight)
            examples[head] = (h_texts, labels, weights)
        matrices = {h: matrix[[row_of[t] for t in examples[h][0]]] for h in tm.HEADS}
        model = tm.train(examples, f"crossfit-{fold}", matrices)
        held = [i for i, f in enumerate(fold_of) if f == fold or not args.dev_weight]
        raw = model.raw_probabilities(dev_matrix[held], [dev_texts[i] for i in held])
        for head, p in raw.items():
            assert list(model.heads[head].classes_) == list(shipped.heads[head].classes_)
            crossfit[head][held] = p
        print(f"fold {fold} trained ({time.perf_counter() - started:.0f} s)", flush=True)
    result = {
        "dev_weight": args.dev_weight,
        "relabelled": args.relabelled,
        "mode": args.mode,
        "cases": len(dev),
        "tone-v3": scored(shipped, baseline, dev, fold_of),
        "crossfit": scored(shipped, crossfit, dev, fold_of),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


def with_prototypes(matrix: np.ndarray, rules: dict[str, list[str]]) -> np.ndarray:
    """The matrix with one column per rule, the similarity of the text's embedding (the
    matrix's first columns) to the rule's nearest example, put before the named features."""
    from django.conf import settings

    from agents.triage import tone_model as tm
    from knowledge.embeddings import embed_queries

    width = settings.EMBEDDING_DIMENSIONS
    columns = []
    for examples in rules.values():
        vectors = np.asarray(embed_queries(examples))
        columns.append((matrix[:, :width] @ vectors.T).max(axis=1))
    named = matrix[:, -len(tm.FEATURE_NAMES) :]
    return np.hstack([matrix[:, :width], np.stack(columns, axis=1), named])


def relabelled(
    data: dict[str, tuple[list[str], list[str], list[float]]], paths: list[str], mode: str
) -> dict[str, tuple[list[str], list[str], list[float]]]:
    """The sentiment and urgency heads' pool tweets with their second reading's labels."""
    from agents.management.commands import train_tone as tt

    texts = tt.tweet_texts(tt.DATASETS)
    second: dict[str, dict[str, str]] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                second[texts[row["sha1"]]] = row
    changed = dict(data)
    for head in ("sentiment", "urgency"):
        rows: list[tuple[str, str, float]] = []
        for text, label, weight in zip(*data[head], strict=True):
            new = second.get(text, {}).get(head)
            if new is None:
                rows.append((text, label, weight))
            elif mode == "replace":
                rows.append((text, new, weight))
            else:
                rows += [(text, label, weight / 2), (text, new, weight / 2)]
        changed[head] = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    return changed


def scored(
    template: Any, raw: dict[str, np.ndarray], dev: list[dict[str, str]], fold_of: np.ndarray
) -> dict[str, Any]:
    """Each fold's decisions from calibration and rules fitted on the other folds' probabilities
    (train_tone.tune's procedure); the pooled decisions scored against the labels."""
    from agents.management.commands import train_tone as tt
    from agents.triage import tone_model as tm

    decided: list[dict[str, str]] = [{} for _ in dev]
    calibrated: list[dict[str, dict[str, float]]] = [{} for _ in dev]
    for fold in range(FOLDS):
        fit = [i for i, f in enumerate(fold_of) if f != fold]
        held = [i for i, f in enumerate(fold_of) if f == fold]
        model = tm.ToneModel(template.heads, "scored")
        for head in tm.HEADS:
            classes = [str(c) for c in template.heads[head].classes_]
            known = [i for i in fit if dev[i][head] in classes]
            truth = np.asarray([classes.index(dev[i][head]) for i in known])
            model.calibration[head] = tm.fit_calibration(raw[head][known], truth, head != "kind")

        def probabilities(rows: list[int], model: Any = model) -> list[dict[str, dict[str, float]]]:
            out = []
            for i in rows:
                row = {}
                for head in tm.HEADS:
                    p = model.calibration[head].apply(raw[head][[i]])[0]
                    labels = [str(c) for c in template.heads[head].classes_]
                    row[head] = dict(zip(labels, map(float, p), strict=True))
                out.append(row)
            return out

        fitted = probabilities(fit)
        model.urgency_high_min = tt.high_cut(
            [p["urgency"].get("HIGH", 0.0) for p in fitted],
            [dev[i]["urgency"] == "HIGH" for i in fit],
        )
        known = [k for k, i in enumerate(fit) if dev[i]["ack"]]
        model.ack_min = tt.ack_cut(
            [fitted[k]["ack"].get(tm.ACK, 0.0) for k in known],
            [dev[fit[k]]["ack"] == tm.ACK for k in known],
            [tt.vetoed(dev[fit[k]]["text"]) for k in known],
        )
        model.sentiment_weights = tt.sentiment_weights(
            [p["sentiment"] for p in fitted], [dev[i]["sentiment"] for i in fit]
        )
        for i, p in zip(held, probabilities(held), strict=True):
            decided[i] = model.decide(p)
            calibrated[i] = p
    high = [d["urgency"] == "HIGH" for d in decided]
    is_high = [c["urgency"] == "HIGH" for c in dev]
    true_high = sum(h and t for h, t in zip(high, is_high, strict=True))
    acked = [i for i, c in enumerate(dev) if c["ack"]]
    said = [decided[i]["ack"] == tm.ACK and not tt.vetoed(dev[i]["text"]) for i in acked]
    thanked = [dev[i]["ack"] == tm.ACK for i in acked]
    return {
        "sentiment_macro_f1": tt.macro_f1(
            [c["sentiment"] for c in dev], [d["sentiment"] for d in decided]
        ),
        "urgency_high_precision": round(true_high / max(1, sum(high)), 4),
        "urgency_high_recall": round(true_high / max(1, sum(is_high)), 4),
        "urgency_high_ece": tt.calibration_error(
            [p["urgency"].get("HIGH", 0.0) for p in calibrated], is_high
        ),
        "ack_recall": round(
            sum(s and t for s, t in zip(said, thanked, strict=True)) / max(1, sum(thanked)), 4
        ),
        "ack_false": sum(s and not t for s, t in zip(said, thanked, strict=True)),
        "precision_at_recall": precision_at_recall(
            [p["urgency"].get("HIGH", 0.0) for p in calibrated], is_high
        ),
    }


def precision_at_recall(p_high: list[float], truth: list[bool]) -> dict[str, float]:
    """HIGH precision at fixed recalls, by ranking the pooled P(HIGH): the ranking's quality,
    apart from where a cut falls."""
    order = np.argsort(-np.asarray(p_high))
    hits = np.cumsum(np.asarray(truth)[order])
    found: dict[str, float] = {}
    for recall in (0.4, 0.5, 0.6):
        need = int(np.ceil(recall * sum(truth)))
        k = int(np.searchsorted(hits, need)) + 1
        found[str(recall)] = round(need / k, 4)
    return found


if __name__ == "__main__":
    main()
