"""Openscoring ``POST /model/{id}/batch``: each record's response is what ``POST /model/{id}`` answers
for that record alone (its validation messages naming ``requests[i]``), with its id echoed.

Openscoring README: "POST /model/${id}/batch [...] is performed at 'record' isolation level". The
batch path checks the usual batch in bulk and scores the well-formed records together; these tests
hold it to the one-record path on batches that mix everything a client can send. In-process (the
batch function and the one-record function on the same loaded model), plus one check over HTTP.
"""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

import quickscore
from quickscore.serve._app import HTTPError
from quickscore.serve._openscoring import _arguments, _score_batch

from .conftest import DATA, read_csv_records

MODELS = ["DecisionTreeIris", "LogisticRegressionAuditNA", "RandomForestClassifierWine", "LogisticRegressionIris",
          "XGBClassifierAuditNA", "LGBMRegressorDiabetes", "DecisionTreeClassifierAudit"]


@pytest.fixture(scope="module")
def models():
    return {name: quickscore.load(DATA / f"{name}.pmml") for name in MODELS}


def alone(model, item, i: int) -> dict:
    """The response of ``POST /model/{id}`` to ``item`` (os_evaluate), with the item's id, as in a batch."""
    out = {"id": item["id"]} if isinstance(item, dict) and "id" in item else {}
    try:
        arguments = _arguments(item, f"requests[{i}]")
    except HTTPError as exc:
        return {**out, "message": exc.message}
    try:
        return {**out, "results": model.predict(arguments)}
    except quickscore.EvaluationError as exc:
        return {**out, "message": str(exc)}


def assert_isolated(model, items: list) -> list:
    """The batch's responses, as JSON, equal each item's response alone."""
    got = orjson.loads(orjson.dumps(_score_batch(model, items), option=orjson.OPT_SERIALIZE_NUMPY))
    expected = orjson.loads(orjson.dumps([alone(model, item, i) for i, item in enumerate(items)]))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"requests[{i}] = {items[i]!r}"
    return got


def records(name: str) -> list[dict]:
    return read_csv_records(name)


def _mutate(rng: random.Random, record: dict, fields: list[str]) -> dict:
    """A record as a client might send it: values of every JSON kind, keys missing or extra or shuffled."""
    out = dict(record)
    for name in fields:
        roll = rng.random()
        if roll < 0.06:
            out[name] = None
        elif roll < 0.09:
            out.pop(name, None)
        elif roll < 0.11:
            out[name] = rng.choice(["abc", "", "1.5", "NaN", True, False, 0, 1, -3, 10**30, 2.5e300])
        elif roll < 0.12:
            out[name] = rng.choice([[1.0], {"a": 1}])
    if rng.random() < 0.05:
        out["not_a_field"] = rng.choice([1.0, "x", None])
    if rng.random() < 0.1:
        keys = list(out)
        rng.shuffle(keys)
        out = {k: out[k] for k in keys}
    return out


def _item(rng: random.Random, record: dict, fields: list[str], i: int):
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(["not an object", 3, None, [record]])
    item: dict = {}
    if rng.random() < 0.8:
        item["id"] = rng.choice([f"r{i}", i, None, {"nested": i}])
    if roll < 0.06:
        item["arguments"] = rng.choice([None, [1, 2], "x"])
    elif roll < 0.08:
        pass  # no arguments: every field missing
    else:
        item["arguments"] = _mutate(rng, record, fields)
    if rng.random() < 0.03:
        item["bogus"] = 1
    return item


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # 2.5e300 for a float field
@pytest.mark.parametrize("name", MODELS)
def test_mixed_batch_equals_each_record_alone(models, name):
    model = models[name]
    fields = [f.name for f in model.schema.inputs]
    data = records(name)
    rng = random.Random(name)
    items = [_item(rng, data[i % len(data)], fields, i) for i in range(300)]
    got = assert_isolated(model, items)
    assert sum("results" in r for r in got) > 150 and sum("message" in r for r in got) > 5


@pytest.mark.parametrize("name", MODELS)
def test_clean_batches_equal_each_record_alone(models, name):
    """The bulk path's variants: every record alike; with nulls; without ids; a boolean; 0/1 values."""
    model = models[name]
    fields = [f.name for f in model.schema.inputs]
    data = [{k: r.get(k) for k in fields} for r in records(name)[:100]]  # every field, in schema order
    plain = [{k: v for k, v in r.items() if v is not None} for r in data]
    assert_isolated(model, [{"id": f"r{i}", "arguments": r} for i, r in enumerate(data)])
    assert_isolated(model, [{"arguments": r} for r in plain])
    assert_isolated(model, [{"id": i, "arguments": r} for i, r in enumerate(plain)][:1])
    numeric = [f.name for f in model.schema.inputs if f.data_type in ("double", "float")]
    if numeric:
        for value in (True, 0, 1, 0.0, 1.0, "1", None, 10**30, 10**400):
            changed = [dict(r) for r in plain]
            changed[7][numeric[0]] = value
            assert_isolated(model, [{"id": i, "arguments": r} for i, r in enumerate(changed)])


def test_arguments_empty_or_absent(models):
    model = models["LogisticRegressionAuditNA"]
    assert_isolated(model, [{"id": 1, "arguments": {}}, {"id": 2}, {}, {"arguments": None}])
    assert_isolated(model, [{}, {}, {}])
    assert _score_batch(model, []) == []


def test_missing_outputs_are_null(models):
    """A record whose outputs are missing (here: it fails) and NaN outputs serialise as null."""
    model = models["DecisionTreeIris"]
    items = [{"id": "ok", "arguments": {"petal_length": 1.4, "petal_width": 0.2}},
             {"id": "bad", "arguments": {"petal_length": "abc", "petal_width": 0.2}},
             {"id": "none", "arguments": {"petal_length": None, "petal_width": None}}]
    got = assert_isolated(model, items)
    assert "Invalid value 'abc'" in got[1]["message"] and "results" not in got[1]
    text = orjson.dumps(_score_batch(model, items), option=orjson.OPT_SERIALIZE_NUMPY)
    assert b"NaN" not in text


def test_unknown_keys_and_non_objects_keep_the_others(models):
    model = models["DecisionTreeIris"]
    record = {"petal_length": 4.1, "petal_width": 1.3}
    items = [{"id": "a", "arguments": record}, {"id": "b", "arguments": record, "bogus": 1}, "x", None, [record],
             {"id": "c", "arguments": {"petal_length": [1.0]}}, {"id": "d", "arguments": record}]
    got = assert_isolated(model, items)
    assert got[1] == {"id": "b", "message": "requests[1]: unknown key(s) bogus (allowed: arguments, id)"}
    assert got[2] == {"message": "requests[2] must be a JSON object"}
    assert got[0] == {"id": "a", "results": model.predict(record)} and got[6]["id"] == "d"


def test_wide_numeric_batch_uses_float_columns(models):
    """The bulk path's float matrix reads ints and floats as the one-record path does."""
    model = models["RandomForestClassifierWine"]
    fields = [f.name for f in model.schema.inputs]
    rng = np.random.default_rng(7)
    data = [{k: float(v) for k, v in r.items() if k in fields} for r in records("RandomForestClassifierWine")]
    items = [{"id": str(i), "arguments": {k: (int(v) if rng.random() < 0.2 else v) for k, v in data[i % len(data)].items()}}
             for i in range(500)]
    assert_isolated(model, items)


def test_batch_over_http_equals_single_requests(client):
    """Through the server: each batch response equals that record posted alone to /model/{id}."""
    name = "LogisticRegressionAuditNA"
    data = read_csv_records(name, 20)
    items = [{"id": f"r{i}", "arguments": r} for i, r in enumerate(data)]
    items[3]["arguments"] = {**data[3], "Age": "old"}
    items[5] = {"id": "r5", "arguments": data[5], "extra": 1}
    items[8] = "not an object"
    items[9] = {"arguments": data[9]}
    items[11]["arguments"] = {**data[11], "Income": None, "Employment": None}
    body = client.post(f"/model/{name}/batch", json={"id": "b", "requests": items}).json()
    assert body["id"] == "b"
    for i, (item, response) in enumerate(zip(items, body["responses"])):
        alone = client.post(f"/model/{name}", content=orjson.dumps(item)).json()
        if "message" in alone:
            alone["message"] = alone["message"].replace("the request", f"requests[{i}]")
        expected = {"id": item["id"], **alone} if isinstance(item, dict) and "id" in item else alone
        assert response == expected, i
