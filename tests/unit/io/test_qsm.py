"""Compiled model files (.qsm): round trips with identical outputs, and every refusal."""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import quickscore
from quickscore.cli import cli
from quickscore.errors import InvalidMarkup
from quickscore.io import read_document
from quickscore.io import qsm as Q

from corpus_cases import corpus_cases, read_inputs as _read

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
FIXTURES = sorted(DATA.glob("*.pmml"))


def _corpus(limit: int = 8) -> list:
    return corpus_cases(trees_only=True, limit=limit)


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        x, y = a[column].to_numpy(dtype=object), b[column].to_numpy(dtype=object)
        for u, v in zip(x, y):
            if isinstance(u, float) and isinstance(v, float):
                assert u == v or (np.isnan(u) and np.isnan(v)), column  # bit for bit (no tolerance)
            else:
                assert (pd.isna(u) and pd.isna(v)) or u == v, column


def _compile(pmml: Path, tmp_path: Path) -> Path:
    out = tmp_path / (pmml.stem + ".qsm")
    Q.write_qsm(pmml, out)
    return out


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pmml", FIXTURES, ids=lambda p: p.stem)
def test_fixture_round_trip_scores_identically(pmml, tmp_path):
    compiled = _compile(pmml, tmp_path)
    frame = _read(pmml.with_name(pmml.name.replace(".pmml", ".input.csv")))
    for engine in ("auto", "reference"):
        original = quickscore.load(pmml, engine=engine)
        loaded = quickscore.load(compiled, engine=engine)
        assert loaded.engine == original.engine
        _identical(original.predict(frame), loaded.predict(frame))
    a, b = read_document(pmml), read_document(compiled)
    assert dataclasses.replace(a, source_name=None) == dataclasses.replace(b, source_name=None)


@pytest.mark.parametrize("pmml, inputs", _corpus())
def test_corpus_round_trip_scores_identically(pmml, inputs, tmp_path):
    compiled = _compile(pmml, tmp_path)
    frame = _read(inputs)
    _identical(quickscore.load(pmml).predict(frame), quickscore.load(compiled).predict(frame))
    a, b = read_document(pmml), read_document(compiled)
    assert dataclasses.replace(a, source_name=None) == dataclasses.replace(b, source_name=None)


def test_loads_from_bytes_and_file_objects(tmp_path):
    compiled = _compile(DATA / "DecisionTreeIris.pmml", tmp_path)
    data = compiled.read_bytes()
    record = {"petal_length": 4.1, "petal_width": 1.3, "sepal_length": 5.0, "sepal_width": 3.0}
    expected = quickscore.load(DATA / "DecisionTreeIris.pmml").predict(record)
    assert quickscore.load(data).predict(record) == expected
    with compiled.open("rb") as f:
        assert quickscore.load(f).predict(record) == expected


def test_precomputed_arrays_are_used(tmp_path, monkeypatch):
    from quickscore.models import fast

    compiled = _compile(DATA / "RandomForestClassifierWine.pmml", tmp_path)
    monkeypatch.setattr(fast.kernels, "lower_trees", lambda *a, **k: pytest.fail("the trees were lowered again"))
    model = quickscore.load(compiled)
    assert model.engine == "numba"


def test_header_names_source_and_versions(tmp_path):
    pmml = DATA / "DecisionTreeIris.pmml"
    compiled = _compile(pmml, tmp_path)
    header, _ = _split(compiled.read_bytes())
    assert header["format"] == "quickscore-model"
    assert header["format_version"] == Q.FORMAT_VERSION
    assert header["quickscore_version"] == quickscore.__version__
    import hashlib

    assert header["source"]["sha256"] == hashlib.sha256(pmml.read_bytes()).hexdigest()
    assert b"pickle" not in compiled.read_bytes()[:64]


def test_another_quickscore_version_lowers_again_with_the_same_scores(tmp_path):
    pmml = DATA / "GradientBoostingClassifierIris.pmml"
    compiled = _compile(pmml, tmp_path)
    header, payload = _split(compiled.read_bytes())
    header["quickscore_version"] = "0.0.1"
    other = tmp_path / "other.qsm"
    other.write_bytes(_join(header, payload))
    doc = read_document(other)
    assert "_lowered" not in doc.model.__dict__
    frame = _read(pmml.with_name(pmml.name.replace(".pmml", ".input.csv")))
    _identical(quickscore.load(pmml).predict(frame), quickscore.load(other).predict(frame))


def test_cli_compile(tmp_path):
    pmml = DATA / "DecisionTreeIris.pmml"
    out = tmp_path / "iris.qsm"
    result = CliRunner().invoke(cli, ["compile", str(pmml), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(Q.MAGIC)
    result = CliRunner().invoke(cli, ["inspect", str(out)])
    assert result.exit_code == 0 and "TreeModel" in result.output
    result = CliRunner().invoke(cli, ["compile", str(tmp_path / "missing.pmml")])
    assert result.exit_code == 1 and "quickscore: error:" in result.output


# --- refusals ---------------------------------------------------------------------------------------


def _split(data: bytes) -> tuple[dict, bytes]:
    _, size, _, _ = Q._PREFIX.unpack_from(data, 0)
    header = json.loads(data[Q._PREFIX.size : Q._PREFIX.size + size])
    start = Q._PREFIX.size + size
    start += -start % 64
    return header, data[start:]


def _join(header: dict, payload: bytes, fix_payload_crc: bool = False) -> bytes:
    if fix_payload_crc:
        header["payload_crc32"] = zlib.crc32(payload)
        header["payload_size"] = len(payload)
    head = json.dumps(header).encode()
    prefix = Q._PREFIX.pack(Q.MAGIC, len(head), zlib.crc32(head), 0)
    return prefix + head + b"\0" * (-(len(prefix) + len(head)) % 64) + payload


@pytest.fixture(scope="module")
def forest(tmp_path_factory) -> bytes:
    return _compile(DATA / "RandomForestClassifierWine.pmml", tmp_path_factory.mktemp("qsm")).read_bytes()


def _refused(data: bytes, tmp_path: Path, *fragments: str) -> str:
    path = tmp_path / "bad.qsm"
    path.write_bytes(data)
    for source in (path, data):  # mapped from a path, and read from bytes
        with pytest.raises(InvalidMarkup) as e:
            quickscore.load(source, format="qsm")
        message = str(e.value)
        assert message.startswith("Invalid .qsm file"), message
        for fragment in fragments:
            assert fragment in message, message
    return message


@pytest.mark.parametrize("cut", [4, 20, 100, -1, -64])
def test_truncated_file(forest, tmp_path, cut):
    _refused(forest[:cut], tmp_path, "")


def test_truncated_file_names_the_sizes(forest, tmp_path):
    _refused(forest[:-10], tmp_path, "truncated", "payload")


def test_bit_flip_in_the_payload(forest, tmp_path):
    data = bytearray(forest)
    data[len(data) - 1000] ^= 0x10
    _refused(bytes(data), tmp_path, "payload checksum mismatch")


def test_bit_flip_in_the_header(forest, tmp_path):
    data = bytearray(forest)
    data[Q._PREFIX.size + 30] ^= 0x01
    _refused(bytes(data), tmp_path, "header checksum mismatch")


def test_foreign_file(tmp_path):
    _refused((DATA / "DecisionTreeIris.pmml").read_bytes(), tmp_path, "wrong magic bytes")
    _refused(b"PK\x03\x04" + b"\0" * 100, tmp_path, "wrong magic bytes")
    _refused(b"", tmp_path, "wrong magic bytes")


def test_foreign_json_header(forest, tmp_path):
    header, payload = _split(forest)
    header["format"] = "something-else"
    _refused(_join(header, payload), tmp_path, "format 'something-else'")


def test_future_format_version(forest, tmp_path):
    header, payload = _split(forest)
    header["format_version"] = Q.FORMAT_VERSION + 1
    _refused(_join(header, payload), tmp_path, f"format_version {Q.FORMAT_VERSION + 1} is newer", "compile the model again")


def _first_array(header: dict, dtype: str) -> int:
    return next(i for i, a in enumerate(header["arrays"]) if a["dtype"] == dtype)


def test_wrong_array_dtype(forest, tmp_path):
    header, payload = _split(forest)
    i = _first_array(header, "<i2")  # a FlatTree int16 index array read as float16: same size, wrong dtype
    header["arrays"][i]["dtype"] = "<f2"
    _refused(_join(header, payload), tmp_path, "dtype float16")


def test_wrong_array_shape(forest, tmp_path):
    header, payload = _split(forest)
    i = _first_array(header, "<i2")
    spec = header["arrays"][i]
    spec["shape"] = [spec["shape"][0] - 1]
    spec["nbytes"] -= 2
    _refused(_join(header, payload), tmp_path, "entries, expected")


def test_array_outside_the_payload(forest, tmp_path):
    header, payload = _split(forest)
    header["arrays"][0]["offset"] = len(payload)
    _refused(_join(header, payload), tmp_path, "does not fit")


def test_object_dtype_refused(forest, tmp_path):
    header, payload = _split(forest)
    header["arrays"][0]["dtype"] = "|O"
    _refused(_join(header, payload), tmp_path, "invalid dtype")


def test_unknown_ir_class_refused(forest, tmp_path):
    header, payload = _split(forest)
    header["document"]["@"] = "os.system"
    _refused(_join(header, payload), tmp_path, "unknown IR class 'os.system'")


def test_kernel_arrays_out_of_range_refused(forest, tmp_path):
    header, payload = _split(forest)
    ref = header["lowered"]["/"]["fused"]["nodes"]["@a"]
    spec = header["arrays"][ref]
    nodes = np.frombuffer(payload, dtype=Q._dtype_of(spec["dtype"]), count=spec["shape"][0], offset=spec["offset"]).copy()
    nodes["true_next"][0] = len(nodes) + 5  # would send a walk outside the tests
    data = bytearray(payload)
    data[spec["offset"] : spec["offset"] + spec["nbytes"]] = nodes.tobytes()
    _refused(_join(header, bytes(data), fix_payload_crc=True), tmp_path, "exits out of range")


def test_tree_arrays_out_of_range_refused_before_use(forest, tmp_path):
    header, payload = _split(forest)
    for entry in header["lowered"].values():  # nothing precomputed: the tree arrays are used
        entry.pop("tables", None)
    flat = _find_flat(header["document"])
    spec = header["arrays"][flat["parent"]["@a"]]
    parent = np.frombuffer(payload, dtype=spec["dtype"], count=spec["shape"][0], offset=spec["offset"]).copy()
    parent[1] = 30000  # not a node index before node 1
    data = bytearray(payload)
    data[spec["offset"] : spec["offset"] + spec["nbytes"]] = parent.tobytes()
    _refused(_join(header, bytes(data), fix_payload_crc=True), tmp_path, "not in pre-order")


def _find_flat(v):
    if isinstance(v, dict):
        if v.get("@") == "FlatTree":
            return v
        for x in v.values():
            found = _find_flat(x)
            if found is not None:
                return found
    if isinstance(v, list):
        for x in v:
            found = _find_flat(x)
            if found is not None:
                return found
    return None


def test_prefix_layout_is_stable():
    assert Q._PREFIX.size == 24 and struct.calcsize("<8sQII") == 24
    assert Q.MAGIC == b"\x89QSM\r\n\x1a\n"


# --- format version 2: fused tables written once, checksum in a thread, IR objects filled -------------


def _array(header: dict, payload: bytes, ref: int) -> np.ndarray:
    spec = header["arrays"][ref]
    count = int(np.prod(spec["shape"]))
    return np.frombuffer(payload, dtype=Q._dtype_of(spec["dtype"]), count=count, offset=spec["offset"]).reshape(spec["shape"])


def _with_array(header: dict, payload: bytes, ref: int, a: np.ndarray) -> bytes:
    spec = header["arrays"][ref]
    data = bytearray(payload)
    data[spec["offset"] : spec["offset"] + spec["nbytes"]] = np.ascontiguousarray(a).tobytes()
    return bytes(data)


def _to_version_1(header: dict, payload: bytes) -> tuple[dict, bytes]:
    """The same file as version 1 wrote it: every row reference a whole array of its own, no fused table."""
    data = bytearray(payload)

    def own(ref: dict) -> dict:
        if "rows" not in ref:
            return ref
        start, end = ref["rows"]
        rows = _array(header, payload, ref["@a"])[start:end]
        data.extend(b"\0" * (-len(data) % 64))
        header["arrays"].append({"dtype": rows.dtype.str, "shape": list(rows.shape), "offset": len(data), "nbytes": rows.nbytes})
        data.extend(rows.tobytes())
        return {"@a": len(header["arrays"]) - 1}

    for entry in header["lowered"].values():
        entry.get("fused", {}).pop("table", None)
        entry.pop("ends_undefined", None)  # stored since format 2 files (computed at load before)
        tables = entry.get("tables")
        if tables:
            for key in ("scores", "probabilities"):
                if key in tables:
                    tables[key] = own(tables[key])
    header["format_version"] = 1
    return header, bytes(data)


def test_fused_table_is_written_once_and_used_without_a_copy(tmp_path):
    compiled = _compile(DATA / "RandomForestClassifierWine.pmml", tmp_path)
    header, _ = _split(compiled.read_bytes())
    table = header["lowered"]["/"]["fused"]["table"]["@a"]
    refs = [header["lowered"][f"/{i}"]["tables"]["probabilities"] for i in range(len(header["lowered"]) - 1)]
    assert all(r["@a"] == table for r in refs) and refs[0]["rows"][0] == 0
    assert all(a["rows"][1] == b["rows"][0] for a, b in zip(refs, refs[1:]))  # one after the other
    model = quickscore.load(compiled)
    fused = model._compiled.core.fused
    trees = [s.model.core for s in model._compiled.core.segments]
    assert all(np.shares_memory(t.probabilities, fused.table) for t in trees)
    assert len(fused.table) == sum(t.n_nodes for t in trees)


@pytest.mark.parametrize("pmml", ["RandomForestClassifierWine", "GradientBoostingClassifierIris"])
def test_version_1_files_are_still_read(pmml, tmp_path):
    pmml = DATA / f"{pmml}.pmml"
    header, payload = _split(_compile(pmml, tmp_path).read_bytes())
    assert header["format_version"] == 2 == Q.FORMAT_VERSION
    assert any("rows" in str(e.get("tables")) for e in header["lowered"].values())
    old = tmp_path / "v1.qsm"
    old.write_bytes(_join(*_to_version_1(header, payload), fix_payload_crc=True))
    frame = _read(pmml.with_name(pmml.name.replace(".pmml", ".input.csv")))
    _identical(quickscore.load(pmml).predict(frame), quickscore.load(old).predict(frame))


def test_rows_outside_their_table_refused(forest, tmp_path):
    header, payload = _split(forest)
    ref = header["lowered"]["/0"]["tables"]["probabilities"]
    ref["rows"] = [ref["rows"][0], 10**6]
    _refused(_join(header, payload), tmp_path, "invalid rows")


def test_rows_of_another_length_refused(forest, tmp_path):
    header, payload = _split(forest)
    ref = header["lowered"]["/0"]["tables"]["probabilities"]
    ref["rows"] = [ref["rows"][0], ref["rows"][1] + 1]  # a row of the next tree too
    _refused(_join(header, payload), tmp_path, "node probabilities")


@pytest.mark.parametrize("threaded", [True, False])
def test_corrupted_payload_reports_the_checksum_even_when_decoding_fails(forest, tmp_path, monkeypatch, threaded):
    # Without a matching crc32 the arrays are not trusted: the checksum is the error, not
    # what the corrupted bytes made the decoder find (here a kernel exit out of range).
    monkeypatch.setattr(Q, "_THREAD_MIN", 0 if threaded else 1 << 62)
    header, payload = _split(forest)
    ref = header["lowered"]["/"]["fused"]["nodes"]["@a"]
    nodes = _array(header, payload, ref).copy()
    nodes["true_next"][0] = len(nodes) + 5
    _refused(_join(header, _with_array(header, payload, ref, nodes)), tmp_path, "payload checksum mismatch")
    data = bytearray(forest)
    data[len(data) - 1000] ^= 0x10
    _refused(bytes(data), tmp_path, "payload checksum mismatch")
    path = tmp_path / "good.qsm"
    path.write_bytes(forest)
    assert quickscore.load(path).engine == "numba"


def test_the_checksum_thread_ends_with_the_load(forest, tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(Q, "_THREAD_MIN", 0)
    path = tmp_path / "good.qsm"
    path.write_bytes(forest)
    quickscore.load(path)
    assert not [t for t in threading.enumerate() if t.name == "quickscore-qsm-crc32"]


@pytest.mark.parametrize("array", ["nodes", "fast"])
def test_kernel_set_offsets_out_of_range_refused(tmp_path, array):
    # LGBMClassifierAuditNA has categorical set tests (OP_BITS) in its fused forest.
    from quickscore.kernels._layout import OP_BITS, OP_SHIFT

    header, payload = _split(_compile(DATA / "LGBMClassifierAuditNA.pmml", tmp_path).read_bytes())
    fused = next(e["fused"] for e in header["lowered"].values() if "fused" in e)
    nodes = _array(header, payload, fused["nodes"]["@a"])
    features = _array(header, payload, fused["features"]["@a"])
    i = int(np.flatnonzero(nodes["op"] == OP_BITS)[0])
    assert features[i] >> OP_SHIFT == OP_BITS
    ref = fused[array]["@a"]
    records = _array(header, payload, ref).copy()
    records["threshold"][i] = 1e6
    _refused(_join(header, _with_array(header, payload, ref, records), fix_payload_crc=True), tmp_path, "kernel set offsets out of range")


def test_ir_object_with_a_field_it_does_not_have_refused(forest, tmp_path):
    header, payload = _split(forest)
    header["document"]["data_fields"]["@t"][0]["colour"] = "red"
    _refused(_join(header, payload), tmp_path, "invalid DataField", "colour")


def test_ir_object_without_a_required_field_refused(forest, tmp_path):
    header, payload = _split(forest)
    del header["document"]["data_fields"]["@t"][0]["name"]
    _refused(_join(header, payload), tmp_path, "invalid DataField", "name")


def test_decoded_ir_objects_are_those_their_init_builds(tmp_path):
    from quickscore.ir import TreeModel

    # IR objects are built by filling their dict (io/qsm._plan): the same fields and values
    # as the dataclass __init__ gives, for every class the decoder builds that way.
    doc = read_document(_compile(DATA / "RandomForestClassifierWine.pmml", tmp_path))
    seen: dict[type, int] = {}

    def check(v):
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            cls = type(v)
            if Q._PLANS.get(cls.__name__) is not None:
                fields = {k: x for k, x in v.__dict__.items() if k != "_lowered"}  # io/qsm adds _lowered later
                if cls is TreeModel:  # as from_flat leaves it: no root until asked for
                    assert "root" not in fields
                    rebuilt = TreeModel.from_flat(**{"flat" if k == "flat" else k: x for k, x in fields.items()})
                else:
                    rebuilt = cls(**{f.name: v.__dict__[f.name] for f in dataclasses.fields(cls)})
                assert list(rebuilt.__dict__) == list(fields), cls.__name__  # the fields, in order
                assert all(rebuilt.__dict__[k] is x for k, x in fields.items()), cls.__name__
                seen[cls] = seen.get(cls, 0) + 1
            for f in dataclasses.fields(v):
                if f.name != "root":
                    check(v.__dict__.get(f.name))
        elif isinstance(v, (tuple, list)):
            for x in v:
                check(x)

    check(doc)
    assert {c.__name__ for c in seen} >= {"MiningField", "DataField", "Segment", "FlatTree", "Loc", "TreeModel"}
