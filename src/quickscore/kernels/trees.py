"""Tree ensembles as flat arrays: lowering IR TreeModels into a decision graph of tests.

``lower_trees(trees, fields)`` turns a list of ``ir.TreeModel`` into one ``TreeArrays``
that the numba kernels of ``quickscore.kernels.tree_kernels`` walk, row by row, with the
exact semantics of the reference evaluator ``quickscore.models.tree.TreeCore.leaves``
(three-valued predicates, children tried in document order, missingValueStrategy,
noTrueChildStrategy, defaultChild "missing levels"). It returns None when a tree holds
something it cannot express exactly; the caller then runs the reference evaluator.

The decision graph
------------------
A PMML node with children c1..ck is a chain of *tests*: test c1's predicate; TRUE -> enter
c1; FALSE -> test c2; ...; after ck: the noTrueChildStrategy outcome; UNKNOWN -> the
missingValueStrategy outcome (none: as FALSE; lastPrediction: stop at the node;
nullPrediction: stop with no prediction; defaultChild: enter the default child, one missing
level). Compound predicates (and / or / xor / surrogate, nested) expand into tests of their
simple parts wired so that the T / F / UNKNOWN exits of the whole are reached exactly as the
three-valued logic of ``schema.predicates`` says. True / False predicates need no test.

Every test is ``cond(x[feature])`` with three exits: ``true_next``, ``false_next``,
``missing_next`` (x is NaN). An exit is either another test (index >= 0) or a *terminal*
``-(g + 2)`` that ends the walk with result g: the global pre-order index of a PMML node, or
-1 for "no prediction" (the terminal -1).

Then *jump threading* removes tests whose outcome is already known from an earlier test of
the same column: after ``x <= t`` was FALSE, a following ``x > t`` is TRUE; after any test
saw NaN, a following test on that column sees NaN too. So the usual ``[x <= t, x > t]``,
``[x <= t, True]``, ``[isIn S, isNotIn S]``, ``[x == v, x != v]`` pairs become a single binary
split with a default (missing) direction, and multi-way chains keep one test per child.
Tests that can no longer be reached are dropped; the rest are numbered depth first (TRUE exit
first) per tree, so a walk mostly moves forward in memory.

Categorical fields
------------------
A field whose dataType is not numeric (string, date, ...) is held in the input matrix as
float64 *codes*: the value's position in ``TreeArrays.categories[field]`` (the caller's
``FieldEncoding.categories`` first, then every other value the trees compare it with),
``NaN`` = missing, ``UNSEEN`` (-1.0) = a present value outside the table (equal to no
predicate value, member of no set). ``TreeArrays.encode`` builds the matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from quickscore.ir import (
    CompoundPredicate,
    DataType,
    FalsePredicate,
    Node,
    SimplePredicate,
    SimpleSetPredicate,
    TreeModel,
    TruePredicate,
)
from quickscore.errors import QuickscoreError
from quickscore.ir.flat import PRED_OBJECT, PRED_SIMPLE
from quickscore.ir.types import OpType
from quickscore.schema.fields import FieldDecl
from quickscore.schema.values import ParseError
from quickscore.kernels.columns import FILL_BLOCK, fill_rows
from quickscore.kernels.options import run_chunks

# --- layout (op codes, records): see _layout -----------------------------------------------------

from quickscore.kernels._layout import (  # noqa: E402  (re-exported)
    FAST_DTYPE,
    MAX_COLUMNS,
    MAX_LEVELS,
    NODE_DTYPE,
    OP_BITS,
    OP_EQ,
    OP_LE,
    OP_SHIFT,
    OP_SORTED,
    UNSEEN,
)


def terminal(g: int) -> int:
    """The exit code that ends a walk with global node index ``g`` (-1: no prediction)."""
    return -(g + 2)


# --- inputs and outputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldEncoding:
    """How one field is held in the input matrix.

    ``column``: its column. ``data_type``: the field's dataType; numeric dataTypes are held
    as float64 (NaN = missing, dataType float already float32-rounded, as in
    ``schema.values``); any other dataType (string, date, ...) as category codes.
    ``categories``: for a coded field, values (of the field's run-time type, e.g. ``str``)
    whose codes are fixed: the i-th gets code i. Values the trees use and this tuple lacks
    are appended (see ``TreeArrays.categories``).
    """

    column: int
    data_type: DataType
    categories: tuple = ()

    @property
    def numeric(self) -> bool:
        return self.data_type.is_numeric


@dataclass(frozen=True, eq=False)
class TreeArrays:
    """Trees lowered for the kernels (all trees concatenated, in the order given).

    * ``nodes``: NODE_DTYPE (n_tests,): the tests of every tree, each tree's contiguous.
    * ``fast``: FAST_DTYPE (n_tests,) and ``features``: int32 (n_tests,) ``feature | op << 24``:
      the same tests, compact (16 + 4 bytes), for walks of rows without NaN.
    * ``bitsets``: uint64 (n_words,): OP_BITS sets; at offset o: ``bitsets[o]`` = number of
      words w, then w words; code c is a member iff bit ``c & 63`` of word ``c >> 6`` is set.
    * ``set_values``: float64 (n_values,): OP_SORTED sets; at offset o: ``set_values[o]`` =
      length m, then m ascending values (no NaN).
    * ``roots``: int32 (n_trees,): the first test of each tree, or a terminal (a tree whose
      result does not depend on the row, e.g. a single leaf or a root predicate False).
    * ``node_offsets``: int32 (n_trees + 1,): tree t's PMML nodes have global indices
      ``node_offsets[t] .. node_offsets[t + 1] - 1``; global = offset + the pre-order index
      ``TreeCore`` uses (``LoweredNode.index``). Per-node tables of the fused kernels
      (leaf values, classes, probabilities) are indexed by the global index.
    * ``all_le``: every test is OP_LE (the kernels then skip the op dispatch).
    * ``used_cols``: int64, the sorted columns some test reads (a row with NaN in one of
      them takes the slower walk that handles missing exits).
    * ``n_features``: the input matrix needs at least this many columns.
    * ``fields``: the encodings given to ``lower_trees``; ``used``: the fields the trees test.
    * ``categories``: per coded field, the final value -> code table.
    """

    nodes: np.ndarray
    fast: np.ndarray
    features: np.ndarray
    bitsets: np.ndarray
    set_values: np.ndarray
    roots: np.ndarray
    node_offsets: np.ndarray
    all_le: bool
    used_cols: np.ndarray
    n_features: int
    fields: dict[str, FieldEncoding]
    used: frozenset[str]
    categories: dict[str, dict[Any, int]] = field(default_factory=dict)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def n_nodes(self) -> int:
        """Total PMML nodes over all trees (the length of per-node tables)."""
        return int(self.node_offsets[-1])

    @property
    def n_tests(self) -> int:
        return len(self.nodes)

    def encode_column(self, name: str, values: np.ndarray) -> np.ndarray:
        """One field's column for the matrix: float64 values, or codes for a coded field."""
        enc = self.fields[name]
        if enc.numeric:
            return np.asarray(values, dtype=np.float64)
        return encode_categories(values, self.categories.get(name, {}))

    def encode(self, columns: Mapping[str, np.ndarray], n: int, n_threads: int | None = 1) -> np.ndarray:
        """The C-contiguous float64 (n, n_features) input matrix from typed columns.

        ``columns`` maps field name -> the column as ``schema.values`` holds it (float64 with
        NaN for numeric fields; object with None = missing otherwise). Every field in
        ``used`` must be present; other columns of the matrix are NaN. ``n_threads``: the
        threads that fill it (by rows; None: the kernels' default, ``options.n_threads()``).
        """
        # Contiguous float64 columns of n values: fill_rows reads them through their addresses
        # (the list keeps them alive during the call).
        encoded = [np.ascontiguousarray(self.encode_column(name, columns[name]), dtype=np.float64) for name in self.used]
        for name, values in zip(self.used, encoded):
            if values.shape != (n,):
                raise ValueError(f"column '{name}' holds {values.shape} values; the matrix needs ({n},)")
        X = np.empty((n, self.n_features)) if len(encoded) == self.n_features else np.full((n, self.n_features), np.nan)
        addrs = np.array([values.ctypes.data for values in encoded], dtype=np.intp)
        cols = np.array([self.fields[name].column for name in self.used], dtype=np.intp)
        # Written in blocks of rows (``columns.FILL_BLOCK``): a column written down a whole
        # C-order matrix touches every cache line of it once per column (measured 2.6x slower
        # for 100k x 20); one kernel call instead of a numpy slice assignment per block and
        # column (100k x 20: 3.2-3.6 -> 2.2-2.3 ms; 1.3-1.5 ms on 2 threads).
        if n:
            run_chunks(fill_rows, n, n_threads, (X, addrs, cols), FILL_BLOCK)
        return X


def encode_categories(values: np.ndarray, table: Mapping[Any, int]) -> np.ndarray:
    """Codes of an object column: ``table[v]``, UNSEEN for other values, NaN for None."""
    values = np.asarray(values, dtype=object)
    out = np.full(len(values), UNSEEN)
    if table:
        # Codes are positions in the table's insertion order (0..K-1).
        index = pd.Index(list(table), dtype=object)
        codes = index.get_indexer(values)
        hit = codes >= 0
        out[hit] = codes[hit]
    out[np.equal(values, None)] = np.nan
    return out


from quickscore.kernels._flat import first_seen, lower_flat  # noqa: E402

# --- lowering --------------------------------------------------------------------------------


class _Unsupported(Exception):
    pass


# An exit while building: (target, levels). target: a test id (>= 0), a terminal (< 0), or
# None for "the default child that does not exist" (lowering fails if a walk can reach it).
Exit = tuple[Any, int]

_STRATEGIES = ("none", "lastPrediction", "nullPrediction", "defaultChild")
_MAX_TESTS_PER_PREDICATE = 4096


@dataclass
class _Test:
    feature: int
    op: int
    threshold: float  # OP_LE / OP_EQ
    members: tuple = ()  # OP_BITS: sorted int codes; OP_SORTED: sorted floats
    true: Exit = (None, 0)
    false: Exit = (None, 0)
    missing: Exit = (None, 0)


class _Builder:
    def __init__(self, fields: Mapping[str, FieldEncoding]):
        self.fields = fields
        self.tests: list[_Test] = []
        self.used: set[str] = set()
        self.categories: dict[str, dict[Any, int]] = {}
        self.n_nodes = 0
        self._budget = _MAX_TESTS_PER_PREDICATE
        self._decls: dict[str, FieldDecl] = {}
        self._parsed: dict[tuple[str, str], Any] = {}
        self._strategy = "none"
        self._return_last = False

    # -- fields and values

    def _field(self, name: str) -> FieldEncoding:
        enc = self.fields.get(name)
        if enc is None:
            raise _Unsupported(f"field {name!r} has no encoding")
        self.used.add(name)
        return enc

    def _parse(self, name: str, text: str | None):
        """A predicate operand, read exactly as ``schema.predicates`` reads it."""
        if text is None:
            raise _Unsupported("predicate without a value")
        key = (name, text)
        value = self._parsed.get(key, self)
        if value is self:
            value = self._parsed[key] = self._parse_new(name, text)
        return value

    def _parse_new(self, name: str, text: str):
        enc = self.fields[name]
        decl = self._decls.get(name)
        if decl is None:
            decl = self._decls[name] = FieldDecl(name, enc.data_type, OpType.CONTINUOUS if enc.numeric else OpType.CATEGORICAL)
        try:
            return decl.parse_operand(text, "predicate value")
        except (QuickscoreError, ParseError, ValueError, TypeError, OverflowError, KeyError):
            raise _Unsupported(f"value {text!r} of field {name!r}") from None

    def table(self, name: str) -> dict[Any, int]:
        """The value -> code table of a coded field: the caller's categories first."""
        table = self.categories.get(name)
        if table is None:
            table = {}
            for v in self.fields[name].categories:
                table.setdefault(v, len(table))
            self.categories[name] = table
        return table

    def _code(self, name: str, value) -> int:
        table = self.table(name)
        code = table.get(value)
        if code is None:
            code = table[value] = len(table)
        return code

    # -- tests

    def _test(self, enc: FieldEncoding, op: int, threshold: float, members: tuple, t: Exit, f: Exit, m: Exit) -> Exit:
        self.tests.append(_Test(enc.column, op, threshold, members, t, f, m))
        self._budget -= 1
        if self._budget < 0:
            raise _Unsupported("predicate expands into too many tests")
        return (len(self.tests) - 1, 0)

    def _le(self, enc, threshold: float, t: Exit, f: Exit, m: Exit, swap: bool = False) -> Exit:
        if swap:
            t, f = f, t
        return self._test(enc, OP_LE, threshold, (), t, f, m)

    def _eq(self, enc, value: float, t: Exit, f: Exit, m: Exit, swap: bool = False) -> Exit:
        if swap:
            t, f = f, t
        return self._test(enc, OP_EQ, value, (), t, f, m)

    def _members(self, enc, members: list, t: Exit, f: Exit, m: Exit, swap: bool, codes: bool) -> Exit:
        if swap:
            t, f = f, t
        if not members:
            return self._test(enc, OP_LE, math.nan, (), t, f, m)  # FALSE for every present value
        if len(members) == 1:
            return self._test(enc, OP_EQ, float(members[0]), (), t, f, m)
        return self._test(enc, OP_BITS if codes else OP_SORTED, 0.0, tuple(sorted(members)), t, f, m)

    # -- predicates: compile(p, T, F, U) returns the exit that starts evaluating p

    def compile(self, p, t: Exit, f: Exit, u: Exit) -> Exit:
        kind = type(p)
        if kind is SimplePredicate:
            return self._simple(p, t, f, u)
        if kind is TruePredicate:
            return t
        if kind is FalsePredicate:
            return f
        if kind is SimpleSetPredicate:
            return self._set(p, t, f, u)
        if kind is CompoundPredicate:
            return self._compound(p, t, f, u)
        raise _Unsupported(f"predicate {kind.__name__}")

    def _simple(self, p: SimplePredicate, t: Exit, f: Exit, u: Exit) -> Exit:
        enc = self._field(p.field)
        op = p.operator
        if op == "isMissing":
            # NaN -> TRUE; present -> FALSE (threshold NaN).
            return self._test(enc, OP_LE, math.nan, (), f, f, t)
        if op == "isNotMissing":
            return self._test(enc, OP_LE, math.nan, (), t, t, f)
        if op not in ("equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual"):
            raise _Unsupported(f"operator {op!r}")
        value = self._parse(p.field, p.value)
        if not enc.numeric or not isinstance(value, float):
            if enc.numeric or op not in ("equal", "notEqual"):
                raise _Unsupported(f"operator {op!r} on a non-numeric field")
            return self._eq(enc, float(self._code(p.field, value)), t, f, u, swap=op == "notEqual")
        v = float(value)
        if op == "equal":
            return self._eq(enc, v, t, f, u)
        if op == "notEqual":
            return self._eq(enc, v, t, f, u, swap=True)  # x != NaN is TRUE: EQ NaN swapped
        if math.isnan(v):
            return self._le(enc, math.nan, t, f, u)  # every ordering comparison with NaN is FALSE
        if op == "lessOrEqual":
            return self._le(enc, v, t, f, u)
        if op == "greaterThan":
            return self._le(enc, v, t, f, u, swap=True)
        # x < v  <=>  x <= nextafter(v, -inf), exactly, for every non-NaN x (v > -inf).
        below = float(np.nextafter(v, -math.inf)) if v != -math.inf else math.nan
        if op == "lessThan":
            return self._le(enc, below, t, f, u)
        return self._le(enc, below, t, f, u, swap=True)  # greaterOrEqual

    def _set(self, p: SimpleSetPredicate, t: Exit, f: Exit, u: Exit) -> Exit:
        if p.boolean_operator not in ("isIn", "isNotIn"):
            raise _Unsupported(f"booleanOperator {p.boolean_operator!r}")
        enc = self._field(p.field)
        swap = p.boolean_operator == "isNotIn"
        parsed = [self._parse(p.field, v) for v in p.values]
        if enc.numeric:
            if not all(isinstance(v, float) for v in parsed):
                raise _Unsupported("a non-numeric member of a set on a numeric field")
            members = sorted({v for v in parsed if not math.isnan(v)})
            return self._members(enc, members, t, f, u, swap, codes=False)
        codes = sorted({self._code(p.field, v) for v in parsed})
        return self._members(enc, codes, t, f, u, swap, codes=True)

    def _compound(self, p: CompoundPredicate, t: Exit, f: Exit, u: Exit) -> Exit:
        kind = p.boolean_operator
        parts = p.predicates
        if kind not in ("and", "or", "xor", "surrogate") or (len(parts) < 2 and kind != "surrogate"):
            raise _Unsupported(f"CompoundPredicate {kind!r} of {len(parts)}")
        if kind == "surrogate":
            # The first part that is not UNKNOWN decides; all UNKNOWN -> UNKNOWN.
            nxt = u
            for q in reversed(parts):
                nxt = self.compile(q, t, f, nxt)
            return nxt
        if kind == "xor":
            # Any UNKNOWN -> UNKNOWN; else the parity of TRUE parts. States: parity so far.
            even, odd = f, t
            for q in reversed(parts):
                even, odd = self.compile(q, odd, even, u), self.compile(q, even, odd, u)
            return even
        # and: any FALSE -> FALSE; all TRUE -> TRUE; else UNKNOWN. or: the dual.
        # States: "no UNKNOWN so far" (clean) and "an UNKNOWN seen" (dirty).
        clean, dirty = (t, u) if kind == "and" else (f, u)
        for q in reversed(parts):
            if kind == "and":
                new_clean = self.compile(q, clean, f, dirty)
                new_dirty = new_clean if clean == dirty else self.compile(q, dirty, f, dirty)
            else:
                new_clean = self.compile(q, t, clean, dirty)
                new_dirty = new_clean if clean == dirty else self.compile(q, t, dirty, dirty)
            clean, dirty = new_clean, new_dirty
        return clean

    # -- trees

    def tree(self, model: TreeModel) -> Exit:
        strategy = model.missing_value_strategy
        if strategy not in _STRATEGIES:
            raise _Unsupported(f"missingValueStrategy {strategy!r}")
        if model.no_true_child_strategy not in ("returnNullPrediction", "returnLastPrediction"):
            raise _Unsupported(f"noTrueChildStrategy {model.no_true_child_strategy!r}")
        self._strategy = strategy
        self._return_last = model.no_true_child_strategy == "returnLastPrediction"
        root = model.root if model.flat is None or model.has_root else model.flat.to_node()
        if not isinstance(root, Node):
            raise _Unsupported("root is not a Node")
        entry = self._node(root)
        self._budget = _MAX_TESTS_PER_PREDICATE
        none = (terminal(-1), 0)
        return self.compile(root.predicate, entry, none, none)

    def _node(self, node: Node) -> Exit:
        if not isinstance(node, Node):
            raise _Unsupported("a child that is not a Node")
        g = self.n_nodes
        self.n_nodes += 1
        if not node.children:
            return (terminal(g), 0)
        entries = [self._node(c) for c in node.children]
        here = (terminal(g), 0)
        none = (terminal(-1), 0)
        no_true = here if self._return_last and node.score is not None else none
        strategy = self._strategy
        if strategy == "lastPrediction":
            unknown: Exit | None = here
        elif strategy == "nullPrediction":
            unknown = none
        else:
            unknown = None  # none: UNKNOWN is FALSE
        if node.default_child is not None:
            default = next((e for c, e in zip(node.children, entries) if isinstance(c, Node) and c.id == node.default_child), None)
            if default is None:
                raise _Unsupported(f"defaultChild {node.default_child!r} is not a child")  # InvalidMarkup in TreeCore
            if strategy == "defaultChild":
                unknown = (default[0], default[1] + 1)
        elif strategy == "defaultChild":
            # TreeCore fails the rows that need the missing default child: lowering fails if a row can.
            unknown = (None, 0)
        nxt = no_true
        for child, entry in zip(reversed(node.children), reversed(entries)):
            self._budget = _MAX_TESTS_PER_PREDICATE
            u = nxt if unknown is None else unknown
            p = child.predicate
            if isinstance(p, CompoundPredicate) and p.boolean_operator == "surrogate" and p.predicates:
                # TreeCore (as JPMML-Evaluator): a child chosen by a surrogate whose first
                # predicate was UNKNOWN counts one missing level.
                alt = u
                for q in reversed(p.predicates[1:]):
                    alt = self.compile(q, (entry[0], entry[1] + 1), nxt, alt)
                nxt = self.compile(p.predicates[0], entry, nxt, alt)
            else:
                nxt = self.compile(p, entry, nxt, u)
        return nxt


# --- jump threading ---------------------------------------------------------------------------


def _knowledge(a: _Test, which: str):
    """What taking exit ``which`` ('true' / 'false') of test ``a`` says about a present x.

    ('iv', lo, lo_closed, hi, hi_closed) | ('in', values) | ('notin', values) | None (the
    exit is never taken for a present x, or nothing useful).
    """
    thr = a.threshold
    if a.op == OP_LE:
        if math.isnan(thr):
            return None if which == "true" else ("iv", -math.inf, True, math.inf, True)
        return ("iv", -math.inf, True, thr, True) if which == "true" else ("iv", thr, False, math.inf, True)
    if a.op == OP_EQ:
        if math.isnan(thr):
            return None if which == "true" else ("iv", -math.inf, True, math.inf, True)
        return ("in", (thr,)) if which == "true" else ("notin", (thr,))
    values = tuple(float(v) for v in a.members)
    return ("in", values) if which == "true" else ("notin", values)


def _holds(b: _Test, v: float) -> bool:
    """b's condition for the present value v."""
    if b.op == OP_LE:
        return v <= b.threshold
    if b.op == OP_EQ:
        return v == b.threshold
    return any(v == m for m in b.members)


def _member_values(b: _Test) -> tuple:
    if b.op == OP_EQ:
        return () if math.isnan(b.threshold) else (b.threshold,)
    return tuple(float(m) for m in b.members)


def _implied(k, b: _Test) -> str | None:
    """b's outcome ('true' / 'false') for every present x that satisfies knowledge k, or None."""
    kind = k[0]
    if kind == "in":
        outcomes = {_holds(b, v) for v in k[1]}
        if len(outcomes) == 1:
            return "true" if outcomes.pop() else "false"
        return None
    if kind == "notin":
        if b.op == OP_LE:
            return "false" if math.isnan(b.threshold) else None
        members = _member_values(b)
        if all(any(m == v for v in k[1]) for m in members):
            return "false"
        return None
    _, lo, lo_closed, hi, hi_closed = k
    if b.op == OP_LE:
        t = b.threshold
        if math.isnan(t):
            return "false"
        if hi <= t:
            return "true"
        if lo > t or (lo == t and not lo_closed):
            return "false"
        return None

    def inside(m: float) -> bool:
        return (m > lo or (m == lo and lo_closed)) and (m < hi or (m == hi and hi_closed))

    if not any(inside(m) for m in _member_values(b)):
        return "false"
    return None


def _thread(tests: list[_Test], order: list[int]) -> None:
    """Jump threading, in post-order (a test's successors are threaded before it)."""
    for i in order:
        a = tests[i]
        for which in ("true", "false", "missing"):
            target, levels = getattr(a, which)
            k = None if which == "missing" else _knowledge(a, which)
            if which != "missing" and k is None:
                continue
            while isinstance(target, int) and target >= 0:
                b = tests[target]
                if b.feature != a.feature:
                    break
                # A NaN seen by a stays NaN for b: b's missing exit.
                outcome = "missing" if which == "missing" else _implied(k, b)
                if outcome is None:
                    break
                target, extra = getattr(b, outcome)
                levels += extra
            setattr(a, which, (target, levels))
        if a.op in (OP_LE, OP_EQ) and math.isnan(a.threshold):
            a.true = a.false  # never taken for a present x: do not keep its old target alive


def _post_order(tests: list[_Test], roots: list[Exit]) -> list[int]:
    seen: set[int] = set()
    out: list[int] = []
    for r, _ in roots:
        if not (isinstance(r, int) and r >= 0) or r in seen:
            continue
        stack = [(r, False)]
        while stack:
            i, done = stack.pop()
            if done:
                out.append(i)
                continue
            if i in seen:
                continue
            seen.add(i)
            stack.append((i, True))
            t = tests[i]
            for target, _ in (t.missing, t.false, t.true):
                if isinstance(target, int) and target >= 0 and target not in seen:
                    stack.append((target, False))
    return out


# --- emitting the arrays ----------------------------------------------------------------------


def _emit(b: _Builder, roots: list[Exit], offsets: list[int], fields: Mapping[str, FieldEncoding]) -> TreeArrays:
    tests = b.tests
    new_id: dict[int, int] = {}
    order: list[int] = []
    root_codes = []
    for r, levels in roots:
        if r is None:
            raise _Unsupported("a row can need a default child that does not exist")
        if levels:
            raise _Unsupported("missing levels before the first test")  # e.g. a first child predicate always UNKNOWN
        if r < 0:
            root_codes.append(r)
            continue
        # Depth first, TRUE exit first, so a walk mostly moves forward.
        stack = [r]
        while stack:
            i = stack.pop()
            if i in new_id:
                continue
            new_id[i] = len(order)
            order.append(i)
            t = tests[i]
            for target, _ in (t.missing, t.false, t.true):
                if target is None:
                    raise _Unsupported("a row can need a default child that does not exist")
                if target >= 0 and target not in new_id:
                    stack.append(target)
        root_codes.append(new_id[r])

    bit_words: list[int] = []
    sorted_values: list[float] = []
    bit_cache: dict[tuple, int] = {}
    sorted_cache: dict[tuple, int] = {}
    m = len(order)
    feature = [0] * m
    op = [0] * m
    threshold = [0.0] * m
    nexts = {w: [0] * m for w in ("true", "false", "missing")}
    lvs = {w: [0] * m for w in ("true", "false", "missing")}
    for j, i in enumerate(order):
        t = tests[i]
        feature[j] = t.feature
        op[j] = t.op
        if t.op == OP_BITS:
            off = bit_cache.get(t.members)
            if off is None:
                off = bit_cache[t.members] = len(bit_words)
                words = [0] * (max(t.members) // 64 + 1)
                for c in t.members:
                    words[c >> 6] |= 1 << (c & 63)
                bit_words.append(len(words))
                bit_words.extend(words)
            threshold[j] = float(off)
        elif t.op == OP_SORTED:
            off = sorted_cache.get(t.members)
            if off is None:
                off = sorted_cache[t.members] = len(sorted_values)
                sorted_values.append(float(len(t.members)))
                sorted_values.extend(t.members)
            threshold[j] = float(off)
        else:
            threshold[j] = t.threshold
        for which, exit_ in (("true", t.true), ("false", t.false), ("missing", t.missing)):
            target, levels = exit_
            if levels > MAX_LEVELS:
                raise _Unsupported("too many missing levels")
            nexts[which][j] = new_id[target] if target >= 0 else target
            lvs[which][j] = levels
    nodes = np.zeros(m, dtype=NODE_DTYPE)
    nodes["feature"] = feature
    nodes["op"] = op
    nodes["threshold"] = threshold
    for which in ("true", "false", "missing"):
        nodes[f"{which}_next"] = nexts[which]
        nodes[f"lv_{which}"] = lvs[which]
    fast = np.zeros(m, dtype=FAST_DTYPE)
    for name in ("threshold", "true_next", "false_next"):
        fast[name] = nodes[name]
    features = nodes["feature"].astype(np.int32) | (nodes["op"].astype(np.int32) << OP_SHIFT)

    n_features = max((e.column for e in fields.values()), default=-1) + 1
    if n_features > MAX_COLUMNS:
        raise _Unsupported("too many columns")
    return TreeArrays(
        nodes=nodes,
        bitsets=np.array(bit_words or [0], dtype=np.uint64),
        set_values=np.array(sorted_values or [0.0], dtype=np.float64),
        roots=np.array(root_codes, dtype=np.int32),
        node_offsets=np.array(offsets, dtype=np.int32),
        fast=fast,
        features=features,
        all_le=bool((nodes["op"] == OP_LE).all()),
        used_cols=np.unique(nodes["feature"]).astype(np.int64),
        n_features=n_features,
        fields=dict(fields),
        used=frozenset(b.used),
        categories=b.categories,
    )


class _FieldOf(NamedTuple):
    field: str


def predicate_fields(trees: Sequence[TreeModel]) -> list[str]:
    """The fields the predicates of ``trees`` refer to, in order of first use (what
    ``lower_trees`` needs an encoding for)."""
    seen: dict[str, None] = {}
    stack: list = []
    for m in trees:  # the last tree's fields come first (as the Node-tree walk finds them)
        if not isinstance(m, TreeModel):
            continue
        if m.flat is None:
            stack.append(m.root)
            continue
        # the same order from the arrays: each node's predicate, in pre-order
        flat = m.flat
        kinds = flat.pred_kind
        if (kinds == PRED_OBJECT).any():
            stack.extend(reversed([flat.predicate(i) if k == PRED_OBJECT else _FieldOf(flat.strings[f]) for i, (k, f) in enumerate(zip(kinds.tolist(), flat.pred_field.tolist())) if k in (PRED_OBJECT, PRED_SIMPLE)]))
        else:
            fields = flat.pred_field[kinds == PRED_SIMPLE]
            if fields.size:
                stack.extend(reversed([_FieldOf(flat.strings[j]) for j in first_seen(fields, len(flat.strings))[0].tolist()]))
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            stack.extend(reversed(item.children))
            stack.append(item.predicate)
        elif isinstance(item, (SimplePredicate, SimpleSetPredicate, _FieldOf)):
            seen.setdefault(item.field, None)
        elif isinstance(item, CompoundPredicate):
            stack.extend(reversed(item.predicates))
    return list(seen)


def lower_trees(trees: Sequence[TreeModel], fields: Mapping[str, FieldEncoding]) -> TreeArrays | None:
    """Lower TreeModels into one TreeArrays, or None when one of them cannot be run exactly.

    None (the caller runs the reference evaluator) for: missingValueStrategy
    weightedConfidence / aggregateNodes (or an invalid one); an invalid noTrueChildStrategy;
    a predicate on a field missing from ``fields``; ordering comparisons (lessThan, ...) on a
    non-numeric field; values that do not parse as the field's dataType; invalid operators;
    and / or / xor with fewer than two parts; defaultChild where a row can reach a node
    without a (valid) defaultChild; trees too deep for Python recursion; a compound
    predicate that expands into more than 4096 tests.
    """
    if trees and all(isinstance(m, TreeModel) and m.flat is not None for m in trees):
        lowered = lower_flat(trees, fields)  # the common shapes, vectorised
        if lowered is not None:
            return TreeArrays(**lowered[0])
    b = _Builder(fields)
    roots: list[Exit] = []
    offsets = [0]
    try:
        for model in trees:
            if not isinstance(model, TreeModel):
                return None
            roots.append(b.tree(model))
            offsets.append(b.n_nodes)
        for name in b.used:
            if not fields[name].numeric:
                b.table(name)
        _thread(b.tests, _post_order(b.tests, roots))
        if offsets[-1] >= 2**31 - 2:
            return None
        return _emit(b, roots, offsets, fields)
    except (_Unsupported, RecursionError):
        return None
