"""Personal values sent to the model or written to a log (#18's target: 0), over the PII test
set (evals/pii/README.md): recall of the recognisers per kind, keep values (order numbers,
amounts, dates, ids) they changed, leaks to the LLM provider (a capturing OpenAI-compatible stub
behind the chat provider) and to the log lines the project's handler writes, for the dev part
and the held-out part separately (the recognisers were tuned on dev only).

Run with `.venv/bin/python bench/pii_leaks.py` (writes bench/results/pii.json; the cases that
failed go to var/pii_failures.json, not committed: they hold tweets). `--part dev` measures one
part. Needs the shared datasets for the tweet cases (the others run without)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _setup import ROOT, setup_django, write_result

FAILURES = ROOT / "var" / "pii_failures.json"


def run_part(part: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from evals.pii.cases import load
    from evals.pii.measure import failures, measure, summary

    cases, skipped = load(part)
    started = time.perf_counter()
    outcomes = measure(cases)
    result = summary(cases, outcomes, skipped)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result, failures(cases, outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["dev", "heldout", "both"], default="both")
    args = parser.parse_args()
    setup_django()
    parts = ["dev", "heldout"] if args.part == "both" else [args.part]
    results, failed = {}, {}
    for part in parts:
        results[part], failed[part] = run_part(part)
    # The failing cases' texts hold tweets (not to be committed): under var/, which git ignores.
    FAILURES.parent.mkdir(parents=True, exist_ok=True)
    FAILURES.write_text(json.dumps(failed, indent=2, ensure_ascii=False))
    write_result(
        "pii",
        {
            "set": "evals/pii/dev.jsonl + evals/pii/heldout.jsonl (evals/pii/generate.py)",
            "names": "person names redacted (REDACT_PERSON_NAMES=1, the default)",
            **results,
        },
    )


if __name__ == "__main__":
    main()
