"""XGBoost model files (JSON, UBJSON, legacy binary) read into the IR.

The IR has the shapes jpmml-xgboost writes for these models, so that they run on the same
lowering and kernels as the PMML route: per output group a MiningModel "sum" of binary-split
TreeModels (``mathContext="float"``, nodes as ``ir.FlatTree`` arrays), the first of them a
one-leaf tree holding the base margin (XGBoost starts the float32 sum there); the objective's
link is a RegressionModel (or, for ``binary:hinge``, a TreeModel) after it in a
``modelChain``; several targets are an ``x-multiModelChain``. Where jpmml-xgboost writes
``missingValueStrategy="defaultChild"``, a split here lists the child its predicate selects
first and the default child second with a True predicate, under strategy "none": the same
routes, one test per split, and the array lowering of the kernels applies (``_Builder.tree``).

Library semantics implemented here (XGBoost src/predictor/cpu_predictor.cc, src/tree/tree_model.cc,
src/common/categorical.h, src/objective/*):

- "a split sends a row to the left child when ``fvalue < split_condition``", both as float32;
  a missing value follows ``default_left``;
- categorical split: "``Decision``: returns true (go left) if the category is not in the
  node's set"; the stored categories go right;
- the leaf value of a node is its ``split_conditions`` entry (``base_weights`` with vector
  leaves); dart multiplies each tree by its ``weight_drop``;
- ``base_score`` is stored in the output space; the margin starts at
  ``ObjFunction::ProbToMargin(base_score)`` (logit for logistic objectives, log for
  count/gamma/tweedie/survival, identity otherwise), one per output group in 3.x.

Reader options: ``iterations`` (the first N boosting rounds), ``feature_map`` (an XGBoost
``.fmap`` file: ``<index>\\t<name>\\t<type>`` with type ``q``/``float``/``int`` numeric,
``i`` an indicator (``name=value`` one-hot columns become the categorical field ``name``),
``c`` categorical).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from quickscore.errors import NativeFormat, UnsupportedMarkup
from quickscore.io import Format, refuse_options
from quickscore.io.native import _ubjson, _xgb_legacy
from quickscore.ir import (
    DataField,
    DataType,
    Document,
    FieldRef,
    Header,
    MiningField,
    MiningModel,
    Node,
    NumericPredictor,
    OpType,
    OutputField,
    RegressionModel,
    RegressionTable,
    ScoreDistribution,
    Segment,
    Segmentation,
    SimplePredicate,
    SimpleSetPredicate,
    TreeModel,
    TruePredicate,
)
from quickscore.ir.flat import (
    OPERATOR_CODES,
    PRED_OBJECT,
    PRED_SIMPLE,
    PRED_TRUE,
    FlatTree,
    StringIds,
)

__all__ = ["FORMATS", "read_xgboost"]

#: Newest major format version this reader knows.
MAX_MAJOR_VERSION = 3
#: Deepest tree accepted (XGBoost's depthwise default is 6; lossguide trees go deeper).
MAX_DEPTH = 256
#: Most categories a single categorical split may list.
MAX_CATEGORIES = 1 << 20

TARGET = "_target"
MARGIN = "xgbValue"  # the margin between the tree sums and the link (as jpmml-xgboost names it)
MARGIN_OUTPUT = "margin"  # the margin column in the results, where a link follows it


# --- objectives -------------------------------------------------------------------------------
# name -> (kind, link of the margin, ProbToMargin of base_score)
#   kind: "regression", "binary" (probabilities by the logistic link), "hinge" (1 when
#   margin > 0), "multi" (softmax over the groups)

def _logit(p: np.float32) -> np.float32:
    # RegLossObj<LogisticRegression>::ProbToMargin: "return -logf(1.0f / base_score - 1.0f)"
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float32(-np.log(np.float32(1.0) / p - np.float32(1.0)))


def _log(p: np.float32) -> np.float32:
    # Poisson, Gamma, Tweedie, Cox, AFT: "return std::log(base_score)"
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float32(np.log(p))


def _identity(p: np.float32) -> np.float32:
    return np.float32(p)


_OBJECTIVES: dict[str, tuple[str, str | None, Any]] = {
    "binary:logistic": ("binary", "logit", _logit),
    "binary:logitraw": ("binary", "logit", _logit),
    "binary:hinge": ("hinge", None, _identity),
    "reg:squarederror": ("regression", None, _identity),
    "reg:linear": ("regression", None, _identity),  # the name before 1.0
    "reg:squaredlogerror": ("regression", None, _identity),
    "reg:logistic": ("regression", "logit", _logit),
    "reg:pseudohubererror": ("regression", None, _identity),
    "reg:absoluteerror": ("regression", None, _identity),
    "reg:quantileerror": ("regression", None, _identity),
    "reg:expectileerror": ("regression", None, _identity),
    "reg:tweedie": ("regression", "exp", _log),
    "reg:gamma": ("regression", "exp", _log),
    "count:poisson": ("regression", "exp", _log),
    "multi:softprob": ("multi", "softmax", _identity),
    "multi:softmax": ("multi", "softmax", _identity),
    "rank:pairwise": ("regression", None, _identity),
    "rank:ndcg": ("regression", None, _identity),
    "rank:map": ("regression", None, _identity),
    "survival:aft": ("regression", "exp", _log),
    "survival:cox": ("regression", "exp", _log),
}


# --- reading bytes into the JSON dict ------------------------------------------------------------


# XGBoost writes the document's keys in order: "learner", then "version".
_JSON_HEAD = re.compile(rb'\A\s*\{\s*"(?:learner|version)"\s*:')
_UBJSON_HEAD = re.compile(rb"\A\{(?:i.|U.|I..|l....|L........)(?:learner|version)", re.DOTALL)


def _sniff_json(head: bytes) -> bool:
    return _JSON_HEAD.match(head) is not None


def _sniff_ubjson(head: bytes) -> bool:
    return _UBJSON_HEAD.match(head) is not None


def _sniff_legacy(head: bytes) -> bool:
    return head.startswith(b"binf")


def sniff(head: bytes) -> bool:
    """XGBoost JSON, UBJSON, or the legacy binary format (``binf`` header)."""
    return _sniff_json(head) or _sniff_ubjson(head) or _sniff_legacy(head)


def _fail(where: str, message: str) -> NativeFormat:
    return NativeFormat(f"XGBoost model{where}: {message}")


def _decode(data: bytes, where: str) -> dict:
    if not data.strip():
        raise _fail(where, "the content is empty")
    head = data[:4096]
    try:
        if _sniff_json(head):
            obj = json.loads(data)
        elif _sniff_ubjson(head):
            obj = _ubjson.decode(data)
        else:  # the legacy binary format, with or without its 'binf' header
            obj = _xgb_legacy.parse(data)
    except RecursionError:
        raise _fail(where, "the JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, UBJSONError, LegacyFormatError
        raise _fail(where, f"not a readable model file ({exc})") from None
    if not isinstance(obj, dict):
        raise _fail(where, f"the document is a {_type_name(obj)}, not an object")
    return obj


def _type_name(v: object) -> str:
    if isinstance(v, np.ndarray):
        return "array"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(v), type(v).__name__ if v is not None else "null"
    )


# --- validation into a neutral booster ---------------------------------------------------------


class _Path:
    """Key paths for error messages: ``learner/gradient_booster/model/trees[3]/left_children``."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, path: str, message: str) -> NativeFormat:
        return _fail(self.where, f"{path}: {message}")

    def obj(self, d: Any, key: str, path: str) -> dict:
        v = d.get(key) if isinstance(d, dict) else None
        if not isinstance(v, dict):
            raise self.fail(f"{path}/{key}", f"expected an object, found {_type_name(v) if key in d else 'nothing'}")
        return v

    def string(self, d: dict, key: str, path: str) -> str:
        v = d.get(key)
        if not isinstance(v, str):
            raise self.fail(f"{path}/{key}", f"expected a string, found {_type_name(v) if key in d else 'nothing'} {_short(v)}")
        return v

    def integer(self, d: dict, key: str, path: str, default: int | None = None, lo: int = 0, hi: int = 1 << 31) -> int:
        if key not in d and default is not None:
            return default
        v = d.get(key)
        n = None
        if isinstance(v, (str, int, np.integer)) and not isinstance(v, bool):
            try:
                n = int(v)
            except ValueError:
                n = None
        if n is None:
            raise self.fail(f"{path}/{key}", f"expected an integer, found {_type_name(v) if key in d else 'nothing'} {_short(v)}")
        if not lo <= n <= hi:
            raise self.fail(f"{path}/{key}", f"value {n} is out of range [{lo}, {hi}]")
        return n

    def array(self, d: dict, key: str, path: str, kind: str, size: int | None = None, required: bool = True) -> np.ndarray:
        """A numeric array (``kind`` "int", "float", or "bool": integers or booleans) of ``size`` elements."""
        if key not in d and not required:
            return np.zeros(0, dtype=np.int64 if kind == "int" else np.float32)
        v = d.get(key)
        if isinstance(v, np.ndarray):
            arr = v
            if arr.dtype.kind not in "iuf" or arr.ndim != 1:
                raise self.fail(f"{path}/{key}", f"expected an array of numbers, found an array of {arr.dtype}")
        elif isinstance(v, list):
            if kind == "bool" and all(isinstance(x, bool) for x in v):
                v = [int(x) for x in v]  # 1.x JSON writes default_left as booleans
            bad = next((x for x in v if isinstance(x, bool) or not isinstance(x, (int, float))), _NONE)
            if bad is not _NONE:
                raise self.fail(f"{path}/{key}", f"expected an array of numbers, found the {_type_name(bad)} {_short(bad)}")
            arr = np.asarray(v, dtype=np.float64 if any(isinstance(x, float) for x in v) else np.int64)
        else:
            raise self.fail(f"{path}/{key}", f"expected an array of numbers, found {_type_name(v) if key in d else 'nothing'} {_short(v)}")
        if size is not None and len(arr) != size:
            raise self.fail(f"{path}/{key}", f"expected {size} elements, found {len(arr)}")
        if kind in ("int", "bool"):
            if arr.dtype.kind == "f":
                if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                    raise self.fail(f"{path}/{key}", "expected integers, found a non-integer number")
                arr = arr.astype(np.int64)
            return arr.astype(np.int64)
        return arr.astype(np.float32)


_NONE = object()


def _short(v: object) -> str:
    text = repr(v.tolist() if isinstance(v, np.ndarray) else v)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class _Tree:
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray  # float32
    default_left: np.ndarray
    is_cat: np.ndarray
    values: np.ndarray  # float32 (num_nodes, size_leaf_vector)
    categories: dict  # node -> tuple of category codes going right
    group: int
    weight: np.float32


@dataclass
class _Booster:
    version: tuple[int, ...]
    objective: str
    booster: str  # gbtree dart gblinear
    num_feature: int
    n_groups: int
    base_margin: np.ndarray  # float32, one per group
    feature_names: list[str]
    feature_types: list[str]
    categories: dict  # feature index -> tuple of category names (from the model's encoder)
    trees: list[_Tree]
    iteration_indptr: list[int]
    linear_weights: np.ndarray | None  # (num_feature + 1, n_groups)
    multi_target: bool
    best_iteration: int | None = None


def _parse_base_score(text: str, p: _Path, path: str) -> list[float]:
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        values = [float(x) for x in t.split(",")]
    except ValueError:
        raise p.fail(path, f"base_score {text!r} is not a number or a list of numbers") from None
    if not values:
        raise p.fail(path, f"base_score {text!r} is empty")
    return values


def _validate(doc: dict, where: str) -> _Booster:
    p = _Path(where)
    version: tuple[int, ...] = ()
    if "version" in doc:
        v = doc["version"]
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if not isinstance(v, list) or not v or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise p.fail("version", f"expected an array of integers, found {_type_name(v)} {_short(v)}")
        version = tuple(v)
        if version[0] > MAX_MAJOR_VERSION:
            raise p.fail(
                "version",
                f"format version {'.'.join(map(str, version))} is newer than this reader knows "
                f"(XGBoost {MAX_MAJOR_VERSION}.x at most)",
            )
    learner = p.obj(doc, "learner", "")
    lp = "learner"
    obj = p.obj(learner, "objective", lp)
    objective = p.string(obj, "name", f"{lp}/objective")
    if objective not in _OBJECTIVES:
        raise p.fail(f"{lp}/objective/name", f"unknown objective {objective!r} (known: {', '.join(sorted(_OBJECTIVES))})")
    mp = p.obj(learner, "learner_model_param", lp)
    mpp = f"{lp}/learner_model_param"
    num_feature = p.integer(mp, "num_feature", mpp, lo=0)
    num_class = p.integer(mp, "num_class", mpp, default=0, lo=0, hi=1 << 20)
    num_target = p.integer(mp, "num_target", mpp, default=1, lo=1, hi=1 << 20)
    base = _parse_base_score(p.string(mp, "base_score", mpp), p, f"{mpp}/base_score")
    kind = _OBJECTIVES[objective][0]
    if kind == "multi":
        if num_class < 2:
            raise p.fail(f"{mpp}/num_class", f"objective {objective} needs num_class >= 2, found {num_class}")
        n_groups = num_class
    else:
        if num_class > 1:
            raise p.fail(f"{mpp}/num_class", f"objective {objective} does not take num_class {num_class}")
        n_groups = num_target
    if len(base) == 1:
        base = base * n_groups
    elif len(base) != n_groups:
        raise p.fail(f"{mpp}/base_score", f"{len(base)} values for {n_groups} outputs")
    to_margin = _OBJECTIVES[objective][2]
    if objective == "binary:logitraw" and version >= (1, 6):
        # LogisticRaw (1.6+): "static bst_float ProbToMargin(bst_float base_score) { return base_score; }";
        # before, it inherited LogisticRegression's logit.
        to_margin = _identity
    base_margin = np.array([to_margin(np.float32(b)) for b in base], dtype=np.float32)
    names = learner.get("feature_names", [])
    types = learner.get("feature_types", [])
    for key, val in (("feature_names", names), ("feature_types", types)):
        if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
            raise p.fail(f"{lp}/{key}", f"expected an array of strings, found {_type_name(val)} {_short(val)}")
        if val and len(val) != num_feature:
            raise p.fail(f"{lp}/{key}", f"{len(val)} entries for num_feature {num_feature}")
    gb = p.obj(learner, "gradient_booster", lp)
    gp = f"{lp}/gradient_booster"
    booster = p.string(gb, "name", gp)
    weight_drop = None
    categories: dict = {}
    trees: list[_Tree] = []
    indptr: list[int] = []
    linear = None
    if booster in ("gbtree", "dart"):
        if booster == "dart":
            inner = p.obj(gb, "gbtree", gp)
            weight_drop = p.array(gb, "weight_drop", gp, "float")
            model = p.obj(inner, "model", f"{gp}/gbtree")
            mpath = f"{gp}/gbtree/model"
        else:
            model = p.obj(gb, "model", gp)
            mpath = f"{gp}/model"
            if "weight_drop" in model:
                # Newer files keep dart's weights beside the trees of the model itself.
                weight_drop = p.array(model, "weight_drop", mpath, "float")
        raw_trees = model.get("trees")
        if not isinstance(raw_trees, list):
            raise p.fail(f"{mpath}/trees", f"expected an array, found {_type_name(raw_trees)}")
        n_trees = len(raw_trees)
        tree_info = p.array(model, "tree_info", mpath, "int", n_trees)
        if np.any((tree_info < 0) | (tree_info >= n_groups)):
            bad = int(tree_info[(tree_info < 0) | (tree_info >= n_groups)][0])
            raise p.fail(f"{mpath}/tree_info", f"output group {bad} is out of range [0, {n_groups})")
        if weight_drop is not None and len(weight_drop) != n_trees:
            raise p.fail(f"{mpath}/weight_drop", f"expected {n_trees} elements, found {len(weight_drop)}")
        for i, t in enumerate(raw_trees):
            w = np.float32(1.0) if weight_drop is None else np.float32(weight_drop[i])
            trees.append(_validate_tree(t, p, f"{mpath}/trees[{i}]", num_feature, int(tree_info[i]), w, n_groups))
        if "iteration_indptr" in model:
            ip = p.array(model, "iteration_indptr", mpath, "int")
            if len(ip) == 0 or ip[0] != 0 or np.any(np.diff(ip) < 0) or ip[-1] != n_trees:
                raise p.fail(f"{mpath}/iteration_indptr", f"not a partition of the {n_trees} trees: {_short(ip)}")
            indptr = [int(x) for x in ip]
        else:
            gparam = model.get("gbtree_model_param", {})
            per_round = n_groups * (p.integer(gparam, "num_parallel_tree", f"{mpath}/gbtree_model_param", default=1, lo=1) if isinstance(gparam, dict) else 1)
            indptr = list(range(0, n_trees, per_round)) + [n_trees]
            if n_trees == 0:
                indptr = [0]
        if "cats" in model:
            categories = _categories(model["cats"], p, f"{mpath}/cats", num_feature)
    elif booster == "gblinear":
        model = p.obj(gb, "model", gp)
        w = p.array(model, "weights", f"{gp}/model", "float", (num_feature + 1) * n_groups)
        linear = w.reshape(num_feature + 1, n_groups)
        indptr = [0, 0]
    else:
        raise p.fail(f"{gp}/name", f"unknown booster {booster!r} (expected gbtree, dart or gblinear)")
    best = None
    attributes = learner.get("attributes", {})
    if not isinstance(attributes, dict):
        raise p.fail(f"{lp}/attributes", f"expected an object, found {_type_name(attributes)}")
    if "best_iteration" in attributes:
        best = p.integer(attributes, "best_iteration", f"{lp}/attributes", lo=0)
    return _Booster(
        best_iteration=best,
        version=version,
        objective=objective,
        booster=booster,
        num_feature=num_feature,
        n_groups=n_groups,
        base_margin=base_margin,
        feature_names=list(names),
        feature_types=list(types),
        categories=categories,
        trees=trees,
        iteration_indptr=indptr,
        linear_weights=linear,
        multi_target=kind != "multi" and n_groups > 1,
    )


def _categories(cats: Any, p: _Path, path: str, num_feature: int) -> dict:
    """The category names of the features that the model's encoder (3.1+) knows, by index."""
    out: dict = {}
    if not isinstance(cats, dict):
        raise p.fail(path, f"expected an object, found {_type_name(cats)}")
    enc = cats.get("enc", [])
    if not isinstance(enc, list):
        raise p.fail(f"{path}/enc", f"expected an array, found {_type_name(enc)}")
    if enc and len(enc) != num_feature:
        raise p.fail(f"{path}/enc", f"{len(enc)} entries for num_feature {num_feature}")
    for j, e in enumerate(enc):
        ep = f"{path}/enc[{j}]"
        if not isinstance(e, dict):
            raise p.fail(ep, f"expected an object, found {_type_name(e)}")
        values = e.get("values", [])
        offsets = e.get("offsets", [])
        if isinstance(values, np.ndarray):
            values = values.tolist()
        if isinstance(offsets, np.ndarray):
            offsets = offsets.tolist()
        if not isinstance(values, list) or not isinstance(offsets, list):
            raise p.fail(ep, "values and offsets must be arrays")
        if offsets:  # strings: UTF-8 bytes in values, start offsets in offsets
            if not all(isinstance(b, int) and 0 <= b < 256 for b in values):
                raise p.fail(f"{ep}/values", "expected bytes (integers 0..255)")
            raw = bytes(values)
            ends = list(offsets[1:]) + [len(raw)] if offsets[-1] != len(raw) else list(offsets[1:])
            starts = list(offsets[: len(ends)])
            names = []
            for a, b in zip(starts, ends):
                if not (isinstance(a, int) and isinstance(b, int) and 0 <= a <= b <= len(raw)):
                    raise p.fail(f"{ep}/offsets", f"offsets {_short(offsets)} do not fit {len(raw)} bytes")
                try:
                    names.append(raw[a:b].decode("utf-8"))
                except UnicodeDecodeError:
                    raise p.fail(f"{ep}/values", "a category that is not UTF-8") from None
            out[j] = tuple(names)
        elif values:  # numeric categories
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
                raise p.fail(f"{ep}/values", "expected numbers")
            out[j] = tuple(repr(x) if isinstance(x, int) or not float(x).is_integer() else repr(int(x)) for x in values)
    return out


def _validate_tree(t: Any, p: _Path, path: str, num_feature: int, group: int, weight: np.float32, n_groups: int) -> _Tree:
    if not isinstance(t, dict):
        raise p.fail(path, f"expected an object, found {_type_name(t)}")
    tp = p.obj(t, "tree_param", path)
    n = p.integer(tp, "num_nodes", f"{path}/tree_param", lo=1)
    leaf_size = p.integer(tp, "size_leaf_vector", f"{path}/tree_param", default=1, lo=0, hi=1 << 16) or 1
    left = p.array(t, "left_children", path, "int", n)
    right = p.array(t, "right_children", path, "int", n)
    feature = p.array(t, "split_indices", path, "int", n)
    cond = p.array(t, "split_conditions", path, "float", n)
    default_left = p.array(t, "default_left", path, "bool", n)
    split_type = p.array(t, "split_type", path, "int", n, required=False)
    if len(split_type) == 0:
        split_type = np.zeros(n, dtype=np.int64)
    elif len(split_type) != n:
        raise p.fail(f"{path}/split_type", f"expected {n} elements, found {len(split_type)}")
    if leaf_size > 1:
        if n_groups != leaf_size:
            raise p.fail(f"{path}/tree_param/size_leaf_vector", f"{leaf_size} leaf values for {n_groups} outputs")
        if "leaf_weights" in t:
            # Multi-target trees (3.x): a leaf has left child -1 and, as its right child, the
            # index of its vector in leaf_weights.
            lw = p.array(t, "leaf_weights", path, "float")
            if len(lw) % leaf_size:
                raise p.fail(f"{path}/leaf_weights", f"{len(lw)} values are not vectors of {leaf_size}")
            lw = lw.reshape(-1, leaf_size)
            is_leaf = left == -1
            idx = right[is_leaf]
            if np.any((idx < 0) | (idx >= len(lw))):
                i = int(np.flatnonzero(is_leaf)[np.flatnonzero((idx < 0) | (idx >= len(lw)))[0]])
                raise p.fail(f"{path}/right_children[{i}]", f"leaf index {int(right[i])} is out of range [0, {len(lw)})")
            values = np.zeros((n, leaf_size), dtype=np.float32)
            values[is_leaf] = lw[idx]
            right = np.where(is_leaf, -1, right)
        else:
            bw = p.array(t, "base_weights", path, "float", n * leaf_size)
            values = bw.reshape(n, leaf_size)
    else:
        values = cond.reshape(n, 1)
    for name, arr in (("left_children", left), ("right_children", right)):
        bad = (arr < -1) | (arr >= n) | (arr == 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise p.fail(f"{path}/{name}[{i}]", f"child index {int(arr[i])} is out of range (1..{n - 1}, or -1 for a leaf)")
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        i = int(np.flatnonzero(leaf != (right == -1))[0])
        raise p.fail(f"{path}/left_children[{i}]", f"node {i} has one child ({int(left[i])}, {int(right[i])})")
    inner = ~leaf
    if np.any(inner & ((feature < 0) | (feature >= num_feature))):
        i = int(np.flatnonzero(inner & ((feature < 0) | (feature >= num_feature)))[0])
        raise p.fail(f"{path}/split_indices[{i}]", f"feature index {int(feature[i])} is out of range [0, {num_feature})")
    nan_split = inner & np.isnan(cond) & (split_type != 1)
    if np.any(nan_split):
        i = int(np.flatnonzero(nan_split)[0])
        raise p.fail(f"{path}/split_conditions[{i}]", "a split threshold that is NaN")
    if np.any(~np.isfinite(values[leaf])):
        i = int(np.flatnonzero(leaf & ~np.isfinite(values).all(axis=1))[0])
        raise p.fail(f"{path}/split_conditions[{i}]", "a leaf value that is not a finite number")
    # Every node is reached at most once from the root: no cycles, no shared children;
    # the walk is iterative and bounded by the node count.
    seen = np.zeros(n, dtype=bool)
    depth = np.zeros(n, dtype=np.int64)
    stack = [0]
    seen[0] = True
    while stack:
        i = stack.pop()
        if leaf[i]:
            continue
        for c in (int(left[i]), int(right[i])):
            if seen[c]:
                raise p.fail(f"{path}", f"node {c} is reached twice (a cycle or a shared child, from node {i})")
            seen[c] = True
            depth[c] = depth[i] + 1
            if depth[c] > MAX_DEPTH:
                raise p.fail(f"{path}", f"deeper than {MAX_DEPTH} levels")
            stack.append(c)
    cats: dict[int, tuple[int, ...]] = {}
    is_cat = (split_type == 1) & inner
    if np.any(is_cat):
        nodes = p.array(t, "categories_nodes", path, "int")
        segs = p.array(t, "categories_segments", path, "int", len(nodes))
        sizes = p.array(t, "categories_sizes", path, "int", len(nodes))
        flat = p.array(t, "categories", path, "int")
        for k, (nid, s, z) in enumerate(zip(nodes.tolist(), segs.tolist(), sizes.tolist())):
            if not (0 <= nid < n) or s < 0 or z < 0 or s + z > len(flat) or z > MAX_CATEGORIES:
                raise p.fail(f"{path}/categories_nodes[{k}]", f"node {nid}, segment {s}+{z} do not fit the tree")
            codes = flat[s : s + z]
            if np.any(codes < 0):
                raise p.fail(f"{path}/categories", f"negative category {int(codes[codes < 0][0])} at node {nid}")
            cats[nid] = tuple(sorted({int(c) for c in codes}))
        missing = [int(i) for i in np.flatnonzero(is_cat) if int(i) not in cats and seen[i]]
        if missing:
            raise p.fail(f"{path}/categories_nodes", f"categorical split node {missing[0]} has no categories")
    return _Tree(left, right, feature, cond.astype(np.float32), default_left != 0, is_cat, values.astype(np.float32), cats, group, weight)


# --- feature map ------------------------------------------------------------------------------------


def _read_fmap(path: Any) -> list[tuple[str, str]]:
    """[(name, type)] of an XGBoost feature map file."""
    try:
        with open(os.fspath(path), "rb") as f:
            raw = f.read()
    except (OSError, TypeError) as exc:
        raise NativeFormat(f"Cannot read the feature map {path!r}: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NativeFormat(f"Feature map {path}: not UTF-8 text") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 3:
            raise NativeFormat(f"Feature map {path}, line {lineno}: expected '<index>\\t<name>\\t<type>', found {line!r}")
        idx, name, ftype = parts
        if idx.strip() != str(len(out)):
            raise NativeFormat(f"Feature map {path}, line {lineno}: index {idx!r}, expected {len(out)}")
        if ftype not in ("q", "i", "int", "float", "c"):
            raise NativeFormat(f"Feature map {path}, line {lineno}: unknown feature type {ftype!r} (q, i, int, float, c)")
        out.append((name, ftype))
    return out


# --- the IR -------------------------------------------------------------------------------------------


def _flat_tree(parent, kind, pfield, pop, pvalue, score, node_id, strings: dict, objects: list) -> FlatTree:
    """A FlatTree of nodes in pre-order (no record counts, no ScoreDistributions)."""
    return FlatTree.scores_only(
        parent=parent, pred_kind=kind, pred_field=pfield, pred_op=pop, pred_value=pvalue, score=score,
        node_id=node_id, strings=list(strings), objects=objects,
    )


def _f32(v: float) -> str:
    """The exact decimal of a float32 (parsed back as float or double, it is the same number)."""
    return repr(float(np.float32(v)))


@dataclass
class _Feature:
    """How feature ``j`` reads the input: a numeric field, an indicator of a field's value
    (one-hot), a boolean indicator, or a categorical field (names or integer codes)."""

    field: str
    kind: str  # number indicator boolean category code
    value: str | None = None  # the category of an indicator
    names: tuple[str, ...] | None = None  # category names by code


def _features(b: _Booster, trees: list[_Tree], fmap: list[tuple[str, str]] | None, where: str) -> dict[int, _Feature]:
    """The features the model reads, by index (only those: num_feature may be large)."""
    names = b.feature_names
    types = b.feature_types
    if fmap is not None:
        if len(fmap) != b.num_feature:
            raise _fail(where, f"the feature map has {len(fmap)} features, the model num_feature {b.num_feature}")
        names = [n for n, _ in fmap]
        types = [t for _, t in fmap]
    if b.linear_weights is not None:
        used = range(b.num_feature)  # bounded by the weights in the file
    else:
        used = sorted({int(j) for t in trees for j in t.feature[t.left != -1]})
    out: dict[int, _Feature] = {}
    for j in used:
        name = names[j] if names else f"f{j}"
        ftype = types[j] if types else "float"
        if ftype in ("q", "float", "int"):
            out[j] = _Feature(name, "number")
        elif ftype == "i":
            if "=" in name:
                field, value = name.split("=", 1)
                out[j] = _Feature(field, "indicator", value=value)
            else:
                out[j] = _Feature(name, "boolean")
        elif ftype == "c":
            if b.linear_weights is not None:
                raise UnsupportedMarkup(f"XGBoost model{where}: gblinear with the categorical feature {name!r}")
            cats = b.categories.get(j)
            out[j] = _Feature(name, "category", names=cats) if cats is not None else _Feature(name, "code")
        else:
            raise _fail(where, f"learner/feature_types[{j}]: unknown feature type {ftype!r} (q, i, int, float, c)")
    return out


class _Builder:
    def __init__(self, b: _Booster, features: dict[int, _Feature], where: str):
        self.b = b
        self.features = features
        self.where = where
        # One-hot columns: a value that no indicator names sets every indicator to 0 (as the
        # encoder that made the columns does), so it is a valid input, not an invalid one.
        self.as_is = {f.field for f in features.values() if f.kind == "indicator"}

    def mining_field(self, name: str) -> MiningField:
        if name in self.as_is:
            return MiningField(name=name, invalid_value_treatment="asIs")
        return MiningField(name=name)

    # -- trees

    def split(self, t: _Tree, i: int) -> tuple[Any, Any]:
        """(left predicate, right predicate) of node ``i``."""
        f = self.features[int(t.feature[i])]
        c = t.threshold[i]
        if t.is_cat[i]:
            codes = t.categories[i]
            if f.kind == "category":
                names = f.names or ()
                right = tuple(names[k] for k in codes if k < len(names))
                if not right:
                    right_p = None
                else:
                    right_p = SimpleSetPredicate(field=f.field, boolean_operator="isIn", values=right)
                if right_p is None:
                    raise _fail(self.where, f"categorical split on {f.field!r} lists no known category")
                return (
                    SimpleSetPredicate(field=f.field, boolean_operator="isNotIn", values=right),
                    right_p,
                )
            if f.kind == "code":
                right = tuple(str(k) for k in codes)
                return (
                    SimpleSetPredicate(field=f.field, boolean_operator="isNotIn", values=right, array_type="int"),
                    SimpleSetPredicate(field=f.field, boolean_operator="isIn", values=right, array_type="int"),
                )
            raise _fail(self.where, f"a categorical split on the non-categorical feature {f.field!r}")
        if f.kind == "number":
            v = _f32(c)
            return (
                SimplePredicate(field=f.field, operator="lessThan", value=v),
                SimplePredicate(field=f.field, operator="greaterOrEqual", value=v),
            )
        # Indicators are 0 or 1: "x < c" sends 0 left and 1 right when 0 < c <= 1.
        if not (0.0 < float(c) <= 1.0):
            raise UnsupportedMarkup(
                f"XGBoost model{self.where}: the split 'x < {float(c)!r}' on the indicator {f.field!r} sends every value one way"
            )
        if f.kind == "indicator":
            return (
                SimplePredicate(field=f.field, operator="notEqual", value=f.value),
                SimplePredicate(field=f.field, operator="equal", value=f.value),
            )
        # boolean
        return (
            SimplePredicate(field=f.field, operator="equal", value="false"),
            SimplePredicate(field=f.field, operator="equal", value="true"),
        )

    def tree(self, t: _Tree, output: int) -> TreeModel:
        """One XGBoost tree as a TreeModel over a FlatTree (``ir.flat``).

        The missing-value route is expressed without defaultChild: a split's children are,
        in document order, the child a present value may reach by its predicate, then the
        default child with a True predicate. With missingValueStrategy "none" ("comparisons
        with missing values ... evaluate to FALSE", PMML 4.4) a missing value fails the first
        predicate and enters the default child, as XGBoost routes it; a present value enters
        the first child exactly when it satisfies its predicate. One test per split, and the
        array lowering of ``kernels._flat`` applies.
        """
        strings = StringIds()
        sid = strings.id

        objects: list = []
        used: set[str] = set()
        parent: list[int] = []
        kind: list[int] = []
        pfield: list[int] = []
        pop: list[int] = []
        pvalue: list[int] = []
        score: list[int] = []
        node_id: list[int] = []
        k_leaf = output if t.values.shape[1] > 1 else 0
        scale = t.weight != np.float32(1.0)
        # pre-order: a node, then the subtree of its first child, then that of its second
        stack: list[tuple[int, int, Any]] = [(0, -1, None)]
        while stack:
            i, par, pred = stack.pop()
            k = len(parent)
            parent.append(par)
            node_id.append(sid(str(i)))
            if pred is None:
                kind.append(PRED_TRUE)
                pfield.append(-1)
                pop.append(0)
                pvalue.append(-1)
            elif isinstance(pred, SimplePredicate):
                kind.append(PRED_SIMPLE)
                pfield.append(sid(pred.field))
                pop.append(OPERATOR_CODES[pred.operator])
                pvalue.append(sid(pred.value) if pred.value is not None else -1)
            else:
                kind.append(PRED_OBJECT)
                pfield.append(-1)
                pop.append(0)
                pvalue.append(len(objects))
                objects.append(pred)
            left = int(t.left[i])
            if left == -1:
                value = np.float32(t.values[i, k_leaf])
                if scale:
                    value = np.float32(value * t.weight)
                score.append(sid(_f32(value)))
                continue
            score.append(-1)
            right = int(t.right[i])
            left_pred, right_pred = self.split(t, i)
            used.add(self.features[int(t.feature[i])].field)
            if t.default_left[i]:
                first, first_pred, default = right, right_pred, left
            else:
                first, first_pred, default = left, left_pred, right
            stack.append((default, k, None))
            stack.append((first, k, first_pred))
        flat = _flat_tree(parent, kind, pfield, pop, pvalue, score, node_id, strings, objects)
        return TreeModel.from_flat(
            flat,
            function_name="regression",
            mining_schema=tuple(self.mining_field(u) for u in sorted(used)),
            missing_value_strategy="none",
            split_characteristic="binarySplit",
            math_context="float",
        )

    def margin_model(self, group: int, trees: list[_Tree], target: str | None, output: str | None):
        """The margin of one output group: base margin + the sum of its trees."""
        base = float(self.b.base_margin[group])
        schema = (MiningField(name=target, usage_type="target"),) if target else ()
        outputs = (OutputField(name=output, op_type=OpType.CONTINUOUS, data_type=DataType.FLOAT, is_final_result=False),) if output else None
        if self.b.linear_weights is not None:
            # gblinear.cc adds the first base score to every group's margin
            # ("psum = bias[gid] + base_score(0)").
            return self.linear_model(group, float(self.b.base_margin[0]), schema, outputs)
        chosen = [(t, group if t.values.shape[1] > 1 else 0) for t in trees if t.group == group or t.values.shape[1] > 1]
        if not chosen:
            return RegressionModel(
                function_name="regression",
                mining_schema=schema,
                output=outputs,
                tables=(RegressionTable(intercept=float(np.float32(base))),),
                math_context="float",
            )
        models = [self.tree(t, k) for t, k in chosen]
        if base != 0.0:
            # XGBoost starts each row's sum at the base margin and adds the trees in order, in
            # float32 ("out_preds = base_margin; out_preds += leaf" in cpu_predictor.cc). A
            # first one-leaf tree holding the base margin keeps that order of additions.
            flat = _flat_tree([-1], [PRED_TRUE], [-1], [0], [-1], [1], [0], {"0": 0, _f32(base): 1}, [])
            models.insert(0, TreeModel.from_flat(
                flat, function_name="regression", mining_schema=(), split_characteristic="binarySplit", math_context="float",
            ))
        segments = tuple(Segment(predicate=TruePredicate(), model=m, id=str(i + 1)) for i, m in enumerate(models))
        fields = sorted({mf.name for s in segments for mf in s.model.mining_schema})
        return MiningModel(
            function_name="regression",
            algorithm_name=f"XGBoost ({'GBTree' if self.b.booster != 'dart' else 'DART'})",
            mining_schema=schema + tuple(self.mining_field(f) for f in fields),
            output=outputs,
            math_context="float",
            segmentation=Segmentation(multiple_model_method="sum", segments=segments, missing_prediction_treatment="returnMissing"),
        )

    def linear_model(self, group: int, base: float, schema: tuple, outputs) -> RegressionModel:
        w = self.b.linear_weights
        numeric = []
        fields = []
        from quickscore.ir import CategoricalPredictor

        categorical = []
        for j, f in self.features.items():
            coef = float(w[j, group])
            if coef == 0.0:
                continue
            if f.kind == "number":
                numeric.append(NumericPredictor(name=f.field, coefficient=coef))
            elif f.kind == "indicator":
                categorical.append(CategoricalPredictor(name=f.field, value=f.value, coefficient=coef))
            elif f.kind == "boolean":
                categorical.append(CategoricalPredictor(name=f.field, value="true", coefficient=coef))
            if f.field not in fields:
                fields.append(f.field)
        intercept = float(np.float32(np.float32(w[-1, group]) + np.float32(base)))
        # gblinear skips a missing feature (it adds nothing): missing is replaced by 0; a
        # missing category matches no indicator.
        mf = []
        for name in fields:
            kind = next(f.kind for f in self.features.values() if f.field == name)
            if kind == "number":
                mf.append(MiningField(name=name, missing_value_treatment="asValue", missing_value_replacement="0"))
            else:
                mf.append(self.mining_field(name))
        return RegressionModel(
            function_name="regression",
            mining_schema=schema + tuple(mf),
            output=outputs,
            tables=(RegressionTable(intercept=intercept, numeric=tuple(numeric), categorical=tuple(categorical)),),
            math_context="float",
        )

    # -- data dictionary

    def data_fields(self, used: set[str]) -> list[DataField]:
        out: dict[str, DataField] = {}
        indicator_values: dict[str, list[str]] = {}
        for f in self.features.values():
            if f.field not in used:
                continue
            if f.kind == "number" or f.kind == "code":
                out.setdefault(f.field, DataField(name=f.field, data_type=DataType.FLOAT, op_type=OpType.CONTINUOUS))
            elif f.kind == "boolean":
                out.setdefault(f.field, DataField(name=f.field, data_type=DataType.BOOLEAN, op_type=OpType.CATEGORICAL, values=("false", "true")))
            elif f.kind == "category":
                out.setdefault(f.field, DataField(name=f.field, data_type=DataType.STRING, op_type=OpType.CATEGORICAL, values=tuple(f.names or ())))
            else:  # indicator
                indicator_values.setdefault(f.field, []).append(f.value or "")
                out.setdefault(f.field, None)  # type: ignore[arg-type]
        for name, values in indicator_values.items():
            if name in out and out[name] is not None:
                raise _fail(self.where, f"the feature {name!r} is both an indicator group and another feature")
            out[name] = DataField(name=name, data_type=DataType.STRING, op_type=OpType.CATEGORICAL, values=tuple(dict.fromkeys(values)))
        return list(out.values())


def _limit(b: _Booster, iterations: Any, where: str) -> list[_Tree]:
    rounds = len(b.iteration_indptr) - 1
    if iterations is None:
        if b.best_iteration is not None and b.linear_weights is None and b.best_iteration + 1 < rounds:
            # A model trained with early stopping predicts with its best rounds, as the R
            # package and the scikit-learn wrapper do ("predict ... uses best_iteration").
            return b.trees[: b.iteration_indptr[b.best_iteration + 1]]
        return b.trees
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TypeError(f"iterations must be a positive integer, not {iterations!r}")
    if b.linear_weights is not None:
        raise ValueError(f"iterations: a gblinear model{where} has no separate rounds")
    if not 1 <= iterations <= rounds:
        raise ValueError(f"iterations={iterations} is out of range: the model{where} has {rounds} boosting rounds")
    return b.trees[: b.iteration_indptr[int(iterations)]]


def _document(b: _Booster, features: dict[int, _Feature], trees: list[_Tree], source_name: str | None, where: str) -> Document:
    kind, link, _ = _OBJECTIVES[b.objective]
    bld = _Builder(b, features, where)
    groups = b.n_groups
    data_fields: list[DataField] = []
    version = ".".join(map(str, b.version)) if b.version else None

    def link_model(target: str, margin: str, classes: tuple[str, ...], prob_names: list[str], function: str) -> Any:
        """The model after the margin: a RegressionModel (link) or the hinge TreeModel."""
        margin_out = OutputField(
            name=MARGIN_OUTPUT if not b.multi_target else f"{MARGIN_OUTPUT}({target})",
            op_type=OpType.CONTINUOUS,
            data_type=DataType.FLOAT,
            feature="transformedValue",
            expression=FieldRef(field=margin),
        )
        if function == "regression":
            return RegressionModel(
                function_name="regression",
                mining_schema=(MiningField(name=target, usage_type="target"), MiningField(name=margin)),
                output=(margin_out,),
                tables=(RegressionTable(intercept=0.0, numeric=(NumericPredictor(name=margin, coefficient=1.0),)),),
                normalization_method=link,
                math_context="float",
            )
        probs = tuple(
            OutputField(name=pn, op_type=OpType.CONTINUOUS, data_type=DataType.FLOAT, feature="probability", value=c)
            for pn, c in zip(prob_names, classes)
        )
        if kind == "hinge":
            # binary:hinge: "pred > 0 ? 1 : 0"
            one = ScoreDistribution(value="1", record_count=1.0, probability=1.0)
            root = Node(
                predicate=TruePredicate(),
                children=(
                    Node(predicate=SimplePredicate(field=margin, operator="greaterThan", value="0"), score="1",
                         distribution=(ScoreDistribution(value="0", record_count=0.0, probability=0.0), one)),
                    Node(predicate=SimplePredicate(field=margin, operator="lessOrEqual", value="0"), score="0",
                         distribution=(ScoreDistribution(value="0", record_count=1.0, probability=1.0),
                                       ScoreDistribution(value="1", record_count=0.0, probability=0.0))),
                ),
            )
            return TreeModel(
                function_name="classification",
                mining_schema=(MiningField(name=target, usage_type="target"), MiningField(name=margin)),
                output=probs + (margin_out,),
                root=root,
                split_characteristic="binarySplit",
                math_context="float",
            )
        return RegressionModel(
            function_name="classification",
            mining_schema=(MiningField(name=target, usage_type="target"), MiningField(name=margin)),
            output=probs + (margin_out,),
            tables=(
                RegressionTable(intercept=0.0, target_category="1", numeric=(NumericPredictor(name=margin, coefficient=1.0),)),
                RegressionTable(intercept=0.0, target_category="0"),
            ),
            normalization_method="logit",
            math_context="float",
        )

    def single(group: int, target: str, prob_prefix: str) -> tuple[Any, DataField]:
        """The model of one target fed by output group ``group``."""
        if kind == "regression":
            field = DataField(name=target, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS)
            if link is None:
                return bld.margin_model(group, trees, target, None), field
            margin = MARGIN if not b.multi_target else f"{MARGIN}({target})"
            chain = (
                Segment(predicate=TruePredicate(), model=bld.margin_model(group, trees, None, margin), id="1"),
                Segment(predicate=TruePredicate(), model=link_model(target, margin, (), [], "regression"), id="2"),
            )
            m = MiningModel(
                function_name="regression",
                mining_schema=(MiningField(name=target, usage_type="target"),) + _active(chain, bld.as_is),
                math_context="float",
                segmentation=Segmentation(multiple_model_method="modelChain", segments=chain, missing_prediction_treatment="returnMissing"),
            )
            return m, field
        classes = ("0", "1")
        field = DataField(name=target, data_type=DataType.INTEGER, op_type=OpType.CATEGORICAL, values=classes)
        margin = MARGIN if not b.multi_target else f"{MARGIN}({target})"
        names = [f"probability({prob_prefix}{c})" for c in classes]
        chain = (
            Segment(predicate=TruePredicate(), model=bld.margin_model(group, trees, None, margin), id="1"),
            Segment(predicate=TruePredicate(), model=link_model(target, margin, classes, names, "classification"), id="2"),
        )
        m = MiningModel(
            function_name="classification",
            mining_schema=(MiningField(name=target, usage_type="target"),) + _active(chain, bld.as_is),
            math_context="float",
            segmentation=Segmentation(multiple_model_method="modelChain", segments=chain, missing_prediction_treatment="returnMissing"),
        )
        return m, field

    if kind == "multi":
        classes = tuple(str(k) for k in range(groups))
        target_field = DataField(name=TARGET, data_type=DataType.INTEGER, op_type=OpType.CATEGORICAL, values=classes)
        margins = [f"{MARGIN}({c})" for c in classes]
        segs = [
            Segment(predicate=TruePredicate(), model=bld.margin_model(g, trees, None, margins[g]), id=str(g + 1))
            for g in range(groups)
        ]
        outputs = tuple(
            OutputField(name=f"probability({c})", op_type=OpType.CONTINUOUS, data_type=DataType.FLOAT, feature="probability", value=c)
            for c in classes
        ) + tuple(
            OutputField(name=f"{MARGIN_OUTPUT}({c})", op_type=OpType.CONTINUOUS, data_type=DataType.FLOAT, feature="transformedValue", expression=FieldRef(field=margins[g]))
            for g, c in enumerate(classes)
        )
        softmax = RegressionModel(
            function_name="classification",
            mining_schema=(MiningField(name=TARGET, usage_type="target"),) + tuple(MiningField(name=m) for m in margins),
            output=outputs,
            tables=tuple(
                RegressionTable(intercept=0.0, target_category=c, numeric=(NumericPredictor(name=margins[g], coefficient=1.0),))
                for g, c in enumerate(classes)
            ),
            normalization_method="softmax",
            math_context="float",
        )
        segs.append(Segment(predicate=TruePredicate(), model=softmax, id=str(groups + 1)))
        model = MiningModel(
            function_name="classification",
            algorithm_name="XGBoost",
            mining_schema=(MiningField(name=TARGET, usage_type="target"),) + _active(segs, bld.as_is),
            math_context="float",
            segmentation=Segmentation(multiple_model_method="modelChain", segments=tuple(segs), missing_prediction_treatment="returnMissing"),
        )
        targets = [target_field]
    elif groups == 1:
        model, field = single(0, TARGET, "")
        targets = [field]
    else:
        targets = []
        segs = []
        for g in range(groups):
            name = f"{TARGET}{g + 1}"
            m, field = single(g, name, f"{name}, ")
            targets.append(field)
            segs.append(Segment(predicate=TruePredicate(), model=m, id=str(g + 1)))
        model = MiningModel(
            function_name="mixed",
            algorithm_name="XGBoost",
            mining_schema=tuple(MiningField(name=t.name, usage_type="target") for t in targets) + _active(segs, bld.as_is),
            math_context="float",
            segmentation=Segmentation(multiple_model_method="x-multiModelChain", segments=tuple(segs), missing_prediction_treatment="returnMissing"),
        )
    used = {mf.name for mf in model.mining_schema if mf.usage_type == "active"}
    data_fields = targets + bld.data_fields(used)
    return Document(
        format="xgboost",
        version=version,
        header=Header(application_name="XGBoost", application_version=version, description=f"objective {b.objective}, booster {b.booster}"),
        data_fields=tuple(data_fields),
        model=model,
        source_name=source_name,
    )


def _active(segments, as_is: frozenset = frozenset()) -> tuple[MiningField, ...]:
    """The input fields that the segments' models use (not the margins between them)."""
    names: list[str] = []
    produced: set[str] = set()
    for s in segments:
        for mf in s.model.mining_schema:
            if mf.usage_type == "active" and mf.name not in produced and mf.name not in names:
                names.append(mf.name)
        for of in s.model.output or ():
            produced.add(of.name)
    names = [n for n in names if n not in produced]
    return tuple(MiningField(name=n, invalid_value_treatment="asIs") if n in as_is else MiningField(name=n) for n in names)


def read_xgboost(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    """Read an XGBoost model (JSON, UBJSON or legacy binary) into the IR."""
    refuse_options("xgboost", options, known=("iterations", "feature_map"))
    where = f" ({source_name})" if source_name else ""
    data = b"".join(chunks)
    doc = _decode(data, where)
    booster = _validate(doc, where)
    fmap = _read_fmap(options["feature_map"]) if options.get("feature_map") is not None else None
    trees = _limit(booster, options.get("iterations"), where)
    features = _features(booster, trees, fmap, where)
    return _document(booster, features, trees, source_name, where)


FORMATS = [Format("xgboost", sniff, read_xgboost)]
