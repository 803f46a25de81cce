"""The GBM chain's generated record path on ``kernels.row.sum_values_pairs`` (W3: LightGBM
through sklearn2pmml, W3's native text model, W4: XGBoost) against the batch path, bit for bit
(errors too), on Hypothesis records: a test row with some inputs replaced by NaN, None, +-inf,
values beyond float64's and float32's range, ints (huge ones too), bools, strings, numpy
scalars, or removed, and extra keys. Needs the benchmark's workloads in bench/.cache (built by
``python bench/workloads.py``); skipped without them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quickscore
from test_record_path import _batch, _same
from test_record_path import _single as _record

BENCH = Path(__file__).resolve().parents[2] / "bench" / ".cache"
PATHS = ["w3/model.pmml", "w3/model.txt", "w4/model.pmml"]
_MODELS: dict = {}


def _model(path: str):
    if not (BENCH / path).exists() or not (BENCH / "data" / "X_test.npy").exists():
        pytest.skip("bench/.cache has no workloads (python bench/workloads.py builds them)")
    if path not in _MODELS:
        model = quickscore.load(BENCH / path)
        assert model._record is not None and model._record.fast is not None, "the generated GBM chain"
        _MODELS[path] = model, np.load(BENCH / "data" / "X_test.npy", mmap_mode="r")
    return _MODELS[path]


_ODD = st.one_of(
    st.sampled_from([None, math.nan, math.inf, -math.inf, 1e308, -1e308, 3.5e38, -0.0, 5e-324, 0, -1, 2**53 + 1, 2**70, 10**400, True, False, "", "1.25", "abc"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False).map(np.float64),
)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_gbm_chain_record_path_equals_the_batch_path(path, data):
    model, X = _model(path)
    i = data.draw(st.integers(0, len(X) - 1), label="row")
    names = [f"x{j}" for j in range(1, X.shape[1] + 1)]
    record = dict(zip(names, map(float, X[i])))
    for name in data.draw(st.lists(st.sampled_from(names), max_size=4, unique=True), label="odd fields"):
        record[name] = data.draw(_ODD, label=name)
    for name in data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True), label="removed"):
        del record[name]
    if data.draw(st.booleans(), label="extra key"):
        record["not_an_input"] = "x"
    one, batch = _record(model, record), _batch(model, record)
    assert _same(one, batch), (record, one, batch)


@pytest.mark.parametrize("path", PATHS)
def test_clean_rows_take_the_pairs_kernel(path):
    """Rows without NaN: the generated code answers itself (no fallback), the same as the
    batch path on 200 rows."""
    model, X = _model(path)
    import pandas as pd

    names = [f"x{j}" for j in range(1, X.shape[1] + 1)]
    rows = np.asarray(X[1000:1200])
    frame = model.predict(pd.DataFrame(rows, columns=names))
    fast = model._record.fast
    for i, x in enumerate(rows):
        one = fast(dict(zip(names, map(float, x))))
        for k, v in one.items():
            b = frame[k].iloc[i]
            assert _same(v, None if pd.isna(b) else float(b)), (path, i, k, v, b)
    assert model._record.step.chain[0].core.packed, "the pairs layout was built"
