"""The public Model: load a file, compile it once, score records and batches."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Mapping, Union

import numpy as np
import pandas as pd

from quickscore.errors import EvaluationError, InvalidMarkup, QuickscoreError
from quickscore.ir import Document, Interval, MiningModel, TreeModel
from quickscore.ir.types import DataType
from quickscore.models.base import CompiledModel, call_threads
from quickscore.outputs.fields import label_column
from quickscore.outputs.prediction import ModelResult
from quickscore.runtime.dataframe import input_columns, output_frame
from quickscore.runtime.frame import Frame, failed_mask
from quickscore.schema.expressions import compile_derived_fields
from quickscore.schema.fields import FieldDecl
from quickscore.schema.plan import FieldStep, InputPlan
from quickscore.schema.scope import Scope
from quickscore.schema.values import Column, empty_column

Source = Union[str, "os.PathLike[str]", bytes, IO[bytes]]

ERROR_COLUMN = "_error"
"""The batch output column holding each record's error message (None where it scored)."""


@dataclass(frozen=True)
class FieldInfo:
    """One field of a model's schema."""

    name: str
    data_type: str
    op_type: str
    values: tuple = ()
    intervals: tuple[Interval, ...] = ()
    usage: str = "active"


@dataclass(frozen=True)
class Schema:
    inputs: list[FieldInfo] = field(default_factory=list)
    targets: list[FieldInfo] = field(default_factory=list)
    outputs: list[FieldInfo] = field(default_factory=list)


def _info(decl: FieldDecl, usage: str, intervals: tuple[Interval, ...] = ()) -> FieldInfo:
    return FieldInfo(decl.name, decl.data_type.value, decl.op_type.value, tuple(decl.valid), intervals, usage)


class Model:
    """A model compiled for scoring. Build it with :func:`quickscore.load`."""

    def __init__(self, document: Document, *, engine: str = "auto", n_threads: int | None = None):
        from quickscore.models.fast import ENGINES

        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        model = document.model
        scope = Scope({f.name: FieldDecl.from_data_field(f) for f in document.data_fields}, functions={f.name: f for f in document.define_functions})
        self._global = compile_derived_fields(document.transformations.derived_fields, scope)
        scope.global_derived.extend(self._global)
        steps = []
        for mf in model.mining_schema:
            if mf.is_target and not _wants_actual(model):
                continue
            decl = scope.find(mf.name)
            if decl is None:
                raise InvalidMarkup(f"MiningField '{mf.name}' is not a field of the DataDictionary" + (f" at {mf.loc}" if mf.loc else ""))
            steps.append(FieldStep.build(decl, mf))
        self._plan = InputPlan(steps)
        self._compiled = CompiledModel(model, scope, engine=engine, n_threads=n_threads)
        self._document_info = _describe(document)
        ctx = self._compiled.ctx
        self._target_name = ctx.target_name or "_target"
        outputs = [(decl.name, decl) for decl in self._compiled.final_outputs()]
        self._default_outputs = model.output is None
        target_type = self._compiled.outputs.target_type
        self._target_decl = ctx.target or FieldDecl(self._target_name, target_type, _target_op(ctx.classification))
        self._output_fields = outputs
        self._extra_targets = list(self._compiled.extra_targets)
        names = [self._target_name] + [t.name for t in self._extra_targets]
        names += [n for n, _ in outputs if n not in names]
        if self._default_outputs and ctx.classification:
            names += [f"probability({_text(c)})" for c in self._compiled.core.classes]  # type: ignore[attr-defined]
        self.output_names: list[str] = names
        self.schema = Schema(
            inputs=[_info(s.decl, s.mining.usage_type, s.decl.intervals) for s in steps],
            targets=[_info(self._target_decl, "target")] + [_info(t, "target") for t in self._extra_targets],
            outputs=[_info(decl, "output") for _, decl in outputs],
        )
        engines = self._compiled.engines()
        self.engine: str = engines.pop() if len(engines) == 1 else "mixed"
        """Which evaluator scores: "numba" (compiled kernels), "reference" (the plain evaluator) or "mixed"."""
        self.info: dict[str, Any] = {**self._document_info, "function_name": model.function_name, "engine": self.engine}
        from quickscore.runtime.record import RecordPath

        self._record = RecordPath.build(self) if engine == "auto" else None
        self.info["record_path"] = self._record is not None

    # --- scoring ----------------------------------------------------------------------------

    def predict(self, data: Any, *, errors: str = "column", n_threads: int | None = None) -> Any:
        """Score one record (a dict of scalars -> dict) or a batch (-> pandas DataFrame).

        A batch is a pandas DataFrame, a pyarrow Table, a dict of columns or a list of dicts.
        With ``errors="column"`` a batch gets an ``_error`` column holding the message of each
        record that could not be scored (its outputs are missing); ``errors="raise"`` raises the
        first record's error instead. One record always raises.

        ``n_threads``: kernel threads for this batch only, over the ``n_threads`` given to
        :func:`quickscore.load` (None: that setting). The results do not depend on it. One
        record is always scored on the calling thread.
        """
        if n_threads is not None and (type(n_threads) is not int or n_threads < 1):
            n_threads = _thread_count(n_threads)
        if self._record is not None and isinstance(data, dict):
            out = self._record.score(data)
            if out is not None:
                return out
        if errors not in ("column", "raise"):
            raise ValueError("errors must be 'column' or 'raise'")
        if isinstance(data, Mapping) and all(_is_scalar(v) for v in data.values()):
            outputs, messages, kinds = self._score_batch({k: np.array([v], dtype=object) for k, v in data.items()}, 1)
            if messages[0] is not None:
                raise kinds.get(0, EvaluationError)(messages[0])
            return {name: _scalar(col[0]) for name, col in outputs.items()}
        columns, n = _columns(data)
        with call_threads(n_threads):
            try:
                outputs, messages, kinds = self._score_batch(columns, n)
            except QuickscoreError:
                raise
            except Exception:  # a defect: keep the batch, and find the records it affects one by one
                outputs, messages, kinds = self._score_each(columns, n)
        failed = failed_mask(n, kinds)
        if errors == "raise" and failed.any():
            i = int(np.flatnonzero(failed)[0])
            raise kinds.get(i, EvaluationError)(f"Record {i}: {messages[i]}")
        if errors == "column":
            outputs = {**outputs, ERROR_COLUMN: messages}
        # No copy of the outputs (none shares memory with the input); an error-free _error column is not scanned.
        return output_frame(outputs, columns, data.index if isinstance(data, pd.DataFrame) else None, None if kinds else ERROR_COLUMN)

    def _score_batch(self, columns: Mapping[str, Any], n: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
        """Outputs, per-record error messages (None = scored) and error classes of a batch."""
        try:
            frame, result = self._score(columns, n)
            outputs, _ = self._collect(frame, result)
        except QuickscoreError:
            raise
        except Exception as exc:
            if n > 1:
                raise
            raise EvaluationError(f"Internal error while scoring: {type(exc).__name__}: {exc}") from exc
        return outputs, frame.sink.messages, frame.sink.kinds

    def _score_each(self, columns: Mapping[str, Any], n: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
        """Score record by record, so that a defect costs only the records that trigger it."""
        rows: list[dict[str, Any] | None] = []
        messages = np.full(n, None, dtype=object)
        kinds: dict[int, type[EvaluationError]] = {}
        for i in range(n):
            one = {k: np.asarray(v, dtype=object)[i : i + 1] for k, v in columns.items()}
            try:
                out, msg, kind = self._score_batch(one, 1)
                rows.append({k: v[0] for k, v in out.items()})
                messages[i] = msg[0]
                kinds.update({i: kind[0]} if 0 in kind else {})
            except EvaluationError as exc:
                rows.append(None)
                messages[i] = str(exc)
                kinds[i] = type(exc)
        outputs = {name: np.array([None if r is None else r[name] for r in rows], dtype=object) for name in self.output_names}
        return outputs, messages, kinds

    def _score(self, columns: Mapping[str, Any], n: int) -> tuple[Frame, ModelResult]:
        frame = self._plan.prepare(columns, n)
        for name, compute in self._global:
            frame.define(name, compute)
        return frame, self._compiled.run(frame)

    def _collect(self, frame: Frame, result: ModelResult) -> tuple[dict[str, np.ndarray], np.ndarray]:
        pred = result.prediction
        failed = frame.sink.failed()
        out: dict[str, np.ndarray] = {}
        for name, decl in [(self._target_name, self._target_decl), *((t.name, t) for t in self._extra_targets)]:
            p = pred.targets.get(name, pred)  # a multi-target segmentation reports each target apart
            out[name] = _present(label_column(p, decl.data_type if p.is_classification else DataType.DOUBLE))
        for name, decl in self._output_fields:
            col = result.outputs.get(name)
            if col is None:  # a chained segment's field, when no row of the batch reached that segment
                col = empty_column(pred.n, decl.data_type, decl.op_type)
            out[name] = _present(col)
        if self._default_outputs and pred.is_classification:
            for j, c in enumerate(pred.classes):
                out[f"probability({_text(c)})"] = pred.probabilities[:, j]
        if failed.any():
            for name, values in out.items():
                values = values.astype(object) if values.dtype.kind != "f" else values.copy()
                values[failed] = np.nan if values.dtype.kind == "f" else None
                out[name] = values
        return out, failed


def _wants_actual(model) -> bool:
    """Does an OutputField of the top-level model need the target's actual value (residual)?"""
    return any(f.feature == "residual" for f in model.output or ())


def _target_op(classification: bool):
    from quickscore.ir.types import OpType

    return OpType.CATEGORICAL if classification else OpType.CONTINUOUS


def _present(col: Column) -> np.ndarray:
    """A column as users see it: numbers as float64, booleans as True/False, others as objects."""
    if col.data_type is DataType.BOOLEAN and col.numeric:
        return np.array([None if math.isnan(v) else bool(v) for v in col.values], dtype=object)
    return col.values


def _text(v: Any) -> str:
    from quickscore.schema.values import format_number

    return format_number(v) if isinstance(v, float) else str(v)


def _thread_count(n: Any) -> int:
    """``predict(n_threads=)`` as an int: a positive integer (a numpy one too), never a bool."""
    if isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 1:
        return int(n)
    raise ValueError(f"Model.predict: n_threads must be a positive int or None, not {n!r} ({type(n).__name__})")


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bytes, int, float, bool, np.generic)) or not hasattr(v, "__len__")


def _scalar(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _columns(data: Any) -> tuple[dict[str, Any], int]:
    """Raw input columns (name -> array-like) and the row count of a batch."""
    if isinstance(data, pd.DataFrame):
        columns = input_columns(data)
        if columns is not None:
            return columns, len(data)
        return {str(c): data[c].to_numpy(dtype=object if data[c].dtype.kind not in "fiub" else None) for c in data.columns}, len(data)
    try:
        import pyarrow as pa

        if isinstance(data, pa.Table):
            return _columns(data.to_pandas())
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    if isinstance(data, Mapping):
        cols = {str(k): (v if isinstance(v, np.ndarray) else np.asarray(list(v), dtype=object)) for k, v in data.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ValueError(f"Columns of different lengths: {sorted(lengths)}")
        return cols, lengths.pop() if lengths else 0
    if isinstance(data, Iterable):
        records = list(data)
        names: dict[str, None] = {}
        for r in records:
            if not isinstance(r, Mapping):
                raise TypeError(f"A batch given as a list must hold dicts, not {type(r).__name__}")
            names.update(dict.fromkeys(r))
        return {k: np.array([r.get(k) for r in records], dtype=object) for k in names}, len(records)
    raise TypeError(f"Cannot score a {type(data).__name__}: give a dict, a list of dicts, a pandas DataFrame or a pyarrow Table")


def _describe(document: Document) -> dict[str, Any]:
    model = document.model
    trees, nodes = _count(model)
    header = document.header
    producer = " ".join(x for x in (header.application_name, header.application_version) if x) or None
    return {
        "format": document.format,
        "version": document.version,
        "model_type": type(model).__name__,
        "model_name": model.model_name,
        "algorithm_name": model.algorithm_name,
        "producer": producer,
        "description": header.description,
        "n_trees": trees,
        "n_nodes": nodes,
        "source": document.source_name,
    }


def _count(model) -> tuple[int, int]:
    if isinstance(model, TreeModel):
        if model.flat is not None:  # nodes as arrays (ir.FlatTree): do not build Node objects
            return 1, model.flat.n_nodes
        stack, nodes = [model.root], 0
        while stack:
            node = stack.pop()
            nodes += 1
            stack.extend(node.children)
        return 1, nodes
    if isinstance(model, MiningModel):
        trees = nodes = 0
        for s in model.segmentation.segments:
            t, n = _count(s.model)
            trees += t
            nodes += n
        return trees, nodes
    return 0, 0


def load(
    source: Source,
    *,
    format: str | None = None,
    engine: str = "auto",
    n_threads: int | None = None,
    iterations: int | None = None,
    feature_map: "str | os.PathLike[str] | None" = None,
) -> Model:
    """Load a model file (a path, bytes or a binary file object) and compile it.

    ``format``: force a reader ("pmml", or a native format name); by default the content
    decides. ``engine="auto"`` runs tree models on compiled kernels wherever they are exact
    (else the reference evaluator); ``engine="reference"`` always uses the reference evaluator.
    ``n_threads``: threads of the kernels for a batch (default: all cores).
    Native formats only: ``iterations`` scores with the first N boosting rounds;
    ``feature_map`` is an XGBoost feature map (``.fmap``) naming the features.
    """
    from quickscore.io import read_document

    from quickscore._memory import gc_paused

    with gc_paused():
        document = read_document(source, format=format, iterations=iterations, feature_map=feature_map)
        return Model(document, engine=engine, n_threads=n_threads)
