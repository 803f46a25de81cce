"""Hot reload of big files through a child process (serve/_compile_child): the model it compiles
predicts as the file loaded in the worker, the workers share one compile, and a child that
crashes, hangs, writes a broken file or reports a broken model never replaces a working model."""

from __future__ import annotations

import hashlib
import shutil
import sys
import time

import pytest

from .conftest import DATA

pytest.importorskip("prometheus_client", reason='the registry needs the serve extra (pip install "quickscore[serve]")')

from quickscore.serve._registry import Registry  # noqa: E402
from quickscore.serve._shared import SharedGeneration  # noqa: E402

MODEL = DATA / "RandomForestClassifierWine.pmml"
FAIL = [sys.executable, "-c", "raise SystemExit('a compile was started')"]


def _registry(directory, compile_dir) -> Registry:
    registry = Registry(directory, generation=SharedGeneration(shared=False), reload_interval=1, n_threads=1)
    registry.compile_in_child_bytes = 0  # every PMML file through the child
    registry._compile_dir = compile_dir
    return registry


def _records(n: int = 20) -> list[dict]:
    import quickscore

    model = quickscore.load(MODEL)
    names = [f.name for f in model.schema.inputs]
    return [{name: 0.5 + 0.37 * ((i * 7 + j * 3) % 11) for j, name in enumerate(names)} for i in range(n)]


def _change(path) -> None:
    with open(path, "a") as handle:
        handle.write(f"\n<!-- changed {time.monotonic_ns()} -->\n")


@pytest.fixture
def dirs(tmp_path):
    models, compiled = tmp_path / "models", tmp_path / "compiled"
    models.mkdir()
    compiled.mkdir()
    shutil.copyfile(MODEL, models / "m.pmml")
    return models, compiled


def test_a_compiled_file_predicts_as_the_file_loaded_in_process_and_is_compiled_once(dirs):
    import quickscore

    models, compiled = dirs
    first = _registry(models, compiled)
    first.sync()
    entry = first.models["m"]
    data = (models / "m.pmml").read_bytes()
    assert (entry.size, entry.checksum) == (len(data), hashlib.sha256(data).hexdigest())
    assert [p.suffix for p in sorted(compiled.iterdir())] == [".json", ".lock", ".qsm"]
    reference = quickscore.load(models / "m.pmml")
    for record in _records():
        assert entry.model.predict(record) == reference.predict(record)
    # a second worker on the same directory loads what the first compiled: no child of its own
    second = _registry(models, compiled)
    second.compile_command = FAIL
    second.sync()
    assert second.failures == {} and second.models["m"].checksum == entry.checksum
    # a new version replaces the compiled files of the old one
    _change(models / "m.pmml")
    first.sync()
    assert first.failures == {} and first.models["m"].checksum != entry.checksum
    assert len(list(compiled.glob("*.qsm"))) == 1


@pytest.mark.parametrize("child, why", [
    ("import sys; print('out of luck', file=sys.stderr); sys.exit(3)", "exit status 3): out of luck"),
    ("import time; time.sleep(60)", "took longer than 2 s"),
    # a .qsm that is not one, with a report that says it is
    ("import json, sys; open(sys.argv[2], 'wb').write(b'junk'); json.dump({'sha256': 'x', 'size': 1}, open(sys.argv[3], 'w'))",
     "m.pmml: "),
])
def test_a_failing_child_never_replaces_the_working_model(dirs, child, why):
    models, compiled = dirs
    registry = _registry(models, compiled)
    registry.sync()
    working = registry.models["m"]
    registry.compile_command = [sys.executable, "-c", child]
    registry.compile_timeout = 2
    _change(models / "m.pmml")
    started = time.monotonic()
    registry.sync()
    assert time.monotonic() - started < 30
    assert registry.models["m"] is working
    assert why in registry.failures["m"]
    registry.sync()  # the broken version is not tried again while unchanged
    assert registry.models["m"] is working


def test_a_broken_file_is_reported_with_the_load_error_by_every_worker(dirs):
    models, compiled = dirs
    first = _registry(models, compiled)
    first.sync()
    working = first.models["m"]
    (models / "m.pmml").write_text("<PMML version='4.4'><DataDictionary>")  # not well-formed
    first.sync()
    assert first.models["m"] is working
    assert first.failures["m"].startswith("m.pmml: ") and "well-formed" in first.failures["m"]
    second = _registry(models, compiled)
    second.compile_command = FAIL  # the first worker's child recorded the error: no second child
    second.sync()
    assert "m" not in second.models and second.failures["m"] == first.failures["m"]


def test_a_file_changed_while_compiling_is_not_a_failure(dirs):
    models, compiled = dirs
    registry = _registry(models, compiled)
    registry.sync()
    working = registry.models["m"]
    _change(models / "m.pmml")
    real = registry.compile_command

    def changing_compile(path, st, qsm, meta):  # the file is replaced between the scan and the child
        _change(path)
        Registry._compile(registry, path, st, qsm, meta)

    registry.compile_command = real
    registry._compile = changing_compile
    registry.sync()
    assert registry.models["m"] is working and "m" not in registry.failures
    del registry._compile
    registry.sync()  # the next scan loads the file as it is now
    assert registry.models["m"] is not working and registry.failures == {}


def test_the_supervisor_names_the_compile_directory_as_the_registry_reads_it():
    from quickscore.serve import _registry, _server

    assert _server.COMPILE_DIR_ENV == _registry.COMPILE_DIR_ENV
