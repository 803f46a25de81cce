"""Open Inference Protocol (KServe V2) REST endpoints, over real HTTP."""

from __future__ import annotations

import math

import pytest

from .conftest import MAX_BATCH_ROWS, read_csv_records

AUDIT = "LogisticRegressionAuditNA"
_DATATYPE = {"double": "FP64", "float": "FP32", "integer": "INT64", "string": "BYTES", "boolean": "BOOL"}


def tabular(model, records: list[dict]) -> dict:
    """One input tensor per column, BYTES for strings, null for missing."""
    inputs = []
    for field in model.schema.inputs:
        inputs.append({"name": field.name, "datatype": _DATATYPE[field.data_type], "shape": [len(records)],
                       "data": [r.get(field.name) for r in records]})
    return {"id": "req-1", "inputs": inputs}


def close(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(b, float):
        return math.isclose(float(a), b, rel_tol=1e-12, abs_tol=1e-15)
    return str(a) == str(b)


def test_server_metadata_and_health(client):
    meta = client.get("/v2").json()
    assert meta["name"] == "quickscore" and "version" in meta and meta["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_model_metadata_and_ready(client, local_models):
    model = local_models[AUDIT]
    for path in (f"/v2/models/{AUDIT}", f"/v2/models/{AUDIT}/versions/1"):
        meta = client.get(path).json()
        assert meta["name"] == AUDIT
        assert meta["inputs"] == [{"name": f.name, "datatype": _DATATYPE[f.data_type], "shape": [-1]} for f in model.schema.inputs]
        assert [o["name"] for o in meta["outputs"]] == list(model.output_names)
        assert all(o["shape"] == [-1] for o in meta["outputs"])
    assert {"Employment": "BYTES", "Age": "FP64"}.items() <= {i["name"]: i["datatype"] for i in meta["inputs"]}.items()
    assert client.get(f"/v2/models/{AUDIT}/ready").json() == {"name": AUDIT, "ready": True}
    assert client.get(f"/v2/models/{AUDIT}/versions/7/ready").status_code == 200


def test_infer_tabular_with_strings_and_nulls(client, local_models):
    model = local_models[AUDIT]
    records = read_csv_records(AUDIT, 40)
    assert any(v is None for r in records for v in r.values()), "the fixture has missing values"
    records[3]["Employment"] = None  # a missing string too
    response = client.post(f"/v2/models/{AUDIT}/infer", json=tabular(model, records))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == AUDIT and body["id"] == "req-1"
    expected = model.predict(records)
    assert [o["name"] for o in body["outputs"]] == list(model.output_names)
    for out in body["outputs"]:
        assert out["shape"] == [len(records)]
        for got, want in zip(out["data"], expected[out["name"]].tolist()):
            assert close(got, want), (out["name"], got, want)


def test_infer_one_record_uses_the_record_path(client, local_models):
    model = local_models[AUDIT]
    record = read_csv_records(AUDIT, 1)[0]
    body = client.post(f"/v2/models/{AUDIT}/versions/1/infer", json=tabular(model, [record])).json()
    expected = model.predict(record)
    assert body["model_version"] == "1"
    for out in body["outputs"]:
        assert out["shape"] == [1] and close(out["data"][0], expected[out["name"]])


def test_infer_selected_outputs_and_shape_n_by_1(client, local_models):
    request = {"inputs": [{"name": "petal_length", "datatype": "FP32", "shape": [2, 1], "data": [[1.4], [4.1]]},
                          {"name": "petal_width", "datatype": "FP64", "shape": [2, 1], "data": [[0.2], [1.3]]}],
               "outputs": [{"name": "species"}]}
    body = client.post("/v2/models/DecisionTreeIris/infer", json=request).json()
    assert body["outputs"] == [{"name": "species", "datatype": "BYTES", "shape": [2], "data": ["setosa", "versicolor"]}]


def test_infer_one_2d_tensor_in_metadata_order(client, local_models):
    """As KServe's own PMML server: one [N, k] tensor, columns in the order of the inputs."""
    request = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [2, 2], "data": [[1.4, 0.2], [4.1, 1.3]]}]}
    body = client.post("/v2/models/DecisionTreeIris/infer", json=request).json()
    assert body["outputs"][0]["data"] == ["setosa", "versicolor"]


@pytest.mark.parametrize("request_body, fragment", [
    (b'{"inputs": [', "malformed JSON"),
    (b'[1, 2]', "must be a JSON object"),
    (b'{"inputs": [], "bogus": 1}', "unknown key(s) in the inference request: bogus"),
    (b'{"inputs": []}', "non-empty list"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP128", "shape": [1], "data": [1.0]}]}', "unknown datatype 'FP128'"),
    (b'{"inputs": [{"name": "nope", "datatype": "FP64", "shape": [1], "data": [1.0]}]}', "unknown input 'nope'"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [1], "data": ["x"]}]}', "FP64 cannot hold the value 'x'"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "BYTES", "shape": [1], "data": [1.5]}]}', "BYTES cannot hold"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [3], "data": [1.0]}]}', "holds 3 values but 'data' has 1"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [1], "data": [1.0], "extra": 1}]}', "unknown key(s) extra"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [2], "data": [1, 2]},'
     b' {"name": "petal_width", "datatype": "FP64", "shape": [1], "data": [1]}]}', "1 records, but the inputs before it have 2"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [1], "data": [1.0]}], "outputs": [{"name": "zzz"}]}',
     "unknown output 'zzz'"),
    (b'{"inputs": [{"name": "petal_length", "datatype": "BYTES", "shape": [1], "data": ["abc"]}]}', "Invalid value 'abc'"),
])
def test_infer_bad_requests_answer_400(client, request_body, fragment):
    response = client.post("/v2/models/DecisionTreeIris/infer", content=request_body)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["error"]
    assert fragment in response.json()["error"]


def test_unknown_model_and_endpoint(client):
    for path in ("/v2/models/NoSuchModel", "/v2/models/NoSuchModel/ready"):
        response = client.get(path)
        assert response.status_code == 404 and "NoSuchModel" in response.json()["error"]
    response = client.post("/v2/models/NoSuchModel/infer", json={"inputs": []})
    assert response.status_code == 404 and list(response.json()) == ["error"]
    assert client.get("/v2/nothing/here").status_code == 404
    wrong = client.get("/v2/models/DecisionTreeIris/infer")
    assert wrong.status_code == 405 and "POST" in wrong.headers["allow"]


def test_batch_limit(client):
    n = MAX_BATCH_ROWS + 1
    request = {"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [n], "data": [1.0] * n}]}
    response = client.post("/v2/models/DecisionTreeIris/infer", json=request)
    assert response.status_code == 413 and f"exceeds the limit of {MAX_BATCH_ROWS}" in response.json()["error"]


def test_binary_tensor_data_errors(client):
    header = b'{"inputs": [{"name": "petal_length", "datatype": "FP64", "shape": [1], "parameters": {"binary_data_size": 16}}]}'
    for length, body, fragment in (
        (b"abc", header, "Inference-Header-Content-Length is not a number"),
        (str(len(header) + 99).encode(), header, "does not fit a body"),
        (str(len(header)).encode(), header + b"\x00" * 8, "binary_data_size 16 does not fit"),
        (str(len(header)).encode(), header + b"\x00" * 20, "4 bytes of binary tensor data are not claimed"),
    ):
        response = client.post("/v2/models/DecisionTreeIris/infer", content=body,
                               headers={"Inference-Header-Content-Length": length.decode()})
        assert response.status_code == 400 and fragment in response.json()["error"], response.text


def test_head_answers_without_a_body(client):
    response = client.head("/v2/health/ready")
    assert response.status_code == 200 and response.content == b""
