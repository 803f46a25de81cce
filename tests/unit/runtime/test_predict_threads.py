"""``Model.predict(data, n_threads=)``: a per-call thread count for a batch, over the one given
to ``quickscore.load``. The results must not depend on it; bad values are refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from corpus_cases import TEST_DATA_DIR

import quickscore
from quickscore.kernels import options
from quickscore.kernels.options import MIN_ROWS_PER_THREAD
from quickscore.models.base import call_threads

# Enough rows for the kernels to cut a batch into chunks for several threads (row_ranges: at
# least 2 * MIN_ROWS_PER_THREAD rows), as a tiled copy of each fixture's inputs.
ROWS = 6 * MIN_ROWS_PER_THREAD
CASES = {
    "forest": "RandomForestClassifierWine",  # MiningModel of trees (fused kernels)
    "gbm": "XGBClassifierAuditNA",  # boosted trees, with missing values
    "regression": "LinearRegressionDiabetes",  # no kernel threads at all: the override is a no-op
}


def _batch(name: str) -> pd.DataFrame:
    df = pd.read_csv(TEST_DATA_DIR / f"{name}.input.csv")
    return pd.concat([df] * (-(-ROWS // len(df))), ignore_index=True).iloc[:ROWS]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    name = CASES[request.param]
    return request.param, quickscore.load(TEST_DATA_DIR / f"{name}.pmml"), _batch(name)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical frames: same columns, and every value bit for bit (NaN where NaN)."""
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f" and y.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), c
        else:
            assert x.dtype == y.dtype and list(x) == list(y), c


def test_results_do_not_depend_on_the_thread_count(case):
    kind, model, df = case
    base = model.predict(df)
    assert base["_error"].isna().all() or kind == "gbm"
    for n in (1, 2, 3, None, np.int64(2)):
        _same(model.predict(df, n_threads=n), base)


def test_a_record_ignores_it(case):
    _, model, df = case
    record = {k: (None if pd.isna(v) else v) for k, v in df.iloc[0].items()}
    assert model.predict(record, n_threads=1) == model.predict(record) == model.predict(record, n_threads=2)


def _kernel_threads(monkeypatch) -> list:
    """The thread counts the batch kernels are given (options.run_chunks's n_threads), call by call."""
    seen = []
    real = options.resolve_threads

    def spy(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(options, "resolve_threads", spy)
    return seen


def test_the_override_reaches_the_kernels_and_ends_with_the_call(monkeypatch):
    name = CASES["forest"]
    model = quickscore.load(TEST_DATA_DIR / f"{name}.pmml", n_threads=2)
    df = _batch(name)
    seen = _kernel_threads(monkeypatch)
    model.predict(df, n_threads=1)
    assert seen and set(seen) == {1}
    seen.clear()
    model.predict(df)  # the model's own setting again
    assert seen and set(seen) == {2}
    seen.clear()
    with call_threads(3):  # a call's own value wins over an enclosing one
        model.predict(df, n_threads=1)
    assert set(seen) == {1}


def test_concurrent_calls_keep_their_own_count(monkeypatch):
    """A ContextVar: a call on another Python thread does not see this one's override."""
    import threading

    name = CASES["forest"]
    model = quickscore.load(TEST_DATA_DIR / f"{name}.pmml", n_threads=2)
    df = _batch(name)
    seen = _kernel_threads(monkeypatch)
    with call_threads(1):
        t = threading.Thread(target=model.predict, args=(df,))
        t.start()
        t.join()
    assert seen and set(seen) == {2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "2", True, False, np.bool_(True), [2]])
def test_bad_thread_counts_are_refused(case, bad):
    _, model, df = case
    with pytest.raises(ValueError, match=r"n_threads must be a positive int or None, not ") as e:
        model.predict(df.iloc[:10], n_threads=bad)
    assert repr(bad) in str(e.value)
    record = {k: (None if pd.isna(v) else v) for k, v in df.iloc[0].items()}
    with pytest.raises(ValueError, match="n_threads"):  # one record too: the value is wrong either way
        model.predict(record, n_threads=bad)
