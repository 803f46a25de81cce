"""quickscore reproduces the training library's own predictions for every fixture in tests/data.

Each case runs through the conformance harness (tests/conformance/conformance_lib.py): inputs read
as strings with empty cells missing, every expected column compared within 1e-13 relative, or 1e-6
where the PMML computes in float32 (XGBoost).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = TESTS_DIR / "data"
sys.path.insert(0, str(TESTS_DIR / "conformance"))

import conformance_lib as cl  # noqa: E402

NAMES = sorted(p.name[: -len(".expected.csv")] for p in DATA_DIR.glob("*.expected.csv"))


@pytest.mark.parametrize("name", NAMES)
def test_quickscore_reproduces_the_training_library(name):
    case = cl.Case(
        path=f"{name}.pmml",
        producer="sklearn2pmml",
        application="SkLearn2PMML package",
        top_models="",
        nested_models="",
        expected_csv=f"{name}.expected.csv",
        input_csv=f"{name}.input.csv",
        scope="in",
        model_types=frozenset(),
    )
    result = cl.run_case(case, corpus_dir=DATA_DIR)
    assert result.status == "pass", result.message
