"""The cheaper batch path of a binary RegressionModel and of every batch's DataFrames gives the
same frames as before, bit for bit: the binomial pass (``RegressionCore._predict_binary``)
against the general one, labels kept as class indices (``Prediction.label_index``) against the
object labels, and the output DataFrame built without copies (``runtime/dataframe.py``) that
never shares memory with the caller's input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quickscore
from quickscore.ir.types import DataType
from quickscore.outputs.fields import label_column
from quickscore.outputs.prediction import Prediction, argmax_labels
from quickscore.runtime.dataframe import input_columns, output_frame

K = 5


def _fields(target_type: str, values: tuple) -> str:
    xs = "".join(f'<DataField name="x{i}" optype="continuous" dataType="double"/>' for i in range(K))
    vals = "".join(f'<Value value="{v}"/>' for v in values)
    return xs + f'<DataField name="y" optype="categorical" dataType="{target_type}">{vals}</DataField>'


def _table(category: str, coefs: tuple, intercept: float) -> str:
    preds = "".join(f'<NumericPredictor name="x{i}" coefficient="{c!r}"/>' for i, c in enumerate(coefs))
    return f'<RegressionTable intercept="{intercept!r}" targetCategory="{category}">{preds}</RegressionTable>'


def _model(pmml, method: str, target_type: str, values: tuple, order: tuple, second: tuple = (), math_context: str = "double", outputs: bool = True):
    mining = "".join(f'<MiningField name="x{i}"/>' for i in range(K)) + '<MiningField name="y" usageType="target"/>'
    out = ""
    if outputs:
        out = "<Output>" + "".join(
            f'<OutputField name="p_{v}" optype="continuous" dataType="double" feature="probability" value="{v}"/>' for v in values
        ) + '<OutputField name="label" optype="categorical" dataType="' + target_type + '" feature="predictedValue"/></Output>'
    tables = _table(order[0], (0.7, -1.25, 3e-3, 2.0, -0.5), -0.07) + _table(order[1], second, 0.0 if not second else 0.3)
    return pmml(
        _fields(target_type, values),
        f'<RegressionModel functionName="classification" normalizationMethod="{method}" mathContext="{math_context}">'
        f"<MiningSchema>{mining}</MiningSchema>{out}{tables}</RegressionModel>",
    )


def _general(model: quickscore.Model) -> quickscore.Model:
    """The same model on the general classification pass."""
    model._compiled.core.binary_order = None
    return model


def _frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, K)) * 10.0 ** rng.integers(-3, 3, size=(n, K))
    x[::7, 1] = np.nan
    x[::11, 2] = np.inf
    x[::13, 0] = -np.inf
    x[::17, 3] = -0.0
    x[5] = 1e308  # overflows to inf, the logit to 0 or 1
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(K)])


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert list(a.dtypes) == list(b.dtypes)
    assert a.index.equals(b.index)
    for c in a.columns:
        u, v = a[c].to_numpy(), b[c].to_numpy()
        if u.dtype.kind == "f":
            assert np.array_equal(u.view(np.int64), v.view(np.int64)), c  # bit for bit, NaN patterns too
        else:
            assert [type(x) for x in u] == [type(x) for x in v], c
            assert all(x is y or x == y for x, y in zip(u, v)), c


CASES = [
    ("logit", "integer", ("0", "1"), ("1", "0")),  # sklearn2pmml's LogisticRegression (W2)
    ("logit", "integer", ("0", "1"), ("0", "1")),
    ("softmax", "string", ("no", "yes"), ("yes", "no")),  # binary softmax with an all-zero second table: the logit
    ("probit", "string", ("no", "yes"), ("no", "yes")),
    ("cloglog", "double", ("0.5", "2.5"), ("2.5", "0.5")),
    ("loglog", "integer", ("3", "7"), ("7", "3")),
    ("cauchit", "integer", ("0", "1"), ("1", "0")),
    ("none", "boolean", ("false", "true"), ("true", "false")),
]


@pytest.mark.parametrize("method, target_type, values, order", CASES)
@pytest.mark.parametrize("math_context", ["double", "float"])
def test_binary_pass_equals_the_general_pass(pmml, method, target_type, values, order, math_context):
    fast = _model(pmml, method, target_type, values, order, math_context=math_context)
    assert fast._compiled.core.binary_order is not None
    general = _general(_model(pmml, method, target_type, values, order, math_context=math_context))
    frame = _frame()
    _assert_same(fast.predict(frame), general.predict(frame))
    # without output fields: the target and the default probability columns
    bare = _model(pmml, method, target_type, values, order, math_context=math_context, outputs=False)
    _assert_same(bare.predict(frame), _general(_model(pmml, method, target_type, values, order, math_context=math_context, outputs=False)).predict(frame))


def test_second_table_with_predictors(pmml):
    # logit with a second table that has predictors: its NaN rows make the prediction undefined
    args = ("logit", "integer", ("0", "1"), ("1", "0"), (0.0, 0.0, 0.0, 0.0, 1.0))
    frame = _frame()
    frame.loc[::19, "x4"] = np.nan
    got = _model(pmml, *args).predict(frame)
    _assert_same(got, _general(_model(pmml, *args)).predict(frame))
    assert got["p_1"][::19].isna().all()


def test_w2_like_model_outputs(pmml):
    m = _model(pmml, "logit", "integer", ("0", "1"), ("1", "0"), outputs=False)
    got = m.predict(_frame(200))
    assert list(got.columns) == ["y", "probability(0)", "probability(1)", "_error"]
    assert [str(d) for d in got.dtypes] == ["float64", "float64", "float64", "object"]
    p1 = got["probability(1)"].to_numpy()
    y = got["y"].to_numpy()
    known = ~np.isnan(p1)
    assert np.array_equal(y[known], (p1[known] > 1.0 - p1[known]).astype(float))
    assert np.isnan(y[~known]).all() and (~known).any()
    assert got["_error"].isna().all()


@pytest.mark.parametrize(
    "classes, data_type",
    [((0.0, 1.0), DataType.INTEGER), ((1, 0, 5), DataType.INTEGER), ((False, True), DataType.BOOLEAN), (("a", "b"), DataType.STRING), ((2.5, -1.0), DataType.DOUBLE)],
)
def test_label_index_equals_the_object_labels(classes, data_type):
    rng = np.random.default_rng(1)
    probs = rng.random((1000, len(classes)))
    probs[::5, 0] = probs[::5, -1]  # ties: the first maximum
    probs[::9] = np.nan  # no label
    probs[::10, 0] = np.nan  # a label among the others
    lazy = Prediction.classification(classes, probs)
    assert lazy.label_index() is not None
    eager = Prediction.classification(classes, probs)
    labels = eager.value  # read: the object labels, then label_column's former conversion of them
    assert eager.label_index() is None
    assert all(a is b or a == b for a, b in zip(labels, argmax_labels(classes, probs)))
    a, b = label_column(lazy, data_type).values, label_column(eager, data_type).values
    assert a.dtype == b.dtype
    if a.dtype.kind == "f":
        assert np.array_equal(a.view(np.int64), b.view(np.int64))
    else:
        assert all(x is y or x == y for x, y in zip(a, b))


def test_value_read_or_set_drops_the_index():
    pred = Prediction.classification((0.0, 1.0), np.array([[0.2, 0.8], [0.9, 0.1]]))
    values = pred.value
    values[0] = 0.0  # changed in place after reading: the label column follows the array
    assert label_column(pred, DataType.DOUBLE).values.tolist() == [0.0, 0.0]
    pred = Prediction.classification((0.0, 1.0), np.array([[0.2, 0.8], [0.9, 0.1]]))
    pred.value = np.array([None, 1.0], dtype=object)
    assert pred.label_index() is None
    assert np.isnan(label_column(pred, DataType.DOUBLE).values[0])


def test_outputs_never_share_memory_with_the_input(pmml):
    fields = '<DataField name="x" optype="continuous" dataType="double"/><DataField name="r" optype="continuous" dataType="double"/>'
    model = pmml(
        fields,
        '<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="r" usageType="target"/></MiningSchema>'
        '<Output><OutputField name="echo" optype="continuous" dataType="double" feature="transformedValue"><FieldRef field="x"/></OutputField>'
        '<OutputField name="pv" optype="continuous" dataType="double" feature="predictedValue"/></Output>'
        '<RegressionTable intercept="1.0"><NumericPredictor name="x" coefficient="2.0"/></RegressionTable></RegressionModel>',
    )
    df = pd.DataFrame({"x": np.arange(5, dtype=np.float64)})
    before = df.copy()
    out = model.predict(df)
    arrays = {c: out[c].to_numpy() for c in ("r", "echo", "pv")}
    for c, a in arrays.items():
        assert not np.shares_memory(a, df["x"].to_numpy()), c
    assert not np.shares_memory(arrays["r"], arrays["pv"])
    out.loc[0, "echo"] = 99.0
    out.loc[0, "r"] = 99.0
    pd.testing.assert_frame_equal(df, before)
    assert out.loc[0, "pv"] == 1.0


def test_output_frame_copies_shared_arrays():
    x = np.arange(6.0)
    probs = np.asfortranarray(np.arange(12.0).reshape(6, 2))
    outputs = {"a": x, "b": x, "p0": probs[:, 0], "p1": probs[:, 1], "_error": np.empty(6, dtype=object)}
    frame = output_frame(outputs, {"in": x}, None, "_error")
    assert not np.shares_memory(frame["a"].to_numpy(), x)
    assert not np.shares_memory(frame["a"].to_numpy(), frame["b"].to_numpy())
    assert frame["_error"].dtype == object and frame["_error"].isna().all()
    assert frame.index.equals(pd.RangeIndex(6))


def test_error_column_types_as_pandas_infers_them(pmml):
    fields = '<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="10"/></DataField>'
    fields += '<DataField name="r" optype="continuous" dataType="double"/>'
    model = pmml(
        fields,
        '<RegressionModel functionName="regression"><MiningSchema><MiningField name="x" invalidValueTreatment="returnInvalid"/>'
        '<MiningField name="r" usageType="target"/></MiningSchema>'
        '<RegressionTable intercept="1.0"><NumericPredictor name="x" coefficient="2.0"/></RegressionTable></RegressionModel>',
    )
    ok = model.predict(pd.DataFrame({"x": [1.0, 2.0]}, index=[7, 7]))
    assert ok["_error"].dtype == object and ok["_error"].isna().all()
    assert list(ok.index) == [7, 7]
    bad = model.predict(pd.DataFrame({"x": [1.0, 20.0]}))
    messages = np.array([None, bad["_error"][1]], dtype=object)
    assert bad["_error"].dtype == pd.DataFrame({"e": messages})["e"].dtype  # inferred, as before (pandas 3: str)
    assert bad["_error"][0] is None or pd.isna(bad["_error"][0])


def test_reordered_columns_and_duplicate_names(pmml):
    m = _model(pmml, "logit", "integer", ("0", "1"), ("1", "0"))
    frame = _frame(50)
    shuffled = frame[list(reversed(frame.columns))]
    _assert_same(m.predict(shuffled), m.predict(frame))
    # duplicate names are left to the former per-name lookup
    assert input_columns(pd.concat([frame, frame[["x0"]]], axis=1)) is None
    assert list(input_columns(shuffled)) == list(shuffled.columns)
