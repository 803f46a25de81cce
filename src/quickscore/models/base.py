"""Lowering a model: its mining schema, local transformations, core, targets and outputs.

Each model type module (tree, regression, mining) registers ``lower(model, ctx)`` that
returns a core with ``predict(frame) -> Prediction``. ``CompiledModel.run`` wraps the core
with what every model has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import DataType, MiningModel, Model, OpType, RegressionModel, TreeModel
from quickscore.outputs.fields import OutputPlan
from quickscore.outputs.prediction import ModelResult, Prediction
from quickscore.outputs.targets import TargetPlan
from quickscore.runtime.frame import Frame
from quickscore.schema.expressions import compile_derived_fields
from quickscore.schema.fields import FieldDecl
from quickscore.schema.plan import FieldStep
from quickscore.schema.scope import Scope


#: The thread count of the batch being scored when its call gives one (``Model.predict(n_threads=)``),
#: over the model's own (``Context.n_threads``). A ContextVar: concurrent calls on other Python
#: threads keep their own.
_CALL_THREADS: ContextVar[int | None] = ContextVar("quickscore_call_threads", default=None)


@contextmanager
def call_threads(n: int | None) -> Iterator[None]:
    """Score the batches of this block with ``n`` kernel threads (None: the model's setting)."""
    token = _CALL_THREADS.set(n)
    try:
        yield
    finally:
        _CALL_THREADS.reset(token)


class Core(Protocol):
    def predict(self, frame: Frame) -> Prediction: ...


@dataclass
class Context:
    """What lowering a model needs to know: its scope, target field and classes."""

    model: Model
    scope: Scope
    target: FieldDecl | None
    target_name: str | None
    classification: bool
    extra_targets: tuple = ()  # FieldDecls of the other targets of a multi-target segmentation
    engine: str = "auto"  # auto: numba kernels where exact; reference: the plain evaluators only
    n_threads: int | None = None  # kernel threads (None: all cores)

    def threads(self) -> int | None:
        """Kernel threads for the batch being scored: the call's (``call_threads``), else the model's."""
        n = _CALL_THREADS.get()
        return self.n_threads if n is None else n

    def parse_label(self, text: str, what: str, loc=None):
        """A class label from the file, typed as the target field (string when there is none)."""
        if self.target is None:
            return text
        return self.target.parse(text, what, loc)

    def classes(self, found: list) -> tuple:
        """Class order: the target field's valid values, then labels found in the model."""
        declared = list(self.target.valid) if self.target is not None else []
        return tuple(declared + [c for c in dict.fromkeys(found) if c not in declared])


def _where(model: Model) -> str:
    return f" at {model.loc}" if model.loc else ""


class CompiledModel:
    """A model lowered for evaluation; ``run`` scores a frame's rows."""

    def __init__(self, model: Model, parent: Scope, outer: "Context | None" = None, engine: str = "auto", n_threads: int | None = None):
        """Lower ``model``; ``outer`` is the context of the enclosing MiningModel for a segment's model."""
        if outer is not None:
            engine, n_threads = outer.engine, outer.n_threads
        nested = outer is not None
        mixed = model.function_name == "mixed" and isinstance(model, MiningModel)
        if model.function_name not in ("classification", "regression") and not mixed:
            raise UnsupportedMarkup(f"Unsupported functionName '{model.function_name}' of {type(model).__name__}{_where(model)}")
        if not model.is_scorable:
            raise UnsupportedMarkup(f"{type(model).__name__} is marked isScorable='false'{_where(model)}")
        self.model = model
        self.nested = nested
        scope = parent.child()
        self.steps: list[FieldStep] = []
        target_names = []
        for mf in model.mining_schema:
            if mf.is_target:
                target_names.append(mf.name)
                continue
            decl = parent.find(mf.name)
            if decl is None:
                raise InvalidMarkup(f"MiningField '{mf.name}' is not a field of the DataDictionary{_where(model)}")
            if nested and _changes_values(mf):
                self.steps.append(FieldStep.build(decl, mf))
        classification = model.function_name == "classification"
        extra_targets: list[str] = []
        if len(target_names) > 1:
            if not isinstance(model, MiningModel):
                raise UnsupportedMarkup(f"{type(model).__name__} with several target fields {target_names}{_where(model)}")
            # A segmentation predicting several targets (each segment its own): the primary target
            # is the last one whose optype fits functionName; the others are results of their own.
            fits = [n for n in target_names if mixed or (parent.lookup(n, model.loc).op_type is not OpType.CONTINUOUS) == classification]
            primary = (fits or target_names)[-1]
            extra_targets = [n for n in target_names if n != primary]
            target_names = [primary]
        self.extra_targets = [parent.lookup(n, model.loc) for n in extra_targets]
        if not target_names and outer is not None and outer.classification == classification:
            # A segment's model without a target of its own predicts its ensemble's target.
            self.target_name, target = outer.target_name, outer.target
        else:
            self.target_name = target_names[0] if target_names else None
            target = parent.find(self.target_name) if self.target_name else None
        if target is not None and not classification and target.data_type is not DataType.DOUBLE:
            # Fix-up (as JPMML-Evaluator): a regression target declared integer/float still
            # predicts a double (e.g. KNIME writes integer targets for real-valued predictions).
            target = FieldDecl(target.name, DataType.FLOAT if target.data_type is DataType.FLOAT else DataType.DOUBLE, OpType.CONTINUOUS)
        self.local = compile_derived_fields(model.local_transformations, scope)
        self.ctx = Context(model, scope, target, self.target_name, classification, tuple(self.extra_targets), engine, n_threads)
        self.core: Core = LOWERERS[type(model)](model, self.ctx)
        target_ir = next((t for t in model.targets if t.field in (None, self.target_name)), None)
        self.targets = TargetPlan(target_ir, target)
        self.outputs = OutputPlan(model, self.ctx, scope)

    def run(self, frame: Frame) -> ModelResult:
        """Score the rows of ``frame`` (a frame created for this model by its caller)."""
        for step in self.steps:
            frame.columns[step.decl.name] = step.prepare(frame.get(step.decl.name), frame)
        if self.steps:
            # This model's MiningSchema changed some values: the TransformationDictionary's
            # fields are computed afresh from them at this level (as JPMML-Evaluator does).
            for name, compute in self.ctx.scope.global_derived:
                frame.define(name, compute)
        for name, compute in self.local:
            frame.define(name, compute)
        pred = self.core.predict(frame)
        chained = pred.chained
        pred = self.targets.apply_classification(pred) if self.ctx.classification else self.targets.apply_regression(pred)
        return ModelResult(pred, {**chained, **self.outputs.compute(pred, frame, self.targets)})

    def engines(self) -> set[str]:
        """Which evaluators score this model: "numba" (kernels) and/or "reference"."""
        core = self.core
        if getattr(core, "fused", None) is not None or getattr(core, "arrays", None) is not None:
            return {"numba"}
        found = {e for s in getattr(core, "segments", ()) for e in s.model.engines()}
        return found or {"reference"}

    def final_outputs(self) -> list[FieldDecl]:
        """The output fields this model returns: its own final ones, then - for a modelChain,
        as JPMML-Evaluator does - those of its segments (e.g. the probabilities of the last one)."""
        own = [decl for f, decl, _ in self.outputs.fields if f.is_final_result]
        names = {d.name for d in own}
        chained = [d for s in getattr(self.core, "chain", ()) for d in s.model.final_outputs() if d.name not in names]
        return own + list({d.name: d for d in chained}.values())


def _changes_values(mf) -> bool:
    return (
        mf.missing_value_replacement is not None
        or mf.outliers != "asIs"
        or mf.invalid_value_treatment in ("asMissing", "asValue")
        or mf.missing_value_treatment == "returnInvalid"
    )


def _lower_tree(model: TreeModel, ctx: Context) -> Core:
    from quickscore.models.tree import lower

    return lower(model, ctx)


def _lower_regression(model: RegressionModel, ctx: Context) -> Core:
    from quickscore.models.regression import lower

    return lower(model, ctx)


def _lower_mining(model: MiningModel, ctx: Context) -> Core:
    from quickscore.models.mining import lower

    return lower(model, ctx)


LOWERERS: dict[type, Callable[..., Core]] = {
    TreeModel: _lower_tree,
    RegressionModel: _lower_regression,
    MiningModel: _lower_mining,
}


def empty_prediction(n: int, ctx: Context, classes: tuple) -> Prediction:
    if ctx.classification:
        return Prediction.classification(classes, np.full((n, len(classes)), np.nan))
    return Prediction.regression(np.full(n, np.nan))
