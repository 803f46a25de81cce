"""Differential suite plumbing: one JPMML-Evaluator JVM per session (JPype, heap capped)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent / "conformance"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import jpmml_backend  # noqa: E402

import differential_lib as dl  # noqa: E402

# test_vs_jpmml.py appends (case id, kind, outcome, detail) to dl.SESSION_RESULTS; printed at the end.


def pytest_configure(config):
    config.addinivalue_line("markers", "differential: compares quickscore with JPMML-Evaluator (needs Java 17)")


@pytest.fixture(scope="session")
def jpmml():
    """The jpmml_backend module with its JVM running; skips when java or jpmml_evaluator is missing."""
    try:
        jpmml_backend.backend()
    except jpmml_backend.JpmmlUnavailable as exc:
        pytest.skip(f"JPMML-Evaluator unavailable: {exc}")
    return jpmml_backend


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not dl.SESSION_RESULTS:
        return
    from collections import Counter

    tr = terminalreporter
    counts = Counter(outcome for _, _, outcome, _ in dl.SESSION_RESULTS)
    tr.write_sep("=", "quickscore vs JPMML-Evaluator: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for case_id, kind, outcome, detail in sorted(dl.SESSION_RESULTS):
        if outcome != "agree":
            tr.write_line(f"  [{outcome}] {case_id} ({kind}): {detail}")
