"""Hot reload: changed files replace models without failing a request; broken files are kept out."""

from __future__ import annotations

import os
import re
import shutil
import threading

import httpx
import pytest

from .conftest import DATA, wait_for

RECORD = {"petal_length": 4.1, "petal_width": 1.3}
# Two versions of one model (same inputs, different answers for RECORD): the iris tree, and the
# tree with a split moved so that RECORD lands in another leaf (written by the fixture below).
VERSIONS = {"tree": DATA / "DecisionTreeIris.pmml"}


@pytest.fixture(scope="module", autouse=True)
def _moved_split(tmp_path_factory):
    text = VERSIONS["tree"].read_text()
    assert text.count('value="4.95"') == 1
    moved = tmp_path_factory.mktemp("versions") / "moved.pmml"
    moved.write_text(text.replace('value="4.95"', 'value="3.95"'))
    VERSIONS["moved"] = moved


def _v2(record: dict) -> dict:
    return {"inputs": [{"name": k, "datatype": "FP64", "shape": [1], "data": [v]} for k, v in record.items()]}


def _write_atomically(source, target) -> None:
    partial = target.with_name("." + target.name + ".part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _load_errors(client: httpx.Client, model: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'quickscore_model_loads_total{{model="{model}",result="error"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_hot_reload_under_concurrent_requests_has_zero_failures(server, model_dir, local_models):
    import quickscore

    expected = {name: quickscore.load(path).predict(RECORD)["probability(versicolor)"] for name, path in VERSIONS.items()}
    assert expected["tree"] != expected["moved"]
    target = model_dir / "Swap.pmml"
    _write_atomically(VERSIONS["tree"], target)
    stop = threading.Event()
    results: list[tuple[int, object]] = []
    lock = threading.Lock()

    def hammer(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                if k % 2:
                    r = c.post("/model/Swap", json={"arguments": RECORD})
                    value = r.json().get("results", {}).get("probability(versicolor)") if r.status_code == 200 else r.text
                else:
                    r = c.post("/v2/models/Swap/infer", json=_v2(RECORD))
                    value = r.json()["outputs"][2]["data"][0] if r.status_code == 200 else r.text
                with lock:
                    results.append((r.status_code, value))

    with httpx.Client(base_url=server.url, timeout=30) as probe:
        # A new file appears in each worker at its own next scan: wait until every worker serves it
        # (fresh connections spread over the workers) before the load starts.
        wait_for(lambda: all(probe.post("/model/Swap", json={"arguments": RECORD}, headers={"Connection": "close"}).status_code == 200
                             for _ in range(12)), 30, what="Swap served by every worker")
        threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            for round_ in range(6):
                version = "moved" if round_ % 2 == 0 else "tree"
                if round_ == 3:  # a writer that rewrites the file in place (the server may see it half-written)
                    target.write_bytes(VERSIONS[version].read_bytes())
                else:
                    _write_atomically(VERSIONS[version], target)

                def switched():  # new connections (spread over the workers) answer with the new version
                    values = set()
                    for _ in range(6):
                        r = probe.post("/model/Swap", json={"arguments": RECORD}, headers={"Connection": "close"})
                        with lock:  # the probe's answers count too: none may fail
                            results.append((r.status_code, r.json().get("results", {}).get("probability(versicolor)") if r.status_code == 200 else r.text))
                        values.add(r.json()["results"]["probability(versicolor)"] if r.status_code == 200 else None)
                    return values == {expected[version]}

                wait_for(switched, 30, what=f"reload to the {version} version")
        finally:
            stop.set()
            for t in threads:
                t.join()
    failures = [(status, value) for status, value in results if status != 200]
    assert not failures, failures[:5]
    assert len(results) > 50
    assert {value for _, value in results} <= set(expected.values())
    assert len([r for r in server.messages("model reloaded") if r["model"] == "Swap"]) >= 6


def test_a_broken_replacement_is_kept_out(server, client, model_dir):
    target = model_dir / "Fragile.pmml"
    _write_atomically(VERSIONS["tree"], target)
    wait_for(lambda: client.post("/model/Fragile", json={"arguments": RECORD}).status_code == 200, 30, what="Fragile served")
    good = client.post("/model/Fragile", json={"arguments": RECORD}).json()
    before = _load_errors(client, "Fragile")
    _write_atomically(DATA / "README.md", target)  # not a model
    wait_for(lambda: _load_errors(client, "Fragile") >= before + 2, 30, what="both workers to reject the broken file")
    for _ in range(8):  # the working version is still served, by every worker
        assert client.post("/model/Fragile", json={"arguments": RECORD}).json() == good
    errors = [r for r in server.messages("model not loaded") if r.get("model") == "Fragile"]
    assert errors and errors[-1]["kept_previous"] is True and "Fragile.pmml" in errors[-1]["file"]
    # A fixed file is picked up again.
    _write_atomically(VERSIONS["moved"], target)
    wait_for(lambda: all(client.post("/model/Fragile", json={"arguments": RECORD}).json() != good for _ in range(6)), 30,
             what="the fixed file to be served")


def test_a_broken_new_file_is_never_served_and_removed_files_are(server, client, model_dir):
    (model_dir / "Broken.pmml").write_bytes(b"<PMML version='4.4'><Header/>")
    wait_for(lambda: _load_errors(client, "Broken") >= 2, 30, what="the broken file to be reported")
    response = client.get("/model/Broken")
    assert response.status_code == 404 and "did not load" in response.json()["message"]
    assert client.get("/v2/models/Broken/ready").status_code == 404
    (model_dir / "Broken.pmml").unlink()
    shutil.copyfile(VERSIONS["tree"], model_dir / "Temporary.pmml")
    wait_for(lambda: all(client.get("/model/Temporary").status_code == 200 for _ in range(6)), 30, what="a new file served")
    (model_dir / "Temporary.pmml").unlink()
    wait_for(lambda: all(client.get("/model/Temporary").status_code == 404 for _ in range(6)), 30, what="a removed file dropped")


def test_two_files_with_one_stem_are_reported(server, client, model_dir):
    shutil.copyfile(VERSIONS["tree"], model_dir / "Twice.pmml")
    shutil.copyfile(VERSIONS["tree"], model_dir / "Twice.xml")

    def reported():  # logged (if Twice.pmml was scanned alone first, it stays served meanwhile)
        return any(r.get("model") == "Twice" and "several files have this stem: Twice.pmml, Twice.xml" in r.get("error", "")
                   for r in server.messages("model not loaded"))

    wait_for(reported, 30, what="the clash to be reported")
    (model_dir / "Twice.xml").unlink()
    wait_for(lambda: all(client.get("/model/Twice", headers={"Connection": "close"}).status_code == 200 for _ in range(6)),
             30, what="the remaining file to be served")


def test_other_model_formats_are_served_by_file_stem(server, client, model_dir, tmp_path):
    """Whatever quickscore.load reads is served: here a compiled .qsm file (`quickscore compile`)."""
    from click.testing import CliRunner

    from quickscore.cli import cli

    compiled = tmp_path / "Compiled.qsm"
    result = CliRunner().invoke(cli, ["compile", str(DATA / "LogisticRegressionIris.pmml"), "-o", str(compiled)])
    assert result.exit_code == 0, result.output
    _write_atomically(compiled, model_dir / "Compiled.qsm")
    record = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    wait_for(lambda: all(client.post("/model/Compiled", json={"arguments": record}, headers={"Connection": "close"})
                         .status_code == 200 for _ in range(6)), 30, what="the .qsm model served")
    import quickscore

    expected = quickscore.load(DATA / "LogisticRegressionIris.pmml").predict(record)
    assert client.post("/model/Compiled", json={"arguments": record}).json()["results"] == expected
    (model_dir / "Compiled.qsm").unlink()


def test_a_replaced_model_is_freed(tmp_path):
    """Nothing the server keeps (registry, V2 metadata cache) holds on to a replaced model."""
    import gc
    import weakref

    from quickscore.serve import _v2
    from quickscore.serve._registry import Registry
    from quickscore.serve._shared import SharedGeneration

    target = tmp_path / "m.pmml"
    shutil.copyfile(DATA / "RandomForestClassifierWine.pmml", target)  # a model with reference cycles
    registry = Registry(tmp_path, generation=SharedGeneration(shared=False), reload_interval=1, n_threads=1)
    registry.sync()
    entry = registry.models["m"]
    _v2._signature(entry)
    old = weakref.ref(entry.model)
    del entry
    with open(target, "a") as handle:
        handle.write("\n<!-- changed -->\n")
    registry.sync()
    assert registry.models["m"].model is not old()
    gc.collect()
    assert old() is None
