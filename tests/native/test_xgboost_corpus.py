"""Every XGBoost row of the shared corpus's NATIVE_MANIFEST.tsv scores its expected CSV.

The rows are jpmml-xgboost's test models: JSON and UBJSON files written by XGBoost 3.x
(native categorical features, vector base scores, dart weights, multi-target and
random-forest models) and legacy binary ``.model`` files (XGBoost 2.1, one-hot features named
by a ``.fmap``), each with the ``@N`` variants scored with the first N rounds.

Columns: the expected CSVs name their columns as the PMML route does (``_target``,
``_target1``..., ``probability(<class>)``, ``probability(_target1, <class>)``), and those are
quickscore's names for a native XGBoost model too: no mapping is needed. quickscore adds a
``margin`` column (not in the CSVs) where a link follows the margin.

Feature maps: the manifest lists the training data's ``.fmap`` on every row, but only the
legacy binary files need one (they carry no feature names); the JSON/UBJSON files embed
their names and types, and their fmap describes the one-hot matrix of the legacy models
(49 columns for Audit against the JSON model's 9 features), so it is passed to legacy rows
only. The reader refuses a feature map whose size differs from the model's.

Inputs are read as strings (``NA``, ``N/A`` and empty cells missing), as the conformance
suite reads them. Tolerance: XGBoost computes in float32, so ``|got - exp| <= 1e-6 + 1e-6 *
|exp|``: relative 1e-6 with the zero threshold equal to the precision, as the conformance
suite and JPMML's ``PMMLEquivalence`` compare (tests/conformance/conformance_lib.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import quickscore

from native_lib import CORPUS, MANIFEST, assert_matches, manifest_rows, read_table, truncation

RTOL = 1e-6
ATOL = 1e-6


def _rows() -> list:
    cases = []
    for r in manifest_rows("xgboost"):
        fmap = r["xgboost_fmap"] if r["format"] == "xgboost-legacy-binary" and r["xgboost_fmap"] else None
        name = Path(r["path"]).name
        cases.append(pytest.param(r["path"], r["expected_csv"], r["input_csv"], fmap, None, id=name))
        variant = truncation(r)
        if variant:
            cases.append(pytest.param(r["path"], variant[0], r["input_csv"], fmap, variant[1], id=f"{name}@{variant[1]}"))
    return cases


CASES = _rows()




def test_manifest_has_xgboost_rows() -> None:
    if not MANIFEST.exists():
        pytest.skip("the shared corpus (../shared/corpus/NATIVE_MANIFEST.tsv) is not available")
    assert len(CASES) >= 83  # 71 files (31 JSON, 31 UBJSON, 9 legacy) + 12 truncated variants


@pytest.mark.skipif(not CASES, reason="the shared corpus (../shared/corpus/NATIVE_MANIFEST.tsv) is not available")
@pytest.mark.parametrize("path, expected_csv, input_csv, fmap, iterations", CASES)
def test_xgboost_corpus(path: str, expected_csv: str, input_csv: str, fmap: str | None, iterations: int | None) -> None:
    model = quickscore.load(CORPUS / path, iterations=iterations, feature_map=CORPUS / fmap if fmap else None)
    assert model.info["format"] == "xgboost"
    in_header, in_rows = read_table(CORPUS / input_csv)
    exp_header, exp_rows = read_table(CORPUS / expected_csv)
    assert len(in_rows) == len(exp_rows)
    frame = pd.DataFrame({name: pd.Series([r[i] for r in in_rows], dtype=object) for i, name in enumerate(in_header)})
    got = model.predict(frame)
    assert_matches(got, exp_header, exp_rows, RTOL, ATOL)
