"""XGBoost's legacy binary model format (``Booster.save_model("x.model")`` before 1.0, and
``save_raw("deprecated")`` up to 1.x), parsed into the dict layout of the JSON format so that
one validator reads both.

Layout (xgboost src/learner.cc ``LoadModel``, src/gbm/gbtree_model.h, src/tree/tree_model.cc,
src/gbm/gblinear_model.h; little-endian):

- optional magic ``binf``;
- ``LearnerModelParamLegacy``, 136 bytes: float base_score, uint32 num_feature, int32
  num_class, int32 contain_extra_attrs, int32 contain_eval_metrics, uint32 major_version,
  uint32 minor_version, uint32 num_target, int32 boost_from_average, int32 reserved[25];
- the objective name and the booster name, each a uint64 length and the bytes;
- gbtree/dart: ``GBTreeModelParam``, 160 bytes (int32 num_trees, int32 num_parallel_tree,
  int32 num_feature, int32 pad, int64 num_pbuffer, int32 num_output_group, int32
  size_leaf_vector, int32 reserved[32]); then each tree: ``TreeParam``, 148 bytes (int32
  num_roots, num_nodes, num_deleted, max_depth, num_feature, size_leaf_vector, reserved[31]),
  num_nodes ``Node`` records of 20 bytes (int32 parent, int32 cleft, int32 cright, uint32
  sindex (bit 31: default left), float leaf value or split condition), num_nodes
  ``RTreeNodeStat`` records of 16 bytes (float loss_chg, float sum_hess, float base_weight,
  int32 leaf_child_cnt), and, in files before 1.0 (major_version 0) when size_leaf_vector
  != 0, a uint64-counted float vector (2.x writes size_leaf_vector 1 and no vector);
  then int32 tree_info[num_trees]; dart adds ``weight_drop`` (uint64 count, floats);
- gblinear: ``GBLinearModelParam``, 136 bytes (uint32 num_feature, int32 num_output_group,
  int32 reserved[32]), then the weights (uint64 count, floats);
- when contain_extra_attrs: the attributes, a uint64 count of (string, string) pairs;
  count:poisson then stores its max_delta_step as a string; when contain_eval_metrics: a
  uint64-counted list of strings.
"""

from __future__ import annotations

import struct

import numpy as np


class LegacyFormatError(ValueError):
    """The bytes are not a well-formed legacy XGBoost model."""


_MAX_COUNT = 1 << 31


class _Stream:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise LegacyFormatError(
                f"truncated: {what} needs {size} bytes at byte {self.pos}, {len(self.data) - self.pos} left"
            )
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def count(self, what: str, item_size: int) -> int:
        (n,) = self.unpack("Q", what)
        if n > _MAX_COUNT or n * item_size > len(self.data) - self.pos:
            raise LegacyFormatError(f"{what}: count {n} exceeds the {len(self.data) - self.pos} bytes left (byte {self.pos})")
        return n

    def string(self, what: str) -> str:
        n = self.count(what, 1)
        try:
            return str(self.take(n, what), "utf-8")
        except UnicodeDecodeError:
            raise LegacyFormatError(f"{what} is not UTF-8 text (byte {self.pos})") from None

    def floats(self, n: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * n, what), dtype="<f4").astype(np.float32)


_NODE = np.dtype([("parent", "<i4"), ("cleft", "<i4"), ("cright", "<i4"), ("sindex", "<u4"), ("info", "<f4")])
_STAT = np.dtype([("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"), ("leaf_child_cnt", "<i4")])


def parse(data: bytes) -> dict:
    """The model as the JSON format's dict (``{"version": ..., "learner": ...}``)."""
    s = _Stream(data)
    if bytes(data[:4]) == b"binf":
        s.pos = 4
    elif bytes(data[:4]) == b"bs64":
        raise LegacyFormatError("base64-encoded legacy models ('bs64') are not read; decode the file first")
    base_score, num_feature, num_class, extra_attrs, _eval_metrics, major, minor, num_target, bfa = s.unpack(
        "fIiiiIIIi", "the learner parameters"
    )
    s.take(25 * 4, "the learner parameters")
    objective = s.string("the objective name")
    booster = s.string("the booster name")
    gb: dict = {"name": booster}
    if booster in ("gbtree", "dart"):
        model = _gbtree(s, major)
        if booster == "dart":
            n = s.count("the dart weight_drop", 4)
            gb = {"name": "dart", "gbtree": {"name": "gbtree", "model": model}, "weight_drop": s.floats(n, "weight_drop")}
        else:
            gb["model"] = model
    elif booster == "gblinear":
        nf, ngroup = s.unpack("Ii", "the gblinear parameters")
        s.take(32 * 4, "the gblinear parameters")
        n = s.count("the gblinear weights", 4)
        gb["model"] = {"weights": s.floats(n, "the gblinear weights"), "num_feature": nf, "num_output_group": ngroup}
    else:
        raise LegacyFormatError(f"unknown booster {booster!r} (expected gbtree, dart or gblinear)")
    attributes: dict[str, str] = {}
    if extra_attrs != 0:
        n = s.count("the attributes", 16)
        for _ in range(n):
            k = s.string("an attribute name")
            attributes[k] = s.string(f"the attribute {k!r}")
    learner = {
        "learner_model_param": {
            "base_score": repr(float(base_score)),
            "num_feature": str(num_feature),
            "num_class": str(num_class),
            "num_target": str(num_target or 1),
            "boost_from_average": str(bfa),
        },
        "objective": {"name": objective},
        "gradient_booster": gb,
        "attributes": attributes,
        "feature_names": [],
        "feature_types": [],
    }
    return {"version": [int(major), int(minor), 0], "learner": learner, "legacy": True}


def _gbtree(s: _Stream, major: int) -> dict:
    num_trees, num_parallel_tree, _nf, _pad, _pbuf, num_output_group, _size_leaf_vector = s.unpack(
        "iiiiqii", "the gbtree parameters"
    )
    s.take(32 * 4, "the gbtree parameters")
    if num_trees < 0 or num_trees > _MAX_COUNT:
        raise LegacyFormatError(f"num_trees {num_trees} is out of range")
    trees = []
    for t in range(num_trees):
        _roots, num_nodes, num_deleted, _depth, nfeat, leaf_vec = s.unpack("iiiiii", f"tree {t} parameters")
        s.take(31 * 4, f"tree {t} parameters")
        if num_nodes <= 0 or num_nodes * 36 > len(s.data) - s.pos:
            raise LegacyFormatError(f"tree {t}: num_nodes {num_nodes} is out of range (byte {s.pos})")
        nodes = np.frombuffer(s.take(num_nodes * _NODE.itemsize, f"tree {t} nodes"), dtype=_NODE)
        stats = np.frombuffer(s.take(num_nodes * _STAT.itemsize, f"tree {t} node statistics"), dtype=_STAT)
        if leaf_vec != 0 and major == 0:  # read by releases before 1.0 only (2.x writes 1, no vector)
            n = s.count(f"tree {t} leaf vector", 4)
            s.floats(n, f"tree {t} leaf vector")
        left = nodes["cleft"].astype(np.int64)
        right = nodes["cright"].astype(np.int64)
        parents = nodes["parent"].astype(np.int64)
        # The high bit of parent marks a left child; the root's parent is -1.
        parents = np.where(parents == -1, 2147483647, parents & 0x7FFFFFFF)
        trees.append(
            {
                "id": t,
                "tree_param": {"num_nodes": str(num_nodes), "num_deleted": str(num_deleted), "num_feature": str(nfeat), "size_leaf_vector": str(leaf_vec)},
                "left_children": left,
                "right_children": right,
                "parents": parents,
                "split_indices": (nodes["sindex"] & 0x7FFFFFFF).astype(np.int64),
                "default_left": (nodes["sindex"] >> 31).astype(np.int64),
                "split_conditions": nodes["info"].astype(np.float32),
                "split_type": np.zeros(num_nodes, dtype=np.int64),
                "base_weights": stats["base_weight"].astype(np.float32),
                "categories": [],
                "categories_nodes": [],
                "categories_segments": [],
                "categories_sizes": [],
            }
        )
    tree_info = np.frombuffer(s.take(4 * num_trees, "tree_info"), dtype="<i4").astype(np.int64)
    return {
        "gbtree_model_param": {"num_trees": str(num_trees), "num_parallel_tree": str(max(num_parallel_tree, 1))},
        "trees": trees,
        "tree_info": tree_info,
        "num_output_group": num_output_group,
    }
