"""quickscore vs JPMML-Evaluator on files without expected outputs (see differential_lib.py).

    pytest tests/differential -q          # ~1-2 minutes; needs java 17 and `pip install jpmml_evaluator`

Outcomes (also tabulated at the end of the session):
* agree           - every JPMML result column matches (rtol 1e-12, 1e-6 for mathContext="float")
* differ          - FAIL: values, missing columns or per-record failures differ
* GAP             - FAIL: quickscore raises UnsupportedMarkup on a file JPMML scores (a gap to know about)
* load-error      - FAIL: quickscore raises another ModelError on a file JPMML scores
* error           - FAIL: quickscore crashed (load or predict raised something else)
* jpmml-rejects   - skipped with JPMML's message (fragments, wrapped documents, invalid PMML)
* both-reject     - skipped: quickscore refuses the file and JPMML fails records on markup errors
* no-input        - fixture without <Name>.input.csv: skipped
"""

from __future__ import annotations

import pytest

import conformance_lib as cl
import differential_lib as dl

pytestmark = pytest.mark.differential

CORPUS_CASES = dl.corpus_cases() if cl.corpus_available() else []
FIXTURE_CASES = dl.fixture_cases()


def _params(cases, absent_reason):
    if not cases:
        return [pytest.param(None, id="none", marks=pytest.mark.skip(reason=absent_reason))]
    return [pytest.param(c, id=c.id) for c in cases]


def _run(case: dl.DiffCase, jpmml):
    __tracebackhide__ = True
    import quickscore

    if case.source == "fixture":
        if case.input_csv is None:
            dl.SESSION_RESULTS.append((case.id, case.kind, "no-input", "no .input.csv next to it"))
            pytest.skip(f"{case.id}: no {case.pmml.stem}.input.csv")
        inputs = dl.read_fixture_inputs(case.input_csv)
    try:
        ev = jpmml.load(case.pmml)
    except jpmml.JpmmlRejected as exc:
        dl.SESSION_RESULTS.append((case.id, case.kind, "jpmml-rejects", cl._one_line(str(exc))))
        pytest.skip(f"JPMML-Evaluator rejects {case.id}: {exc}")
    if case.source == "corpus":
        inputs = dl.synthetic_inputs(case.pmml)
    ref = jpmml.evaluate(ev, inputs)

    try:
        model = quickscore.load(str(case.pmml))
    except quickscore.ModelError as exc:
        # JPMML builds some invalid/unsupported documents lazily and fails the records that reach the
        # bad markup (org.jpmml.model.*Exception): refusing the file up front is consistent with that.
        markup = [e for e in ref["_error"].tolist() if not cl.is_missing(e) and "org.jpmml.model." in str(e)]
        if markup:
            detail = f"quickscore {type(exc).__name__}: {cl._one_line(str(exc), 100)}; JPMML fails {len(markup)}/{len(ref)} records: {cl._one_line(str(markup[0]), 100)}"
            dl.SESSION_RESULTS.append((case.id, case.kind, "both-reject", detail))
            pytest.skip(f"both engines refuse {case.id}: {detail}")
        if isinstance(exc, quickscore.UnsupportedMarkup):
            dl.SESSION_RESULTS.append((case.id, case.kind, "GAP", "UnsupportedMarkup: " + cl._one_line(str(exc))))
            pytest.fail(f"GAP: JPMML-Evaluator scores {case.id}, quickscore raises UnsupportedMarkup: {exc}", pytrace=False)
        dl.SESSION_RESULTS.append((case.id, case.kind, "load-error", f"{type(exc).__name__}: " + cl._one_line(str(exc))))
        pytest.fail(f"JPMML-Evaluator scores {case.id}, quickscore.load refuses it: {type(exc).__name__}: {exc}", pytrace=False)
    except Exception as exc:  # noqa: BLE001
        dl.SESSION_RESULTS.append((case.id, case.kind, "error", f"load crashed: {type(exc).__name__}: " + cl._one_line(str(exc))))
        pytest.fail(f"{case.id}: quickscore.load crashed: {type(exc).__name__}: {exc}", pytrace=False)
    try:
        ours = model.predict(inputs)
    except Exception as exc:  # noqa: BLE001
        dl.SESSION_RESULTS.append((case.id, case.kind, "error", f"predict raised {type(exc).__name__}: " + cl._one_line(str(exc))))
        pytest.fail(f"{case.id}: quickscore predict raised {type(exc).__name__}: {exc}", pytrace=False)

    rtol = dl.rtol_for(case.pmml)
    notes: list[str] = []
    problems = dl.compare_frames(ref, ours, rtol, inputs, notes=notes, skip_columns=dl.non_final_outputs(case.pmml))
    if problems:
        dl.SESSION_RESULTS.append((case.id, case.kind, "differ", cl._one_line(problems[0].split("\n")[0])))
        raise AssertionError(
            f"{case.id} ({case.producer}, {case.kind}): quickscore differs from JPMML-Evaluator on {len(inputs)} records\n  "
            + "\n  ".join(problems + notes)
        )
    dl.SESSION_RESULTS.append((case.id, case.kind, "agree", "; ".join(notes)))


@pytest.mark.parametrize("case", _params(CORPUS_CASES, f"corpus not found at {cl.CORPUS_DIR}"))
def test_corpus_vs_jpmml(case, jpmml):
    _run(case, jpmml)


@pytest.mark.parametrize("case", _params(FIXTURE_CASES, f"no fixtures in {dl.TEST_DATA_DIR} yet"))
def test_fixture_vs_jpmml(case, jpmml):
    _run(case, jpmml)
