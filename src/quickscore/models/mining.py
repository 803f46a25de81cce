"""MiningModel / Segmentation: ensembles, segment selection and model chains.

Each segment's predicate selects the rows its model scores (UNKNOWN counts as FALSE); the
model runs on those rows only. The results are combined per multipleModelMethod:

* values (regression): average, weightedAverage, median, weightedMedian, sum, weightedSum, max
* votes (classification): majorityVote, weightedMajorityVote; probability = votes / total votes
* probabilities (classification): average, weightedAverage, median, max
* selectFirst: the first segment whose predicate is TRUE; selectAll: every segment (for
  segment output fields); modelChain: segments run in order, each one's output fields visible
  to the next; the result is that of the last segment that ran.

missingPredictionTreatment (as in JPMML-Evaluator): returnMissing - any missing segment
prediction makes the result missing; skipSegment - the segment is ignored unless the weight
of missing predictions exceeds missingThreshold; continue - missing for values and
probabilities, a "missing" pseudo-vote for votes (missing wins if it has the most votes).
"""

from __future__ import annotations

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import MiningModel
from quickscore.models.base import CompiledModel, Context
from quickscore.outputs.prediction import ModelResult, Prediction
from quickscore.runtime.frame import Frame
from quickscore.schema.expressions import compile_derived_fields
from quickscore.schema.predicates import compile_predicate
from quickscore.schema.values import Column, empty_column

_VALUES = {"average", "weightedAverage", "median", "weightedMedian", "sum", "weightedSum", "max"}
_VOTES = {"majorityVote", "weightedMajorityVote"}
_PROBABILITIES = {"average", "weightedAverage", "median", "max"}
_SELECT = {"selectFirst", "selectAll", "modelChain", "x-multiModelChain"}
# x-multiModelChain (JPMML-Evaluator's extension, with functionName="mixed"): a chain whose
# segments each predict their own target; every target is reported where its segment ran.
_CHAINS = ("modelChain", "x-multiModelChain")


class Segment:
    def __init__(self, ir, ctx: Context, scope):
        self.id = ir.id if ir.id is not None else None
        self.weight = ir.weight
        self.predicate = compile_predicate(ir.predicate, scope)
        self.model = CompiledModel(ir.model, scope, outer=ctx)


class MiningCore:
    def __init__(self, model: MiningModel, ctx: Context, extra_targets=()):
        seg = model.segmentation
        method = seg.multiple_model_method
        self.ctx = ctx
        self.extra_targets = list(extra_targets)
        self.method = method
        self.treatment = seg.missing_prediction_treatment
        self.threshold = seg.missing_threshold
        self.float32 = model.math_context == "float"
        where = f" at {model.loc}" if model.loc else ""
        if ctx.classification and method not in _VOTES | _PROBABILITIES | _SELECT:
            raise InvalidMarkup(f"multipleModelMethod '{method}' is not defined for classification{where}")
        if not ctx.classification and method not in _VALUES | _SELECT:
            raise InvalidMarkup(f"multipleModelMethod '{method}' is not defined for regression{where}")
        if self.treatment not in ("returnMissing", "skipSegment", "continue"):
            raise InvalidMarkup(f"Invalid missingPredictionTreatment '{self.treatment}'{where}")
        scope = ctx.scope
        self.local = compile_derived_fields(seg.local_transformations, scope)
        self.segments: list[Segment] = []
        for i, s in enumerate(seg.segments):
            segment = Segment(s, ctx, scope)
            if segment.id is None:
                segment.id = str(i + 1)
            self.segments.append(segment)
            # Output fields of a segment are visible to the segments after it (modelChain).
            for decl in segment.model.outputs.decls():
                scope.declare(decl)
        if not self.segments:
            raise InvalidMarkup(f"Segmentation without segments{where}")
        # modelChain and selectFirst pass the output fields of the segment that decides a row on.
        self.chain = self.segments if method in (*_CHAINS, "selectFirst") else []
        self.fused = None
        #: Whether a fused walk could end on a node without probabilities (fast.fuse sets it
        #: where it looked; None: not looked at); a .qsm file stores it (io/qsm).
        self.ends_undefined: bool | None = None
        if ctx.classification:
            found: list = []
            for s in self.segments:
                found.extend(getattr(s.model.core, "classes", ()))
            self.classes = ctx.classes(found)
        else:
            self.classes = ()

    def predict(self, frame: Frame) -> Prediction:
        for name, compute in self.local:
            frame.define(name, compute)
        if self.fused is not None:
            return self.fused.predict(frame)
        n = frame.n
        remaining = np.ones(n, dtype=bool)
        results: list[tuple[Segment, np.ndarray, ModelResult]] = []
        for segment in self.segments:
            t, _ = segment.predicate(frame, None)
            if self.method == "selectFirst":
                t = t & remaining
            rows = np.flatnonzero(t)
            if rows.size == 0:
                continue
            child = frame.child() if rows.size == n else frame.child(rows)
            result = segment.model.run(child)
            results.append((segment, rows, result))
            remaining &= ~t
            for name, col in result.outputs.items():
                frame.columns[name] = _scatter(col, rows, n)
        segments = {s.id: (rows, r) for s, rows, r in results}
        chained = self._chained(results, n) if self.chain else {}
        if self.method in ("selectFirst", *_CHAINS):
            pred = self._select(results, n)
        elif self.method == "selectAll":
            pred = self._select_all(results, n)
        elif self.ctx.classification and self.method in _VOTES:
            pred = self._votes(results, n)
        elif self.ctx.classification:
            pred = self._probabilities(results, n)
        else:
            pred = self._values(results, n)
        pred.segments = segments
        pred.chained = chained
        if self.extra_targets:
            # Each target where a segment predicting it decides the row (for a modelChain: ran
            # last, as JPMML-Evaluator reports it; for x-multiModelChain: ran at all).
            last_only = self.method != "x-multiModelChain"
            names = [self.ctx.target_name, *(t.name for t in self.extra_targets)]
            pred.targets = {name: _target_prediction(results, name, n, last_only) for name in names if name}
        return pred

    def _chained(self, results, n: int) -> dict[str, Column]:
        """The output fields a modelChain exports: per row, those of the last segment that ran
        for it (as JPMML-Evaluator reports them); earlier segments' fields are missing there."""
        last = np.full(n, -1)
        for order, (_, rows, _) in enumerate(results):
            last[rows] = order
        out: dict[str, Column] = {}
        for order, (_, rows, result) in enumerate(results):
            # x-multiModelChain reports every segment's fields where it ran.
            keep = (last[rows] == order) if self.method != "x-multiModelChain" else np.ones(len(rows), dtype=bool)
            every = bool(keep.all())
            for name, col in result.outputs.items():
                full = out.get(name) or empty_column(n, col.data_type, col.op_type)
                if every:
                    full.values[_at(rows, n)] = col.values
                else:
                    full.values[rows[keep]] = col.values[keep]
                out[name] = full
        return out

    def _empty(self, n: int) -> Prediction:
        if self.ctx.classification:
            # No row has a label yet: given as such, not found by an argmax over the NaNs.
            labels = np.full(n, None, dtype=object)
            return Prediction.classification(self.classes, np.full((n, len(self.classes)), np.nan), labels)
        return Prediction.regression(np.full(n, np.nan))

    def _select_all(self, results, n: int) -> Prediction:
        """selectAll: the predicted value is the list of the predictions of every segment that ran."""
        values = np.empty(n, dtype=object)
        for i in range(n):
            values[i] = []
        for _, rows, result in results:
            for r, v in zip(rows.tolist(), result.prediction.value.tolist()):
                values[r].append(v)
        out = self._empty(n)
        out.value = values
        return out

    def _select(self, results, n: int) -> Prediction:
        """selectFirst / modelChain: per row, the (first / last) segment that scored it."""
        out = self._empty(n)
        entity = np.full(n, None, dtype=object)
        confidences = None
        for segment, rows, result in results:
            rows = _at(rows, n)
            p = result.prediction
            if p.is_classification != self.ctx.classification:
                # A chain step of the other kind (e.g. a classifier choosing the regression
                # that follows) only gives the result where no later segment runs: none.
                out.value[rows] = None if out.value.dtype == object else np.nan
                if out.probabilities is not None:
                    out.probabilities[rows] = np.nan
                continue
            if self.ctx.classification:
                out.value[rows] = p.value
                if p.probabilities is not None:
                    for j, c in enumerate(p.classes):
                        if c not in self.classes:
                            continue
                        out.probabilities[rows, self.classes.index(c)] = p.probabilities[:, j]
                    # The segment's classes absent from its result have probability 0.
                    mask = np.zeros(len(self.classes), dtype=bool)
                    for c in p.classes:
                        if c in self.classes:
                            mask[self.classes.index(c)] = True
                    if not mask.all():
                        sub = out.probabilities[rows]
                        sub[:, ~mask] = np.where(p.missing()[:, None], np.nan, 0.0)
                        out.probabilities[rows] = sub
                if p.confidences is not None:
                    if confidences is None:
                        confidences = np.full((n, len(self.classes)), np.nan)
                    for j, c in enumerate(p.classes):
                        if c in self.classes:
                            confidences[rows, self.classes.index(c)] = p.confidences[:, j]
            else:
                out.value[rows] = p.value if p.value.dtype.kind == "f" else _as_float(p.value)
            # "Result feature entityId returns the id of the winning segment"
            entity[rows] = segment.id
        out.confidences = confidences
        out.entity_ids = entity
        return out

    def _missing_policy(self, results, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Rows whose result is missing per missingPredictionTreatment, and each segment's usable rows."""
        weight_all = np.zeros(n)
        weight_missing = np.zeros(n)
        result_missing = np.zeros(n, dtype=bool)
        usable = []
        for segment, rows, result in results:
            miss = result.prediction.missing()
            weight_all[rows] += segment.weight
            weight_missing[rows[miss]] += segment.weight
            if self.treatment == "returnMissing" or (self.treatment == "continue" and self.method not in _VOTES):
                result_missing[rows[miss]] = True
            usable.append(~miss)
        if self.treatment in ("skipSegment",) or (self.treatment == "continue" and self.method in _VOTES):
            with np.errstate(invalid="ignore", divide="ignore"):
                result_missing |= (weight_missing / weight_all) > self.threshold
        return result_missing, usable

    def _values(self, results, n: int) -> Prediction:
        missing, usable = self._missing_policy(results, n)
        dtype = np.float32 if self.float32 else np.float64
        method = self.method
        weighted = method.startswith("weighted")
        if method in ("median", "weightedMedian", "max"):
            per_row: list[list[tuple[float, float]]] = [[] for _ in range(n)]
            for (segment, rows, result), ok in zip(results, usable):
                vals = _as_float(result.prediction.value)
                for r, v in zip(rows[ok].tolist(), vals[ok].tolist()):
                    per_row[r].append((v, segment.weight))
            out = np.full(n, np.nan)
            for r, pairs in enumerate(per_row):
                if pairs:
                    out[r] = _median(pairs, weighted) if method != "max" else max(v for v, _ in pairs)
        else:
            total = np.zeros(n, dtype=dtype)
            weights = np.zeros(n)
            count = np.zeros(n)
            for (segment, rows, result), ok in zip(results, usable):
                vals = _as_float(result.prediction.value)[ok].astype(dtype)
                r = rows[ok]
                w = segment.weight if weighted else 1.0
                # Accumulate in order, as the reference evaluator does (float32 under mathContext="float").
                total[r] = total[r] + (vals * dtype(w) if weighted else vals)
                weights[r] += w
                count[r] += 1
            with np.errstate(invalid="ignore", divide="ignore"):
                if method == "average":
                    out = total.astype(np.float64) / count
                elif method == "weightedAverage":
                    out = total.astype(np.float64) / weights
                else:
                    out = total.astype(np.float64)
            out[count == 0] = np.nan
        out[missing] = np.nan
        return Prediction.regression(out)

    def _votes(self, results, n: int) -> Prediction:
        missing, usable = self._missing_policy(results, n)
        k = len(self.classes)
        votes = np.zeros((n, k))
        missing_votes = np.zeros(n)
        weighted = self.method == "weightedMajorityVote"
        first_vote = np.full((n, k), np.inf)
        for order, ((segment, rows, result), ok) in enumerate(zip(results, usable)):
            w = segment.weight if weighted else 1.0
            labels = result.prediction.value
            for r, label, good in zip(rows.tolist(), labels.tolist(), ok.tolist()):
                if good:
                    j = self.classes.index(label)
                    votes[r, j] += w
                    first_vote[r, j] = min(first_vote[r, j], order)
                elif self.treatment == "continue":
                    missing_votes[r] += w
        total = votes.sum(axis=1)
        # "The missing result is returned if it gets the most (possibly weighted) votes"
        missing |= missing_votes > votes.max(axis=1, initial=0.0)
        missing |= total == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            probs = votes / total[:, None]
        probs[missing] = np.nan
        # Ties go to the class that got its first vote first (segment order), as in JPMML-Evaluator.
        best = votes == votes.max(axis=1, keepdims=True)
        winner = np.argmin(np.where(best, first_vote, np.inf), axis=1)
        labels = np.empty(n, dtype=object)
        labels[:] = [self.classes[j] for j in winner]
        labels[missing] = None
        return Prediction.classification(self.classes, probs, labels)

    def _probabilities(self, results, n: int) -> Prediction:
        missing, usable = self._missing_policy(results, n)
        k = len(self.classes)
        method = self.method
        stacks: list[list[tuple[np.ndarray, float]]] = [[] for _ in range(n)] if method in ("median", "max") else []
        total = np.zeros((n, k))
        weights = np.zeros(n)
        for (segment, rows, result), ok in zip(results, usable):
            p = result.prediction
            probs = np.zeros((len(rows), k))
            for j, c in enumerate(p.classes):
                probs[:, self.classes.index(c)] = p.probabilities[:, j]
            w = segment.weight if method == "weightedAverage" else 1.0
            r = rows[ok]
            if stacks:
                for i, row in zip(np.flatnonzero(ok).tolist(), r.tolist()):
                    stacks[row].append((probs[i], w))
            else:
                total[r] += w * probs[ok]
                weights[r] += w
        if stacks:
            out = np.full((n, k), np.nan)
            for row, entries in enumerate(stacks):
                if not entries:
                    continue
                m = np.array([e[0] for e in entries])
                if method == "median":
                    out[row] = np.median(m, axis=0)
                else:
                    # max: the probabilities of the segment with the single highest probability.
                    out[row] = m[np.argmax(m.max(axis=1))]
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = total / weights[:, None]
        out[missing] = np.nan
        return Prediction.classification(self.classes, out)


def _deciding(results, n: int, target: str | None, last_only: bool = True):
    """The part of each result that decides its rows for ``target``: where a segment predicting
    it ran last (``last_only``), or the last such segment that ran."""
    last = np.full(n, -1)
    for order, (s, rows, _) in enumerate(results):
        if not last_only and s.model.target_name != target:
            continue
        last[rows] = order
    out = []
    for order, (s, rows, r) in enumerate(results):
        keep = last[rows] == order
        if s.model.target_name == target and keep.any():
            out.append((s, rows[keep], ModelResult(r.prediction.take(keep), {})))
    return out


def _target_prediction(results, name: str, n: int, last_only: bool) -> Prediction:
    """One target of a multi-target segmentation, from the segments that decide it (see _deciding)."""
    found = [(rows, r.prediction) for _, rows, r in _deciding(results, n, name, last_only)]
    if not any(p.is_classification for _, p in found):
        values = np.full(n, np.nan)
        for rows, p in found:
            values[rows] = _as_float(p.value)
        return Prediction.regression(values)
    classes = tuple(dict.fromkeys(c for _, p in found for c in p.classes))
    probs = np.full((n, len(classes)), np.nan)
    labels = np.full(n, None, dtype=object)
    for rows, p in found:
        labels[rows] = p.value
        sub = np.where(p.missing()[:, None], np.nan, 0.0) * np.ones((1, len(classes)))
        for j, c in enumerate(p.classes):
            sub[:, classes.index(c)] = p.probabilities[:, j]
        probs[rows] = sub
    return Prediction.classification(classes, probs, labels)


def _at(rows: np.ndarray, n: int) -> np.ndarray | slice:
    """``rows`` (a segment's rows: ``np.flatnonzero`` of its predicate, so ascending and
    distinct) as an index into n-row arrays: every row is the slice ``[:]``, which numpy
    assigns without a gather (W3's modelChain, 100k rows: ~10 -> ~3 ms a batch)."""
    return slice(None) if len(rows) == n else rows


def _scatter(col: Column, rows: np.ndarray, n: int) -> Column:
    if len(rows) == n:
        return col
    full = empty_column(n, col.data_type, col.op_type)
    full.values[rows] = col.values
    return full


def _as_float(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return values
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _median(pairs: list[tuple[float, float]], weighted: bool) -> float:
    values = sorted(pairs)
    if not weighted:
        xs = [v for v, _ in values]
        m = len(xs)
        return xs[m // 2] if m % 2 else (xs[m // 2 - 1] + xs[m // 2]) / 2.0
    half = sum(w for _, w in values) / 2.0
    acc = 0.0
    for v, w in values:
        acc += w
        if acc >= half:
            return v
    return values[-1][0]


def lower(model: MiningModel, ctx: Context) -> MiningCore:
    if any(getattr(s.model, "function_name", None) is None for s in model.segmentation.segments):
        raise UnsupportedMarkup("Segment without a model")
    from quickscore.models import fast

    core = MiningCore(model, ctx, ctx.extra_targets)
    core.fused = fast.fuse(core, model)
    return core
