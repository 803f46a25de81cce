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


# --- generated code: binary logistic regressions and GBM chains ------------------------------------

_BINARY_LR = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header/>
  <DataDictionary>
    <DataField name="y" optype="categorical" dataType="{target_type}"><Value value="{c0}"/><Value value="{c1}"/></DataField>
    <DataField name="a" optype="continuous" dataType="double"/>
    <DataField name="b" optype="continuous" dataType="double"/>
    <DataField name="c" optype="continuous" dataType="double"/>
  </DataDictionary>
  <RegressionModel functionName="classification" normalizationMethod="logit">
    <MiningSchema><MiningField name="y" usageType="target"/><MiningField name="a"/><MiningField name="b"/><MiningField name="c"/></MiningSchema>
    {output}
    <RegressionTable intercept="0.3" targetCategory="{first}">
      <NumericPredictor name="a" coefficient="1.7"/><NumericPredictor name="b" coefficient="-0.45"/><NumericPredictor name="c" coefficient="3e-3"/>
    </RegressionTable>
    <RegressionTable intercept="0.0" targetCategory="{second}"/>
  </RegressionModel>
</PMML>"""

_OUTPUTS = {
    "none": "",
    "probabilities": '<Output><OutputField name="p1" feature="probability" value="{c1}" dataType="double"/>'
    '<OutputField name="p0" feature="probability" value="{c0}" dataType="double"/></Output>',
    "float": '<Output><OutputField name="p1" feature="probability" value="{c1}" dataType="float"/>'
    '<OutputField name="label" feature="predictedValue" dataType="{target_type}"/></Output>',
}


def _binary_records(rng: random.Random, n: int) -> list[dict]:
    """Records around the decision boundary, extreme margins (-y0 >= 709: the generic path)
    and odd values."""
    out = []
    for i in range(n):
        r = {"a": rng.gauss(0, 2), "b": rng.gauss(0, 3), "c": rng.uniform(-1e3, 1e3)}
        if i % 7 == 0:
            r["a"] = rng.choice([-1e3, 1e3, -420.0, 417.3, math.inf, -math.inf])
        if i % 5 == 0:
            r = _odd_values(rng, r, ["a", "b", "c"])
        out.append(r)
    return out


@pytest.mark.parametrize("target_type, c0, c1", [("integer", "0", "1"), ("string", "no", "yes"), ("double", "0.0", "1.0")])
@pytest.mark.parametrize("order", ["first_class_first", "second_class_first"])
@pytest.mark.parametrize("output", sorted(_OUTPUTS))
def test_binary_logistic_regression_in_generated_code(target_type, c0, c1, order, output):
    first, second = (c0, c1) if order == "first_class_first" else (c1, c0)
    text = _BINARY_LR.format(target_type=target_type, c0=c0, c1=c1, first=first, second=second, output=_OUTPUTS[output].format(c0=c0, c1=c1, target_type=target_type))
    model = quickscore.load(text.encode())
    assert model._record is not None and model._record.fast is not None
    scored = 0
    for record in _binary_records(random.Random(11), 300):
        one, batch = _single(model, record), _batch(model, record)
        assert _same(one, batch), f"{record}: record path {one} != batch path {batch}"
        scored += model._record.fast(record) is not None if all(type(v) is float for v in record.values()) else 0
    assert scored > 200  # the generated code scored them (not the batch path)


def test_gbm_chains_take_generated_code():
    """sklearn2pmml's LightGBM classifier (a tree sum chained to a logit): one generated function."""
    model = quickscore.load(DATA / "LGBMClassifierAuditNA.pmml")
    assert model._record is not None and model._record.fast is not None
    records = _records(DATA / "LGBMClassifierAuditNA.input.csv", limit=100)
    for record in records:
        assert _same(_single(model, record), _batch(model, record))
    assert sum(model._record.score(r) is not None for r in records) > 50


BENCH = ROOT / "bench" / ".cache"


@pytest.mark.parametrize("path", ["w2/model.pmml", "w3/model.pmml", "w3/model.txt", "w4/model.pmml", "w4/model.json"])
def test_benchmark_workloads_record_path_equals_the_batch_path(path):
    """The benchmark's W2-W4 models (bench/.cache, built by ``python bench/workloads.py``):
    300 test rows through ``predict(dict)`` and ``predict(DataFrame)``, bit for bit."""
    if not (BENCH / path).exists() or not (BENCH / "data" / "X_test.npy").exists():
        pytest.skip("bench/.cache has no workloads (python bench/workloads.py builds them)")
    X = np.load(BENCH / "data" / "X_test.npy")[:300]
    names = [f"x{i}" for i in range(1, X.shape[1] + 1)]
    model = quickscore.load(BENCH / path)
    assert model._record is not None and model._record.fast is not None
    frame = model.predict(pd.DataFrame(X, columns=names))
    for i, row in enumerate(X):
        one = model._record.fast(dict(zip(names, map(float, row))))  # the generated code itself
        for k, v in one.items():
            b = frame[k].iloc[i]
            assert _same(v, None if pd.isna(b) else float(b)), (path, i, k, v, b)


def test_generated_code_gives_the_same_results_on_several_threads():
    """The generated GBM path and its packed kernel hold no per-call shared state."""
    from concurrent.futures import ThreadPoolExecutor

    model = quickscore.load(DATA / "LGBMClassifierAuditNA.pmml")
    records = _records(DATA / "LGBMClassifierAuditNA.input.csv", limit=100) * 20
    one = [model.predict(r) for r in records]
    with ThreadPoolExecutor(4) as ex:
        many = list(ex.map(model.predict, records))
    assert all(_same(a, b) for a, b in zip(one, many))
