"""The numba kernels against the plain reference evaluator: identical results, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quickscore

from corpus_cases import corpus_cases, fixture_cases, read_inputs

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
FIXTURES = fixture_cases()
_read = read_inputs


def _same(a: pd.Series, b: pd.Series) -> bool:
    x, y = a.to_numpy(dtype=object), b.to_numpy(dtype=object)
    return all((pd.isna(u) and pd.isna(v)) or u == v for u, v in zip(x, y))


@pytest.mark.parametrize("pmml, inputs", FIXTURES + corpus_cases(trees_only=True))
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernels_match_the_reference_evaluator(pmml, inputs, n_threads):
    fast = quickscore.load(pmml, n_threads=n_threads)
    reference = quickscore.load(pmml, engine="reference")
    assert reference.engine == "reference"
    frame = _read(inputs)
    ours, ref = fast.predict(frame), reference.predict(frame)
    assert list(ours.columns) == list(ref.columns)
    for column in ref.columns:
        assert _same(ours[column], ref[column]), f"{column} differs between engine={fast.engine} and the reference"
    for i in (0, len(frame) // 2, len(frame) - 1):
        record = {k: v for k, v in frame.iloc[i].items()}
        single = fast.predict(record) if ref["_error"].isna().iloc[i] else None
        if single is not None:
            for k, v in single.items():
                assert _same(pd.Series([v]), pd.Series([ref[k].iloc[i]])), k


def test_forests_and_boosted_trees_run_on_the_kernels():
    names = [p.stem for p in DATA.glob("*.pmml")]
    engines = {name: quickscore.load(DATA / f"{name}.pmml").engine for name in names}
    assert engines["RandomForestClassifierWine"] == "numba"
    assert engines["DecisionTreeIris"] == "numba"
    assert all(e in ("numba", "reference", "mixed") for e in engines.values())


def test_engine_is_validated():
    with pytest.raises(ValueError, match="engine"):
        quickscore.load(DATA / "DecisionTreeIris.pmml", engine="turbo")


def test_nan_and_infinities_follow_the_same_paths():
    path = DATA / "RandomForestClassifierWine.pmml"
    fast, reference = quickscore.load(path), quickscore.load(path, engine="reference")
    names = [f.name for f in reference.schema.inputs if f.usage == "active"]
    rng = np.random.default_rng(7)
    base = _read(path.with_name(path.name.replace(".pmml", ".input.csv"))).astype(object)
    rows = base.sample(60, random_state=1, replace=True).reset_index(drop=True)
    for j, name in enumerate(names):
        pick = rng.random(len(rows)) < 0.2
        rows.loc[pick, name] = rng.choice([None, "inf", "-inf", "1e300", "-0"], size=int(pick.sum()))
    ours, ref = fast.predict(rows), reference.predict(rows)
    for column in ref.columns:
        assert _same(ours[column], ref[column]), column
