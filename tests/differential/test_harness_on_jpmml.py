"""Check the conformance harness itself: run it with JPMML-Evaluator as the scorer.

JPMML-Evaluator without the vendor fix-ups of its own test suite passes 78 of the 81 good in-scope
pairs. If this test changes, the harness (selection, column mapping, tolerances) changed, not
quickscore. The three files JPMML fails need the fix-ups the corpus README describes.
"""

from __future__ import annotations

import pytest

import conformance_lib as cl

pytestmark = pytest.mark.differential

# What JPMML-Evaluator, used without fix-ups, gets wrong (the fix-up quickscore must apply).
JPMML_WITHOUT_FIXUPS_FAILS = {
    "jpmml__jpmml-evaluator/pmml-knime/src/test/resources/pmml/RegressionOzone.pmml": "integer target O3 with a double prediction: retype the target to double",
    "jpmml__jpmml-evaluator/pmml-sas/src/test/resources/pmml/LogisticRegressionAudit.pmml": "<Constant>FMTWIDTH</Constant> means the field FMTWIDTH",
    "jpmml__jpmml-evaluator/pmml-sas/src/test/resources/pmml/ProbitRegressionAudit.pmml": "<Constant>FMTWIDTH</Constant> means the field FMTWIDTH",
}

CASES = cl.select_cases()[0] if cl.corpus_available() else []


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id) for c in CASES] or [pytest.param(None, id="corpus-absent", marks=pytest.mark.skip(reason=f"corpus not found at {cl.CORPUS_DIR}"))],
)
def test_harness_reproduces_jpmml(case, jpmml):
    res = cl.run_case(case, jpmml.jpmml_scorer)
    if case.known_bad:
        assert res.status == "fail", f"the known-bad pair should fail under JPMML too: {res.status} {res.summary}"
    elif case.path in JPMML_WITHOUT_FIXUPS_FAILS:
        assert res.status == "fail", f"JPMML now passes {case.id} ({JPMML_WITHOUT_FIXUPS_FAILS[case.path]}): update the list"
    else:
        assert res.status == "pass", f"harness disagrees with JPMML-Evaluator on {case.id}:\n{res.message}"
