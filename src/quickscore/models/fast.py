"""Glue between the reference evaluators and the numba tree kernels (``quickscore.kernels``).

A TreeModel, or a segmentation of TreeModels, runs on the kernels when ``lower_trees`` can
express every tree exactly and the ensemble is one the fused kernels combine the way
``MiningCore`` does (every segment predicate True, nothing between a tree and the
aggregation: no local transformations, MiningSchema treatments, Targets or output fields).
Anything else keeps the reference evaluator; ``Model.engine`` says which runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quickscore import kernels
from quickscore.kernels import ensemble
from quickscore._memory import BIG_NODES, release_memory
from quickscore.ir import TreeModel, TruePredicate
from quickscore.outputs.prediction import Prediction
from quickscore.runtime.frame import Frame

if TYPE_CHECKING:
    from quickscore.models.base import Context
    from quickscore.models.mining import MiningCore
    from quickscore.models.tree import TreeCore

ENGINES = ("auto", "reference")


def lower(trees: list[TreeModel], ctx: "Context") -> "kernels.TreeArrays | None":
    """The kernels' arrays for ``trees`` (fields typed from ``ctx.scope``), or None."""
    if ctx.engine == "reference":
        return None
    for t in trees:
        if t.flat is not None:
            try:
                t.flat.validate()
            except ValueError:
                return None  # the reference evaluator reports it
    fields = encodings(trees, ctx)
    if fields is None:
        return None
    arrays = kernels.lower_trees(trees, fields)
    if arrays is not None and arrays.n_nodes > BIG_NODES:
        release_memory()  # the lowering's temporaries
    return arrays


def encodings(trees: list[TreeModel], ctx: "Context") -> "dict | None":
    """The FieldEncodings ``lower`` gives the kernels for ``trees`` (None: a field is unknown)."""
    out = {}
    for i, name in enumerate(kernels.predicate_fields(trees)):
        decl = ctx.scope.find(name)
        if decl is None:
            return None
        categories = () if decl.data_type.is_numeric else tuple(decl.valid)
        out[name] = kernels.FieldEncoding(i, decl.data_type, categories)
    return out


def precomputed(spec: dict, trees: list[TreeModel], ctx: "Context") -> "kernels.TreeArrays | None | object":
    """TreeArrays from a .qsm file's lowered arrays when they were made for these fields;
    else the pending marker (lower them again)."""
    from quickscore.io.qsm import tree_arrays
    from quickscore.models.tree import _PENDING

    if ctx.engine == "reference":
        return None
    # The arrays were lowered from these very trees (the file is checksummed); the fields
    # must still be typed as they were then.
    for name, enc in spec["fields"].items():
        decl = ctx.scope.find(name)
        if decl is None or decl.data_type is not enc.data_type or enc.categories != (() if decl.data_type.is_numeric else tuple(decl.valid)):
            return _PENDING
    if len(spec["roots"]) != len(trees) or spec["node_offsets"][-1] != sum(_n_nodes(t) for t in trees):
        return _PENDING
    return tree_arrays(spec)


def _n_nodes(model: TreeModel) -> int:
    return model.flat.n_nodes if model.flat is not None else -1


def matrix(arrays: "kernels.TreeArrays", frame: Frame, n_threads: int | None = 1) -> np.ndarray:
    return arrays.encode({name: frame.get(name).values for name in arrays.used}, frame.n, n_threads)


def tree_leaves(core: "TreeCore", frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """``TreeCore.leaves`` on the kernels."""
    idx, levels = kernels.leaf_indices(matrix(core.arrays, frame, core.ctx.threads()), core.arrays, levels=True, n_threads=core.ctx.threads())
    return idx[:, 0].astype(np.int64), levels[:, 0].astype(np.int64)


class FusedEnsemble:
    """A segmentation of trees scored by one fused kernel call."""

    def __init__(self, core: "MiningCore", arrays: "kernels.TreeArrays", trees: list["TreeCore"], table: np.ndarray | None = None):
        """``table``: the per-node table a .qsm file holds (io/qsm), used where the trees' own
        tables are its rows (``_joined``), instead of a copy of them."""
        self.core = core
        self.arrays = arrays
        self.weights = np.array([s.weight for s in core.segments])
        self.n_trees = len(trees)
        method = core.method
        self.weighted = method.startswith("weighted")
        if not core.ctx.classification:
            self.kind = "values"
            if _joined(trees, "scores", table):
                self.table = table
                return
            self.table = np.concatenate([t.scores for t in trees]).astype(np.float64)
            _share(trees, self.table, "scores")
        elif method in ("majorityVote", "weightedMajorityVote"):
            self.kind = "votes"
            parts = []
            for t in trees:
                labels = _node_labels(t)
                parts.append(np.array([-1 if v is None else core.classes.index(v) for v in labels], dtype=np.int64))
            self.table = np.concatenate(parts)
        else:
            self.kind = "probabilities"
            if all(t.classes == core.classes for t in trees) and _joined(trees, "probabilities", table):
                self.table = table
                return
            parts = []
            for t in trees:
                if t.classes == core.classes:  # the same columns: the table rows are the tree's
                    parts.append(t.probabilities)
                    continue
                p = np.zeros((t.n_nodes, len(core.classes)))
                for j, c in enumerate(t.classes):
                    p[:, core.classes.index(c)] = t.probabilities[:, j]
                p[np.isnan(t.probabilities).all(axis=1)] = np.nan
                parts.append(p)
            self.table = np.concatenate(parts)
            _share(trees, self.table, "probabilities", core.classes, checked=True)

    @property
    def walk(self) -> str:
        """The batch kernels' walk for rows without NaN: "float32" (every test ``<=`` on a
        field of dataType float: ``kernels.ensemble.walk32``) or "float64"."""
        return ensemble.batch_walk(self.arrays)

    def predict(self, frame: Frame) -> Prediction:
        core, arrays = self.core, self.arrays
        X = matrix(arrays, frame, core.ctx.threads())
        common = dict(weights=self.weights, n_threads=core.ctx.threads())
        policy = dict(n_trees=self.n_trees, weights=self.weights, treatment=core.treatment, threshold=core.threshold)
        if self.kind == "values":
            sums = kernels.sum_values(X, arrays, self.table, weighted=self.weighted, float32=core.float32, **common)
            return Prediction.regression(kernels.combine_values(sums, core.method, **policy))
        if self.kind == "votes":
            counts = kernels.vote_counts(X, arrays, self.table, len(core.classes), weighted=self.weighted, **common)
            probs, winner = kernels.combine_votes(counts, **policy)
            labels = np.full(frame.n, None, dtype=object)
            ok = winner >= 0
            labels[ok] = np.array(core.classes, dtype=object)[winner[ok]]
            return Prediction.classification(core.classes, probs, labels)
        sums = kernels.sum_probabilities(X, arrays, self.table, weighted=self.weighted, **common)
        return Prediction.classification(core.classes, kernels.combine_probabilities(sums, **policy))


def _joined(trees: list, name: str, table: np.ndarray | None) -> bool:
    """Whether ``table`` is the trees' tables ``name`` one after the other *in memory* (each
    is a view of its rows, as a .qsm file maps them): then it equals their concatenation bit
    for bit, and no copy is needed."""
    if table is None:
        return False
    offset = 0
    for t in trees:
        own = getattr(t, name)
        if not isinstance(own, np.ndarray) or own.dtype != table.dtype or own.shape[1:] != table.shape[1:]:
            return False
        rows = table[offset : offset + len(own)]
        if len(rows) != len(own) or rows.strides != own.strides:
            return False
        if own.size and rows.__array_interface__["data"][0] != own.__array_interface__["data"][0]:
            return False
        offset += len(own)
    return offset == len(table)


def _share(trees: list, table: np.ndarray, name: str, classes: tuple | None = None, checked: bool = False) -> None:
    """Each tree's per-node table ``name`` becomes a view of its rows of ``table`` where they
    are equal (the memory is then held once). ``classes``: only trees with these classes, whose
    rows were copied as they are (``checked``: no need to compare them)."""
    offset = 0
    for t in trees:
        own = getattr(t, name)
        rows = table[offset : offset + len(own)]
        offset += len(own)
        if (classes is None or t.classes == classes) and own.dtype == rows.dtype and own.shape == rows.shape:
            if checked or np.array_equal(own, rows, equal_nan=True):
                setattr(t, name, rows)


def _ends_undefined(arrays: kernels.TreeArrays, trees: list) -> bool:
    """Whether some walk can end on a node without probabilities (no score, and no
    ScoreDistribution or one whose record counts sum to zero). ``TreeCore`` fails such rows
    (UndefinedResult, as JPMML-Evaluator does); the fused kernels would give a missing
    prediction without an error, so such an ensemble keeps the per-tree path. Internal nodes
    without probabilities are common (sklearn2pmml writes distributions on leaves only) and
    harmless when no walk ends there: only the terminals of the lowered walks are looked at."""
    ends = np.zeros(arrays.n_nodes + 2, dtype=bool)  # indexed by g + 2 = -exit: 0 and 1 unused
    ends[-arrays.roots[arrays.roots < -1]] = True
    for name in ("true_next", "false_next", "missing_next"):
        exits = arrays.nodes[name]
        ends[-exits[exits < -1]] = True  # a terminal is -(g + 2); -1: no prediction
    ends = ends[2:]
    offsets = arrays.node_offsets
    for t, tree in enumerate(trees):
        rows = tree.probabilities[ends[offsets[t] : offsets[t + 1]]]
        if rows.shape[1] == 0:
            return bool(len(rows))
        undefined = np.isnan(rows[:, 0])  # column by column: all(axis=1) on short rows is slow
        for j in range(1, rows.shape[1]):
            undefined &= np.isnan(rows[:, j])
        if undefined.any():
            return True
    return False


def _node_labels(t: "TreeCore") -> list:
    """Each node's predicted label as TreeCore gives it: its score, else its most probable class."""
    labels = list(t.scores)
    probs = t.probabilities
    todo = np.flatnonzero(np.equal(t.scores, None) & ~np.isnan(probs).all(axis=1)) if probs.shape[1] else []
    if len(todo):
        best = np.argmax(np.where(np.isnan(probs[todo]), -np.inf, probs[todo]), axis=1)
        for i, j in zip(todo.tolist(), best.tolist()):
            labels[i] = t.classes[j]
    return labels


_FUSED = {"sum", "weightedSum", "average", "weightedAverage", "majorityVote", "weightedMajorityVote"}


def fuse(core: "MiningCore", model) -> FusedEnsemble | None:
    """A FusedEnsemble for ``core`` when its segmentation qualifies (see the module doc).

    Sets ``core.ends_undefined`` to ``_ends_undefined``'s verdict where it was asked (a
    classification ensemble that qualifies otherwise), which a .qsm file stores (io/qsm)."""
    from quickscore.models.tree import TreeCore

    ctx = core.ctx
    if ctx.engine == "reference" or core.method not in _FUSED or core.local or ctx.extra_targets:
        return None
    if not ctx.classification and core.method in ("majorityVote", "weightedMajorityVote"):
        return None
    if any(f.segment_id is not None for f in model.output or ()):
        return None
    trees = []
    for ir, segment in zip(model.segmentation.segments, core.segments):
        compiled = segment.model
        tree = compiled.core
        if not isinstance(ir.predicate, TruePredicate) or not isinstance(tree, TreeCore) or not tree.may_lower:
            return None
        if compiled.steps or compiled.local or compiled.outputs.fields or not compiled.targets.is_identity:
            return None
        if tree.strategy in ("weightedConfidence", "aggregateNodes"):
            return None
        if ctx.classification and tree.has_undefined:
            return None
        trees.append(tree)
    models = [ir.model for ir in model.segmentation.segments]
    lowered = model.__dict__.get("_lowered") or {}  # precomputed by a .qsm file (io/qsm)
    # The verdict of ``_ends_undefined`` when the file was written (io/qsm: "ends_undefined";
    # only read from a file of this very build, whose lowering of these trees is the same):
    # True skips the lowering whose arrays would be thrown away (the ensemble is not fused).
    stored = lowered.get("ends_undefined") if ctx.classification else None
    if stored is True:
        core.ends_undefined = True
        return None
    pre = lowered.get("fused")
    arrays = precomputed(pre, models, ctx) if pre is not None else None
    from_file = isinstance(arrays, kernels.TreeArrays)
    if not from_file:
        arrays = lower(models, ctx)
    if arrays is None:
        return None
    if ctx.classification:
        # A stored False holds for the file's arrays only (lowered again: checked again).
        core.ends_undefined = _ends_undefined(arrays, trees) if stored is None or not from_file else stored
        if core.ends_undefined:
            return None
    fused = FusedEnsemble(core, arrays, trees, table=pre.get("table") if pre is not None else None)
    if arrays.n_nodes > BIG_NODES:
        release_memory()  # the per-tree tables' temporaries
    return fused
