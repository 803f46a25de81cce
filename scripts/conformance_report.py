#!/usr/bin/env python
"""Print the corpus conformance table as Markdown (with the date), for the README.

    python scripts/conformance_report.py                 # quickscore, in-scope files
    python scripts/conformance_report.py --out-of-scope  # also the out-of-scope files (separate table)
    python scripts/conformance_report.py --details       # plus the per-file failure messages
    python scripts/conformance_report.py --scorer jpmml  # the same harness on JPMML-Evaluator (checks the harness)

Same selection, mapping and tolerances as tests/conformance (see tests/conformance/conformance_lib.py).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "conformance"), str(ROOT / "tests" / "differential")]

import conformance_lib as cl  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scorer", choices=("quickscore", "jpmml"), default="quickscore")
    ap.add_argument("--out-of-scope", action="store_true", help="also score the out-of-scope files")
    ap.add_argument("--details", action="store_true", help="print the failure messages")
    ap.add_argument("-k", default="", help="only files whose id contains this substring")
    args = ap.parse_args(argv)

    if not cl.corpus_available():
        print(f"corpus not found at {cl.CORPUS_DIR} (set QUICKSCORE_CORPUS)", file=sys.stderr)
        return 2
    if args.scorer == "jpmml":
        import jpmml_backend

        scorer, who = jpmml_backend.jpmml_scorer, "JPMML-Evaluator (no vendor fix-ups)"
    else:
        scorer, who = cl.quickscore_scorer, "quickscore"
        try:
            import quickscore

            who += f" {getattr(quickscore, '__version__', '')}".rstrip()
        except Exception as exc:  # noqa: BLE001
            print(f"warning: import quickscore failed: {exc}", file=sys.stderr)

    ins, outs = cl.select_cases()
    date = _dt.date.today().isoformat()
    groups = [("in scope: TreeModel, RegressionModel, MiningModel", ins)]
    if args.out_of_scope:
        groups.append(("out of scope (other model types; not targets yet)", outs))
    for title, cases in groups:
        cases = [c for c in cases if args.k in c.id]
        results = []
        for c in cases:
            r = cl.run_case(c, scorer)
            results.append(r)
            print(f"{r.outcome:12s} {r.seconds:6.2f}s {c.id}", file=sys.stderr)
        good = [r for r in results if not r.case.known_bad]
        n_pass = sum(r.status == "pass" for r in good)
        print(cl.render_markdown(results, f"Corpus conformance, {who}: {title}", date))
        print(f"{n_pass} of {len(good)} files pass" + (" (plus the known-bad pair, expected to fail)" if len(good) < len(results) else "") + ".")
        print()
        bad = [r for r in results if r.status != "pass" and not r.case.known_bad]
        if bad:
            print("| File | Result | First differences |")
            print("|---|---|---|")
            for r in sorted(bad, key=lambda r: r.case.id):
                summary = r.summary.replace("|", "\\|")
                print(f"| `{r.case.id}` | {r.status} | {summary} |")
            print()
        if args.details:
            for r in bad:
                print("```")
                print(r.message)
                print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
