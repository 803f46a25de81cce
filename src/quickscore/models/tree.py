"""TreeModel: lowering and the plain reference evaluator.

The reference evaluator is column-wise: it walks the tree once per batch, carrying the
index array of the rows that reached each node, so every predicate runs as one numpy
operation over those rows.

Semantics follow the PMML TreeModel chapter (and JPMML-Evaluator where the spec is loose):

* "The predicate of the root node must be true": a root whose predicate is not TRUE gives no prediction.
* Children are tried in document order; the first TRUE child is followed.
* A child predicate that is UNKNOWN triggers missingValueStrategy: none (treat as FALSE and try
  the next child), lastPrediction (the current node), nullPrediction (no prediction),
  defaultChild (follow defaultChild without evaluating its predicate; one "missing level"),
  weightedConfidence / aggregateNodes (follow every child, weighted by recordCount).
* When no child is TRUE, noTrueChildStrategy: returnNullPrediction or returnLastPrediction
  ("return the parent Node only if it specifies a score attribute").
* Classification probabilities come from ScoreDistribution@probability, else recordCount over
  their sum; confidences from @confidence times missingValuePenalty ** missing levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from typing import TYPE_CHECKING

from quickscore.errors import InvalidMarkup, UndefinedResult, UnsupportedMarkup
from quickscore.ir import CompoundPredicate, FlatTree, Node, TreeModel
from quickscore.ir.flat import HAS_CONFIDENCE, HAS_PROBABILITY
from quickscore.kernels._flat import distinct, first_seen
from quickscore.models import fast
from quickscore.models.base import Context
from quickscore.outputs.prediction import Prediction
from quickscore.runtime.frame import Frame
from quickscore.schema.predicates import CompiledPredicate, compile_predicate

if TYPE_CHECKING:
    from quickscore import kernels

_PENDING = object()
_STRATEGIES = ("none", "lastPrediction", "nullPrediction", "defaultChild", "weightedConfidence", "aggregateNodes")
_NO_TRUE_CHILD = ("returnNullPrediction", "returnLastPrediction")


@dataclass
class LoweredNode:
    index: int
    predicate: CompiledPredicate
    entity_id: str
    has_score: bool
    record_count: float | None
    children: list["LoweredNode"] = field(default_factory=list)
    default_child: "LoweredNode | None" = None
    # For a surrogate CompoundPredicate: its first predicate. Where that is UNKNOWN and a later
    # one decides, JPMML-Evaluator counts a "missing level" (missingValuePenalty applies).
    surrogate_first: CompiledPredicate | None = None


class TreeCore:
    """A lowered TreeModel.

    Per-node arrays, indexed by ``LoweredNode.index`` (pre-order, root = 0):

    * ``scores``: float64 (regression; NaN = no score) or object labels (classification; None = no score)
    * ``probabilities``: float64 (nodes, classes); NaN rows for nodes without a distribution or score
    * ``confidences``: float64 (nodes, classes), or None when no ScoreDistribution has @confidence
    * ``counts``: float64 (nodes, classes), the recordCounts (aggregateNodes)
    * ``entity_ids``: object, the node id or its 1-based pre-order position
    """

    def __init__(self, model: TreeModel, ctx: Context):
        if model.missing_value_strategy not in _STRATEGIES:
            raise InvalidMarkup(f"Invalid missingValueStrategy '{model.missing_value_strategy}' of TreeModel{_where(model)}")
        if model.no_true_child_strategy not in _NO_TRUE_CHILD:
            raise InvalidMarkup(f"Invalid noTrueChildStrategy '{model.no_true_child_strategy}' of TreeModel{_where(model)}")
        self.ctx = ctx
        self.model = model
        self.strategy = model.missing_value_strategy
        self.penalty = model.missing_value_penalty
        self.return_last = model.no_true_child_strategy == "returnLastPrediction"
        self._root: LoweredNode | None = None
        self._scores: np.ndarray | None = None
        self._arrays: "object" = _PENDING
        self._counts: np.ndarray | None = None
        self._entity_ids: np.ndarray | None = None
        flat = model.flat
        if flat is not None:
            # Arrays in, arrays out: the reference evaluator's per-node predicates and the
            # kernels' arrays are built when first needed (see ``root`` and ``arrays``).
            self._ids = None
            pre = model.__dict__.get("_lowered") or {}  # precomputed by a .qsm file (io/qsm)
            if "tables" in pre:
                _set_tables(self, pre["tables"], ctx)
            else:
                _flat_tables(self, flat, ctx)
            if "arrays" in pre and ctx.engine != "reference":
                self._arrays = fast.precomputed(pre["arrays"], [model], ctx)
            if ctx.engine == "reference" or self.strategy in ("weightedConfidence", "aggregateNodes"):
                self._arrays = None
                _ = self.root  # the reference evaluator runs: compile (and check) its predicates now
            return
        nodes: list[Node] = []
        self._root = self._lower(model.root, ctx, nodes)
        self._ids = [nd.id for nd in nodes]
        self._node_tables(nodes, ctx)
        self._arrays = None if self.strategy in ("weightedConfidence", "aggregateNodes") else fast.lower([model], ctx)

    def _node_tables(self, nodes: list[Node], ctx: Context) -> None:
        """The per-node tables from the Node objects, in pre-order."""
        n = len(nodes)
        if ctx.classification:
            found = [ctx.parse_label(sd.value, "ScoreDistribution value", nd.loc) for nd in nodes for sd in nd.distribution]
            found += [ctx.parse_label(nd.score, "Node score", nd.loc) for nd in nodes if nd.score is not None]
            self.classes = ctx.classes(found)
            k = len(self.classes)
            self.scores = np.full(n, None, dtype=object)
            self.probabilities = np.full((n, k), np.nan)
            self._counts = np.zeros((n, k))
            confidences = np.full((n, k), np.nan)
            has_confidence = False
            for i, nd in enumerate(nodes):
                if nd.score is not None:
                    self.scores[i] = ctx.parse_label(nd.score, "Node score", nd.loc)
                if nd.distribution:
                    has_confidence |= self._distribution(i, nd, confidences)
                elif nd.score is not None:
                    # No ScoreDistribution: the score is the only vote.
                    self.probabilities[i] = 0.0
                    self.probabilities[i, self.classes.index(self.scores[i])] = 1.0
            self.confidences = confidences if has_confidence else None
        else:
            self.classes = ()
            self.scores = np.full(n, np.nan)
            for i, nd in enumerate(nodes):
                if nd.score is not None:
                    try:
                        self.scores[i] = float(nd.score)
                    except ValueError:
                        raise InvalidMarkup(f"Invalid score '{nd.score}' of Node in a regression TreeModel{_where(nd)}") from None
        self.n_nodes = n
        # A node whose ScoreDistribution record counts sum to zero: its rows fail (UndefinedResult).
        self.has_undefined = ctx.classification and any(nd.distribution and np.isnan(self.probabilities[i]).all() for i, nd in enumerate(nodes))

    # --- built on first use ---------------------------------------------------------------

    @property
    def arrays(self) -> "kernels.TreeArrays | None":
        """The tree lowered for the kernels, or None: the reference evaluator runs it."""
        if self._arrays is _PENDING:
            _validate(self.model)
            self._arrays = fast.lower([self.model], self.ctx)
            if self._arrays is None:
                _ = self.root  # the reference evaluator will run: compile (and check) it now
        return self._arrays  # type: ignore[return-value]

    @property
    def scores(self) -> np.ndarray:
        """Per node: float64 (regression; NaN = no score) or object labels (classification; None = no score)."""
        if self._scores is None:  # a FlatTree's labels, built on first use (fused ensembles never ask)
            classes, index = self._score_classes
            if isinstance(index, tuple):  # (score strings, their classes): look each node's up
                flat = self.model.flat
                lookup = np.full(len(flat.strings) + 1, -1, dtype=np.int64)  # [-1]: no score
                lookup[index[0]] = index[1]
                index = lookup[flat.score]
            self._scores = _objects(list(classes) + [None])[index]
        return self._scores

    @scores.setter
    def scores(self, value: np.ndarray) -> None:
        self._scores = value

    @property
    def may_lower(self) -> bool:
        """False when the kernels are known not to run this tree (without lowering it now)."""
        return self._arrays is not None

    @property
    def root(self) -> LoweredNode:
        """The reference evaluator's tree (compiled predicates)."""
        if self._root is None:
            model = self.model
            _validate(model)
            root = model.root if model.has_root else model.flat.to_node()  # type: ignore[union-attr]
            self._root = self._lower(root, self.ctx, [])
        return self._root

    @property
    def counts(self) -> np.ndarray:
        """float64 (nodes, classes): the ScoreDistribution recordCounts (aggregateNodes)."""
        if self._counts is None:
            _validate(self.model)
            self._counts = _flat_counts(self.model.flat, self._sd_labels, len(self.classes))  # type: ignore[arg-type]
        return self._counts

    @property
    def entity_ids(self) -> np.ndarray:
        """object (nodes,): each node's id, or its 1-based pre-order position."""
        if self._entity_ids is None:
            if self._ids is None:
                flat = self.model.flat
                ids = [-1] * flat.n_nodes if flat.node_id is None else flat.node_id.tolist()  # type: ignore[union-attr]
                named = dict(zip((j for j in ids if j >= 0), flat.strings.take(j for j in ids if j >= 0)))  # type: ignore[union-attr]
                self._entity_ids = np.array([named[j] if j >= 0 else str(i + 1) for i, j in enumerate(ids)], dtype=object)
            else:
                self._entity_ids = np.array([v if v is not None else str(i + 1) for i, v in enumerate(self._ids)], dtype=object)
        return self._entity_ids

    def _lower(self, node: Node, ctx: Context, out: list[Node]) -> LoweredNode:
        if not isinstance(node, Node):
            raise UnsupportedMarkup(f"Unsupported content in TreeModel Node{_where(node)}")
        index = len(out)
        out.append(node)
        lowered = LoweredNode(
            index,
            compile_predicate(node.predicate, ctx.scope),
            node.id or str(index + 1),
            node.score is not None,
            node.record_count,
        )
        p = node.predicate
        if isinstance(p, CompoundPredicate) and p.boolean_operator == "surrogate" and p.predicates:
            lowered.surrogate_first = compile_predicate(p.predicates[0], ctx.scope)
        lowered.children = [self._lower(c, ctx, out) for c in node.children]
        if node.default_child is not None:
            lowered.default_child = next((c for c, ir in zip(lowered.children, node.children) if ir.id == node.default_child), None)
            if lowered.default_child is None:
                raise InvalidMarkup(f"defaultChild '{node.default_child}' is not a child of Node '{node.id}'{_where(node)}")
        return lowered

    def _distribution(self, i: int, nd: Node, confidences: np.ndarray) -> bool:
        use_probability = nd.distribution[0].probability is not None
        raw = np.zeros(len(self.classes))
        has_confidence = False
        for sd in nd.distribution:
            j = self.classes.index(self.ctx.parse_label(sd.value, "ScoreDistribution value", nd.loc))
            if use_probability:
                if sd.probability is None:
                    raise InvalidMarkup(f"ScoreDistribution '{sd.value}' lacks the probability its siblings have{_where(nd)}")
                raw[j] = sd.probability
            else:
                raw[j] = sd.record_count
            self._counts[i, j] = sd.record_count  # type: ignore[index]
            if sd.confidence is not None:
                confidences[i, j] = sd.confidence
                has_confidence = True
        total = raw.sum()
        if total == 0.0:
            self.probabilities[i] = np.nan  # JPMML: UndefinedResult when this node is the result
        else:
            self.probabilities[i] = raw if total == 1.0 else raw / total
        return has_confidence

    # --- evaluation -----------------------------------------------------------------------

    def leaves(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """The result node index of each row (-1 = no prediction) and its missing levels."""
        if self.arrays is not None:
            return fast.tree_leaves(self, frame)
        result = np.full(frame.n, -1, dtype=np.int64)
        levels = np.zeros(frame.n, dtype=np.int64)
        t, _ = self.root.predicate(frame, None)
        rows = np.flatnonzero(t)
        stack: list[tuple[LoweredNode, np.ndarray]] = [(self.root, rows)]
        while stack:
            node, rows = stack.pop()
            if rows.size == 0:
                continue
            if not node.children:
                result[rows] = node.index
                continue
            remaining = rows
            for child in node.children:
                if remaining.size == 0:
                    break
                t, u = child.predicate(frame, remaining)
                if u.any() and self.strategy != "none":
                    unknown = remaining[u]
                    if self.strategy == "lastPrediction":
                        result[unknown] = node.index
                    elif self.strategy == "defaultChild":
                        if node.default_child is None:
                            # "The defaultChild missing value strategy requires the presence of the
                            # defaultChild attribute in every non-leaf Node": only these rows fail.
                            frame.fail_rows(unknown, f"TreeModel: Node '{node.entity_id}' has no defaultChild for a missing value", UndefinedResult)
                        else:
                            levels[unknown] += 1
                            stack.append((node.default_child, unknown))  # its predicate is not evaluated
                    # nullPrediction: the rows keep result -1
                    remaining_mask = ~t & ~u
                else:
                    remaining_mask = ~t
                if t.any():
                    chosen = remaining[t]
                    if child.surrogate_first is not None:
                        levels[chosen[child.surrogate_first(frame, chosen)[1]]] += 1
                    stack.append((child, chosen))
                remaining = remaining[remaining_mask]
            if remaining.size and self.return_last and node.has_score:
                result[remaining] = node.index
        return result, levels

    def weighted(self, frame: Frame) -> np.ndarray:
        """weightedConfidence / aggregateNodes: per row, the weighted sum over every leaf reached."""
        vectors = self.counts if self.strategy == "aggregateNodes" else self._leaf_confidences()
        acc = np.zeros((frame.n, vectors.shape[1]))
        reached = np.zeros(frame.n, dtype=bool)
        t, _ = self.root.predicate(frame, None)
        stack = [(self.root, np.flatnonzero(t), np.ones(int(t.sum())))]
        while stack:
            node, rows, weights = stack.pop()
            if rows.size == 0:
                continue
            if not node.children:
                acc[rows] += weights[:, None] * vectors[node.index]
                reached[rows] = True
                continue
            remaining, w_remaining = rows, weights
            for child in node.children:
                if remaining.size == 0:
                    break
                t, u = child.predicate(frame, remaining)
                if t.any():
                    stack.append((child, remaining[t], w_remaining[t]))
                if u.any():
                    # UNKNOWN: follow every child. weightedConfidence weights each by its share of
                    # the parent's records; aggregateNodes adds up the leaves' record counts as they are.
                    unknown, w_unknown = remaining[u], w_remaining[u]
                    total = sum(c.record_count or 0.0 for c in node.children)
                    for c in node.children:
                        share = 1.0
                        if self.strategy == "weightedConfidence":
                            share = (c.record_count or 0.0) / total if total else 1.0 / len(node.children)
                        stack.append((c, unknown, w_unknown * share))
                keep = ~t & ~u
                remaining, w_remaining = remaining[keep], w_remaining[keep]
            if remaining.size and self.return_last and node.has_score:
                acc[remaining] += w_remaining[:, None] * vectors[node.index]
                reached[remaining] = True
        acc[~reached] = np.nan
        return acc

    def _leaf_confidences(self) -> np.ndarray:
        return self.probabilities if self.confidences is None else self.confidences

    def predict(self, frame: Frame) -> Prediction:
        if self.strategy in ("weightedConfidence", "aggregateNodes"):
            return self._predict_weighted(frame)
        result, levels = self.leaves(frame)
        none = result < 0
        idx = np.where(none, 0, result)
        entity_ids = np.where(none, None, self.entity_ids[idx])
        if not self.ctx.classification:
            values = np.where(none, np.nan, self.scores[idx])
            return Prediction.regression(values.astype(np.float64), entity_ids=entity_ids)
        probs = self.probabilities[idx]
        probs[none] = np.nan
        undefined = ~none & np.all(np.isnan(probs), axis=1)
        if undefined.any():
            frame.fail(undefined, "TreeModel: the selected node's ScoreDistribution record counts sum to zero", UndefinedResult)
        labels = self.scores[idx].copy()
        labels[none] = None
        no_score = ~none & np.fromiter((v is None for v in labels), dtype=bool, count=len(labels))
        if no_score.any():
            from quickscore.outputs.prediction import argmax_labels

            labels[no_score] = argmax_labels(self.classes, probs[no_score])
        confidences = None
        if self.confidences is not None:
            confidences = self.confidences[idx] * (self.penalty ** levels)[:, None]
            confidences[none] = np.nan
        return Prediction(frame.n, labels, self.classes, probs, confidences, entity_ids)

    def _predict_weighted(self, frame: Frame) -> Prediction:
        acc = self.weighted(frame)
        if not self.ctx.classification:
            raise UnsupportedMarkup(f"missingValueStrategy '{self.strategy}' of a regression TreeModel is not supported")
        with np.errstate(invalid="ignore", divide="ignore"):
            totals = acc.sum(axis=1, keepdims=True)
            probs = acc / totals if self.strategy == "aggregateNodes" else acc
        conf = acc if self.strategy == "weightedConfidence" else None
        return Prediction.classification(self.classes, probs, confidences=conf)


def _where(obj) -> str:
    loc = getattr(obj, "loc", None)
    return f" at {loc}" if loc else ""


def lower(model: TreeModel, ctx: Context) -> TreeCore:
    return TreeCore(model, ctx)


# --- per-node tables of a FlatTree (vectorised) ------------------------------------------------


def _first_nodes(flat: FlatTree, strings_per_item: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct string indices of ``strings_per_item``, in order of first appearance, and
    for each the node (``owners``) where it first appears."""
    if strings_per_item.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    uniq, first = first_seen(strings_per_item, len(flat.strings))
    return uniq.astype(np.int64), owners[first].astype(np.int64)


def _parse_each(ctx: Context, flat: FlatTree, uniq: np.ndarray, where: np.ndarray, what: str, parse) -> list:
    """``parse(text, what, loc)`` for each string index; the node's Loc only for an error."""
    out = []
    for j, i in zip(uniq.tolist(), where.tolist()):
        text = flat.strings[j]
        try:
            out.append(parse(text, what, None))
        except (InvalidMarkup, UnsupportedMarkup):
            parse(text, what, flat.node_loc(i))  # the same error, located
            raise
    return out


def _flat_tables(core: TreeCore, flat: FlatTree, ctx: Context) -> None:
    """TreeCore's per-node tables from a FlatTree: what ``_node_tables`` computes, in numpy."""
    n = flat.n_nodes
    core.n_nodes = n
    has_score = flat.score >= 0
    scored = np.flatnonzero(has_score)
    if not ctx.classification:
        core.classes = ()
        core.has_undefined = False
        scores = np.full(n, np.nan)
        uniq, inverse = distinct(flat.score[scored], len(flat.strings))
        values = np.empty(len(uniq))
        bad = []
        for k, text in enumerate(flat.strings.take(uniq.tolist())):
            try:
                values[k] = float(text)
            except ValueError:
                bad.append(k)
        if bad:
            i = int(scored[np.isin(inverse, bad)][0])
            text = flat.strings[int(flat.score[i])]
            raise InvalidMarkup(f"Invalid score '{text}' of Node in a regression TreeModel at {flat.node_loc(i)}")
        scores[scored] = values[inverse]
        core.scores = scores
        return
    offsets = flat.sd_offsets
    n_sd = np.diff(offsets)
    sd_node = np.repeat(np.arange(n), n_sd)
    # Class order as _node_tables finds it: ScoreDistribution values, then scores, in order.
    sd_uniq, sd_where = _first_nodes(flat, flat.sd_value, sd_node)
    sc_uniq, sc_where = _first_nodes(flat, flat.score[scored], scored)
    sd_labels = _parse_each(ctx, flat, sd_uniq, sd_where, "ScoreDistribution value", ctx.parse_label)
    sc_labels = _parse_each(ctx, flat, sc_uniq, sc_where, "Node score", ctx.parse_label)
    classes = ctx.classes(sd_labels + sc_labels)
    core.classes = classes
    k = len(classes)
    class_index = {c: i for i, c in enumerate(classes)}
    # the class of each ScoreDistribution value string (a few strings: kept as a pair of arrays)
    core._sd_labels = (sd_uniq, np.array([class_index[c] for c in sd_labels], dtype=np.int64))
    score_class = np.full(len(flat.strings), -1, dtype=np.int64)
    score_class[sc_uniq] = [class_index[c] for c in sc_labels]
    core._score_classes = (classes, (sc_uniq, score_class[sc_uniq]))  # labels built on first use
    str_class = np.full(len(flat.strings), -1, dtype=np.int64)
    str_class[sd_uniq] = core._sd_labels[1]
    probabilities = np.full((n, k), np.nan)
    sd_class = str_class[flat.sd_value]
    del str_class
    if len(sd_class) and _repeats(sd_node * k + sd_class, n * k):
        # A class repeated in one node's ScoreDistributions (the last one counts): per node.
        core._node_tables(_preorder(flat.to_node()), ctx)
        return
    with_sd = np.flatnonzero(n_sd > 0)
    flags = flat.sd_flags
    use_probability = (flags[offsets[with_sd]] & HAS_PROBABILITY) != 0
    sd_use_probability = np.repeat(use_probability, n_sd[with_sd])
    lacking = sd_use_probability & ((flags & HAS_PROBABILITY) == 0)
    if lacking.any():
        j = int(np.flatnonzero(lacking)[0])
        raise InvalidMarkup(
            f"ScoreDistribution '{flat.strings[int(flat.sd_value[j])]}' lacks the probability its siblings have at {flat.node_loc(int(sd_node[j]))}"
        )
    raw = np.zeros((len(with_sd), k))
    row_of = np.zeros(n, dtype=np.int64)
    row_of[with_sd] = np.arange(len(with_sd))
    values = flat.sd_record_count if flat.sd_probability is None else np.where(sd_use_probability, flat.sd_probability, flat.sd_record_count)
    raw[row_of[sd_node], sd_class] = values
    if k < 8:
        total = raw.sum(axis=1)
    else:  # the same summation order as a 1-d sum of each row
        total = np.array([r.sum() for r in raw]) if len(raw) else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        divided = raw / total[:, None]
    rows = np.where((total == 1.0)[:, None], raw, divided)
    rows[total == 0.0] = np.nan  # JPMML: UndefinedResult when this node is the result
    probabilities[with_sd] = rows
    only_score = np.flatnonzero(has_score & (n_sd == 0))
    if only_score.size:
        # No ScoreDistribution: the score is the only vote.
        probabilities[only_score] = 0.0
        probabilities[only_score, score_class[flat.score[only_score]]] = 1.0
    core.probabilities = probabilities
    core.confidences = None
    if flat.sd_confidence is not None:
        has = (flags & HAS_CONFIDENCE) != 0
        if has.any():
            confidences = np.full((n, k), np.nan)
            confidences[sd_node[has], sd_class[has]] = flat.sd_confidence[has]
            core.confidences = confidences
    # A node whose ScoreDistribution record counts sum to zero: its rows fail (UndefinedResult).
    core.has_undefined = bool(np.isnan(rows).all(axis=1).any()) if len(rows) else False


def _repeats(keys: np.ndarray, size: int) -> bool:
    """Whether a value occurs twice in ``keys`` (non-negative ints below ``size``)."""
    if size <= 8 * len(keys) + 4096:
        return bool(np.bincount(keys, minlength=size).max() > 1)
    ordered = np.sort(keys)
    return bool((ordered[1:] == ordered[:-1]).any())


def _validate(model: TreeModel) -> None:
    """A FlatTree from a file is checked before its arrays are used (see FlatTree.validate)."""
    if model.flat is not None:
        try:
            model.flat.validate()
        except ValueError as e:
            raise InvalidMarkup(f"Invalid tree arrays{_where(model)}: {e}") from None


def _set_tables(core: TreeCore, t: dict, ctx: Context) -> None:
    """The per-node tables a .qsm file holds (what ``_flat_tables`` computed when it was written)."""
    core.n_nodes = t["n_nodes"]
    core.has_undefined = t["has_undefined"]
    if "classes" not in t:
        core.classes = ()
        core.scores = t["scores"]
        return
    core.classes = t["classes"]
    core._score_classes = (core.classes, t["scores"])  # labels built on first use
    core.probabilities = t["probabilities"]
    core.confidences = t.get("confidences")
    if "sd_labels" in t:
        core._sd_labels = t["sd_labels"]


def _flat_counts(flat: FlatTree, sd_labels: tuple, k: int) -> np.ndarray:
    str_class = np.full(len(flat.strings), -1, dtype=np.int64)
    str_class[sd_labels[0]] = sd_labels[1]
    counts = np.zeros((flat.n_nodes, k))
    sd_node = np.repeat(np.arange(flat.n_nodes), np.diff(flat.sd_offsets))
    counts[sd_node, str_class[flat.sd_value]] = flat.sd_record_count
    return counts


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values if values else []
    return out


def _preorder(root: Node) -> list[Node]:
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out
