"""LightGBM text models (``model.txt``, format versions v2 to v4) read into the IR.

The file is what ``Booster.save_model`` / ``model_to_string`` writes: a ``tree`` line, a
header of ``key=value`` lines, one block per tree (``Tree=<i>``: parallel arrays over the
internal nodes and the leaves), ``end of trees``, then feature importances, the training
parameters and ``pandas_categorical:<JSON>``.

The IR built here is the shape jpmml-lightgbm writes, so the model runs on the same
lowering and numba kernels as a PMML file:

* every tree is a TreeModel (as arrays, ``ir.FlatTree``) of binary nodes: first the side a
  missing value does not take, with the split's predicate, then the other side with
  ``True``; under ``missingValueStrategy="none"`` a missing value goes where LightGBM sends
  it (see ``_tree_model``, ``_numeric_split`` and ``_categorical_split``);
* the trees of one output (one class) are a MiningModel ``sum`` (``average`` for
  ``average_output``, random-forest mode);
* the objective's output transform is a last ``modelChain`` segment: a RegressionModel with
  ``logit`` (binary, with the model's sigmoid parameter as the coefficient), ``softmax``
  (multiclass), ``exp`` (poisson, gamma, tweedie), or a local transformation (the softplus
  of cross_entropy_lambda, the signed square of ``sqrt`` regression); identity objectives
  (regression, the ranking objectives, a custom objective) are the sum alone;
* linear trees (``is_linear=1``) are one MiningModel ``selectFirst`` per tree, one segment
  per leaf whose predicate is the leaf's whole path, holding the leaf's linear model (see
  ``_linear_tree``).

Outputs: the target ``_target`` (LightGBM files do not name it), ``probability(<class>)``
for the classes ``0`` .. ``K-1``, and the raw score ``margin`` (``margin(<class>)``
for each class of a multiclass model) wherever the objective transforms it.

Malformed files are refused with :class:`quickscore.errors.NativeFormat` naming the line,
the key and the bad value: a truncated file, wrong types, array lengths that disagree with
``num_leaves``, child indices out of range, cycles or shared subtrees, an unknown objective,
a format version other than v2..v4.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quickscore.errors import NativeFormat
from quickscore.io import Format, refuse_options
from quickscore.ir import (
    Apply,
    CompoundPredicate,
    Constant,
    DataField,
    DataType,
    DerivedField,
    Document,
    FalsePredicate,
    FieldRef,
    Header,
    MiningField,
    MiningModel,
    NumericPredictor,
    OpType,
    OutputField,
    PredictorTerm,
    RegressionModel,
    RegressionTable,
    Segment,
    Segmentation,
    SimplePredicate,
    SimpleSetPredicate,
    TransformationDictionary,
    TreeModel,
    TruePredicate,
)
from quickscore.ir.flat import (
    OPERATOR_CODES,
    PRED_FALSE,
    PRED_OBJECT,
    PRED_SIMPLE,
    PRED_TRUE,
    FlatTree,
    StringIds,
)

__all__ = ["FORMATS", "read_lightgbm", "sniff_lightgbm"]

FORMAT_NAME = "lightgbm"
VERSIONS = ("v2", "v3", "v4")

# include/LightGBM/meta.h: "const double kZeroThreshold = 1e-35f;" (a float literal).
K_ZERO = float(np.float32(1e-35))
# Trees deeper than this are refused: the lowering walks trees recursively (LightGBM's own
# trees are far shallower: num_leaves 31 gives depth <= 30).
MAX_DEPTH = 500
# LightGBM's own upper bound of num_leaves (config.h: "num_leaves ... constraints: 1 < num_leaves <= 131072").
MAX_LEAVES = 131072

RAW = "margin"  # the visible raw score column (the XGBoost reader's name too)
_INTERNAL = "_lgbm_raw"  # the chained segment's output field that carries it


# --- objectives ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Objective:
    kind: str  # regression | binary | multiclass | ova
    link: str  # identity | exp | softplus | sigmoid | softmax


# src/objective/objective_function.cpp, CreateObjectiveFunction: the names a model file carries
# (the objective's GetName()) and what its ConvertOutput does.
OBJECTIVES: dict[str, _Objective] = {
    # RegressionL2loss::ConvertOutput: identity ("sqrt": Sign(x) * x * x), and its subclasses
    "regression": _Objective("regression", "identity"),
    "regression_l1": _Objective("regression", "identity"),
    "huber": _Objective("regression", "identity"),
    "fair": _Objective("regression", "identity"),
    "quantile": _Objective("regression", "identity"),
    "mape": _Objective("regression", "identity"),
    # RegressionPoissonLoss / Gamma / Tweedie: "output[0] = std::exp(input[0])"
    "poisson": _Objective("regression", "exp"),
    "gamma": _Objective("regression", "exp"),
    "tweedie": _Objective("regression", "exp"),
    # Ranking objectives output the raw score.
    "lambdarank": _Objective("regression", "identity"),
    "rank_xendcg": _Objective("regression", "identity"),
    # BinaryLogloss: "output[0] = 1.0f / (1.0f + std::exp(-sigmoid_ * input[0]))"
    "binary": _Objective("binary", "sigmoid"),
    # CrossEntropy: "output[0] = 1.0f / (1.0f + std::exp(-input[0]))" (a probability: a
    # binary classifier, as jpmml-lightgbm reads it)
    "cross_entropy": _Objective("binary", "sigmoid"),
    # CrossEntropyLambda: "output[0] = std::log1p(std::exp(input[0]))" (lambda, a regression)
    "cross_entropy_lambda": _Objective("regression", "softplus"),
    # MulticlassSoftmax: Common::Softmax over the classes
    "multiclass": _Objective("multiclass", "softmax"),
    # MulticlassOVA: one BinaryLogloss per class, not normalised
    "multiclassova": _Objective("ova", "sigmoid"),
    # A custom objective (fobj): predictions are the raw score.
    "custom": _Objective("regression", "identity"),
}

# config.cpp ParseObjectiveAlias: older files (LightGBM 2.x) wrote some of these.
ALIASES = {
    "regression_l2": "regression", "l2": "regression", "mean_squared_error": "regression", "mse": "regression",
    "l2_root": "regression", "root_mean_squared_error": "regression", "rmse": "regression",
    "l1": "regression_l1", "mean_absolute_error": "regression_l1", "mae": "regression_l1",
    "mean_absolute_percentage_error": "mape",
    "xentropy": "cross_entropy", "xentlambda": "cross_entropy_lambda",
    "softmax": "multiclass", "multiclass_ova": "multiclassova", "ova": "multiclassova", "ovr": "multiclassova",
    "xendcg": "rank_xendcg", "xe_ndcg": "rank_xendcg", "xe_ndcg_mart": "rank_xendcg", "xendcg_mart": "rank_xendcg",
    "none": "custom", "null": "custom", "na": "custom",
}


# --- the parsed file ------------------------------------------------------------------------------


@dataclass
class _Tree:
    index: int
    line: int
    num_leaves: int
    split_feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    decision_type: list[int] = field(default_factory=list)
    left_child: list[int] = field(default_factory=list)
    right_child: list[int] = field(default_factory=list)
    leaf_value: list[float] = field(default_factory=list)
    cat_boundaries: list[int] = field(default_factory=list)
    cat_threshold: list[int] = field(default_factory=list)
    is_linear: bool = False
    leaf_const: list[float] = field(default_factory=list)
    leaf_features: list[list[int]] = field(default_factory=list)
    leaf_coeff: list[list[float]] = field(default_factory=list)


@dataclass
class _Booster:
    version: str
    num_class: int
    num_tree_per_iteration: int
    objective: str
    objective_params: dict[str, str]
    sqrt: bool
    average_output: bool
    feature_names: list[str]
    feature_infos: list[str] | None
    trees: list[_Tree]
    parameters: dict[str, str]
    pandas_categorical: list | None
    pandas_line: int | None = None  # the line of pandas_categorical, for messages


class _Lines:
    """The file's lines with 1-based numbers, for messages that say where."""

    def __init__(self, text: str, where: str):
        self.lines = text.split("\n")
        self.where = where
        self.i = 0

    def error(self, message: str, line: int | None = None) -> NativeFormat:
        at = f" at line {line}" if line else ""
        return NativeFormat(f"LightGBM model{self.where}{at}: {message}")


def _fail(lines: _Lines, message: str, line: int | None = None) -> NativeFormat:
    return lines.error(message, line)


def _ints(lines: _Lines, text: str, key: str, line: int) -> list[int]:
    try:
        return [int(t) for t in text.split()]
    except ValueError:
        bad = next(t for t in text.split() if not _is_int(t))
        raise _fail(lines, f"{key}: {_show(bad)} is not an integer", line) from None


def _floats(lines: _Lines, text: str, key: str, line: int) -> list[float]:
    try:
        return [float(t) for t in text.split()]
    except ValueError:
        bad = next(t for t in text.split() if not _is_float(t))
        raise _fail(lines, f"{key}: {_show(bad)} is not a number", line) from None


def _is_int(t: str) -> bool:
    try:
        int(t)
        return True
    except ValueError:
        return False


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _show(value: str, n: int = 60) -> str:
    return repr(value if len(value) <= n else value[:n] + "...")


def _int(lines: _Lines, text: str, key: str, line: int, low: int, high: int) -> int:
    try:
        v = int(text.strip())
    except ValueError:
        raise _fail(lines, f"{key}: {_show(text)} is not an integer", line) from None
    if not low <= v <= high:
        raise _fail(lines, f"{key}: {v} is out of range [{low}, {high}]", line)
    return v


def _parse(text: str, where: str) -> _Booster:
    lines = _Lines(text, where)
    ls = lines.lines
    n = len(ls)
    i = 0
    while i < n and not ls[i].strip():
        i += 1
    if i >= n or ls[i].strip() != "tree":
        raise _fail(lines, "the file does not start with the line 'tree' (not a LightGBM text model)", i + 1 if i < n else None)
    i += 1
    header: dict[str, tuple[str, int]] = {}
    average_output = False
    while i < n:
        raw = ls[i].rstrip("\r")
        s = raw.strip()
        if s.startswith("Tree=") or s == "end of trees":
            break
        if s == "average_output":
            average_output = True
        elif s:
            key, eq, value = s.partition("=")
            if not eq:
                raise _fail(lines, f"header line {_show(s)} is not key=value", i + 1)
            header[key] = (value, i + 1)
        i += 1
    # Version: v2 (LightGBM 2.x), v3 (3.x), v4 (4.x).
    if "version" not in header:
        raise _fail(lines, "the header has no 'version' line", 2)
    version, vline = header["version"]
    version = version.strip()
    if version not in VERSIONS:
        raise _fail(lines, f"version: {_show(version)} is not a supported format version (supported: {', '.join(VERSIONS)})", vline)
    for required in ("num_class", "max_feature_idx"):
        if required not in header:
            raise _fail(lines, f"the header has no '{required}' line", 2)
    num_class = _int(lines, header["num_class"][0], "num_class", header["num_class"][1], 1, 1 << 20)
    ntpi_text, ntpi_line = header.get("num_tree_per_iteration", (str(num_class), header["num_class"][1]))
    ntpi = _int(lines, ntpi_text, "num_tree_per_iteration", ntpi_line, 1, 1 << 20)
    max_feature_idx = _int(lines, header["max_feature_idx"][0], "max_feature_idx", header["max_feature_idx"][1], 0, (1 << 31) - 2)
    n_features = max_feature_idx + 1
    if "feature_names" in header:
        names_text, names_line = header["feature_names"]
        feature_names = names_text.split()
        if len(feature_names) != n_features:
            raise _fail(lines, f"feature_names: {len(feature_names)} names for max_feature_idx={max_feature_idx} ({n_features} features)", names_line)
    else:  # LightGBM's default names
        if n_features > 1_000_000:
            raise _fail(lines, f"max_feature_idx: {max_feature_idx} features without feature_names", header["max_feature_idx"][1])
        feature_names = [f"Column_{j}" for j in range(n_features)]
    if len(set(feature_names)) != len(feature_names):
        dup = next(f for j, f in enumerate(feature_names) if f in feature_names[:j])
        raise _fail(lines, f"feature_names: the name {dup!r} occurs twice", header["feature_names"][1])
    feature_infos = None
    if "feature_infos" in header:
        infos_text, infos_line = header["feature_infos"]
        feature_infos = infos_text.split()
        if len(feature_infos) != n_features:
            raise _fail(lines, f"feature_infos: {len(feature_infos)} entries for {n_features} features", infos_line)
    objective, params, sqrt = _objective(lines, header.get("objective"), num_class)
    trees: list[_Tree] = []
    while i < n:
        s = ls[i].strip()
        if not s:
            i += 1
            continue
        if s == "end of trees":
            break
        if not s.startswith("Tree="):
            raise _fail(lines, f"expected 'Tree=<index>' or 'end of trees', found {_show(s)}", i + 1)
        index = _int(lines, s[5:], "Tree", i + 1, 0, 1 << 31)
        if index != len(trees):
            raise _fail(lines, f"Tree={index} where Tree={len(trees)} was expected", i + 1)
        start = i + 1
        i += 1
        block: dict[str, tuple[str, int]] = {}
        while i < n:
            s = ls[i].strip()
            if not s or s.startswith("Tree=") or s == "end of trees":
                break
            key, eq, value = s.partition("=")
            if not eq:
                if i == n - 1 or not any(x.strip() for x in ls[i + 1 :]):
                    raise _fail(lines, f"Tree={index}: the file ends inside the tree, at {_show(s)} (truncated?)", i + 1)
                raise _fail(lines, f"Tree={index}: line {_show(s)} is not key=value", i + 1)
            block[key] = (value, i + 1)
            i += 1
        trees.append(_tree(lines, index, start, block, n_features))
    if i >= n:
        raise _fail(lines, f"the file ends after {len(trees)} trees without 'end of trees' (truncated?)")
    i += 1
    parameters: dict[str, str] = {}
    pandas_categorical = None
    pandas_line = None
    while i < n:
        s = ls[i].strip()
        if s == "parameters:":
            i += 1
            while i < n and ls[i].strip() != "end of parameters":
                p = ls[i].strip()
                if p.startswith("[") and p.endswith("]") and ":" in p:
                    key, _, value = p[1:-1].partition(":")
                    parameters[key.strip()] = value.strip()
                i += 1
        elif s.startswith("pandas_categorical:"):
            payload = s[len("pandas_categorical:"):]
            try:
                pandas_categorical = json.loads(payload)
            except (ValueError, RecursionError):
                raise _fail(lines, f"pandas_categorical: {_show(payload)} is not JSON", i + 1) from None
            if pandas_categorical is not None and not (
                isinstance(pandas_categorical, list) and all(isinstance(c, list) for c in pandas_categorical)
            ):
                raise _fail(lines, f"pandas_categorical: {_show(payload)} is not a list of lists", i + 1)
            pandas_line = i + 1
        i += 1
    if not trees:
        raise _fail(lines, "the model has no trees")
    if len(trees) % ntpi:
        raise _fail(lines, f"{len(trees)} trees is not a multiple of num_tree_per_iteration={ntpi} (truncated?)")
    kind = OBJECTIVES[objective].kind
    if kind in ("multiclass", "ova") and ntpi != num_class:
        raise _fail(lines, f"num_tree_per_iteration={ntpi} differs from num_class={num_class} of the objective {objective!r}", ntpi_line)
    if kind in ("regression", "binary") and ntpi != 1:
        raise _fail(lines, f"num_tree_per_iteration={ntpi} with the objective {objective!r} (one tree per iteration expected)", ntpi_line)
    return _Booster(version, num_class, ntpi, objective, params, sqrt, average_output, feature_names, feature_infos, trees, parameters, pandas_categorical, pandas_line)


def _objective(lines: _Lines, entry: tuple[str, int] | None, num_class: int) -> tuple[str, dict[str, str], bool]:
    """(canonical name, parameters, sqrt) of the ``objective=`` line.

    GBDT::SaveModelToString writes "objective=" << objective_function_->ToString(), e.g.
    ``binary sigmoid:1``, ``multiclass num_class:3``, ``regression sqrt``; no line at all when
    the model was trained with a custom objective (then predictions are the raw score).
    """
    if entry is None:
        return "custom", {}, False
    text, line = entry
    tokens = text.split()
    if not tokens:
        return "custom", {}, False
    name = ALIASES.get(tokens[0], tokens[0])
    if name not in OBJECTIVES:
        raise _fail(lines, f"objective: {_show(tokens[0])} is not a LightGBM objective quickscore knows (known: {', '.join(sorted(OBJECTIVES))})", line)
    params: dict[str, str] = {}
    sqrt = False
    for t in tokens[1:]:
        if t == "sqrt":
            sqrt = True
        elif ":" in t:
            k, _, v = t.partition(":")
            params[k] = v
    if "sigmoid" in params:
        try:
            s = float(params["sigmoid"])
        except ValueError:
            raise _fail(lines, f"objective: sigmoid:{_show(params['sigmoid'])} is not a number", line) from None
        if not (math.isfinite(s) and s > 0):
            raise _fail(lines, f"objective: sigmoid:{params['sigmoid']} must be a positive number", line)
    if "num_class" in params and params["num_class"].strip() != str(num_class):
        raise _fail(lines, f"objective: num_class:{params['num_class']} differs from num_class={num_class}", line)
    if sqrt and OBJECTIVES[name].link != "identity":
        sqrt = False  # LightGBM: "Cannot use sqrt transform in ... Regression, will auto disable it"
    return name, params, sqrt


def _tree(lines: _Lines, index: int, start: int, block: dict[str, tuple[str, int]], n_features: int) -> _Tree:
    where = f"Tree={index}"

    def need(key: str) -> tuple[str, int]:
        if key not in block:
            raise _fail(lines, f"{where}: no '{key}' line (truncated?)", start)
        return block[key]

    text, line = need("num_leaves")
    L = _int(lines, text, f"{where}: num_leaves", line, 1, MAX_LEAVES)
    t = _Tree(index, start, L)

    def array(key: str, parse, length: int) -> list:
        text, line = need(key)
        values = parse(lines, text, f"{where}: {key}", line)
        if len(values) != length:
            raise _fail(lines, f"{where}: {key} has {len(values)} values, {length} expected for num_leaves={L}", line)
        return values

    t.leaf_value = array("leaf_value", _floats, L)
    if L > 1:
        t.split_feature = array("split_feature", _ints, L - 1)
        t.threshold = array("threshold", _floats, L - 1)
        t.decision_type = array("decision_type", _ints, L - 1)
        t.left_child = array("left_child", _ints, L - 1)
        t.right_child = array("right_child", _ints, L - 1)
        text, line = block.get("num_cat", ("0", start))
        num_cat = _int(lines, text, f"{where}: num_cat", line, 0, L - 1)
        if num_cat:
            t.cat_boundaries = array("cat_boundaries", _ints, num_cat + 1)
            b = t.cat_boundaries
            if b[0] != 0 or any(b[j] > b[j + 1] for j in range(num_cat)):
                raise _fail(lines, f"{where}: cat_boundaries {_show(block['cat_boundaries'][0])} must start at 0 and not decrease", block["cat_boundaries"][1])
            t.cat_threshold = array("cat_threshold", _ints, b[-1])
            if any(not 0 <= w < (1 << 32) for w in t.cat_threshold):
                bad = next(w for w in t.cat_threshold if not 0 <= w < (1 << 32))
                raise _fail(lines, f"{where}: cat_threshold: {bad} is not a 32-bit bitset word", block["cat_threshold"][1])
        for j in range(L - 1):
            f = t.split_feature[j]
            if not 0 <= f < n_features:
                raise _fail(lines, f"{where}: split_feature[{j}] = {f} is not a feature index (0..{n_features - 1})", block["split_feature"][1])
            dt = t.decision_type[j]
            if not 0 <= dt <= 127 or (dt >> 2) & 3 == 3:
                raise _fail(lines, f"{where}: decision_type[{j}] = {dt} is not a LightGBM decision type", block["decision_type"][1])
            thr = t.threshold[j]
            if dt & 1:
                if not (thr == int(thr) if math.isfinite(thr) else False) or not 0 <= int(thr) < num_cat:
                    raise _fail(lines, f"{where}: threshold[{j}] = {thr!r} of a categorical split is not a cat_boundaries index (0..{num_cat - 1})", block["threshold"][1])
            elif math.isnan(thr):
                raise _fail(lines, f"{where}: threshold[{j}] is NaN", block["threshold"][1])
            for key, child in (("left_child", t.left_child[j]), ("right_child", t.right_child[j])):
                if not (0 <= child < L - 1 if child >= 0 else 0 <= ~child < L):
                    raise _fail(lines, f"{where}: {key}[{j}] = {child} is out of range (internal nodes 0..{L - 2}, leaves -1..-{L})", block[key][1])
        _check_structure(lines, t, where)
    text, line = block.get("is_linear", ("0", start))
    t.is_linear = _int(lines, text, f"{where}: is_linear", line, 0, 1) == 1
    if t.is_linear:
        t.leaf_const = array("leaf_const", _floats, L)
        counts = array("num_features", _ints, L)
        if any(c < 0 for c in counts):
            raise _fail(lines, f"{where}: num_features has a negative count", block["num_features"][1])
        total = sum(counts)
        text, fline = block.get("leaf_features", ("", start))
        feats = _ints(lines, text, f"{where}: leaf_features", fline)
        text, cline = block.get("leaf_coeff", ("", start))
        coeffs = _floats(lines, text, f"{where}: leaf_coeff", cline)
        if len(feats) != total:
            raise _fail(lines, f"{where}: leaf_features has {len(feats)} values, num_features sums to {total}", fline)
        if len(coeffs) != total:
            raise _fail(lines, f"{where}: leaf_coeff has {len(coeffs)} values, num_features sums to {total}", cline)
        if any(not 0 <= f < n_features for f in feats):
            bad = next(f for f in feats if not 0 <= f < n_features)
            raise _fail(lines, f"{where}: leaf_features: {bad} is not a feature index (0..{n_features - 1})", fline)
        pos = 0
        for c in counts:
            t.leaf_features.append(feats[pos : pos + c])
            t.leaf_coeff.append(coeffs[pos : pos + c])
            pos += c
    return t


def _check_structure(lines: _Lines, t: _Tree, where: str) -> None:
    """Every internal node and leaf is reached exactly once from node 0, within MAX_DEPTH."""
    L = t.num_leaves
    seen_nodes = bytearray(L - 1)
    seen_leaves = bytearray(L)
    stack = [(0, 0)]
    seen_nodes[0] = 1
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise _fail(lines, f"{where}: the tree is deeper than {MAX_DEPTH} levels", t.line)
        for child in (t.left_child[node], t.right_child[node]):
            if child >= 0:
                if seen_nodes[child]:
                    raise _fail(lines, f"{where}: node {child} is reached twice (a cycle or a shared subtree)", t.line)
                seen_nodes[child] = 1
                stack.append((child, depth + 1))
            else:
                leaf = ~child
                if seen_leaves[leaf]:
                    raise _fail(lines, f"{where}: leaf {leaf} is reached twice", t.line)
                seen_leaves[leaf] = 1
    if not all(seen_nodes) or not all(seen_leaves):
        missing = [f"node {j}" for j in range(L - 1) if not seen_nodes[j]] + [f"leaf {j}" for j in range(L) if not seen_leaves[j]]
        raise _fail(lines, f"{where}: {', '.join(missing[:5])} cannot be reached from the root", t.line)


# --- fields -----------------------------------------------------------------------------------------


@dataclass
class _Feature:
    name: str
    categories: tuple[str, ...] | None = None  # pandas categories (as text): codes are positions
    data_type: DataType = DataType.DOUBLE


def _features(lines: _Lines, b: _Booster) -> list[_Feature]:
    """Feature names and, from ``pandas_categorical``, the categories of pandas category columns.

    lightgbm.basic._data_from_pandas: "cat_cols = [col for col, dtype in zip(data.columns,
    data.dtypes) if isinstance(dtype, pd_CategoricalDtype)]", ``pandas_categorical`` keeps
    each one's categories in that order, and the columns are passed as their codes ("-1"
    replaced by NaN). The file does not say which features those columns are: they are the
    categorical features when the counts agree (the usual case: jpmml-lightgbm's reading);
    otherwise the one increasing assignment of the lists to features whose ``feature_infos``
    fit (category codes below the list's length); an ambiguous file is refused.
    """
    features = [_Feature(name) for name in b.feature_names]
    cats = b.pandas_categorical
    if not cats:
        return features
    line = b.pandas_line
    infos = b.feature_infos or ["none"] * len(features)
    categorical = _categorical_features(b, infos)
    if len(categorical) == len(cats):
        indices = categorical
    else:
        fits = [[j for j in range(len(features)) if _fits(infos[j], len(values))] for values in cats]
        found = _assignments(fits, len(features))
        if len(found) != 1:
            among = set(categorical)
            found = _assignments([[j for j in f if j in among] for f in fits], len(features))
        if len(found) != 1:
            raise _fail(
                lines,
                f"pandas_categorical has {len(cats)} category lists for {len(categorical)} categorical features, "
                f"and which features they belong to is {'ambiguous' if found else 'not consistent with feature_infos'}",
                line,
            )
        indices = found[0]
    for j, values in zip(indices, cats):
        features[j].data_type, features[j].categories = _category_type(lines, values, features[j].name, line)
    return features


def _categorical_features(b: _Booster, infos: list[str]) -> list[int]:
    text = b.parameters.get("categorical_feature")
    if text:
        try:
            found = sorted({int(t) for t in text.replace(",", " ").split()})
            if all(0 <= j < len(infos) for j in found):
                return found
        except ValueError:
            pass
    return [j for j, info in enumerate(infos) if info != "none" and not info.startswith("[")]


def _fits(info: str, m: int) -> bool:
    """Can a feature with this ``feature_infos`` entry hold the codes of m categories?"""
    if info == "none":
        return True
    try:
        if info.startswith("["):
            lo, hi = (float(v) for v in info[1:-1].split(":"))
            return 0.0 <= lo and hi <= m - 1
        return all(-1 <= int(v) < m for v in info.split(":"))
    except ValueError:
        return False


def _assignments(fits: list[list[int]], n_features: int) -> list[list[int]]:
    """The increasing choices of one feature per list (features from ``fits``): none, the
    one, or two of them (then it is ambiguous). Counted by dynamic programming, capped at 2."""
    m = len(fits)
    if m * (n_features + 1) > 5_000_000:
        return []
    ok = [bytearray(n_features) for _ in range(m)]
    for i, js in enumerate(fits):
        for j in js:
            ok[i][j] = 1
    # ways[i][j]: assignments of lists i.. to features >= j (capped at 2)
    ways = [[0] * (n_features + 1) for _ in range(m + 1)]
    ways[m] = [1] * (n_features + 1)
    for i in range(m - 1, -1, -1):
        row, nxt, fit = ways[i], ways[i + 1], ok[i]
        for j in range(n_features - 1, -1, -1):
            row[j] = min(2, row[j + 1] + (nxt[j + 1] if fit[j] else 0))
    total = ways[0][0]
    if total != 1:
        return [[], []] if total > 1 else []
    chosen, j = [], 0
    for i in range(m):
        while not (ok[i][j] and ways[i + 1][j + 1]):
            j += 1
        chosen.append(j)
        j += 1
    return [chosen]


def _category_type(lines: _Lines, values: list, name: str, line: int | None) -> tuple[DataType, tuple[str, ...]]:
    if all(isinstance(v, bool) for v in values):
        return DataType.BOOLEAN, tuple("true" if v else "false" for v in values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return DataType.INTEGER, tuple(str(v) for v in values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return DataType.DOUBLE, tuple(repr(float(v)) for v in values)
    if all(isinstance(v, str) for v in values):
        return DataType.STRING, tuple(values)
    bad = next(v for v in values if not isinstance(v, (str, int, float)))
    raise _fail(lines, f"pandas_categorical: the categories of {name!r} hold {bad!r}, not a string, number or boolean", line)


# --- splits -------------------------------------------------------------------------------------


def _le(name: str, x: float) -> SimplePredicate:
    return SimplePredicate(field=name, operator="lessOrEqual", value=repr(x))


def _cmp(name: str, op: str, x: float) -> SimplePredicate:
    return SimplePredicate(field=name, operator=op, value=repr(float(x)))


def _numeric_split(name: str, threshold: float, decision_type: int):
    """(predicate of the left child, does a missing value go left) for a numerical split.

    Tree::NumericalDecision (tree.h)::

        if (std::isnan(fval) && missing_type != MissingType::NaN) fval = 0.0f;
        if ((missing_type == MissingType::Zero && IsZero(fval))
            || (missing_type == MissingType::NaN && std::isnan(fval))) {
          if (GetDecisionType(decision_type_[node], kDefaultLeftMask)) return left_child_[node];
          else return right_child_[node];
        }
        if (fval <= threshold_[node]) return left_child_[node]; else return right_child_[node];

    and IsZero(fval) is ``fval >= -kZeroThreshold && fval <= kZeroThreshold``. Besides, the
    predict API hands rows over as (index, value) pairs that drop ``|x| <= kZeroThreshold``
    (c_api.cpp, RowPairFunctionFromDenseMatric), so such an x is 0 at every split. Hence with
    B = [-kZ, kZ]: x in B goes where 0 goes, other present x go left iff x <= t.
    """
    missing_type = (decision_type >> 2) & 3
    default_left = bool(decision_type & 2)
    t = threshold
    band_left = default_left if missing_type == 1 else 0.0 <= t
    nan_left = default_left if missing_type in (1, 2) else 0.0 <= t
    kz = K_ZERO
    if t >= kz:
        if band_left:
            pred = _le(name, t)
        else:  # x < -kZ or kZ < x <= t
            pred = CompoundPredicate(
                boolean_operator="or",
                predicates=(_cmp(name, "lessThan", -kz), CompoundPredicate(boolean_operator="and", predicates=(_cmp(name, "greaterThan", kz), _le(name, t)))),
            )
    elif t >= -kz:  # -kZ <= t < kZ: present x outside B go left iff x < -kZ
        pred = _le(name, kz) if band_left else _cmp(name, "lessThan", -kz)
    else:
        if band_left:  # x <= t or x in B
            pred = CompoundPredicate(
                boolean_operator="or",
                predicates=(_le(name, t), CompoundPredicate(boolean_operator="and", predicates=(_cmp(name, "greaterOrEqual", -kz), _le(name, kz)))),
            )
        else:
            pred = _le(name, t)
    return pred, nan_left


def _bitset(words: list[int]) -> list[int]:
    """Common::FindInBitset: code c is in the set iff bit c % 32 of word c / 32 is set."""
    out = []
    for w, word in enumerate(words):
        while word:
            low = word & -word
            out.append(w * 32 + low.bit_length() - 1)
            word ^= low
    return out


def _categorical_split(feature: _Feature, codes: list[int]):
    """(predicate of the left child, False: a missing value goes right) for a categorical split.

    Tree::CategoricalDecision (tree.h)::

        if (std::isnan(fval)) return right_child_[node];
        int_fval = static_cast<int>(fval);
        if (int_fval < 0) return right_child_[node];
        if (Common::FindInBitset(cat_threshold_ ..., int_fval)) return left_child_[node];
        return right_child_[node];

    With pandas categories the input is the category and its code is its position; a value
    that is not a category is NaN to LightGBM (an unknown category gets code -1, replaced by
    NaN), here the field's invalid value treatment ``asMissing``. Without categories the
    input is the number itself: truncated toward zero, so code c is the interval [c, c+1)
    (and (-1, 1) for c = 0).
    """
    name = feature.name
    if feature.categories is not None:
        values = tuple(feature.categories[c] for c in codes if c < len(feature.categories))
        if not values:
            return FalsePredicate(), False
        return SimpleSetPredicate(field=name, boolean_operator="isIn", values=values, array_type=_array_type(feature)), False
    runs: list[tuple[int, int]] = []
    for c in sorted(codes):
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    parts = []
    for lo, hi in runs:
        low = _cmp(name, "greaterThan", -1.0) if lo == 0 else _cmp(name, "greaterOrEqual", float(lo))
        parts.append(CompoundPredicate(boolean_operator="and", predicates=(low, _cmp(name, "lessThan", float(hi + 1)))))
    if not parts:
        return FalsePredicate(), False
    return (parts[0] if len(parts) == 1 else CompoundPredicate(boolean_operator="or", predicates=tuple(parts))), False


def _split(t: _Tree, node: int, features: list[_Feature], lines: _Lines):
    f = features[t.split_feature[node]]
    dt = t.decision_type[node]
    if dt & 1:
        c = int(t.threshold[node])
        codes = _bitset(t.cat_threshold[t.cat_boundaries[c] : t.cat_boundaries[c + 1]])
        return _categorical_split(f, codes)
    if f.categories is not None:
        return _coded_numeric_split(f, t.threshold[node], dt)
    return _numeric_split(f.name, t.threshold[node], dt)


def _coded_numeric_split(feature: _Feature, threshold: float, decision_type: int):
    """A numerical split on the codes of a pandas category column (an ordered categorical,
    which LightGBM treats as a number): the categories whose code goes left, as a set.

    The code c goes as NumericalDecision sends the value c (code 0 is "zero" for
    missing_type Zero); an unknown category or a missing value is NaN.
    """
    missing_type = (decision_type >> 2) & 3
    default_left = bool(decision_type & 2)
    nan_left = default_left if missing_type in (1, 2) else 0.0 <= threshold
    left = []
    for c, value in enumerate(feature.categories or ()):
        goes_left = default_left if (missing_type == 1 and c == 0) else c <= threshold
        if goes_left:
            left.append(value)
    if not left:
        return FalsePredicate(), nan_left
    return SimpleSetPredicate(field=feature.name, boolean_operator="isIn", values=tuple(left), array_type=_array_type(feature)), nan_left


def _array_type(feature: _Feature) -> str:
    return {DataType.INTEGER: "int", DataType.DOUBLE: "real"}.get(feature.data_type, "string")


# --- trees --------------------------------------------------------------------------------------


def _tree_model(t: _Tree, features: list[_Feature], lines: _Lines) -> TreeModel:
    """A constant-leaf tree as arrays (``ir.FlatTree``, in pre-order).

    Each split is a node with two children: first the side a missing value does *not* take,
    with the split's predicate (negated when that side is the right one), then the other
    side with ``True``. Under ``missingValueStrategy="none"`` a missing value makes the
    predicate UNKNOWN, taken as FALSE, so the row goes on to the ``True`` child: the
    direction LightGBM sends it. With SimplePredicates only (numerical splits) the kernels
    lower such trees vectorised.
    """
    n = 2 * t.num_leaves - 1
    strings = StringIds()
    sid = strings.id

    parent = np.empty(n, dtype=np.int32)
    kind = np.full(n, PRED_TRUE, dtype=np.int8)
    field_ = np.full(n, -1, dtype=np.int32)
    op = np.zeros(n, dtype=np.int8)
    value = np.full(n, -1, dtype=np.int32)
    score = np.full(n, -1, dtype=np.int32)
    objects: list = []
    used: dict[str, None] = {}
    # (LightGBM child reference, parent's index, the edge's predicate; None: True)
    stack: list[tuple[int, int, Any]] = [(0 if t.num_leaves > 1 else ~0, -1, None)]  # a lone leaf is the root
    i = 0
    while stack:
        ref, up, pred = stack.pop()
        parent[i] = up
        if isinstance(pred, SimplePredicate):
            kind[i] = PRED_SIMPLE
            field_[i] = sid(pred.field)
            op[i] = OPERATOR_CODES[pred.operator]
            value[i] = sid(pred.value) if pred.value is not None else -1
        elif isinstance(pred, FalsePredicate):
            kind[i] = PRED_FALSE
        elif pred is not None and not isinstance(pred, TruePredicate):
            kind[i] = PRED_OBJECT
            value[i] = len(objects)
            objects.append(pred)
        if ref < 0:
            score[i] = sid(repr(t.leaf_value[~ref]))
        else:
            split, missing_left = _split(t, ref, features, lines)
            used[features[t.split_feature[ref]].name] = None
            lc, rc = t.left_child[ref], t.right_child[ref]
            tested, other = ((rc, _negate(split)), lc) if missing_left else ((lc, split), rc)
            stack.append((other, i, None))  # after the tested child's whole subtree
            stack.append((tested[0], i, tested[1]))
        i += 1
    flat = FlatTree.scores_only(
        parent=parent, pred_kind=kind, pred_field=field_, pred_op=op, pred_value=value, score=score,
        strings=strings, objects=objects,
    )
    return TreeModel.from_flat(
        flat,
        function_name="regression",
        mining_schema=tuple(MiningField(name=name) for name in used),
        missing_value_strategy="none",
        no_true_child_strategy="returnNullPrediction",
        split_characteristic="binarySplit",
    )


def _negate(p):
    if isinstance(p, SimplePredicate):
        flip = {"lessOrEqual": "greaterThan", "greaterThan": "lessOrEqual", "lessThan": "greaterOrEqual", "greaterOrEqual": "lessThan"}
        return SimplePredicate(field=p.field, operator=flip[p.operator], value=p.value)
    if isinstance(p, SimpleSetPredicate):
        return SimpleSetPredicate(field=p.field, boolean_operator="isNotIn" if p.boolean_operator == "isIn" else "isIn", values=p.values, array_type=p.array_type)
    if isinstance(p, CompoundPredicate):
        op = "or" if p.boolean_operator == "and" else "and"
        return CompoundPredicate(boolean_operator=op, predicates=tuple(_negate(q) for q in p.predicates))
    if isinstance(p, FalsePredicate):
        return TruePredicate()
    return FalsePredicate()


def _missing(name: str, missing: bool) -> SimplePredicate:
    return SimplePredicate(field=name, operator="isMissing" if missing else "isNotMissing")


def _all(parts: list):
    if not parts:
        return TruePredicate()
    return parts[0] if len(parts) == 1 else CompoundPredicate(boolean_operator="and", predicates=tuple(parts))


#: Linear trees up to this depth are nested segmentations (each split evaluated once per
#: row); deeper ones are flat, one segment per leaf (the lowering nests Python calls per level).
NESTED_LINEAR_DEPTH = 64


def _leaf_model(t: _Tree, leaf: int, features: list[_Feature], one: str):
    """A linear leaf: ``leaf_const * one + coeff * x ...`` (in the file's order, the
    intercept 0 last), or its leaf value when one of its features is missing."""
    names = [features[f].name for f in t.leaf_features[leaf]]
    linear = RegressionModel(
        function_name="regression",
        mining_schema=tuple(MiningField(name=n) for n in dict.fromkeys([one, *names])),
        tables=(
            RegressionTable(
                intercept=0.0,
                numeric=(NumericPredictor(name=one, coefficient=t.leaf_const[leaf]),)
                + tuple(NumericPredictor(name=n, coefficient=c) for n, c in zip(names, t.leaf_coeff[leaf])),
            ),
        ),
    )
    if not names:
        return linear, [], {one: None}
    present = [_missing(n, False) for n in dict.fromkeys(names)]
    return linear, present, dict.fromkeys([one, *names])


def _linear_tree(t: _Tree, features: list[_Feature], lines: _Lines, one: str) -> MiningModel:
    """A linear tree as ``selectFirst`` segmentations.

    Tree::Predict (tree.h), for ``is_linear_``::

        int leaf = (num_leaves_ > 1) ? GetLeaf(feature_values) : 0;
        double output = leaf_const_[leaf];
        bool nan_found = false;
        for (size_t i = 0; i < leaf_features_[leaf].size(); ++i) {
          int feat_raw = leaf_features_[leaf][i];
          double feat_val = feature_values[feat_raw];
          if (std::isnan(feat_val)) { nan_found = true; break; }
          else { output += leaf_coeff_[leaf][i] * feat_val; }
        }
        if (nan_found) return LeafOutput(leaf); else return output;

    A leaf is a RegressionModel that adds ``leaf_const * 1`` first (the field ``one``), then
    each ``coeff * x`` in the file's order (RegressionModel adds numeric predictors in order,
    the intercept 0 last), so the sum is formed as LightGBM forms it; a segment "all its
    features present" selects it, the next one gives the leaf value. A split is a
    ``selectFirst`` of [left predicate -> left subtree, True -> right subtree]: a segment
    predicate that is UNKNOWN counts as FALSE, so a missing value goes right unless the
    left predicate is ``isMissing or ...`` (missing goes left). Trees deeper than
    NESTED_LINEAR_DEPTH are one flat segmentation of the leaves' whole paths instead.
    """
    if t.num_leaves > 1 and _depth(t) > NESTED_LINEAR_DEPTH:
        return _flat_linear_tree(t, features, lines, one)
    built: dict[int, tuple[Any, dict[str, None]]] = {}

    def leaf_segmentation(leaf: int):
        linear, present, used = _leaf_model(t, leaf, features, one)
        if not present:
            segs = (Segment(predicate=TruePredicate(), model=linear, id=f"L{leaf}"),)
        else:
            constant = RegressionModel(function_name="regression", mining_schema=(), tables=(RegressionTable(intercept=t.leaf_value[leaf]),))
            segs = (
                Segment(predicate=_all(present), model=linear, id=f"L{leaf}"),
                Segment(predicate=TruePredicate(), model=constant, id=f"L{leaf}.nan"),
            )
        model = MiningModel(
            function_name="regression",
            mining_schema=tuple(MiningField(name=n) for n in used),
            segmentation=Segmentation(multiple_model_method="selectFirst", segments=segs),
        )
        return model, used

    if t.num_leaves == 1:
        return leaf_segmentation(0)[0]
    order: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(c for c in (t.left_child[node], t.right_child[node]) if c >= 0)
    for node in reversed(order):
        pred, missing_left = _split(t, node, features, lines)
        name = features[t.split_feature[node]].name
        if missing_left:
            pred = CompoundPredicate(boolean_operator="or", predicates=(_missing(name, True), pred))
        parts = []
        used: dict[str, None] = {name: None}
        for child in (t.left_child[node], t.right_child[node]):
            model, child_used = leaf_segmentation(~child) if child < 0 else built.pop(child)
            parts.append(model)
            used.update(child_used)
        model = MiningModel(
            function_name="regression",
            mining_schema=tuple(MiningField(name=n) for n in used),
            segmentation=Segmentation(
                multiple_model_method="selectFirst",
                segments=(Segment(predicate=pred, model=parts[0], id="left"), Segment(predicate=TruePredicate(), model=parts[1], id="right")),
            ),
        )
        built[node] = (model, used)
    return built.pop(0)[0]


def _depth(t: _Tree) -> int:
    deepest = 0
    stack = [(0, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in (t.left_child[node], t.right_child[node]) if c >= 0)
    return deepest


def _flat_linear_tree(t: _Tree, features: list[_Feature], lines: _Lines, one: str) -> MiningModel:
    """A deep linear tree: one segment per leaf whose predicate is its whole path (each split
    made two-valued: a missing value routed as in ``_tree_model``)."""
    paths: list[tuple[int, list]] = []
    stack: list[tuple[int, list]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        pred, missing_left = _split(t, node, features, lines)
        name = features[t.split_feature[node]].name
        if missing_left:
            left = CompoundPredicate(boolean_operator="or", predicates=(_missing(name, True), pred))
            right = CompoundPredicate(boolean_operator="and", predicates=(_missing(name, False), _negate(pred)))
        else:
            left = CompoundPredicate(boolean_operator="and", predicates=(_missing(name, False), pred))
            right = CompoundPredicate(boolean_operator="or", predicates=(_missing(name, True), _negate(pred)))
        for child, cond in ((t.right_child[node], right), (t.left_child[node], left)):
            if child < 0:
                paths.append((~child, path + [cond]))
            else:
                stack.append((child, path + [cond]))
    paths.sort()
    segments = []
    used: dict[str, None] = {}
    for leaf, path in paths:
        for p in path:
            _fields_of(p, used)
        linear, present, leaf_used = _leaf_model(t, leaf, features, one)
        used.update(leaf_used)
        segments.append(Segment(predicate=_all(path + present), model=linear, id=f"L{leaf}"))
        if present:
            constant = RegressionModel(function_name="regression", mining_schema=(), tables=(RegressionTable(intercept=t.leaf_value[leaf]),))
            segments.append(Segment(predicate=_all(path), model=constant, id=f"L{leaf}.nan"))
    return MiningModel(
        function_name="regression",
        mining_schema=tuple(MiningField(name=n) for n in used),
        segmentation=Segmentation(multiple_model_method="selectFirst", segments=tuple(segments)),
    )


def _fields_of(p, out: dict[str, None]) -> None:
    if isinstance(p, (SimplePredicate, SimpleSetPredicate)):
        out[p.field] = None
    elif isinstance(p, CompoundPredicate):
        for q in p.predicates:
            _fields_of(q, out)


def _mining_schema_of(models) -> tuple[MiningField, ...]:
    names: dict[str, None] = {}
    for m in models:
        for mf in m.mining_schema:
            names[mf.name] = None
    return tuple(MiningField(name=n) for n in names)


# --- the document -----------------------------------------------------------------------------


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name = "_" + name
    taken.add(name)
    return name


def _build(b: _Booster, lines: _Lines, iterations: int | None, source_name: str | None) -> Document:
    features = _features(lines, b)
    K = b.num_tree_per_iteration
    n_iter = len(b.trees) // K
    if iterations is not None:
        if iterations > n_iter:
            raise ValueError(f"iterations={iterations}, but the LightGBM model has {n_iter} iterations")
        n_iter = iterations
    trees = b.trees[: n_iter * K]
    objective = OBJECTIVES[b.objective]
    taken = {f.name for f in features}
    target = _fresh("_target", taken)
    classification = objective.kind in ("binary", "multiclass", "ova")
    classes = tuple(str(k) for k in range(2 if objective.kind == "binary" else b.num_class)) if classification else ()
    one = None
    if any(t.is_linear for t in trees):
        one = _fresh("_one", taken)
    chained = objective.link != "identity" or b.sqrt
    # GBDT::PredictRaw: "output[k] += models_[i * num_tree_per_iteration_ + k]->Predict(features)"
    # over the iterations in order; GBDT::Predict then, with average_output, "output[k] /=
    # num_iteration_for_pred_" before ConvertOutput (the raw score is the sum). A chain keeps
    # the sum and divides in its last segment; a lone sum averages.
    method = "average" if b.average_output and not chained else "sum"
    sums = []
    for k in range(K):
        members = []
        for j, t in enumerate(trees[k::K]):
            model = _linear_tree(t, features, lines, one) if t.is_linear else _tree_model(t, features, lines)
            members.append(Segment(predicate=TruePredicate(), model=model, id=str(j * K + k)))
        sums.append(members)
    raw_names = [_fresh(f"{_INTERNAL}({k})" if K > 1 else _INTERNAL, taken) for k in range(K)]
    visible_raw = [_fresh(f"{RAW}({k})" if K > 1 else RAW, taken) for k in range(K)]
    data_fields = [
        DataField(name=f.name, data_type=f.data_type, op_type=OpType.CATEGORICAL if f.categories is not None else OpType.CONTINUOUS, values=f.categories or ())
        for f in features
    ]
    if classification:
        data_fields.append(DataField(name=target, data_type=DataType.INTEGER, op_type=OpType.CATEGORICAL, values=classes))
    else:
        data_fields.append(DataField(name=target, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS))
    top_schema = tuple(
        MiningField(name=f.name, invalid_value_treatment="asMissing" if f.categories is not None else "returnInvalid") for f in features
    ) + (MiningField(name=target, usage_type="target"),)
    transformations = TransformationDictionary()
    if one is not None:
        transformations = TransformationDictionary(
            derived_fields=(DerivedField(name=one, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS, expression=Constant(value="1.0", data_type=DataType.DOUBLE)),)
        )
    if not chained:
        model = MiningModel(
            function_name="regression",
            mining_schema=top_schema,
            algorithm_name="LightGBM",
            segmentation=Segmentation(multiple_model_method=method, segments=tuple(sums[0])),
        )
    else:
        segments = []
        for k in range(K):
            inner = MiningModel(
                function_name="regression",
                mining_schema=_mining_schema_of(s.model for s in sums[k]),
                output=(OutputField(name=raw_names[k], op_type=OpType.CONTINUOUS, data_type=DataType.DOUBLE, is_final_result=False),),
                segmentation=Segmentation(multiple_model_method=method, segments=tuple(sums[k])),
            )
            segments.append(Segment(predicate=TruePredicate(), model=inner, id=f"raw({k})" if K > 1 else "raw"))
        link_model, outputs = _link(b, objective, raw_names, visible_raw, classes, target, taken, n_iter if b.average_output else None)
        segments.append(Segment(predicate=TruePredicate(), model=link_model, id="link"))
        model = MiningModel(
            function_name="classification" if classification else "regression",
            mining_schema=top_schema,
            algorithm_name="LightGBM",
            output=outputs,
            segmentation=Segmentation(multiple_model_method="modelChain", segments=tuple(segments)),
        )
    header = Header(application_name="LightGBM", description=f"LightGBM text model, objective {b.objective}")
    return Document(
        format=FORMAT_NAME,
        version=b.version,
        header=header,
        data_fields=tuple(data_fields),
        model=model,
        transformations=transformations,
        source_name=source_name,
    )


def _link(b: _Booster, objective: _Objective, sums: list[str], visible: list[str], classes: tuple, target: str, taken: set[str], average: int | None):
    """The last segment of the chain (the objective's ConvertOutput) and the model's outputs.

    ``average``: the number of iterations the sums are divided by (average_output), or None.
    """
    raw_outputs = tuple(
        OutputField(name=v, op_type=OpType.CONTINUOUS, data_type=DataType.DOUBLE, feature="transformedValue", expression=FieldRef(field=r))
        for v, r in zip(visible, sums)
    )
    schema = tuple(MiningField(name=r) for r in sums)
    local: tuple[DerivedField, ...] = ()
    raw = list(sums)
    values = [FieldRef(field=r) for r in sums]
    if average is not None:
        n = Constant(value=repr(float(average)), data_type=DataType.DOUBLE)
        values = [Apply(function="/", args=(FieldRef(field=r), n)) for r in sums]
        raw = [_fresh(f"{r}/{average}", taken) for r in sums]
        local = tuple(DerivedField(name=a, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS, expression=v) for a, v in zip(raw, values))
    sigmoid = float(b.objective_params.get("sigmoid", "1"))
    if objective.kind == "binary":
        # BinaryLogloss::ConvertOutput: 1 / (1 + exp(-sigmoid * raw)); p(0) = 1 - p(1).
        sig = sigmoid if b.objective == "binary" else 1.0
        model = RegressionModel(
            function_name="classification",
            mining_schema=schema + (MiningField(name=target, usage_type="target"),),
            normalization_method="logit",
            local_transformations=local,
            tables=(
                RegressionTable(intercept=0.0, target_category="1", numeric=(NumericPredictor(name=raw[0], coefficient=sig),)),
                RegressionTable(intercept=0.0, target_category="0"),
            ),
        )
        return model, _probabilities(classes) + raw_outputs
    if objective.kind in ("multiclass", "ova"):
        # MulticlassSoftmax: Common::Softmax(raw); MulticlassOVA: the class with the largest
        # raw score is the one with the largest sigmoid (the label; its probabilities follow).
        model = RegressionModel(
            function_name="classification",
            mining_schema=schema + (MiningField(name=target, usage_type="target"),),
            normalization_method="softmax",
            local_transformations=local,
            tables=tuple(
                RegressionTable(intercept=0.0, target_category=c, numeric=(NumericPredictor(name=r, coefficient=1.0),)) for c, r in zip(classes, raw)
            ),
        )
        if objective.kind == "multiclass":
            return model, _probabilities(classes) + raw_outputs
        # MulticlassOVA::ConvertOutput: "output[i] = 1.0f / (1.0f + std::exp(-sigmoid_ * input[i]))"
        # for every class, not normalised.
        probs = tuple(
            OutputField(
                name=f"probability({c})",
                op_type=OpType.CONTINUOUS,
                data_type=DataType.DOUBLE,
                feature="transformedValue",
                expression=_sigmoid(v, sigmoid),
            )
            for c, v in zip(classes, values)
        )
        return model, probs + raw_outputs
    if objective.link == "exp":
        model = RegressionModel(
            function_name="regression",
            mining_schema=schema,
            normalization_method="exp",
            local_transformations=local,
            tables=(RegressionTable(intercept=0.0, numeric=(NumericPredictor(name=raw[0], coefficient=1.0),)),),
        )
        return model, raw_outputs
    if objective.link == "softplus":
        lam = _fresh("_lgbm_lambda", taken)
        model = RegressionModel(
            function_name="regression",
            mining_schema=schema,
            local_transformations=local
            + (
                DerivedField(
                    name=lam,
                    data_type=DataType.DOUBLE,
                    op_type=OpType.CONTINUOUS,
                    expression=Apply(function="log1p", args=(Apply(function="exp", args=(FieldRef(field=raw[0]),)),)),
                ),
            ),
            tables=(RegressionTable(intercept=0.0, numeric=(NumericPredictor(name=lam, coefficient=1.0),)),),
        )
        return model, raw_outputs
    # "sqrt" regression: RegressionL2loss::ConvertOutput "output[0] = Common::Sign(input[0]) * input[0] * input[0]"
    absolute = _fresh("_lgbm_abs", taken)
    model = RegressionModel(
        function_name="regression",
        mining_schema=schema,
        local_transformations=local
        + (
            DerivedField(name=absolute, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS, expression=Apply(function="abs", args=(FieldRef(field=raw[0]),))),
        ),
        tables=(RegressionTable(intercept=0.0, terms=(PredictorTerm(coefficient=1.0, fields=(raw[0], absolute)),)),),
    )
    return model, raw_outputs


def _sigmoid(x, s: float):
    """1 / (1 + exp(-s * x)), in LightGBM's order of operations."""
    scaled = Apply(function="*", args=(Constant(value=repr(-s), data_type=DataType.DOUBLE), x))
    exp = Apply(function="exp", args=(scaled,))
    return Apply(
        function="/",
        args=(Constant(value="1.0", data_type=DataType.DOUBLE), Apply(function="+", args=(Constant(value="1.0", data_type=DataType.DOUBLE), exp))),
    )


def _probabilities(classes: tuple) -> tuple[OutputField, ...]:
    return tuple(
        OutputField(name=f"probability({c})", op_type=OpType.CONTINUOUS, data_type=DataType.DOUBLE, feature="probability", value=c) for c in classes
    )


# --- the format -----------------------------------------------------------------------------------


def sniff_lightgbm(head: bytes) -> bool:
    """A LightGBM text model starts with the line ``tree``, then ``version=v<n>`` (or other
    ``key=value`` header lines)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    lines = head.lstrip(b" \t\r\n").split(b"\n", 2)
    if len(lines) < 2 or lines[0].rstrip(b"\r \t") != b"tree":
        return False
    second = lines[1].strip()
    return b"=" in second and second.split(b"=", 1)[0].replace(b"_", b"").isalnum()


def read_lightgbm(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    """Read a LightGBM text model. ``options``: ``iterations`` (score with the first N)."""
    refuse_options(FORMAT_NAME, options, known=("iterations",))
    iterations = options.get("iterations")
    if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1):
        raise ValueError(f"iterations must be a positive integer, not {iterations!r}")
    data = b"".join(chunks)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    where = f" ({source_name})" if source_name else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NativeFormat(f"LightGBM model{where}: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    if "\x00" in text:
        raise NativeFormat(f"LightGBM model{where}: a NUL byte at offset {text.index(chr(0))} (a binary file?)")
    booster = _parse(text, where)
    lines = _Lines("", where)
    return _build(booster, lines, None if iterations is None else int(iterations), source_name)


FORMATS = [Format(FORMAT_NAME, sniff_lightgbm, read_lightgbm)]
