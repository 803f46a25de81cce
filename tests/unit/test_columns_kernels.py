"""kernels.columns: the one-pass input kernels equal the numpy steps they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from quickscore.ir.types import DataType, OpType
from quickscore.kernels.columns import FILL_BLOCK, fill_rows, round32
from quickscore.schema.values import parse_column


def _edge_values(n: int = 5000) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1e3, n)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 3.4028235e38, 3.4028236e38, -3.5e38, 1e-46, -1e-46, 1.4e-45, 16777217.0, 0.1]
    x[: len(specials)] = specials
    x[len(specials) :: 17] = np.nan
    return x


def test_round32_equals_numpy_casts():
    x = _edge_values()
    out, missing = np.empty(len(x)), np.empty(len(x), dtype=bool)
    round32(x, out, missing)
    with np.errstate(over="ignore"):
        want = x.astype(np.float32).astype(np.float64)
    assert np.array_equal(out.view(np.uint64)[~np.isnan(want)], want.view(np.uint64)[~np.isnan(want)])
    assert np.array_equal(np.isnan(out), np.isnan(want))
    assert np.array_equal(missing, np.isnan(want))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_parse_column_float_as_before(dtype):
    x = _edge_values()
    raw = x if dtype is np.float64 else np.nan_to_num(x, posinf=1e30, neginf=-1e30).astype(dtype) if dtype is np.float32 else np.nan_to_num(x).astype(np.int64)
    col, missing, bad = parse_column(raw, len(raw), DataType.FLOAT, OpType.CONTINUOUS)
    with np.errstate(over="ignore"):
        want = raw.astype(np.float64).astype(np.float32).astype(np.float64)
    assert np.array_equal(col.values, want, equal_nan=True)
    assert np.array_equal(missing, np.isnan(want)) and not bad.any()
    # a strided (non-contiguous) column
    col2, missing2, _ = parse_column(raw[::2], len(raw[::2]), DataType.FLOAT, OpType.CONTINUOUS)
    assert np.array_equal(col2.values, want[::2], equal_nan=True) and np.array_equal(missing2, np.isnan(want[::2]))


@pytest.mark.parametrize("n", [0, 1, FILL_BLOCK - 1, FILL_BLOCK + 3, 9000])
def test_fill_rows_equals_slice_assignment(n):
    rng = np.random.default_rng(n)
    cols = [rng.normal(size=n) for _ in range(7)]
    cols[3][::5] = np.nan
    where = np.array([4, 0, 6, 1, 2, 8, 5], dtype=np.intp)
    want = np.full((n, 9), np.nan)
    for j, c in zip(where, cols):
        want[:, j] = c
    got = np.full((n, 9), np.nan)
    addrs = np.array([c.ctypes.data for c in cols], dtype=np.intp)
    # in two row ranges, as two threads would
    h = n // 2
    fill_rows(got, addrs, where, 0, h, FILL_BLOCK)
    fill_rows(got, addrs, where, h, n, FILL_BLOCK)
    assert np.array_equal(got, want, equal_nan=True)
