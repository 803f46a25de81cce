"""Openscoring-compatible REST endpoints, over real HTTP."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

from .conftest import ADMIN_TOKEN, DATA, MAX_BATCH_ROWS, admin, read_csv_records, wait_for

IRIS = "DecisionTreeIris"
IRIS_RECORD = {"petal_length": 4.1, "petal_width": 1.3}


def test_list_and_describe(client, local_models):
    listing = client.get("/model").json()
    ids = [m["id"] for m in listing["responses"]]
    assert {"DecisionTreeIris", "LogisticRegressionAuditNA", "RandomForestClassifierWine"} <= set(ids)
    one = client.get(f"/model/{IRIS}").json()
    assert one["id"] == IRIS and one["miningFunction"] == "classification"
    schema = one["schema"]
    assert [f["id"] for f in schema["inputFields"]] == ["petal_length", "petal_width"]
    assert schema["targetFields"] == [{"id": "species", "dataType": "string", "opType": "categorical",
                                       "values": ["setosa", "versicolor", "virginica"]}]
    assert [f["id"] for f in schema["outputFields"]] == local_models[IRIS].output_names[1:]
    assert one["properties"]["file.size"] == (DATA / "DecisionTreeIris.pmml").stat().st_size
    # Openscoring's own context path works too.
    assert client.get(f"/openscoring/model/{IRIS}").json()["schema"] == schema


def test_evaluate_one_record(client, local_models):
    body = client.post(f"/model/{IRIS}", json={"id": "record-001", "arguments": IRIS_RECORD}).json()
    assert body == {"id": "record-001", "results": local_models[IRIS].predict(IRIS_RECORD)}
    audit = read_csv_records("LogisticRegressionAuditNA", 1)[0]
    body = client.post("/model/LogisticRegressionAuditNA", json={"arguments": audit}).json()
    assert body == {"results": local_models["LogisticRegressionAuditNA"].predict(audit)}


@pytest.mark.parametrize("payload, status, fragment", [
    (b"{not json", 400, "malformed JSON"),
    (b'{"id": "x", "arguments": {}, "extra": true}', 400, "unknown key(s) extra"),
    (b'{"arguments": [1, 2]}', 400, "arguments must be a JSON object"),
    (b'{"arguments": {"petal_length": [1, 2]}}', 400, "arguments.petal_length"),
    (b'{"arguments": {"petal_length": "abc", "petal_width": 1}}', 400, "Invalid value 'abc'"),
])
def test_evaluate_bad_input(client, payload, status, fragment):
    response = client.post(f"/model/{IRIS}", content=payload)
    assert response.status_code == status, response.text
    assert list(response.json()) == ["message"] and fragment in response.json()["message"]


def test_unknown_model_is_404(client):
    for method, path in (("GET", "/model/Nope"), ("POST", "/model/Nope"), ("POST", "/model/Nope/batch"),
                         ("POST", "/model/Nope/csv")):
        response = client.request(method, path, content=b"{}")
        assert response.status_code == 404 and "Nope" in response.json()["message"], (method, path)


def test_batch_isolates_each_record(client, local_models):
    requests = [{"id": "a", "arguments": IRIS_RECORD}, {"id": "b", "arguments": {"petal_length": "abc", "petal_width": 1.0}},
                {"id": "c", "arguments": {"petal_length": 1.4, "petal_width": 0.2}}, "not an object",
                {"id": "e", "arguments": IRIS_RECORD, "bogus": 1}, {"id": "f", "arguments": {"petal_width": 0.2}}]
    body = client.post(f"/model/{IRIS}/batch", json={"id": "batch-1", "requests": requests}).json()
    assert body["id"] == "batch-1"
    a, b, c, d, e, f = body["responses"]
    assert f == {"id": "f", "results": local_models[IRIS].predict({"petal_width": 0.2})}  # a record without some fields
    assert a == {"id": "a", "results": local_models[IRIS].predict(IRIS_RECORD)}
    assert b["id"] == "b" and "Invalid value 'abc'" in b["message"] and "results" not in b
    assert c["results"]["species"] == "setosa"
    assert d == {"message": "requests[3] must be a JSON object"}
    assert e["id"] == "e" and "unknown key(s) bogus" in e["message"]


def test_batch_limits_and_shape(client):
    too_many = {"requests": [{"arguments": IRIS_RECORD}] * (MAX_BATCH_ROWS + 1)}
    response = client.post(f"/model/{IRIS}/batch", json=too_many)
    assert response.status_code == 413 and "records exceeds the limit" in response.json()["message"]
    response = client.post(f"/model/{IRIS}/batch", json={"requests": {}})
    assert response.status_code == 400 and "'requests' must be a list" in response.json()["message"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_detects_the_delimiter_and_echoes_id(client, local_models, delimiter):
    rows = [["Id", "petal_length", "petal_width"], ["r1", "4.1", "1.3"], ["r2", "1.4", "0.2"], ["r3", "", "2.5"]]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    response = client.post(f"/model/{IRIS}/csv", content=text.encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    out = list(csv.reader(io.StringIO(response.text), delimiter=delimiter))
    assert out[0] == ["Id", *local_models[IRIS].output_names]
    assert [r[0] for r in out[1:]] == ["r1", "r2", "r3"]
    expected = local_models[IRIS].predict(IRIS_RECORD)
    assert out[1][1] == expected["species"] and float(out[1][3]) == expected["probability(versicolor)"]


def test_csv_without_id_gzip_and_explicit_delimiter(client):
    text = b"petal_width|petal_length\n0.2|1.4\n"
    response = client.post(f"/model/{IRIS}/csv?delimiterChar=|", content=gzip.compress(text),
                           headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == ["species|probability(setosa)|probability(versicolor)|probability(virginica)",
                                          "setosa|1.0|0.0|0.0"]


def test_csv_is_all_or_nothing(client):
    response = client.post(f"/model/{IRIS}/csv", content=b"Id,petal_length,petal_width\na,1,1\nb,abc,1\n")
    assert response.status_code == 400 and "CSV record 2 (Id b)" in response.json()["message"]
    response = client.post(f"/model/{IRIS}/csv", content=b"petal_length,petal_width\n1\n")
    assert response.status_code == 400 and "1 cells, but the header has 2" in response.json()["message"]


def test_deploy_and_undeploy_need_the_admin_token(client):
    pmml = (DATA / "LogisticRegressionIris.pmml").read_bytes()
    for headers in ({}, admin("wrong"), {"X-Admin-Token": "wrong"}):
        assert client.put("/model/Deployed", content=pmml, headers=headers).status_code == 403
        assert client.delete(f"/model/{IRIS}", headers=headers).status_code == 403
        assert client.get(f"/model/{IRIS}/pmml", headers=headers).status_code == 403
    assert "message" in client.put("/model/Deployed", content=pmml).json()
    assert client.get(f"/model/{IRIS}").status_code == 200  # still there


def test_deploy_replace_download_undeploy(client, server):
    pmml = (DATA / "LogisticRegressionIris.pmml").read_bytes()
    created = client.put("/model/Deployed", content=pmml, headers=admin())
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "Deployed"
    # Every worker serves it as soon as the PUT has returned (several requests reach both workers).
    for _ in range(8):
        assert client.post("/model/Deployed", json={"arguments": {"sepal_length": 5.1, "sepal_width": 3.5,
                                                                  "petal_length": 1.4, "petal_width": 0.2}}).status_code == 200
    replaced = client.put("/model/Deployed", content=(DATA / "DecisionTreeIris.pmml").read_bytes(),
                          headers={"X-Admin-Token": ADMIN_TOKEN})
    assert replaced.status_code == 200
    for _ in range(8):
        assert [f["id"] for f in client.get("/model/Deployed").json()["schema"]["inputFields"]] == ["petal_length", "petal_width"]
    download = client.get("/model/Deployed/pmml", headers=admin())
    assert download.status_code == 200 and download.content == (DATA / "DecisionTreeIris.pmml").read_bytes()
    # A broken document is refused and changes nothing.
    broken = client.put("/model/Deployed", content=b"<PMML>not a model", headers=admin())
    assert broken.status_code == 400 and "did not load" in broken.json()["message"]
    assert client.get("/model/Deployed").status_code == 200
    bad_id = client.put("/model/..hidden", content=pmml, headers=admin())
    assert bad_id.status_code == 400
    deleted = client.delete("/model/Deployed", headers=admin())
    assert deleted.status_code == 200
    for _ in range(8):
        assert client.get("/model/Deployed").status_code == 404
    assert client.delete("/model/Deployed", headers=admin()).status_code == 404
