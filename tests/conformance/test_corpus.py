"""Real-file conformance: every in-scope corpus PMML must reproduce its producer's expected CSV.

Selection, column mapping and tolerances are documented in conformance_lib.py. Target: all 81 good
in-scope pairs pass (JPMML-Evaluator without its vendor fix-ups passes 78 with this same harness:
``python scripts/conformance_report.py --scorer jpmml``). The known-bad Rattle RegressionAudit pair is
``xfail(strict=True)``. Out-of-scope files (other model types) run too but are reported as xfail
"out of scope", never as failures.

    pytest tests/conformance -q                  # table printed at the end of the session
    pytest tests/conformance -k KNIME            # one producer
    pytest tests/conformance -m "not conformance"  # (elsewhere) to leave this suite out
"""

from __future__ import annotations

import pytest

import conformance_lib as cl

pytestmark = pytest.mark.conformance

if cl.corpus_available():
    IN_SCOPE, OUT_OF_SCOPE = cl.select_cases()
else:
    IN_SCOPE, OUT_OF_SCOPE = [], []

_ABSENT = f"conformance corpus not found at {cl.CORPUS_DIR} (set QUICKSCORE_CORPUS to its location)"


def _params(cases):
    if not cases:
        return [pytest.param(None, id="corpus-absent", marks=pytest.mark.skip(reason=_ABSENT))]
    params = []
    for c in cases:
        marks = []
        if c.known_bad:
            # Only a value mismatch (AssertionError) is the expected failure; a load error is a real one.
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=c.known_bad))
        params.append(pytest.param(c, id=c.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params(IN_SCOPE))
def test_in_scope(case):
    __tracebackhide__ = True
    res = cl.run_case(case)
    cl.SESSION_RESULTS.append(res)
    if res.status == "pass":
        return
    if res.status == "fail":
        raise AssertionError(res.message)
    # unsupported (UnsupportedMarkup on load) or error (other load error, crash while scoring)
    pytest.fail(f"[{res.status}] {case.path}: {res.message}", pytrace=False)


@pytest.mark.parametrize("case", _params(OUT_OF_SCOPE))
def test_out_of_scope(case):
    res = cl.run_case(case)
    cl.SESSION_RESULTS.append(res)
    if res.status != "pass":
        pytest.xfail(f"out of scope ({case.kind}), {res.status}: {res.summary}")
