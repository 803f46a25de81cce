"""Openscoring ``POST /model/{id}/batch`` written as bytes (serve/_openscoring.py ``_batch`` and
``_json_responses``), in-process.

When every record scores, the answer is joined from byte pieces instead of being built as 1,000
response objects and serialised; these tests hold it, byte for byte, to ``orjson.dumps`` of the
response objects (the path it replaced) on every kind of id, output and batch.
"""

from __future__ import annotations

import random

import orjson
import pytest

import quickscore
from quickscore.serve._app import HTTPError
from quickscore.serve._openscoring import _batch, _score_batch

from .conftest import DATA, read_csv_records
from .test_batch_records import _item

MODELS = ["DecisionTreeIris", "LogisticRegressionAuditNA", "RandomForestClassifierWine", "LGBMRegressorDiabetes"]

IDS = ["r1", "", "a,b", 'say "hi"', "back\\slash", '","', "\\", "tab\there", "new\nline", "\u00e9t\u00e9 \U0001f600",
       "\x00", "</script>", 0, -1, 2**63 - 1, 1.5, 1e300, None, True, False, {"nested": [1, "x"]}, [1, 2], {}]


@pytest.fixture(scope="module")
def models():
    return {name: quickscore.load(DATA / f"{name}.pmml") for name in MODELS}


def as_objects(model, items: list) -> bytes:
    return orjson.dumps(_score_batch(model, items), option=orjson.OPT_SERIALIZE_NUMPY)


def assert_same_json(model, items: list) -> bytes:
    got = _score_batch(model, items, True)
    assert type(got) is bytes
    assert got == as_objects(model, items)
    return got


def plain(name: str, n: int) -> list[dict]:
    return read_csv_records(name, n)


@pytest.mark.parametrize("name", MODELS)
def test_every_kind_of_id(models, name):
    """Each id alone among string ids (the split path), mixed with others, and without ids."""
    model = models[name]
    data = plain(name, 30)
    for value in IDS:
        ids = [f"r{i}" for i in range(len(data))]
        ids[3] = value
        assert_same_json(model, [{"id": i, "arguments": r} for i, r in zip(ids, data)])
    assert_same_json(model, [{"id": IDS[i % len(IDS)], "arguments": r} for i, r in enumerate(data)])
    assert_same_json(model, [{"id": str(i), "arguments": r} for i, r in enumerate(data)])
    assert_same_json(model, [{"arguments": r} for r in data])
    some = [{"id": i, "arguments": r} if i % 3 else {"arguments": r} for i, r in enumerate(data)]  # some without an id
    assert_same_json(model, some)
    assert_same_json(model, [{"id": "only", "arguments": data[0]}])


@pytest.mark.parametrize("name", MODELS)
def test_mixed_batches(models, name):
    """Batches with failed and malformed records (the objects path) give the same bytes too."""
    model = models[name]
    fields = [f.name for f in model.schema.inputs]
    data = plain(name, 50)
    rng = random.Random(f"json-{name}")
    for _ in range(3):
        items = [_item(rng, data[i % len(data)], fields, i) for i in range(120)]
        assert_same_json(model, items)


def test_string_outputs_and_missing_values(models):
    """DecisionTreeIris: a string label column (each value dumped) and records with missing inputs."""
    model = models["DecisionTreeIris"]
    items = [{"id": f"r{i}", "arguments": {"petal_length": v, "petal_width": w}}
             for i, (v, w) in enumerate([(1.4, 0.2), (None, None), (4.5, 1.5), (6.0, 2.5), (None, 1.0)])]
    text = assert_same_json(model, items)
    assert b"NaN" not in text


def test_empty_and_argumentless(models):
    model = models["LogisticRegressionAuditNA"]
    assert _score_batch(model, [], True) == b"[]"
    assert_same_json(model, [{"id": 1, "arguments": {}}, {"id": 2}, {}, {"arguments": None}])


def test_whole_request(models):
    """The body's id echoed first, as ``orjson.dumps({"id", "responses"})`` writes it."""
    model = models["LogisticRegressionAuditNA"]
    items = [{"id": f"r{i}", "arguments": r} for i, r in enumerate(plain("LogisticRegressionAuditNA", 20))]
    for body in ({"id": "batch-1", "requests": items}, {"requests": items}, {"id": None, "requests": items},
                 {"id": {"a": [1]}, "requests": []}):
        response = _batch(model, orjson.dumps(body), lambda n: None)
        expected = {"responses": _score_batch(model, body["requests"])}
        if "id" in body:
            expected = {"id": body["id"], **expected}
        assert response.status == 200
        assert response.body == orjson.dumps(expected, option=orjson.OPT_SERIALIZE_NUMPY)


def test_whole_request_errors(models):
    """Malformed requests answer 400 (413 past the row limit)."""
    model = models["DecisionTreeIris"]

    def limit(n):
        if n > 2:
            raise HTTPError(413, f"batch of {n} records exceeds the limit of 2 records")

    cases = [(b"[1]", 400, "the batch request must be a JSON object"),
             (b'{"requests": [], "x": 1}', 400, "unknown key(s) in the batch request: x (allowed: id, requests)"),
             (b'{"requests": {}}', 400, "'requests' must be a list of evaluation requests"),
             (b"{not json", 400, "malformed JSON"),
             (orjson.dumps({"requests": [{}, {}, {}]}), 413, "exceeds the limit of 2 records")]
    for data, status, message in cases:
        with pytest.raises(HTTPError) as info:
            _batch(model, data, limit)
        assert info.value.status == status and message in info.value.message
    assert _batch(model, b'{"requests": [{}]}', limit).status == 200


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_all_scored_irregular_batches_take_the_byte_path(models, monkeypatch):
    """Records that all score but differ (keys missing or shuffled, nulls, ints, a huge int, an
    unknown field, no arguments): the byte path answers, with the bytes of the objects path."""
    from quickscore.serve import _openscoring

    model = models["LGBMRegressorDiabetes"]
    data = plain("LGBMRegressorDiabetes", 40)
    rng = random.Random(11)
    items = []
    for i, record in enumerate(data):
        record = dict(record)
        keys = list(record)
        rng.shuffle(keys)
        record = {k: record[k] for k in keys}
        record[keys[0]] = rng.choice([None, 1, -3, 10**30, 0, 2.5])
        if i % 5 == 0:
            record.pop(keys[1])
        if i % 7 == 0:
            record["not_a_field"] = "x"
        items.append({"id": f"r{i}", "arguments": record})
    items.append({"id": "empty"})
    calls = []
    real = _openscoring._json_responses
    monkeypatch.setattr(_openscoring, "_json_responses", lambda *a: calls.append(real(*a)) or calls[-1])
    text = assert_same_json(model, items)
    assert len(calls) == 1 and calls[0] is not None and text.startswith(b'[{"id":"r0","results":{')
