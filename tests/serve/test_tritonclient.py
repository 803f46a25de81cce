"""V2 requests built by NVIDIA's tritonclient (the HTTP client of the Open Inference Protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import read_csv_records

httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is not installed (it is in the test extra)")

AUDIT = "LogisticRegressionAuditNA"


def _inputs(model, records, binary: bool):
    inputs = []
    for field in model.schema.inputs:
        values = [r[field.name] for r in records]
        if field.data_type == "string":
            array = np.array([v.encode() for v in values], dtype=np.object_)
            datatype = "BYTES"
        else:
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)  # NaN: missing
            datatype = "FP64"
        tensor = httpclient.InferInput(field.name, [len(records)], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.fixture(scope="module")
def triton(server):
    client = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield client
    client.close()


def test_health_and_metadata(triton, local_models):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready(AUDIT)
    assert triton.get_server_metadata()["name"] == "quickscore"
    meta = triton.get_model_metadata(AUDIT)
    assert [i["name"] for i in meta["inputs"]] == [f.name for f in local_models[AUDIT].schema.inputs]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer(triton, local_models, binary):
    model = local_models[AUDIT]
    records = [r for r in read_csv_records(AUDIT, 60) if all(r[f.name] is not None for f in model.schema.inputs
                                                             if f.data_type == "string")][:25]
    assert any(v is None for r in records for v in r.values())  # missing numbers, as NaN
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in model.output_names]
    result = triton.infer(AUDIT, _inputs(model, records, binary), outputs=outputs)
    expected = model.predict(records)
    for name in model.output_names:
        np.testing.assert_allclose(result.as_numpy(name).astype(float), expected[name].to_numpy(dtype=float), rtol=1e-12)
