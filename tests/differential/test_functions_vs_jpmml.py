"""Every built-in function and expression, quickscore vs JPMML-Evaluator, on generated documents.

``functions_lib.CASES`` holds the expressions (one small document per case, see functions_lib);
each is scored by both engines on the same generated records. They must agree on every row:
strings and booleans equal, numbers within 1e-12 relative, a record failing in both or neither.
The exceptions are the documented JPMML deviations from the spec (``functions_lib``:
``JPMML_DEVIATIONS`` - records JPMML fails; ``JPMML_VALUE_DEVIATIONS`` - single values;
``QUICKSCORE_ONLY_FAILURES``), each with its reason; on the records JPMML fails for such a reason
quickscore must score the record.

    pytest tests/differential/test_functions_vs_jpmml.py -q     # ~15 s; needs java 17 and jpmml_evaluator
    python tests/differential/functions_lib.py                   # the cases' expressions
"""

from __future__ import annotations

import functions_lib as fl
import pytest

pytestmark = pytest.mark.differential

N_ROWS = 300


@pytest.fixture(scope="module")
def records():
    return fl.records(N_ROWS)


@pytest.fixture(scope="module")
def frame(records):
    import pandas as pd

    return pd.DataFrame(records)


@pytest.mark.parametrize("case", sorted(fl.CASES))
def test_function_case(case, jpmml, records, frame, tmp_path):
    import quickscore

    expressions = fl.CASES[case]
    text = fl.document(expressions, version=fl.CASE_VERSIONS.get(case, "4.4"), transformations=fl.CASE_TRANSFORMATIONS.get(case, ""))
    path = tmp_path / f"{case}.pmml"
    path.write_text(text, encoding="utf-8")
    ref = jpmml.evaluate(jpmml.load(path), frame)
    got = quickscore.load(text.encode()).predict(frame)

    problems, compared, excused = [], 0, 0
    # concat (and the function built on it) skips missing parts: its value is not missing
    check_missing = not any("concat" in fl.expression_of(e) or '"label"' in fl.expression_of(e) for e in expressions)
    only_ours = fl.QUICKSCORE_ONLY_FAILURES.get(case)
    for r, rec in enumerate(records):
        ref_error, our_error = ref["_error"][r], got["_error"][r]
        ref_failed, we_failed = not fl._missing(ref_error), not fl._missing(our_error)
        why = fl.deviation(ref_error, case, rec) if ref_failed else None
        if why:
            excused += 1
            if we_failed:
                problems.append(f"row {r}: JPMML deviates ({why}) but quickscore fails too: {our_error}")
            elif check_missing and "MissingArgumentException" in str(ref_error) and not any(fl._missing(got[f"o{k}"][r]) for k in range(len(expressions))):
                # some function got a missing argument: by the spec its value is missing
                problems.append(f"row {r}: JPMML reports a missing argument ({ref_error}) but no quickscore output is missing")
            continue
        if we_failed and not ref_failed and only_ours and only_ours[0](rec):
            excused += 1
            continue
        if ref_failed != we_failed:
            problems.append(f"row {r}: JPMML error {ref_error!r}, quickscore error {our_error!r}; inputs {rec}")
            continue
        if ref_failed:
            compared += 1
            continue
        compared += 1
        for k, expression in enumerate(map(fl.expression_of, expressions)):
            a, b = ref[f"o{k}"][r], got[f"o{k}"][r]
            if not fl.same(a, b) and not fl.value_deviation(case, k, rec, a, b):
                problems.append(f"row {r} o{k} {expression}: JPMML {a!r}, quickscore {b!r}; inputs {rec}")
    assert not problems, f"{len(problems)} disagreements in {case}:\n" + "\n".join(problems[:15])
    if case not in ("median", "conversion_integer"):  # median: JPMML has none; conversion_integer: most records fail in both
        assert compared >= N_ROWS // 4, f"{case}: only {compared} of {N_ROWS} records compared ({excused} excused)"


def test_deviation_lists_are_narrow():
    """Every documented value deviation names an existing case and output."""
    for case, k in fl.JPMML_VALUE_DEVIATIONS:
        assert case in fl.CASES and k < len(fl.CASES[case]), (case, k)
    for case in fl.JPMML_CASE_DEVIATIONS:
        assert case in fl.CASES, case
    for case in fl.QUICKSCORE_ONLY_FAILURES:
        assert case in fl.CASES, case
