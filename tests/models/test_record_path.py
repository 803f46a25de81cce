"""The single-record path (runtime/record.py) against the batch path: identical results, bit for
bit, on the fixtures, the corpus and generated records with missing, extreme and odd values."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quickscore
from quickscore.errors import EvaluationError

from corpus_cases import corpus_cases, fixture_cases, native_cases, read_inputs

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _number(text):
    if text is None:
        return None
    try:
        x = float(text)
    except ValueError:
        return text
    return int(x) if x.is_integer() and "." not in text and "e" not in text.lower() else x


def _records(path: Path, limit: int = 60) -> list[dict]:
    rows = read_inputs(path).to_dict("records")[:limit]
    return [{k: _number(v) for k, v in r.items()} for r in rows]


def _batch(model, record: dict):
    """The batch path's answer for one record: its outputs, or the error it raises."""
    path, model._record = model._record, None
    try:
        return model.predict(record)
    except EvaluationError as exc:
        return type(exc), str(exc)
    finally:
        model._record = path


def _single(model, record: dict):
    try:
        return model.predict(record)
    except EvaluationError as exc:
        return type(exc), str(exc)


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b and type(a) is type(b)


def _odd_values(rng: random.Random, record: dict, names: list[str]) -> dict:
    """The record with a few inputs replaced by missing, extreme or mistyped values."""
    odd = [None, math.nan, math.inf, -math.inf, 1e300, -1e300, 0, -1, 2**70, 1.5, True, "", "abc", "1.25", "unseen \u00e9", np.float64(0.5), 3.4e38]
    out = dict(record)
    for name in rng.sample(names, k=min(len(names), rng.randint(1, 3))):
        out[name] = rng.choice(odd)
    return out


@pytest.mark.parametrize("pmml, inputs", fixture_cases() + corpus_cases() + native_cases())
def test_record_path_matches_the_batch_path(pmml, inputs):
    model = quickscore.load(pmml)
    if model._record is None:
        pytest.skip("the record path does not express this model (the batch path scores its records)")
    names = [f.name for f in model.schema.inputs]
    rng = random.Random(7)
    for record in _records(inputs):
        for case in (record, _odd_values(rng, record, names), _odd_values(rng, record, names)):
            one, batch = _single(model, case), _batch(model, case)
            assert _same(one, batch), f"{case}: record path {one} != batch path {batch}"


def test_benchmark_shapes_take_the_record_path():
    """Forests (averaged probabilities), GBM chains (sum -> logit) and logistic regressions."""
    for name in ("RandomForestClassifierWine", "LGBMRegressorDiabetes", "XGBClassifierIris", "GradientBoostingClassifierIris", "LogisticRegressionIris", "LinearRegressionDiabetes"):
        assert quickscore.load(DATA / f"{name}.pmml")._record is not None, name


def test_reference_engine_keeps_the_batch_path():
    assert quickscore.load(DATA / "LogisticRegressionIris.pmml", engine="reference")._record is None


def test_threads_and_batch_sizes_give_identical_results():
    """No numeric drift: one record, batches of any size, 1 or 2 threads."""
    path = DATA / "RandomForestClassifierWine.pmml"
    records = _records(DATA / "RandomForestClassifierWine.input.csv", limit=200)
    one, two = quickscore.load(path, n_threads=1), quickscore.load(path, n_threads=2)
    frame = pd.DataFrame(records)
    a, b = one.predict(frame), two.predict(pd.concat([frame] * 30, ignore_index=True)).iloc[: len(frame)]
    for i, record in enumerate(records):
        single = one.predict(record)
        for k, v in single.items():
            assert _same(v, a[k].iloc[i] if not pd.isna(a[k].iloc[i]) else None) or _same(float(v), float(a[k].iloc[i]))
            assert _same(a[k].iloc[i], b[k].iloc[i]) or (pd.isna(a[k].iloc[i]) and pd.isna(b[k].iloc[i]))
