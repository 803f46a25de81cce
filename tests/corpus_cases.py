"""Parametrisations shared by the suites that score every fixture and corpus model
(engines, record path, compiled files): which files, with which input records."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The conformance corpus lives next to the repository (never inside it: some files carry licences
# that must not travel into the project). QUICKSCORE_CORPUS overrides the location.
CORPUS_DIR = Path(os.environ.get("QUICKSCORE_CORPUS", REPO_ROOT.parent / "shared" / "corpus")).resolve()

# Fixtures written by the project itself (PMML + <Name>.input.csv).
TEST_DATA_DIR = REPO_ROOT / "tests" / "data"

IN_SCOPE = {"TreeModel", "RegressionModel", "MiningModel"}


def _absent() -> list:
    return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS_DIR}"))]


def fixture_cases() -> list:
    """(PMML, input CSV) of every tests/data fixture."""
    return [pytest.param(p, p.with_name(p.name.replace(".pmml", ".input.csv")), id=p.stem) for p in sorted(TEST_DATA_DIR.glob("*.pmml"))]


def corpus_cases(*, trees_only: bool = False, limit: int | None = None) -> list:
    """(PMML, input CSV) of the in-scope corpus files with expected outputs (one per duplicate
    group); ``trees_only``: those with a TreeModel; ``limit``: an even sample of that many."""
    manifest = CORPUS_DIR / "MANIFEST.tsv"
    if not manifest.exists():
        return _absent()
    cases = []
    for row in csv.DictReader(manifest.open(), delimiter="\t"):
        kinds = set(row["top_models"].split(";")) | {x.split(":")[0] for x in row["nested_models"].split(";") if x}
        if row["expected_csv"] and not row["duplicate_of"] and kinds <= IN_SCOPE and ("TreeModel" in kinds or not trees_only):
            cases.append(pytest.param(CORPUS_DIR / row["path"], CORPUS_DIR / row["input_csv"], id=row["path"].split("/")[-1]))
    if limit is not None:
        cases = cases[:: max(1, len(cases) // limit)][:limit]
    return cases


def native_cases() -> list:
    """(model file, input CSV) of the native corpus: the JSON and text files (the .ubj and
    .model twins hold the same models)."""
    manifest = CORPUS_DIR / "NATIVE_MANIFEST.tsv"
    if not manifest.exists():
        return _absent()
    return [
        pytest.param(CORPUS_DIR / row["path"], CORPUS_DIR / row["input_csv"], id="native-" + row["path"].split("/")[-1])
        for row in csv.DictReader(manifest.open(), delimiter="\t")
        if row["path"].endswith((".json", ".txt"))
    ]


def read_inputs(path: Path) -> pd.DataFrame:
    """An input CSV as text cells, with the corpus's missing-value spellings as None."""
    return pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None, "NA": None, "N/A": None})
