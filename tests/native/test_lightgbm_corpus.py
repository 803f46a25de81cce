"""Every LightGBM row of the shared corpus's NATIVE_MANIFEST.tsv scores its expected CSV.

The expected CSVs come from jpmml-lightgbm's own tests and name their columns as the PMML
route does (``_target``, ``probability(<class>)``), which are quickscore's names for a
LightGBM text model too: no column mapping is needed. Inputs are read as strings (``N/A``
and empty cells missing), as the conformance suite reads them.

The two ``ClassificationAuditBin*`` models were trained on ``pandas.get_dummies`` columns
named ``<column>_<value>`` while their input CSV holds the original columns: the harness
derives the dummies (1 where the column holds the value, else 0, also where it is missing,
as pandas.get_dummies writes them) as jpmml-lightgbm's
PandasDummiesTest does.

Tolerance: LightGBM computes in double, so 1e-12 relative (with an absolute floor of 1e-15
for values printed near zero).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import quickscore

from native_lib import CORPUS, assert_matches, manifest_rows, read_table, truncation

RTOL = 1e-12
ATOL = 1e-15


def _rows() -> list:
    cases = []
    for r in manifest_rows("lightgbm"):
        stem = Path(r["path"]).stem
        cases.append(pytest.param(r["path"], r["expected_csv"], r["input_csv"], None, id=stem))
        variant = truncation(r)
        if variant:
            cases.append(pytest.param(r["path"], variant[0], r["input_csv"], variant[1], id=f"{stem}@{variant[1]}"))
    return cases


CASES = _rows()



def _inputs(model: quickscore.Model, header: list[str], rows: list[list[str | None]]) -> pd.DataFrame:
    columns = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    wanted = [f.name for f in model.schema.inputs]
    for name in wanted:
        if name in columns or "_" not in name:
            continue
        base, value = name.split("_", 1)  # a get_dummies column: 1 where the column holds the value
        if base in columns:
            columns[name] = ["1" if v == value else "0" for v in columns[base]]
    return pd.DataFrame({name: pd.Series(columns.get(name, [None] * len(rows)), dtype=object) for name in wanted})



@pytest.mark.skipif(not CASES, reason="the shared corpus (../shared/corpus/NATIVE_MANIFEST.tsv) is not available")
@pytest.mark.parametrize("path, expected_csv, input_csv, iterations", CASES)
def test_lightgbm_corpus(path: str, expected_csv: str, input_csv: str, iterations: int | None) -> None:
    model = quickscore.load(CORPUS / path, iterations=iterations)
    in_header, in_rows = read_table(CORPUS / input_csv)
    exp_header, exp_rows = read_table(CORPUS / expected_csv)
    assert len(in_rows) == len(exp_rows)
    got = model.predict(_inputs(model, in_header, in_rows))
    assert_matches(got, exp_header, exp_rows, RTOL, ATOL)
