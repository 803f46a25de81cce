"""The batch helpers (serve/_batch.py) and the V2 batch path built on them, in-process.

The V2 batch path reads a float tensor's numbers in C and scores without the DataFrame; these tests
hold it to ``model.predict(columns, errors="raise")`` on the same values (the path it replaced):
same outputs, same 400 message for the first failed record, same 400 for a value a datatype cannot
hold (JSON booleans in an FP64 tensor included).
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

import quickscore
from quickscore.serve import _v2
from quickscore.serve._app import HTTPError
from quickscore.serve._batch import floats, predict_columns

from .conftest import DATA, read_csv_records


@pytest.mark.parametrize("values, expected", [
    ([1.5, 2, -0.0, 1e300], [1.5, 2.0, -0.0, 1e300]),
    ([0.0, 1.0, 0, 1], [0.0, 1.0, 0.0, 1.0]),
    ([], []),
    ([1.0, None], None),
    ([1.0, "2"], None),
    ([1.0, True], None),
    ([False, 0.5], None),
    ([1.0, [2.0]], None),
    ([1.0, {"a": 1}], None),
    ([10**400], None),
])
def test_floats(values, expected):
    got = floats(values)
    if expected is None:
        assert got is None
    else:
        assert got.dtype == np.float64 and got.tolist() == expected
        assert [math.copysign(1, v) for v in got.tolist()] == [math.copysign(1, v) for v in expected]


@pytest.fixture(scope="module")
def audit():
    return quickscore.load(DATA / "LogisticRegressionAuditNA.pmml")


@pytest.fixture(scope="module")
def iris():
    return quickscore.load(DATA / "DecisionTreeIris.pmml")


def test_predict_columns_is_predict_without_the_frame(audit):
    records = read_csv_records("LogisticRegressionAuditNA", 50)
    records[4]["Age"] = "old"  # an invalid value: that record alone fails
    columns = {name: np.array([r.get(name) for r in records], dtype=object) for name in records[0]}
    frame = audit.predict(columns)
    outputs, errors = predict_columns(audit, columns, len(records))
    assert list(outputs) == [c for c in frame.columns if c != "_error"]
    assert errors == [e if isinstance(e, str) else None for e in frame["_error"].tolist()]
    assert errors[4] and errors.count(None) == 49
    for name, values in outputs.items():
        assert orjson.dumps(values.tolist()) == orjson.dumps(frame[name].tolist()), name
    outputs, errors = predict_columns(audit, {}, 3)  # records without arguments are still counted
    assert len(errors) == 3 and all(len(v) == 3 for v in outputs.values())


class _Entry:
    def __init__(self, model):
        self.model, self.name = model, "m"
        self.input_names = frozenset(f.name for f in model.schema.inputs)


def _v2_answer(model, inputs: list) -> bytes | str:
    """The V2 batch path's outputs as JSON, or its 400 message."""
    entry = _Entry(model)
    _, _, types = _v2._compute_signature(entry)
    try:
        columns, n = _v2._columns(orjson.loads(orjson.dumps(inputs)), entry)
        data = _v2._score_batch(model, columns, list(types), types, n)
    except HTTPError as exc:
        return exc.message
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def _reference(model, columns: dict[str, list]) -> bytes | str:
    """model.predict(columns, errors="raise") on the same values, as the V2 path answered before."""
    entry = _Entry(model)
    _, _, types = _v2._compute_signature(entry)
    arrays = {name: np.array(values, dtype=np.float64 if all(type(v) in (int, float, type(None)) for v in values) else object)
              for name, values in columns.items()}
    try:
        frame = model.predict(arrays, errors="raise")
    except quickscore.EvaluationError as exc:
        return str(exc)
    data = {}
    for name in types:
        values = frame[name].to_numpy()
        data[name] = _v2._column(values, types[name])
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


@pytest.mark.parametrize("length, width", [
    ([4.1, 1.4, 5.0, 6.2], [1.3, 0.2, 1.8, 2.3]),  # floats: read in C
    ([4, 1.4, 5, 6.2], [1, 0, 2, 2.3]),  # ints among them
    ([4.1, None, 5.0, 6.2], [1.3, 0.2, None, 2.3]),  # null: a missing value
    ([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0]),  # only 0/1: each value's type looked at
    ([4.1, -7.0, 5.0, 1e30], [1.3, 0.2, 1.8, 2.3]),  # whatever the model makes of them
])
def test_v2_batch_matches_predict(iris, length, width):
    inputs = [{"name": "petal_length", "datatype": "FP64", "shape": [4], "data": length},
              {"name": "petal_width", "datatype": "FP32", "shape": [4, 1], "data": [[v] for v in width]}]
    got = _v2_answer(iris, inputs)
    assert got == _reference(iris, {"petal_length": length, "petal_width": width})
    # One [N, k] tensor, columns in metadata order: the same answer.
    flat = [v for pair in zip(length, width) for v in pair]
    assert _v2_answer(iris, [{"name": "x", "datatype": "FP64", "shape": [4, 2], "data": flat}]) == got


@pytest.mark.parametrize("value, fragment", [(True, "FP64 cannot hold the value True"),
                                             (False, "FP64 cannot hold the value False"),
                                             ("1.5", "FP64 cannot hold the value '1.5'"),
                                             ([1.0], "FP64 cannot hold the value [1.0] (a list)")])
def test_v2_batch_refuses_what_a_float_tensor_cannot_hold(iris, value, fragment):
    data = [4.1, 1.0, value, 0.0]
    message = _v2_answer(iris, [{"name": "petal_length", "datatype": "FP64", "shape": [4], "data": data},
                                {"name": "petal_width", "datatype": "FP64", "shape": [4], "data": [1.0, 0.0, 1.0, 1.0]}])
    assert isinstance(message, str) and fragment in message, message


def test_v2_batch_first_failed_record_answers_400(audit):
    records = read_csv_records("LogisticRegressionAuditNA", 30)
    records[12]["Employment"] = "Astronaut"
    datatype = {"double": "FP64", "string": "BYTES"}
    columns = {f.name: [r.get(f.name) for r in records] for f in audit.schema.inputs}
    inputs = [{"name": f.name, "datatype": datatype[f.data_type], "shape": [30], "data": columns[f.name]}
              for f in audit.schema.inputs]
    got = _v2_answer(audit, inputs)
    expected = _reference(audit, columns)
    assert got == expected
    assert isinstance(got, str) and got.startswith("Record ")
