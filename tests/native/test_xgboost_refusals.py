"""Malformed, truncated and hostile XGBoost files are refused at load with a NativeFormat
error that names the key path and the bad value: no crash, no hang.

The models here are written by hand (a minimal JSON model, its UBJSON encoding, and a
minimal legacy binary file), so these tests need neither the corpus nor xgboost.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import quickscore
from quickscore.errors import NativeFormat
from quickscore.io.native import _ubjson


def _model() -> dict:
    """A tiny XGBoost 2.x JSON model: one tree 'f0 < 0.5' with leaves -1 and 1, binary:logistic."""
    tree = {
        "base_weights": [0.0, -1.0, 1.0],
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": [1, 0, 0],
        "id": 0,
        "left_children": [1, -1, -1],
        "right_children": [2, -1, -1],
        "loss_changes": [1.0, 0.0, 0.0],
        "parents": [2147483647, 0, 0],
        "split_conditions": [0.5, -1.0, 1.0],
        "split_indices": [0, 0, 0],
        "split_type": [0, 0, 0],
        "sum_hessian": [2.0, 1.0, 1.0],
        "tree_param": {"num_deleted": "0", "num_feature": "2", "num_nodes": "3", "size_leaf_vector": "1"},
    }
    return {
        "learner": {
            "attributes": {},
            "feature_names": ["x", "y"],
            "feature_types": ["float", "float"],
            "gradient_booster": {
                "model": {
                    "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "1"},
                    "iteration_indptr": [0, 1],
                    "tree_info": [0],
                    "trees": [tree],
                },
                "name": "gbtree",
            },
            "learner_model_param": {"base_score": "5E-1", "boost_from_average": "1", "num_class": "0", "num_feature": "2", "num_target": "1"},
            "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}},
        },
        "version": [2, 1, 0],
    }


def _ubj(value) -> bytes:
    """A plain UBJSON encoder (untyped containers, int64 and float64 numbers)."""
    if isinstance(value, dict):
        out = b"{"
        for k, v in value.items():
            kb = k.encode()
            out += b"L" + struct.pack(">q", len(kb)) + kb + _ubj(v)
        return out + b"}"
    if isinstance(value, list):
        return b"[" + b"".join(_ubj(v) for v in value) + b"]"
    if value is None:
        return b"Z"
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"L" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"D" + struct.pack(">d", value)
    vb = value.encode()
    return b"SL" + struct.pack(">q", len(vb)) + vb


def _legacy() -> bytes:
    """The same model in the legacy binary format (see io/native/_xgb_legacy.py)."""
    out = b"binf" + struct.pack("<fIiiiIIIi", 0.5, 2, 0, 0, 0, 1, 5, 1, 1) + b"\0" * 100
    for s in (b"binary:logistic", b"gbtree"):
        out += struct.pack("<Q", len(s)) + s
    out += struct.pack("<iiiiqii", 1, 1, 2, 0, 0, 1, 0) + b"\0" * 128
    out += struct.pack("<iiiiii", 1, 3, 0, 1, 2, 0) + b"\0" * 124
    out += struct.pack("<iiiIf", -1, 1, 2, 0 | (1 << 31), 0.5)
    out += struct.pack("<IiiIf", 0 | (1 << 31), -1, -1, 0, -1.0)  # parent 0, a left child
    out += struct.pack("<iiiIf", 0, -1, -1, 0, 1.0)
    out += struct.pack("<fffi", 1, 2, 0, 0) * 3
    out += struct.pack("<i", 0)
    return out


def _json(model: dict) -> bytes:
    return json.dumps(model).encode()


def _expect(p: float) -> float:
    return float(1 / (1 + np.exp(-np.float32(p))))


@pytest.mark.parametrize("encode", [_json, _ubj], ids=["json", "ubjson"])
def test_the_hand_written_model_scores(encode) -> None:
    model = quickscore.load(encode(_model()))
    assert abs(model.predict({"x": 0.2, "y": 0})["probability(1)"] - _expect(-1.0)) < 1e-7
    assert abs(model.predict({"x": 0.7, "y": 0})["probability(1)"] - _expect(1.0)) < 1e-7
    assert abs(model.predict({"x": None, "y": 0})["probability(1)"] - _expect(-1.0)) < 1e-7  # default left


def test_the_hand_written_legacy_model_scores() -> None:
    model = quickscore.load(_legacy())
    assert abs(model.predict({"f0": 0.2, "f1": 0})["probability(1)"] - _expect(-1.0)) < 1e-7
    assert abs(model.predict({"f0": 0.7, "f1": 0})["probability(1)"] - _expect(1.0)) < 1e-7


def test_json_1x_booleans_and_missing_keys() -> None:
    """1.x files write default_left as booleans, and have no split_type, categories,
    iteration_indptr or num_target."""
    m = _model()
    m["version"] = [1, 0, 0]
    t = m["learner"]["gradient_booster"]["model"]["trees"][0]
    t["default_left"] = [True, False, False]
    for k in ("split_type", "categories", "categories_nodes", "categories_segments", "categories_sizes"):
        del t[k]
    del m["learner"]["gradient_booster"]["model"]["iteration_indptr"]
    del m["learner"]["learner_model_param"]["num_target"]
    model = quickscore.load(_json(m))
    assert abs(model.predict({"x": None, "y": 0})["probability(1)"] - _expect(-1.0)) < 1e-7


def test_format_is_forced_and_sniffed() -> None:
    from quickscore.io import read_document

    assert read_document(_json(_model())).format == "xgboost"
    assert read_document(_json(_model()), format="xgboost").format == "xgboost"
    headerless = _legacy()[4:]  # files from releases before the 'binf' magic
    assert read_document(headerless, format="xgboost").format == "xgboost"
    from quickscore.io.native.xgboost import sniff

    assert not sniff(b'{"format": "quickscore-coefficients", "features": [{"name": "learner"}]}')
    assert sniff(b'{\n  "version": [1, 0, 0],\n  "learner": {')


def _mutate(path: str, value):
    m = _model()
    node = m
    keys = path.split("/")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return m


TREE = "learner/gradient_booster/model/trees/0"

BAD = [
    # wrong JSON types
    ("learner/objective/name", 7, r"learner/objective/name: expected a string, found number 7"),
    ("learner/learner_model_param/num_feature", [2], r"num_feature: expected an integer, found array \[2\]"),
    ("learner/learner_model_param/base_score", "half", r"base_score 'half' is not a number"),
    (f"{TREE}/left_children", "1,-1,-1", r"trees\[0\]/left_children: expected an array of numbers, found string"),
    (f"{TREE}/split_conditions", [0.5, "a", 1.0], r"trees\[0\]/split_conditions: expected an array of numbers, found the string 'a'"),
    (f"{TREE}/split_indices", [0, 0], r"trees\[0\]/split_indices: expected 3 elements, found 2"),
    ("learner/gradient_booster/model/trees", {}, r"trees: expected an array, found object"),
    ("learner/feature_names", ["x", 3], r"feature_names: expected an array of strings"),
    ("version", "2.1", r"version: expected an array of integers, found string"),
    # child indices out of range
    (f"{TREE}/left_children", [7, -1, -1], r"trees\[0\]/left_children\[0\]: child index 7 is out of range"),
    (f"{TREE}/right_children", [-2, -1, -1], r"trees\[0\]/right_children\[0\]: child index -2 is out of range"),
    (f"{TREE}/left_children", [1, -1, 2], r"node 2 has one child"),
    (f"{TREE}/split_indices", [5, 0, 0], r"split_indices\[0\]: feature index 5 is out of range \[0, 2\)"),
    (f"{TREE}/split_conditions", [float("nan"), -1.0, 1.0], r"split_conditions\[0\]: a split threshold that is NaN"),
    (f"{TREE}/split_conditions", [0.5, float("inf"), 1.0], r"split_conditions\[1\]: a leaf value that is not a finite number"),
    # unknown objective, future version
    ("learner/objective/name", "reg:telepathy", r"learner/objective/name: unknown objective 'reg:telepathy'"),
    ("version", [4, 0, 0], r"format version 4.0.0 is newer than this reader knows"),
    ("learner/gradient_booster/name", "gbforest", r"unknown booster 'gbforest'"),
    ("learner/gradient_booster/model/tree_info", [3], r"tree_info: output group 3 is out of range"),
]


@pytest.mark.parametrize("encode", [_json, _ubj], ids=["json", "ubjson"])
@pytest.mark.parametrize("path, value, message", BAD, ids=[f"{p.split('/')[-1]}={v!r}" for p, v, _ in BAD])
def test_refused_with_the_key_and_value(encode, path: str, value, message: str) -> None:
    with pytest.raises(NativeFormat, match=message):
        quickscore.load(encode(_mutate(path, value)))


def _cyclic() -> dict:
    m = _model()
    t = m["learner"]["gradient_booster"]["model"]["trees"][0]
    # 0 -> (1, 2), 1 -> (0?) is out of range for a child (0 is the root); make 1 -> (2, 3), 3 -> (1, 4)
    t["tree_param"]["num_nodes"] = "5"
    t["left_children"] = [1, 2, -1, 1, -1]
    t["right_children"] = [3, 3, -1, 4, -1]
    for k in ("split_conditions", "split_indices", "default_left", "split_type", "base_weights", "loss_changes", "sum_hessian", "parents"):
        t[k] = (t[k] + [0, 0])[:5]
    return m


@pytest.mark.parametrize("encode", [_json, _ubj], ids=["json", "ubjson"])
def test_cycles_and_shared_children_are_refused(encode) -> None:
    with pytest.raises(NativeFormat, match=r"trees\[0\]: node \d is reached twice"):
        quickscore.load(encode(_cyclic()))


def test_too_deep_a_tree_is_refused() -> None:
    m = _model()
    t = m["learner"]["gradient_booster"]["model"]["trees"][0]
    depth = 300  # a chain: each even node i has children i+1 (a leaf) and i+2
    n = 2 * depth + 1
    t["tree_param"]["num_nodes"] = str(n)
    t["left_children"] = [i + 1 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    t["right_children"] = [i + 2 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    for k in ("split_conditions", "split_indices", "default_left", "split_type", "base_weights", "loss_changes", "sum_hessian", "parents"):
        t[k] = [0] * n
    with pytest.raises(NativeFormat, match="deeper than"):
        quickscore.load(_json(m))


@pytest.mark.parametrize(
    "make", [lambda: _json(_model()), lambda: _ubj(_model()), _legacy], ids=["json", "ubjson", "legacy"]
)
def test_every_truncation_is_refused(make) -> None:
    data = make()
    step = max(1, len(data) // 97)
    for cut in range(1, len(data) - 1, step):
        head = data[:cut]
        with pytest.raises((NativeFormat, quickscore.InvalidMarkup)):
            quickscore.load(head, format="xgboost")


def test_hostile_nesting_and_counts() -> None:
    deep_json = b'{"learner": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    with pytest.raises(NativeFormat):
        quickscore.load(deep_json)
    deep_ubj = b"{L" + struct.pack(">q", 7) + b"learner" + b"[" * 100_000
    with pytest.raises(NativeFormat, match="nesting deeper"):
        quickscore.load(deep_ubj)
    huge = b"{L" + struct.pack(">q", 7) + b"learner" + b"[$d#L" + struct.pack(">q", 1 << 60)
    with pytest.raises(NativeFormat, match="exceeds"):
        quickscore.load(huge)
    long_key = b"{L" + struct.pack(">q", 1 << 62) + b"learner"
    with pytest.raises(NativeFormat, match="truncated"):
        quickscore.load(long_key, format="xgboost")
    legacy = bytearray(_legacy())
    legacy[4 + 136 : 4 + 144] = struct.pack("<Q", 1 << 50)  # the objective name's length
    with pytest.raises(NativeFormat, match="exceeds"):
        quickscore.load(bytes(legacy))


def test_ubjson_decoder() -> None:
    value = {"a": [1, 2.5, "x", True, None, {"b": []}], "c": {}}
    assert _ubjson.decode(_ubj(value)) == value
    typed = b"[$d#i\x03" + struct.pack(">fff", 1.0, 2.0, 3.0)
    assert _ubjson.decode(typed).tolist() == [1.0, 2.0, 3.0]
    counted = b"[#i\x02i\x01i\x02"
    assert _ubjson.decode(counted) == [1, 2]
    with pytest.raises(_ubjson.UBJSONError, match="trailing"):
        _ubjson.decode(_ubj([1]) + b"i\x01")
    with pytest.raises(_ubjson.UBJSONError, match="unknown type marker"):
        _ubjson.decode(b"[X]")


def test_feature_map_must_fit(tmp_path) -> None:
    fmap = tmp_path / "three.fmap"
    fmap.write_text("0\ta\tq\n1\tb\tq\n2\tc\tq\n")
    with pytest.raises(NativeFormat, match="the feature map has 3 features, the model num_feature 2"):
        quickscore.load(_legacy(), feature_map=fmap)
    bad = tmp_path / "bad.fmap"
    bad.write_text("0\ta\tq\n1\tb\tzz\n")
    with pytest.raises(NativeFormat, match=r"line 2: unknown feature type 'zz'"):
        quickscore.load(_legacy(), feature_map=bad)
    good = tmp_path / "good.fmap"
    good.write_text("0\tcolour=red\ti\n1\tsize\tint\n")
    model = quickscore.load(_legacy(), feature_map=good)
    # 'colour=red < 0.5' sends colour == red right (leaf 1) and anything else left (leaf -1)
    assert abs(model.predict({"colour": "red", "size": 1})["probability(1)"] - _expect(1.0)) < 1e-7
    assert abs(model.predict({"colour": "blue", "size": 1})["probability(1)"] - _expect(-1.0)) < 1e-7


def test_unknown_reader_options_are_refused() -> None:
    from quickscore.io import read_document

    with pytest.raises(ValueError, match="does not take the option"):
        read_document(_json(_model()), bogus=1)


def test_mutations_never_crash() -> None:
    """Random byte flips of every encoding are read or refused with a ModelError/ValueError;
    the first documents each encoding yields also go through the whole load (lowering)."""
    from quickscore.io import read_document

    rng = np.random.default_rng(0)
    for data in (_json(_model()), _ubj(_model()), _legacy()):
        loaded = 0
        for _ in range(150):
            buf = bytearray(data)
            for i in rng.integers(0, len(buf), size=3):
                buf[i] = int(rng.integers(0, 256))
            try:
                read_document(bytes(buf), format="xgboost")
                if loaded < 10:
                    loaded += 1
                    quickscore.load(bytes(buf), format="xgboost")
            except (quickscore.ModelError, ValueError):
                pass
