"""The numba path of a RegressionTable of plain numeric predictors (kernels/linear.py) gives the
numpy loop's results bit for bit: NaN (missing), ±inf, signed zeros, huge and tiny values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quickscore.kernels.linear import table_sum

FIELDS = "".join(f'<DataField name="x{i}" optype="continuous" dataType="double"/>' for i in range(4))
FIELDS += '<DataField name="r" optype="continuous" dataType="double"/>'
MINING = "".join(f'<MiningField name="x{i}"/>' for i in range(4)) + '<MiningField name="r" usageType="predicted"/>'
COEFS = (0.3, -1e300, 2.5e-310, 7.0)
DENSE = '<RegressionTable intercept="0.125">' + "".join(
    f'<NumericPredictor name="x{i}" coefficient="{c!r}"/>' for i, c in enumerate(COEFS)) + "</RegressionTable>"
GENERAL = DENSE.replace('coefficient="7.0"/>', 'coefficient="7.0"/><PredictorTerm coefficient="1.0"><FieldRef field="x0"/></PredictorTerm>')

VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, -5e-324]))


def _model(pmml, table):
    return pmml(FIELDS, f'<RegressionModel functionName="regression"><MiningSchema>{MINING}</MiningSchema>{table}</RegressionModel>')


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).copy()
    a[np.isnan(a)] = np.nan  # one NaN pattern
    return a.view(np.int64)


def test_dense_tables_take_the_kernel(pmml):
    assert _model(pmml, DENSE)._compiled.core.tables[0].dense
    assert not _model(pmml, GENERAL)._compiled.core.tables[0].dense


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.just(4)), elements=VALUES))
def test_kernel_matches_the_numpy_loop_bit_for_bit(x):
    # y = 0.0; y = y + c * x (document order); y = y + intercept: numpy's two passes per predictor
    expected = np.zeros(len(x))
    with np.errstate(all="ignore"):
        for j, c in enumerate(COEFS):
            expected = expected + c * x[:, j]
        expected = expected + 0.125
    got = table_sum([x[:, j] for j in range(4)], np.array(COEFS), 0.125, len(x))
    assert np.array_equal(_bits(got), _bits(expected))


def test_model_results_equal_the_general_path(pmml):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 4)) * 10.0 ** rng.integers(-300, 300, size=(500, 4))
    x[::7, 1] = np.nan
    x[::11, 2] = np.inf
    x[::13, 0] = -np.inf
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    dense = _model(pmml, DENSE).predict(frame)["r"].to_numpy()
    numpy_loop = _model(pmml, DENSE)
    numpy_loop._compiled.core.tables[0].dense = False  # the same table through the numpy loop
    general = numpy_loop.predict(frame)["r"].to_numpy()
    assert np.isnan(dense[::7]).all()
    assert np.array_equal(_bits(dense), _bits(general))
