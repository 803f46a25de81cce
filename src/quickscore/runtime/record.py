"""The single-record path: one dict in, one dict out, without a Frame, a DataFrame or numpy
columns.

``RecordPath.build(model)`` compiles, at load, the models this path expresses: numeric and
string inputs (with their MiningSchema treatments); tree models and fused tree ensembles (sum,
average, votes) on the one-row kernels, coded string fields included; RegressionModels with
numeric and categorical predictors and terms (plain-input tables as generated Python code);
modelChains of those whose segments are all ``<True/>``; Targets that rescale, clamp or cast;
OutputFields that give the predicted value, a class probability or a field's value. Anything
else returns None at load, and ``Model.predict(dict)`` keeps the batch path with one row.

Keys of the record that are not model inputs are ignored. For one record, any value the path
does not handle itself (a bool, an integer numpy scalar or a string for a numeric field, an
invalid value, a missing value under ``returnInvalid``) makes ``score`` return None: the batch
path then scores the record, so errors and their messages are that path's. So does any
unexpected failure.

Results are bit-identical to the batch path: each step below does the same IEEE operations in
the same order as the vectorised code it mirrors (named in each docstring), uses numpy's own
ufuncs for exp & co. (numpy's ``exp`` and ``math.exp`` differ in the last bit for ~5% of
inputs), and the kernels are the batch kernels' one-row entry points or, for sums of OP_LE
forests on rows without NaN, ``kernels.row.sum_values_pairs`` (the same decisions and
accumulation on ``row_pack.pack_pairs``' branch-free layout, one array: a numba call costs
~0.09 us per array argument).

Three common shapes are one generated Python function each (``RecordPath.fast``), with no
intermediate dicts: a binary logistic regression of plain inputs (``_Linear.generate`` +
``_logit_tail``), a GBM classifier chain, a tree sum then a binary logistic regression of it
(``_gbm_chain``), and a binary forest averaging its leaves' probabilities over fields of
dataType float (scikit-learn's RandomForestClassifier: ``_forest_probabilities``, on
``kernels.row.proba2_le32``'s float32 forest). They write out the generic steps' operations for the common case (no NaN
margin, -y0 < 709, every tree with a value) and hand any other record to the generic path.
``tests/models/test_record_path.py`` checks the identity on the fixtures, the corpus, the
native corpus and generated records with missing, extreme and mistyped values.
"""

from __future__ import annotations

import math
import operator
import struct
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from quickscore import kernels
from quickscore.ir import FieldRef, TruePredicate
from quickscore.ir.types import DataType
from quickscore.kernels import UNSEEN
from quickscore.kernels import row as row_kernels
from quickscore.kernels.row_pack import pack_le32, pack_pairs
from quickscore.outputs.fields import _text

if TYPE_CHECKING:
    from quickscore.models.base import CompiledModel
    from quickscore.runtime.model import Model

NAN = math.nan


class _Unsupported(Exception):
    """The model uses something the record path does not express (the batch path scores it)."""


_F32 = struct.Struct("<f")


def _f32(x: float) -> float:
    """``float64 -> float32 -> float64``, as ``astype(np.float32).astype(np.float64)``: the C
    cast (round to nearest even), ±inf beyond float32's range (struct refuses those)."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        with np.errstate(over="ignore"):
            return float(np.float32(x))


# --- inputs --------------------------------------------------------------------------------------


class _Input:
    """One top-level numeric field: ``FieldStep.prepare_raw`` for an int / float / None value.

    Returns the prepared float (NaN = missing), or raises ``_Fallback`` where the batch path
    must decide (invalid values, ``returnInvalid`` on a missing value)."""

    __slots__ = ("name", "integer", "float32", "missing", "check", "outliers", "low", "high", "replacement", "return_invalid")

    def __init__(self, step) -> None:
        decl, mf = step.decl, step.mining
        dt = decl.data_type
        if dt not in (DataType.DOUBLE, DataType.FLOAT, DataType.INTEGER):
            raise _Unsupported(f"field {decl.name!r} of dataType {dt.value}")
        self.name = decl.name
        self.integer = dt is DataType.INTEGER
        self.float32 = dt is DataType.FLOAT
        self.missing = frozenset(v for v in decl.missing if isinstance(v, float) and v == v)
        if any(not isinstance(v, float) for v in decl.missing):
            raise _Unsupported("non-numeric missing values")
        self.check = _validity(decl)
        self.outliers = mf.outliers if step.op_type.value == "continuous" else "asIs"
        self.low = -math.inf if mf.low_value is None else mf.low_value
        self.high = math.inf if mf.high_value is None else mf.high_value
        rep = step.replacement
        if rep is not None and not isinstance(rep, float):
            raise _Unsupported("non-numeric missingValueReplacement")
        self.replacement = rep
        self.return_invalid = mf.missing_value_treatment == "returnInvalid"

    @property
    def plain(self) -> bool:
        """A double field without treatments: a float value (NaN = missing) is used as given."""
        return not (self.integer or self.float32 or self.missing or self.check or self.outliers != "asIs" or self.replacement is not None or self.return_invalid)

    @property
    def special(self) -> bool:
        """Has treatments beyond parsing (missing values, validity, outliers, replacement)."""
        return bool(self.missing or self.check or self.outliers != "asIs" or self.replacement is not None or self.return_invalid)

    def prepare(self, v: Any) -> float:
        if isinstance(v, float):
            x = float(v)
        elif type(v) is int:
            try:
                x = float(v)
            except OverflowError:
                raise _Fallback from None
        elif v is None:
            x = NAN
        else:
            raise _Fallback
        if x == x:
            if self.float32:
                x = _f32(x)
            elif self.integer and (x != math.floor(x) if math.isfinite(x) else True):
                raise _Fallback  # unparseable as an integer: invalid
        return self.treat(x)

    def treat(self, x: float) -> float:
        """``FieldStep._treat`` for a parsed value (NaN = missing)."""
        if x == x:
            if x in self.missing:
                x = NAN
            elif self.check is not None and not self.check(x):
                raise _Fallback  # invalid: invalidValueTreatment decides
            elif self.outliers != "asIs" and (x < self.low or x > self.high):
                if self.outliers == "asMissingValues":
                    x = NAN
                else:  # asExtremeValues: np.clip
                    x = self.low if x < self.low else self.high
        if x != x:
            if self.replacement is not None:
                return self.replacement
            if self.return_invalid:
                raise _Fallback
        return x


class _TextInput:
    """One top-level string field: ``FieldStep.prepare_raw`` for a str / None value (None =
    missing; the empty string is a value, as in the batch path)."""

    integer = float32 = False
    special = True
    plain = False

    def __init__(self, step) -> None:
        decl, mf = step.decl, step.mining
        self.name = decl.name
        self.missing = frozenset(decl.missing)
        self.invalid = frozenset(decl.invalid)
        self.valid = frozenset(decl.valid)
        rep = step.replacement
        if rep is not None and not isinstance(rep, str):
            raise _Unsupported("non-string missingValueReplacement")
        self.replacement = rep
        self.return_invalid = mf.missing_value_treatment == "returnInvalid"

    def prepare(self, v: Any) -> "str | None":
        if type(v) is str:
            if v in self.missing:
                v = None
            elif v in self.invalid or (self.valid and v not in self.valid):
                raise _Fallback  # invalid: invalidValueTreatment decides
        elif v is not None:
            raise _Fallback  # a number, a bool, NaN...: the batch path parses it
        if v is None:
            if self.replacement is not None:
                return self.replacement
            if self.return_invalid:
                raise _Fallback
        return v


class _Fallback(Exception):
    """This record needs the batch path."""


def _validity(decl) -> Callable[[float], bool] | None:
    """``FieldDecl.validity`` for one present float: True when valid."""
    invalid = [v for v in decl.invalid]
    valid = [v for v in decl.valid]
    intervals = list(decl.intervals) if decl.op_type.value == "continuous" else []
    if not invalid and not valid and not intervals:
        return None
    if any(not isinstance(v, float) for v in invalid + valid):
        raise _Unsupported("non-numeric valid / invalid values")
    bad_set, ok_set = frozenset(invalid), frozenset(valid)

    def inside(x: float, iv) -> bool:
        if iv.left is not None and not ((x > iv.left) if iv.closure.startswith("open") else (x >= iv.left)):
            return False
        if iv.right is not None and not ((x < iv.right) if iv.closure.endswith("Open") else (x <= iv.right)):
            return False
        return True

    def check(x: float) -> bool:
        if x in bad_set:
            return False
        if ok_set or intervals:
            return x in ok_set or any(inside(x, iv) for iv in intervals)
        return True

    return check


# --- model cores ---------------------------------------------------------------------------------
# A core maps the record's values (field name -> float, NaN = missing) to a result:
# regression: the value (NaN = missing); classification: the probabilities in the core's class
# order, or None when there is no prediction.


def _combine_missing(n_trees: int, count: float, wmiss: float, total_weight: float, treatment: str, threshold: float, votes: bool) -> bool:
    """``kernels.ensemble._missing_rows`` for one row."""
    missing = False
    if treatment == "returnMissing" or (treatment == "continue" and not votes):
        missing = count < n_trees
    if treatment == "skipSegment" or (treatment == "continue" and votes):
        with np.errstate(invalid="ignore", divide="ignore"):
            missing = missing or bool(np.float64(wmiss) / np.float64(total_weight) > threshold)
    return missing


class _KernelRow:
    """The one-row kernel input of a ``TreeArrays``: where each field the trees test goes
    (``slots``), the value -> code table of each coded (non-numeric) field (``codes``, as
    ``TreeArrays.encode_column``), and, after ``bind``, how to take the row straight from the
    record's input vector."""

    def __init__(self, arrays) -> None:
        names = sorted(arrays.used, key=lambda n: arrays.fields[n].column)
        self.width = arrays.n_features
        self.slots = [(name, arrays.fields[name].column) for name in names]
        self.codes = {n: arrays.categories.get(n, {}) for n in names if not arrays.fields[n].numeric}
        self.dense = not self.codes and [c for _, c in self.slots] == list(range(self.width))

    def bind(self, input_names: list[str]) -> None:
        """Read the kernel row straight from the record's input vector (``_Values.x``, in
        ``input_names`` order) when every kernel column is an input."""
        index = {n: j for j, n in enumerate(input_names)}
        self.perm = None
        self.identity = False
        if self.dense and all(n in index for n, _ in self.slots):
            perm = [index[n] for n, _ in self.slots]
            self.identity = perm == list(range(len(input_names)))
            self.perm = np.array(perm, dtype=np.intp)

    perm = None
    identity = False

    def row(self, values: Mapping[str, float]) -> np.ndarray:
        x = getattr(values, "x", None)
        if x is not None and self.perm is not None:
            return x if self.identity else x[self.perm]
        if self.dense:
            return np.array([values[n] for n, _ in self.slots])
        x = np.full(self.width, NAN)
        codes = self.codes
        for n, c in self.slots:
            v = values[n]
            table = codes.get(n)
            if table is not None:
                # encode_categories: the value's code, UNSEEN for others, NaN when missing
                if v is not None and type(v) is not str:
                    raise _Fallback  # a non-string value of a coded field (e.g. a chained output)
                v = NAN if v is None else table.get(v, UNSEEN)
            x[c] = v
        return x


class _Fused:
    """A fused tree ensemble (``models.fast.FusedEnsemble``) on the one-row kernels."""

    def __init__(self, compiled: "CompiledModel") -> None:
        fused = compiled.core.fused
        core = compiled.core
        self.arrays = arrays = fused.arrays
        self.kind = fused.kind
        self.method = core.method
        self.classes = core.classes
        self.float32 = core.float32
        self.weighted = fused.weighted
        self.weights = np.ascontiguousarray(fused.weights, dtype=np.float64)
        self.n_trees = fused.n_trees
        self.treatment, self.threshold = core.treatment, core.threshold
        self.total_weight = kernels.ensemble._total_weight(self.weights)
        self.table = np.ascontiguousarray(fused.table)
        self.row = _KernelRow(arrays)
        if self.kind == "values" and self.method not in ("sum", "weightedSum", "average", "weightedAverage"):
            raise _Unsupported(self.method)
        self.packed = None
        self.packed_le32 = None

    def _sum(self, x: np.ndarray) -> tuple:
        """``kernels.sum_values_row``, the batch kernels' one-row entry point: for the rows
        ``kernels.row.sum_values_pairs`` does not cover (a NaN in a tested column) and forests
        it does not cover (``row_pack.pack_pairs`` None; the packed form is built at the first
        record: ~5 ms on a 500-tree forest)."""
        return kernels.sum_values_row(x, self.arrays, self.table, weights=self.weights, weighted=self.weighted, float32=self.float32)

    def __call__(self, values: Mapping[str, float]):
        x = self.row.row(values)
        if self.kind == "values":
            packed = self.packed
            if packed is None:
                packed = self.packed = _pack_pairs(self) or False
            result = None
            if packed:
                result = row_kernels.sum_values_pairs(packed.B, x)
                if result[2] < 0.0:  # a NaN in a tested column (or a row too short)
                    result = None
            total, wsum, count, wmiss = result or self._sum(x)
            # kernels.combine_values
            if count == 0 or _combine_missing(self.n_trees, count, wmiss, self.total_weight, self.treatment, self.threshold, False):
                return NAN
            if self.method == "average":
                return total / count
            if self.method == "weightedAverage":
                return float(np.float64(total) / np.float64(wsum))
            return total
        if self.kind == "probabilities":
            total, wsum, wmiss, nmiss = kernels.sum_probabilities_row(x, self.arrays, self.table, weights=self.weights, weighted=self.weighted)
            # kernels.combine_probabilities
            if _combine_missing(self.n_trees, self.n_trees - nmiss, wmiss, self.total_weight, self.treatment, self.threshold, False):
                return None
            with np.errstate(invalid="ignore", divide="ignore"):
                return (total / wsum).tolist()
        votes, first, mvotes, wmiss, nmiss = kernels.vote_counts_row(
            x, self.arrays, self.table, len(self.classes), weights=self.weights, weighted=self.weighted
        )
        counts = kernels.ensemble.VoteCounts(votes[None, :], first[None, :], np.array([mvotes]), np.array([wmiss]), np.array([nmiss]))
        probs, winner = kernels.combine_votes(counts, n_trees=self.n_trees, weights=self.weights, treatment=self.treatment, threshold=self.threshold)
        if winner[0] < 0:
            return None
        return _Voted(probs[0].tolist(), int(winner[0]))


def _pack_pairs(fused: "_Fused"):
    """The fused sum's forest for ``kernels.row.sum_values_pairs`` (``row_pack.pack_pairs``),
    or None when that kernel does not cover it."""
    return pack_pairs(fused.arrays, fused.table, fused.weights, fused.weighted, fused.float32)


class _Tree:
    """A TreeModel on the kernels (``TreeCore.predict``): the leaf of the one-row walk."""

    def __init__(self, compiled: "CompiledModel") -> None:
        core = compiled.core
        if core.strategy in ("weightedConfidence", "aggregateNodes") or core.arrays is None:
            raise _Unsupported(core.strategy)
        self.arrays = core.arrays
        self.row = _KernelRow(core.arrays)
        self.classification = compiled.ctx.classification
        self.scores = core.scores.tolist()
        self.probabilities = core.probabilities if self.classification else None
        self.classes = core.classes

    def __call__(self, values: Mapping[str, float]):
        g = int(kernels.leaf_indices_row(self.row.row(values), self.arrays)[0])
        if not self.classification:
            return NAN if g < 0 else self.scores[g]
        if g < 0:
            return None
        probs = self.probabilities[g].tolist()
        if all(p != p for p in probs):
            raise _Fallback  # the node's record counts sum to zero: UndefinedResult
        label = self.scores[g]
        return _Voted(probs, self.classes.index(label)) if label is not None else probs


class _Values(dict):
    """The record's prepared values by name, and ``x``: the inputs as a float64 vector."""

    x: np.ndarray | None = None


_NUMBERS = frozenset({float, int})

# Generated code's first lines for a record whose inputs are all numbers: ``raw``, the values
# in the kernel's column order (ITEMS: an itemgetter of the input names); any other record (not
# a dict, a key missing, a value of another type) takes the generic path. The type test reads
# the types without building a set (20 floats: 0.68 us against 0.82 for ``set(...) <=``), and
# generated code makes the row with ``np.fromiter(raw, np.float64, n)`` (ROW), as
# ``np.array(raw, np.float64)`` for floats and ints (the same conversion of each, the same
# OverflowError beyond float64's range) in 0.81 us against 1.20.
_NUMBER_RECORD_HEAD = (
    "    if type(record) is not dict: return SLOW(record)",
    "    try:",
    "        raw = ITEMS(record)",
    "    except KeyError:",
    "        return SLOW(record)",
    "    if not NUMBERS.issuperset(map(type, raw)): return SLOW(record)",
)


class _Voted(list):
    """Vote probabilities with the winner the vote decided (ties: the first vote's class)."""

    def __init__(self, probs: list, winner: int) -> None:
        super().__init__(probs)
        self.winner = winner


def _regression_core(compiled: "CompiledModel"):
    """``models.regression.RegressionCore.predict`` for one record."""
    from quickscore.models.regression import LINKS

    core = compiled.core
    tables = []
    for t in core.tables:
        tables.append((t.numeric, t.terms, t.intercept, t.categorical))
    powered = any(e != 1 for numeric, *_ in tables for _, _, e in numeric)
    f32 = core.float32
    method = core.method

    def table_value(values: Mapping[str, float], numeric, terms, intercept, categorical) -> float:
        # Table.evaluate: y = 0; y = y + coef * x (** e); ...; y = y + intercept
        y = 0.0
        for name, coef, exponent in numeric:
            x = values[name]
            if type(x) is not float:
                raise _Fallback  # a text value where a number is read: the batch path converts
            y = y + (coef * x if exponent == 1 else float(coef * np.power(x, exponent)))
        for name, value, coef in categorical:
            # "If the input value is missing, then the categorical field is ignored"
            y = y + (coef if values[name] == value else 0.0)
        for fields, coef in terms:
            product = coef * values[fields[0]]
            for f in fields[1:]:
                product = product * values[f]
            y = y + product
        return y + intercept

    def evaluate(values, numeric, terms, intercept, categorical) -> float:
        if powered:
            with np.errstate(all="ignore"):
                y = table_value(values, numeric, terms, intercept, categorical)
        else:
            y = table_value(values, numeric, terms, intercept, categorical)
        return _f32(y) if f32 else y

    def link(name: str, y: float) -> float:
        if name == "logit" and y == y and -y < 709.0:
            return 1.0 / (1.0 + float(np.exp(-y)))  # float64 arithmetic: as the array expression
        with np.errstate(all="ignore"):
            return float(LINKS[name](np.array([y]))[0])

    if not compiled.ctx.classification:
        name = "logit" if method == "softmax" else method

        def finish_regression(ys):
            y = ys[0]
            if name in LINKS:
                y = link(name, y)
                return _f32(y) if f32 else y
            return y

        return _Linear(tables, evaluate, finish_regression, f32 or powered)
    if core.ordinal:
        raise _Unsupported("ordinal regression")
    k = len(tables)
    binary = k == 2 and (method in ("none", "probit", "cloglog", "loglog", "cauchit", "logit") or core.binary_logit)
    order = [core.classes.index(label) for label in core.labels]
    n_classes = len(core.classes)
    first_link = "logit" if core.binary_logit else method

    in_order = order == list(range(n_classes))

    def finish_classification(ys):
        for y in ys:
            if y != y:
                return None
        if binary:
            y0 = ys[0]
            first = min(max(y0, 0.0), 1.0) if method == "none" else link(first_link, y0)
            if in_order and not f32:
                return [first, 1.0 - first]
            probs = [first, 1.0 - first]
        else:
            with np.errstate(all="ignore"):
                probs = core._probabilities(np.array([ys]))[0].tolist()
        if f32:
            probs = [_f32(p) for p in probs]
        out = [NAN] * n_classes
        for j, p in zip(order, probs):
            out[j] = p
        return out

    linear = _Linear(tables, evaluate, finish_classification, f32 or powered)
    # finish_classification: the probability of class order[0] is 1 / (1 + exp(-y0)), of
    # order[1] 1 minus that, when no y is NaN and -y0 < 709 (RecordPath writes this case out
    # in its generated code).
    # With float32 arithmetic (f32), each table's sum and each probability is rounded to float32.
    if binary and method != "none" and first_link == "logit" and not powered and k == 2 and n_classes == 2:
        linear.logit_order = tuple(order)
        linear.f32 = f32
    return linear


class _Linear:
    """A RegressionModel's core: the tables' linear predictors, then ``finish(ys)``."""

    def __init__(self, tables: list, evaluate: Callable, finish: Callable, special: bool) -> None:
        self.tables = tables  # (numeric, terms, intercept, categorical) per table
        self.evaluate = evaluate
        self.finish = finish
        self.special = special  # float32 rounding or powers: no generated code

    def __call__(self, values: Mapping[str, float]):
        by_name = self.by_name
        if by_name is None:
            by_name = self.by_name = self.generate_by_name() or False
        if by_name:
            return self.finish(by_name(values))
        return self.finish([self.evaluate(values, *t) for t in self.tables])

    by_name = None
    logit_order: "tuple[int, int] | None" = None
    f32 = False

    def generate_by_name(self) -> Callable | None:
        """Python code for ``values -> ys`` (the prepared values by name, as ``table_value``
        reads them: a numeric predictor's value must be a float, else the batch path scores
        the record), or None for tables with float32 rounding, powers or categorical
        predictors. The sums are written out in ``Table.evaluate``'s order."""
        if self.special or any(categorical for *_, categorical in self.tables):
            return None
        consts: list[float] = []
        names: list[str] = []

        def const(v: float) -> str:
            consts.append(float(v))
            return f"C[{len(consts) - 1}]"

        def name(n: str) -> str:
            names.append(n)
            return f"V[N[{len(names) - 1}]]"

        lines = ["def linear(V):"]
        ys = []
        for t, (numeric, terms, intercept, _) in enumerate(self.tables):
            lines.append(f"    y{t} = 0.0")
            for field, coef, _ in numeric:
                lines.append(f"    x = {name(field)}")
                lines.append("    if type(x) is not float: raise FALLBACK")
                lines.append(f"    y{t} = y{t} + {const(coef)} * x")
            for fields, coef in terms:
                product = f"{const(coef)} * {name(fields[0])}"
                for f in fields[1:]:
                    product = f"({product}) * {name(f)}"
                lines.append(f"    y{t} = y{t} + {product}")
            lines.append(f"    y{t} = y{t} + {const(intercept)}")
            ys.append(f"y{t}")
        lines.append(f"    return [{', '.join(ys)}]")
        namespace = {"C": tuple(consts), "N": tuple(names), "FALLBACK": _Fallback}
        exec(compile("\n".join(lines), "<quickscore linear record path, by name>", "exec"), namespace)  # noqa: S102 - our own code
        return namespace["linear"]

    def generate(self, inputs: list, names: frozenset, tail: "tuple[list[str], dict] | None" = None) -> Callable | None:
        """Python code for ``record -> finish(ys)`` with the inputs inlined (plain inputs: a
        float is used as given; others through their ``_Input.prepare``), or None. The sums
        are written out in ``Table.evaluate``'s order; the floats are passed in as default
        arguments (local variables), not printed. ``tail``: the lines (and their names) that
        end the function instead of ``return FINISH([y0, ...])``, reading ``y0``, ``y1``..."""
        numeric_inputs = {name for name, inp in inputs if not isinstance(inp, _TextInput)}
        if self.special or any(categorical for *_, categorical in self.tables):
            return None
        if any(f not in numeric_inputs for numeric, terms, _, _ in self.tables for f in [n for n, _, _ in numeric] + [x for fs, _ in terms for x in fs]):
            return None
        slot = {name: j for j, (name, _) in enumerate(inputs)}
        consts: list[float] = []

        def const(v: float) -> str:
            consts.append(float(v))
            return f"c{len(consts) - 1}"

        xs = ", ".join(f"x{j}" for j in range(len(inputs)))
        lines = []
        if inputs:
            # Every input in one C call (operator.itemgetter); a record without some of them
            # takes them one by one (absent = None).
            lines += ["    try:", f"        {xs}{',' if len(inputs) == 1 else ''} = ITEMS(record)", "    except KeyError:", "        get = record.get"]
            lines += [f"        x{j} = get(N[{j}])" for j in range(len(inputs))]
        for j, (name, inp) in enumerate(inputs):
            test = f"type(x{j}) is not float" if inp is None else "True"
            lines.append(f"    if {test}: x{j} = P[{j}](x{j})")
        ys = []
        for t, (numeric, terms, intercept, _) in enumerate(self.tables):
            lines.append(f"    y{t} = 0.0")
            for name, coef, _ in numeric:
                lines.append(f"    y{t} = y{t} + {const(coef)} * x{slot[name]}")
            for fields, coef in terms:
                product = f"{const(coef)} * x{slot[fields[0]]}"
                for f in fields[1:]:
                    product = f"({product}) * x{slot[f]}"
                lines.append(f"    y{t} = y{t} + {product}")
            lines.append(f"    y{t} = y{t} + {const(intercept)}")
            ys.append(f"y{t}")
        if tail is None:
            lines.append(f"    return FINISH([{', '.join(ys)}])")
        else:
            lines += tail[0]
        defaults = "".join(f", c{j}=C[{j}]" for j in range(len(consts)))
        lines.insert(0, f"def linear(record{defaults}):")
        namespace = {
            **(tail[1] if tail is not None else {}),
            "ITEMS": operator.itemgetter(*(name for name, _ in inputs)) if len(inputs) > 1 else (lambda r: (r[inputs[0][0]],)),
            "N": tuple(name for name, _ in inputs),
            "P": tuple(inp.prepare if inp is not None else _prepare_plain for _, inp in inputs),
            "C": tuple(consts),
            "FINISH": self.finish,
        }
        exec(compile("\n".join(lines), "<quickscore linear record path>", "exec"), namespace)  # noqa: S102 - our own code
        return namespace["linear"]


def _prepare_plain(v: Any) -> float:
    """A plain input's value that is not a float: int, None, or the batch path."""
    if isinstance(v, float):
        return float(v)
    if type(v) is int:
        try:
            return float(v)
        except OverflowError:
            raise _Fallback from None
    if v is None:
        return NAN
    raise _Fallback


# --- one compiled model: core, Target, output fields ---------------------------------------------


class _Step:
    """A CompiledModel for one record: ``__call__(values, env) -> (value, probs, outputs)``."""

    def __init__(self, compiled: "CompiledModel") -> None:
        from quickscore.models.mining import MiningCore
        from quickscore.models.regression import RegressionCore
        from quickscore.models.tree import TreeCore

        self.ctx = ctx = compiled.ctx
        if compiled.steps or compiled.local or ctx.extra_targets:
            raise _Unsupported("nested MiningSchema treatments, local transformations or several targets")
        core = compiled.core
        self.classification = ctx.classification
        self.classes: tuple = tuple(getattr(core, "classes", ()))
        self.chain: list[_Step] | None = None
        if isinstance(core, MiningCore) and core.fused is not None:
            self.core = _Fused(compiled)
        elif isinstance(core, TreeCore):
            self.core = _Tree(compiled)
        elif isinstance(core, RegressionCore):
            self.core = _regression_core(compiled)
        elif isinstance(core, MiningCore) and core.method == "modelChain":
            model = compiled.model
            if core.local or any(not isinstance(s.predicate, TruePredicate) for s in model.segmentation.segments):
                raise _Unsupported("modelChain with segment predicates")
            self.chain = [_Step(s.model) for s in core.segments]
            self.core = None
        else:
            raise _Unsupported(type(core).__name__)
        targets = compiled.targets
        if self.classification and not targets.is_identity:
            raise _Unsupported("classification Target")
        self.target = None if targets.target is None and targets.default_value is None else targets
        if self.target is not None and self.target.target is not None and self.target.target.cast_integer not in (None, "round", "ceiling", "floor"):
            raise _Unsupported("castInteger")
        self.target_type = compiled.outputs.target_type
        self.outputs = [self._output(f, decl) for f, decl, _ in compiled.outputs.fields]
        self.numeric_label = self.classification and self.target_type.is_numeric

    def _output(self, f, decl):
        feature = f.feature
        if feature in ("transformedValue", "decision") and type(f.expression) is FieldRef and f.expression.map_missing_to is None:
            # A field's value as it is (e.g. the raw score of a GBM chain).
            ref = self.ctx.scope.find(f.expression.field)
            if ref is None or not ref.data_type.is_numeric:
                raise _Unsupported("OutputField refers to a non-numeric field")
            feature, label, source = "ref", f.expression.field, ref.data_type
        elif f.segment_id is not None or feature not in ("predictedValue", "probability"):
            raise _Unsupported(f"OutputField feature {feature}")
        elif feature == "predictedValue":
            # label_column(prediction, target_type)
            source = self.target_type
            if not self.classification and not source.is_numeric:
                raise _Unsupported("predictedValue type")
            label = None
        else:
            if f.value is None:
                raise _Unsupported("probability without value")
            label = self.ctx.parse_label(f.value, "OutputField value", f.loc)
            source = DataType.DOUBLE
        to = f.data_type
        if to is not None and to is not source:
            if not (source.is_numeric and to in (DataType.DOUBLE, DataType.FLOAT, DataType.INTEGER)):
                raise _Unsupported(f"OutputField dataType {to.value} from {source.value}")
            if self.classification and feature == "predictedValue":
                raise _Unsupported("re-typed predicted label")
        else:
            to = None
        index = self.classes.index(label) if feature == "probability" and label in self.classes else -1
        return f.name, feature, label, to, index

    def __call__(self, values: dict[str, float]):
        """(value, probabilities, outputs): value is the regression value or the class label
        (None = none); probabilities the list in ``classes`` order (None for regression or no
        prediction); outputs the output fields by name (chained ones included)."""
        if self.chain is not None:
            return self._chain(values)
        return self.complete(self.core(values), values)

    def reads(self) -> set[str]:
        """The field names the non-kernel cores of this step (and its chain) read by name."""
        if self.chain is not None:
            return set().union(*(step.reads() for step in self.chain))
        if isinstance(self.core, _Linear):
            return {
                n
                for numeric, terms, _, categorical in self.core.tables
                for n in [p[0] for p in numeric] + [f for fs, _ in terms for f in fs] + [p[0] for p in categorical]
            }
        return set()

    def kernel_rows(self) -> list[_KernelRow]:
        """The kernel inputs of this step's tree cores and its chain's."""
        if self.chain is not None:
            return [r for step in self.chain for r in step.kernel_rows()]
        return [self.core.row] if isinstance(self.core, (_Tree, _Fused)) else []

    def complete(self, result, values: dict):
        """(value, probabilities, outputs) from the core's result."""
        if not self.classification:
            value, probs = self._target(result), None
        elif result is None:
            value, probs = None, None
        else:
            probs = result
            if isinstance(result, _Voted):
                value = self.classes[result.winner]
            else:
                value = _argmax(self.classes, result)
        return value, probs, self._outputs(value, probs, values)

    def _target(self, y: float) -> float:
        """``TargetPlan.apply_regression`` for one value."""
        plan = self.target
        if plan is None:
            return y
        if plan.default_value is not None and y != y:
            y = plan.default_value
        t = plan.target
        if t is None:
            return y
        if t.min is not None:
            y = float(np.maximum(y, t.min))
        if t.max is not None:
            y = float(np.minimum(y, t.max))
        if t.rescale_factor != 1.0 or t.rescale_constant != 0.0:
            y = y * t.rescale_factor + t.rescale_constant
        if t.cast_integer == "round":
            y = float(np.floor(y + 0.5))
        elif t.cast_integer == "ceiling":
            y = float(np.ceil(y))
        elif t.cast_integer == "floor":
            y = float(np.floor(y))
        return y

    def _outputs(self, value, probs, values: dict) -> dict[str, Any]:
        out: dict[str, Any] = {}
        numeric_label = self.numeric_label
        for name, feature, label, to, index in self.outputs:
            if feature == "predictedValue":
                v = value
                if numeric_label:
                    v = NAN if v is None else float(v)
            elif feature == "ref":
                v = values[label]
            elif probs is None:
                v = NAN
            elif index >= 0:
                v = probs[index]
            else:
                v = 0.0  # Prediction.probability of an unknown label
            if to is DataType.FLOAT:
                v = _f32(v)
            elif to is DataType.INTEGER:
                v = float(np.trunc(v))
            out[name] = v
            values[name] = v  # visible to later output fields and later chain segments
        return out

    def _chain(self, values: dict[str, float]):
        """``MiningCore._select`` / ``_chained`` for a modelChain whose segments all run."""
        value = probs = None
        last_outputs: dict[str, Any] = {}
        last = None
        for step in self.chain:
            value, probs, last_outputs = step(values)
            last = step
        if last.classification != self.classification:
            value, probs = (None, None) if self.classification else (NAN, None)
        elif self.classification and probs is not None and last.classes != self.classes:
            mapped = [0.0] * len(self.classes)
            for c, p in zip(last.classes, probs):
                if c in self.classes:
                    mapped[self.classes.index(c)] = p
            probs = mapped
        elif self.classification and value is None:
            probs = None
        if not self.classification and self.target is not None:
            value = self._target(value)
        own = self._outputs(value, probs, values)
        if not last_outputs:
            return value, probs, own
        return value, probs, {**last_outputs, **own} if own else last_outputs


def _argmax(classes: tuple, probs: list) -> Any:
    """``argmax_labels`` for one row: None when every probability is NaN, else the first
    maximum with NaN read as -inf."""
    if len(probs) == 2:
        p0, p1 = probs
        if p0 != p0:
            if p1 != p1:
                return None
            p0 = -math.inf
        elif p1 != p1:
            p1 = -math.inf
        return classes[0] if p0 >= p1 else classes[1]
    if all(p != p for p in probs):
        return None
    q = [-math.inf if p != p else p for p in probs]
    return classes[q.index(max(q))]


# --- the whole model -------------------------------------------------------------------------------


class RecordPath:
    """``Model.predict(dict)`` without the batch machinery (see the module doc)."""

    def __init__(self, model: "Model") -> None:
        if model._global:
            raise _Unsupported("TransformationDictionary")
        inputs = [_TextInput(step) if step.decl.data_type is DataType.STRING else _Input(step) for step in model._plan.steps]
        self.step = _Step(model._compiled)
        rows = self.step.kernel_rows()
        if len(rows) == 1 and rows[0].dense:
            # The inputs in the kernel's column order: the input vector is then the kernel row.
            column = {n: c for n, c in rows[0].slots}
            inputs.sort(key=lambda i: column.get(i.name, len(column)))
        self.text = any(isinstance(i, _TextInput) for i in inputs)
        # (name, None) for a plain input (a float is used as given), else (name, the _Input)
        self.inputs = [(i.name, None if i.plain else i) for i in inputs]
        self.prepare = {i.name: i.prepare for i in inputs}
        self.names = frozenset(self.prepare)
        self.input_names = [i.name for i in inputs]
        f32 = [j for j, i in enumerate(inputs) if i.float32]
        self.f32_all = bool(inputs) and len(f32) == len(inputs)
        self.f32_idx = np.array(f32, dtype=np.intp) if f32 and not self.f32_all else None
        ints = [j for j, i in enumerate(inputs) if i.integer]
        self.int_idx = np.array(ints, dtype=np.intp) if ints else None
        self.special = [(j, i) for j, i in enumerate(inputs) if i.special]
        # All inputs in one C call (operator.itemgetter) from a plain dict holding them all.
        self.items = operator.itemgetter(*self.input_names) if len(inputs) > 1 else (lambda r: (r[self.input_names[0]],)) if inputs else (lambda r: ())
        decl = model._target_decl
        if decl.data_type is DataType.BOOLEAN or model._extra_targets:
            raise _Unsupported("boolean or several targets")
        self.target_name = model._target_name
        self.numeric_label = decl.data_type.is_numeric
        self.outputs = []
        for name, out_decl in model._output_fields:
            if out_decl.data_type is DataType.BOOLEAN:
                raise _Unsupported("boolean output")
            self.outputs.append(name)
        step = self.step
        core = step.core
        self.linear = core.generate(self.inputs, self.names) if isinstance(core, _Linear) else None
        # Only the fused kernels read the inputs as a vector; other cores read them by name.
        self.by_name = False
        for row in step.kernel_rows():
            row.bind(self.input_names)
            self.by_name |= row.perm is None
        self.by_name |= bool(step.reads() & self.names) or self.text
        self.default_probabilities = []
        if model._default_outputs and step.classification:
            self.default_probabilities = [(f"probability({_text(c)})", j) for j, c in enumerate(step.classes)]
        if model.output_names != [self.target_name, *[n for n in self.outputs if n != self.target_name], *[n for n, _ in self.default_probabilities]]:
            raise _Unsupported("output layout")
        # record -> the output dict in one generated function (None: the generic path)
        self.fast = None
        if self.linear is not None and core.logit_order is not None and not core.f32:
            tail = self._logit_tail([step], {}, core.logit_order, False)
            self.fast = core.generate(self.inputs, self.names, tail) if tail is not None else None
        elif step.chain is not None:
            self.fast = self._gbm_chain()
        elif isinstance(core, _Fused) and core.kind == "probabilities":
            self.fast = self._forest_probabilities()

    def _logit_tail(self, layers: list, refs: dict[str, str], order: tuple, f32: bool, head: "list[str] | None" = None) -> "tuple[list[str], dict] | None":
        """The end of generated code (``_Linear.generate``, ``_gbm_chain``) whose last model is
        a binary logistic regression with ys ``y0``, ``y1``: ``finish_classification``,
        ``_Step.complete``, the output fields of ``layers`` (that step, then the chains
        holding it: a later one's field of the same name wins, as in ``_Step._chain``) and
        ``score`` written out for y0, y1 not NaN and -y0 < 709 (the output dict as a literal,
        keys in ``score``'s order); other records take the generic path (``SLOW(record)``).
        None when an output field is not a class probability, the predicted value or one of
        ``refs`` (field name -> expression), or converts to an integer. ``f32``: the
        regression's float32 arithmetic (the probabilities rounded to float32). ``head``: the
        lines that set ``p0``, ``p1`` (no NaN) or return ``SLOW(record)``, instead of the
        logistic function of ``y0``, ``y1``."""
        step = self.step
        last = layers[0]
        if step.target is not None or len(step.classes) != 2 or any(s.classes != last.classes or s.target is not None for s in layers):
            return None
        specs = {}
        for s in layers:
            for spec in s.outputs:  # _outputs: the last one of a name wins
                specs[spec[0]] = (s, spec)
        consts: dict[str, Any] = {}

        def const(v: Any) -> str:
            name = f"K{len(consts)}"
            consts[name] = v
            return name

        def label(k: int, s) -> str:
            v = last.classes[k]
            if s is None:  # score's label
                if self.numeric_label and v is not None:
                    v = float(v)
            elif s.numeric_label:  # _Step._outputs' predictedValue
                v = NAN if v is None else float(v)
            return const(_py(v))

        def entries(k: int) -> str | None:
            items = [f"T: {label(k, None)}"]
            for j, name in enumerate(self.outputs):
                found = specs.get(name)
                if found is None:
                    expr = "None"
                else:
                    s, (_, feature, field, to, index) = found
                    if feature == "probability":
                        expr = f"p{index}" if index >= 0 else "0.0"
                    elif feature == "predictedValue":
                        expr = label(k, s)
                    elif feature == "ref" and field in refs:
                        expr = refs[field]
                    else:
                        return None
                    if to is DataType.FLOAT:
                        expr = f"F32({expr})"
                    elif to is not None:
                        return None
                items.append(f"O[{j}]: {expr}")
            items += [f"D[{j}]: p{index}" for j, (_, index) in enumerate(self.default_probabilities)]
            return "{" + ", ".join(items) + "}"

        first, second = entries(0), entries(1)
        if first is None or second is None:
            return None
        if head is None:
            head = [
                "    if not (y0 == y0 and y1 == y1 and -y0 < 709.0): return SLOW(record)",
                "    q = 1.0 / (1.0 + float(EXP(-y0)))",
                f"    p{order[0]} = F32(q)" if f32 else f"    p{order[0]} = q",
                f"    p{order[1]} = F32(1.0 - q)" if f32 else f"    p{order[1]} = 1.0 - q",
            ]
        lines = [
            *head,
            "    if p0 >= p1:",  # _argmax of two probabilities without NaN
            f"        return {first}",
            f"    return {second}",
        ]
        namespace = {
            **consts,
            "T": self.target_name,
            "O": tuple(self.outputs),
            "D": tuple(name for name, _ in self.default_probabilities),
            "EXP": np.exp,
            "F32": _f32,
            "SLOW": self._generic,
        }
        return lines, namespace

    def _gbm_chain(self) -> Callable | None:
        """Generated code for a modelChain of a tree ensemble's sum (a regression, one output
        field: its predicted value) and a binary logistic regression of that value (a GBM
        classifier: LightGBM, XGBoost): the ensemble through ``_Fused`` (and ``_Step._target``
        for a Target), then the regression's sums and ``_logit_tail``. None for other chains."""
        top = self.step
        if len(top.chain) != 2 or not top.classification or top.target is not None:
            return None
        first, second = top.chain
        if not isinstance(first.core, _Fused) or first.core.kind != "values" or first.classification or first.chain is not None:
            return None
        if len(first.outputs) != 1 or first.outputs[0][1] != "predictedValue" or first.outputs[0][3] not in (None, DataType.FLOAT):
            return None
        name, _, _, to, _ = first.outputs[0]
        lin = second.core
        if not isinstance(lin, _Linear) or lin.logit_order is None or second.chain is not None:
            return None
        if any(terms or categorical or any(f != name for f, _, _ in numeric) for numeric, terms, _, categorical in lin.tables):
            return None
        tail = self._logit_tail([second, top], {name: "v"}, lin.logit_order, lin.f32)
        if tail is None:
            return None
        consts: list[float] = []

        def const(v: float) -> str:
            consts.append(float(v))
            return f"c{len(consts) - 1}"

        fused = first.core
        row = fused.row
        direct = (
            fused.arrays.all_le
            and fused.method in ("sum", "weightedSum")
            and fused.treatment in ("returnMissing", "continue")
            and fused.n_trees > 0
            and row.identity
            and row.perm is not None
            and not self.by_name
        )
        plain = all(inp is None for _, inp in self.inputs)
        # fields of dataType float without other treatments: the kernel rounds the row
        rounded = not plain and self.f32_all and self.int_idx is None and not self.special
        direct = direct and (plain or rounded)
        namespace: dict[str, Any] = {}
        if direct:
            # _values, _Fused and kernels.combine_values written out for plain inputs (a float
            # or an int as given; for fields of dataType float, rounded to float32 in the
            # kernel) already in the kernel's column order: the sum is the value
            # when every tree has one (returnMissing / continue); other records take the
            # generic path. The packed forest is built at the first record (FIRST).
            body = [
                *_NUMBER_RECORD_HEAD,
                "    if PF is None: return FIRST(record)",
                "    r = SUM(PF, ROW(raw, FLOAT64, N_INPUTS))",
                "    if r[2] != NT: return SLOW(record)",
                "    v = r[0]",
            ]

            def first_record(record):
                packed = fused.packed
                if packed is None:
                    packed = fused.packed = _pack_pairs(fused) or False
                if packed:
                    namespace.update(PF=packed.B)
                else:
                    namespace.update(PF=False, SUM=lambda *_: (NAN, NAN, -1.0, NAN))  # always the generic path
                return namespace["gbm"](record)

            namespace.update(
                ITEMS=self.items, NUMBERS=_NUMBERS, PF=None, FIRST=first_record, ROW=np.fromiter, N_INPUTS=len(self.input_names),
                SUM=row_kernels.sum_values_pairs_float32_inputs if rounded else row_kernels.sum_values_pairs,
                FLOAT64=np.float64, NT=float(fused.n_trees),
            )
        else:
            body = ["    v = FUSED(VALUES(record))"]
        if first.target is not None:
            body.append("    v = TARGET(v)")
        if to is DataType.FLOAT:
            body.append("    v = F32(v)")
        body.append("    if type(v) is not float: return SLOW(record)")
        for t, (numeric, _, intercept, _) in enumerate(lin.tables):
            body.append(f"    y{t} = 0.0")
            for _, coef, _ in numeric:
                body.append(f"    y{t} = y{t} + {const(coef)} * v")
            body.append(f"    y{t} = y{t} + {const(intercept)}")
            if lin.f32:  # evaluate: the table's value in float32
                body.append(f"    y{t} = F32(y{t})")
        defaults = "".join(f", c{j}=C[{j}]" for j in range(len(consts)))
        lines = [f"def gbm(record{defaults}):", *body, *tail[0]]
        namespace.update(tail[1], C=tuple(consts), FUSED=first.core, TARGET=first._target, VALUES=self._values)
        exec(compile("\n".join(lines), "<quickscore GBM chain record path>", "exec"), namespace)  # noqa: S102 - our own code
        return namespace["gbm"]

    def _forest_probabilities(self) -> Callable | None:
        """Generated code for a binary classifier forest averaging its leaves' probabilities
        (scikit-learn's RandomForestClassifier through sklearn2pmml: ``multipleModelMethod``
        average of TreeModels with ScoreDistributions) whose inputs are all fields of
        dataType float without treatments, in the kernel's column order: ``_values``,
        ``_Fused`` (``kernels.sum_probabilities_row`` on ``row_pack.pack_le32``'s float32
        forest, exact for float32 inputs) and ``kernels.combine_probabilities`` written out
        for a record of floats / ints with no NaN where every tree has a leaf with
        probabilities (returnMissing / continue: none is missing), then ``_logit_tail``'s
        outputs. Other records take the generic path. None for other models."""
        step = self.step
        fused = step.core
        row = fused.row
        if not (
            fused.arrays.all_le
            and len(step.classes) == 2
            and fused.table.ndim == 2
            and fused.table.shape[1] == 2
            and not fused.weighted
            and fused.treatment in ("returnMissing", "continue")
            and fused.n_trees > 0
            and row.identity
            and row.perm is not None
            and not self.by_name
            and self.f32_all
            and self.int_idx is None
            and not self.special
        ):
            return None
        # combine_probabilities: total / wsum (wsum = the number of trees: none is missing)
        head = [
            *_NUMBER_RECORD_HEAD,
            "    if PB is None: return FIRST(record)",
            "    t0, t1, wsum, nmiss = PROBA(PB, ROW(raw, FLOAT64, N_INPUTS))",
            "    if nmiss != 0.0: return SLOW(record)",
            "    p0 = t0 / wsum",
            "    p1 = t1 / wsum",
            "    if not (p0 == p0 and p1 == p1): return SLOW(record)",
        ]
        tail = self._logit_tail([step], {}, (0, 1), False, head)
        if tail is None:
            return None
        namespace: dict[str, Any] = {}

        def first_record(record):
            # The packed forest is built at the first record, not at load: ``pack_le32`` is a
            # numba function, and a process's first numba call costs ~1 s (numba's registries),
            # which a load that calls no kernel does not pay. 27 ms on W1 (100 trees, 291k
            # tests; min of 7 at load average 8-11 on 2 cores).
            packed = fused.packed_le32
            if packed is None:
                packed = fused.packed_le32 = pack_le32(fused.arrays, fused.table) or False
            if packed:
                namespace.update(PB=packed.B)
            else:
                namespace.update(PB=False, PROBA=lambda *_: (NAN, NAN, NAN, -1.0))  # always the generic path
            return namespace["forest"](record)

        namespace.update(tail[1], ITEMS=self.items, NUMBERS=_NUMBERS, PB=None, FIRST=first_record, PROBA=row_kernels.proba2_le32, ROW=np.fromiter, N_INPUTS=len(self.input_names), FLOAT64=np.float64)
        exec(compile("\n".join(["def forest(record):", *tail[0]]), "<quickscore forest probabilities record path>", "exec"), namespace)  # noqa: S102 - our own code
        return namespace["forest"]

    def _values(self, record: Mapping[str, Any]) -> _Values:
        """The prepared inputs: one numpy conversion when every value is a float or an int
        (then float32 rounding, integer checks and the fields with treatments), else field by
        field."""
        raw = None
        if type(record) is dict:  # (a defaultdict's item lookup would insert the missing keys)
            try:
                raw = self.items(record)
            except KeyError:
                pass
        if raw is None:
            raw = tuple(map(record.get, self.input_names))
        values = _Values()
        if self.text:  # by name only (no input vector)
            prepare = self.prepare
            values.update((n, prepare[n](v)) for n, v in zip(self.input_names, raw))
            return values
        if set(map(type, raw)) <= _NUMBERS:
            x = np.array(raw, dtype=np.float64)
            if self.f32_all or self.f32_idx is not None:
                with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as Java's (float) cast
                    if self.f32_all:
                        x = x.astype(np.float32).astype(np.float64)
                    else:
                        x[self.f32_idx] = x[self.f32_idx].astype(np.float32)
            if self.int_idx is not None:
                xi = x[self.int_idx]
                if not (np.isfinite(xi) & (xi == np.floor(xi)) | np.isnan(xi)).all():
                    raise _Fallback
            for j, inp in self.special:
                x[j] = inp.treat(float(x[j]))
        else:
            prepare = self.prepare
            x = np.array([prepare[n](v) for n, v in zip(self.input_names, raw)], dtype=np.float64)
        values.x = x
        if self.by_name:
            values.update(zip(self.input_names, x.tolist()))
        return values

    @classmethod
    def build(cls, model: "Model") -> "RecordPath | None":
        try:
            return cls(model)
        except _Unsupported:
            return None

    def score(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """The model's outputs for ``record``, or None when the batch path must score it."""
        try:
            if self.fast is not None:
                return self.fast(record)
            return self._generic(record)
        except Exception:  # _Fallback, or anything unexpected: the batch path scores this
            return None  # record, and reports its errors (a defect as an EvaluationError)

    def _generic(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """``score`` step by step (raises _Fallback & co.)."""
        if self.linear is not None:
            value, probs, outputs = self.step.complete(self.linear(record), {})
        else:
            value, probs, outputs = self.step(self._values(record))
        return self._out(value, probs, outputs)

    def _out(self, value, probs, outputs: dict) -> dict[str, Any]:
        """The output dict from the model's (value, probabilities, output fields)."""
        step = self.step
        if step.classification:
            label = value
            if self.numeric_label and label is not None:
                label = float(label)
        else:
            label = value
        out = {self.target_name: _py(label)}
        for name in self.outputs:
            v = outputs.get(name)
            out[name] = v if type(v) is float and v == v else _py(v)
        if self.default_probabilities:
            for name, j in self.default_probabilities:
                if probs is None:
                    out[name] = None
                else:
                    v = probs[j]
                    out[name] = v if type(v) is float and v == v else _py(v)
        return out


def _py(v: Any) -> Any:
    """As ``runtime.model._scalar``: NaN -> None, numpy scalars -> Python."""
    if type(v) is float:
        return None if v != v else v
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    return v
