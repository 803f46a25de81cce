"""A TreeModel's nodes as arrays: the compact form of a tree body.

A big forest (a 90 MB PMML random forest has ~580k Nodes) costs a lot as one frozen
``Node`` object per element: time to build, and hundreds of MB. ``FlatTree`` holds the same
information as numpy arrays in document pre-order (node 0 is the root; a node's children
follow it, in document order), with the file's strings in one table per tree. It means
exactly what the ``Node`` tree it replaces means: ``FlatTree.to_node()`` builds that tree,
and ``TreeModel.root`` builds it on first access for a TreeModel made with
``TreeModel.from_flat`` (readers and lowering use the arrays directly).

Values stay the file's strings (``strings``), as everywhere in the IR; lowering parses them
with the field's dataType. A node predicate that is not a SimplePredicate / True / False
(CompoundPredicate, SimpleSetPredicate) is kept as its IR object in ``objects``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from quickscore.ir.expressions import FalsePredicate, Predicate, SimplePredicate, TruePredicate
from quickscore.ir.types import Loc

#: SimplePredicate@operator by code (``FlatTree.pred_op``).
OPERATORS = ("equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual", "isMissing", "isNotMissing")
OPERATOR_CODES = {op: i for i, op in enumerate(OPERATORS)}

# FlatTree.pred_kind
PRED_SIMPLE = 0  # SimplePredicate(field=strings[pred_field], operator=OPERATORS[pred_op], value=strings[pred_value] or None)
PRED_TRUE = 1
PRED_FALSE = 2
PRED_OBJECT = 3  # objects[pred_value]

# FlatTree.flags
HAS_RECORD_COUNT = 1
# FlatTree.sd_flags
HAS_CONFIDENCE = 1
HAS_PROBABILITY = 2

#: name -> dtype of every array of a FlatTree (the optional ones may be None). Record
#: counts may also be float32 where that holds every value exactly, and index arrays int16
#: where the tree is small enough (``ALT_DTYPES``).
ARRAYS: dict[str, str] = {
    "parent": "<i4",
    "pred_kind": "i1",
    "pred_field": "<i4",
    "pred_op": "i1",
    "pred_value": "<i4",
    "score": "<i4",
    "node_id": "<i4",
    "default_child": "<i4",
    "record_count": "<f8",
    "flags": "u1",
    "line": "<i4",
    "pred_line": "<i4",
    "sd_offsets": "<i4",
    "sd_value": "<i4",
    "sd_record_count": "<f8",
    "sd_flags": "u1",
    "sd_confidence": "<f8",
    "sd_probability": "<f8",
}
OPTIONAL_ARRAYS = ("node_id", "default_child", "pred_line", "sd_confidence", "sd_probability")
ALT_DTYPES: dict[str, str] = {
    "record_count": "<f4", "sd_record_count": "<f4",
    # indices (nodes, strings, objects, ScoreDistributions) of a tree small enough for int16
    **{name: "<i2" for name in ("parent", "pred_field", "pred_value", "score", "node_id", "default_child", "sd_offsets", "sd_value")},
}


def narrow(values: np.ndarray, bound: int) -> np.ndarray:
    """An index array (values in [-1, bound)) as int16 when ``bound`` allows, else int32."""
    return values.astype(np.int16 if bound < 2**15 - 1 else np.int32)


def compact_counts(values: np.ndarray) -> np.ndarray:
    """float64 counts as float32 when every value survives the round trip (NaN included)."""
    small = values.astype(np.float32)
    return small if np.array_equal(small.astype(np.float64), values, equal_nan=True) else values


class StringTable(Sequence[str]):
    """Strings stored as one text and their boundaries: ``table[j]`` is
    ``text[offsets[j]:offsets[j + 1]]``. (A forest has ~1e5 distinct thresholds per 100 trees;
    as separate ``str`` objects they would take several times the memory.)"""

    __slots__ = ("text", "offsets")

    def __init__(self, text: str, offsets: np.ndarray):
        self.text = text
        self.offsets = offsets  # int32 or int64 (len + 1,), character positions

    @classmethod
    def of(cls, strings: Iterable[str]) -> "StringTable":
        strings = list(strings)
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        total = int(lengths.sum())
        offsets = np.zeros(len(strings) + 1, dtype=np.int32 if total < 2**31 else np.int64)
        if strings:
            np.cumsum(lengths, out=offsets[1:])
        return cls("".join(strings), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, j):  # type: ignore[override]
        if isinstance(j, slice):
            return self.take(range(*j.indices(len(self))))
        j = int(j)
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError(j)
        return self.text[int(self.offsets[j]) : int(self.offsets[j + 1])]

    def take(self, indices: Iterable[int]) -> list[str]:
        """The strings at ``indices`` (non-negative), as a list."""
        o = self.offsets.tolist()
        t = self.text
        return [t[o[j] : o[j + 1]] for j in indices]

    def __iter__(self) -> Iterator[str]:
        return iter(self.take(range(len(self))))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringTable):
            return self.text == other.text and np.array_equal(self.offsets, other.offsets)
        if isinstance(other, (tuple, list)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StringTable({len(self)} strings)"


def _shorten(path: str) -> str:
    """A long element path as the PMML reader writes it (the first and last 20 segments)."""
    parts = path.split("/")
    if len(parts) <= 40:
        return path
    return "/".join(parts[:20] + [f"...({len(parts) - 40} more)..."] + parts[-20:])


class StringIds(dict):
    """Texts numbered in order of first use, as a FlatTree's ``strings`` are built:
    ``ids.id(text)`` is its index; iterating gives the texts in index order."""

    def id(self, text: str) -> int:
        j = self.get(text)
        if j is None:
            j = self[text] = len(self)
        return j


@dataclass(frozen=True, eq=False)
class FlatTree:
    """The Nodes of one TreeModel, in pre-order. n = number of nodes, m = of ScoreDistributions.

    Index arrays are int32, or int16 for a tree whose nodes, strings and objects all number
    fewer than 32767 (``narrow``).

    * ``parent`` int32 (n,): the parent's index, -1 for the root.
    * ``pred_kind`` int8 (n,): PRED_SIMPLE / PRED_TRUE / PRED_FALSE / PRED_OBJECT.
    * ``pred_field`` int32, ``pred_op`` int8, ``pred_value`` int32 (n,): a SimplePredicate's
      field (index into ``strings``), operator (into ``OPERATORS``) and value (into
      ``strings``, -1 = no value); for PRED_OBJECT, ``pred_value`` indexes ``objects``.
    * ``score``, ``node_id``, ``default_child`` int32 (n,): indices into ``strings``, -1 = absent;
      ``node_id`` / ``default_child`` are None when no Node has the attribute.
    * ``record_count`` float64 or float32 (n,) and ``flags`` uint8 (n,): HAS_RECORD_COUNT when the Node has one.
    * ``line``, ``pred_line`` int32 (n,): source lines of the Node and its predicate (0 = unknown);
      ``pred_line`` None: each predicate is on the line after its Node (see ``predicate_line``).
    * ``sd_offsets`` int32 (n + 1,): node i's ScoreDistributions are ``sd_offsets[i]:sd_offsets[i + 1]``.
    * ``sd_value`` int32, ``sd_record_count`` float64 or float32, ``sd_flags`` uint8 (m,) and
      ``sd_confidence`` / ``sd_probability`` float64 (m,) or None (no ScoreDistribution has
      one): the ScoreDistributions; ``sd_flags`` says which of confidence / probability are given.
    * ``strings``: the strings the indices point to (a StringTable); ``objects``: other predicates.
    * ``loc``: where the TreeModel is (its root Node's path is ``loc.path + "/Node"``).
    """

    parent: np.ndarray
    pred_kind: np.ndarray
    pred_field: np.ndarray
    pred_op: np.ndarray
    pred_value: np.ndarray
    score: np.ndarray
    node_id: np.ndarray | None
    default_child: np.ndarray | None
    record_count: np.ndarray
    flags: np.ndarray
    line: np.ndarray
    pred_line: np.ndarray | None
    sd_offsets: np.ndarray
    sd_value: np.ndarray
    sd_record_count: np.ndarray
    sd_flags: np.ndarray
    sd_confidence: np.ndarray | None
    sd_probability: np.ndarray | None
    strings: StringTable
    objects: tuple[Predicate, ...] = ()
    loc: Loc | None = None
    root_segment: str = "Node"  # the root's path segment ("Node[2]" for a second root, refused later)

    @classmethod
    def scores_only(cls, *, parent, pred_kind, pred_field, pred_op, pred_value, score, strings, objects=(), node_id=None) -> "FlatTree":
        """A tree of nodes in pre-order with scores and predicates only (no ids unless given,
        no record counts, no ScoreDistributions, no source lines), as native model files give
        them."""
        n = len(parent)
        return cls(
            parent=np.asarray(parent, dtype=np.int32),
            pred_kind=np.asarray(pred_kind, dtype=np.int8),
            pred_field=np.asarray(pred_field, dtype=np.int32),
            pred_op=np.asarray(pred_op, dtype=np.int8),
            pred_value=np.asarray(pred_value, dtype=np.int32),
            score=np.asarray(score, dtype=np.int32),
            node_id=np.full(n, -1, dtype=np.int32) if node_id is None else np.asarray(node_id, dtype=np.int32),
            default_child=np.full(n, -1, dtype=np.int32),
            record_count=np.zeros(n),
            flags=np.zeros(n, dtype=np.uint8),
            line=np.zeros(n, dtype=np.int32),
            pred_line=np.zeros(n, dtype=np.int32),
            sd_offsets=np.zeros(n + 1, dtype=np.int32),
            sd_value=np.zeros(0, dtype=np.int32),
            sd_record_count=np.zeros(0),
            sd_flags=np.zeros(0, dtype=np.uint8),
            sd_confidence=None,
            sd_probability=None,
            strings=strings if isinstance(strings, StringTable) else StringTable.of(strings),
            objects=tuple(objects),
        )

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    def arrays(self) -> dict[str, np.ndarray | None]:
        return {name: getattr(self, name) for name in ARRAYS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlatTree):
            return NotImplemented
        if self.strings != other.strings or self.objects != other.objects or self.root_segment != other.root_segment:
            return False
        for name in ARRAYS:
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b, equal_nan=a.dtype.kind == "f")):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def validate(self) -> None:
        """Check that every index points inside its table (arrays from a file); ValueError if not.
        Readers that fill the arrays themselves need not call it."""
        if self.__dict__.get("_valid"):
            return
        n, m, s = len(self.parent), len(self.sd_value), len(self.strings)
        for name in ARRAYS:
            a = getattr(self, name)
            if a is None:
                continue
            expected = n + 1 if name == "sd_offsets" else m if name.startswith("sd_") else n
            if a.ndim != 1 or len(a) != expected:
                raise ValueError(f"FlatTree array {name} has shape {a.shape}, expected ({expected},)")
        parent = self.parent
        if n == 0 or parent[0] != -1 or (n > 1 and ((parent[1:] < 0) | (parent[1:] >= np.arange(1, n))).any()):
            raise ValueError("FlatTree parents are not in pre-order")
        off = self.sd_offsets
        if off[0] != 0 or off[-1] != m or (np.diff(off) < 0).any():
            raise ValueError("FlatTree ScoreDistribution offsets out of range")
        for name in ("pred_field", "score", "node_id", "default_child", "sd_value"):
            a = getattr(self, name)
            if a is not None and len(a) and (a.min() < -1 or a.max() >= s):
                raise ValueError(f"FlatTree array {name} points outside its string table")
        kinds, values = self.pred_kind, self.pred_value
        if kinds.min() < 0 or kinds.max() > PRED_OBJECT:
            raise ValueError("FlatTree predicate kinds out of range")
        obj = kinds == PRED_OBJECT
        if (obj.any() and (values[obj].min() < 0 or values[obj].max() >= len(self.objects))) or (
            (~obj).any() and (values[~obj].min() < -1 or values[~obj].max() >= s)
        ):
            raise ValueError("FlatTree predicate values out of range")
        if self.pred_op.min() < 0 or self.pred_op.max() >= len(OPERATORS):
            raise ValueError("FlatTree operators out of range")
        simple = kinds == PRED_SIMPLE
        if simple.any() and self.pred_field[simple].min() < 0:
            raise ValueError("FlatTree SimplePredicate without a field")
        object.__setattr__(self, "_valid", True)

    # --- per-node views ---------------------------------------------------------------------

    def predicate_line(self, i: int) -> int:
        """The source line of node i's predicate (0 = unknown)."""
        if self.pred_line is not None:
            return int(self.pred_line[i])
        line = int(self.line[i])
        return line + 1 if line else 0

    def string(self, i: int) -> str | None:
        return None if i < 0 else self.strings[i]

    def node_loc(self, i: int) -> Loc:
        """The Loc of node i (path built from the tree structure)."""
        return Loc(self._path(i), int(self.line[i]) or None)

    def _path(self, i: int, full: bool = False) -> str:
        parts = []
        parent = self.parent
        while True:
            p = int(parent[i])
            if p < 0:
                parts.append(self.root_segment)
                break
            # the k-th Node child of p: its siblings before it are the children of p with index < i
            k = int(np.count_nonzero(parent[p + 1 : i] == p)) + 1
            parts.append("Node" if k == 1 else f"Node[{k}]")
            i = p
        base = self.loc.path if self.loc is not None else "TreeModel"
        path = "/".join([base] + parts[::-1])
        return path if full else _shorten(path)

    def predicate(self, i: int) -> Predicate:
        """Node i's predicate as an IR object."""
        return self._predicate(i, self._path(i, full=True))

    def _predicate(self, i: int, node_path: str) -> Predicate:
        kind = int(self.pred_kind[i])
        if kind == PRED_OBJECT:
            return self.objects[int(self.pred_value[i])]
        name = {PRED_SIMPLE: "SimplePredicate", PRED_TRUE: "True", PRED_FALSE: "False"}[kind]
        where = Loc(_shorten(f"{node_path}/{name}"), self.predicate_line(i) or None)
        if kind == PRED_TRUE:
            return TruePredicate(loc=where)
        if kind == PRED_FALSE:
            return FalsePredicate(loc=where)
        return SimplePredicate(
            field=self.strings[int(self.pred_field[i])], operator=OPERATORS[int(self.pred_op[i])],
            value=self.string(int(self.pred_value[i])), loc=where,
        )

    def to_node(self) -> Any:
        """The equivalent tree of ``ir.Node`` objects (its root)."""
        from quickscore.ir.models import Node, ScoreDistribution

        n = self.n_nodes
        parent = self.parent.tolist()
        base = self.loc.path if self.loc is not None else "TreeModel"
        paths: list[str] = [""] * n
        kids = [0] * n
        for i in range(n):
            p = parent[i]
            if p < 0:
                paths[i] = f"{base}/{self.root_segment}"
            else:
                kids[p] += 1
                k = kids[p]
                paths[i] = f"{paths[p]}/Node" if k == 1 else f"{paths[p]}/Node[{k}]"
        children: list[list] = [[] for _ in range(n)]
        sd_cache: dict[tuple, ScoreDistribution] = {}
        built: list[Any] = [None] * n
        off = self.sd_offsets.tolist()
        lines = self.line.tolist()
        for i in range(n - 1, -1, -1):  # children (higher indices) first
            dist = []
            for j in range(off[i], off[i + 1]):
                f = int(self.sd_flags[j])
                key = (
                    self.strings[int(self.sd_value[j])], float(self.sd_record_count[j]),
                    float(self.sd_confidence[j]) if f & HAS_CONFIDENCE else None,
                    float(self.sd_probability[j]) if f & HAS_PROBABILITY else None,
                )
                sd = sd_cache.get(key)
                if sd is None:
                    sd = sd_cache[key] = ScoreDistribution(value=key[0], record_count=key[1], confidence=key[2], probability=key[3])
                dist.append(sd)
            node = Node(
                predicate=self._predicate(i, paths[i]),
                id=None if self.node_id is None else self.string(int(self.node_id[i])),
                score=self.string(int(self.score[i])),
                record_count=float(self.record_count[i]) if self.flags[i] & HAS_RECORD_COUNT else None,
                default_child=None if self.default_child is None else self.string(int(self.default_child[i])),
                children=tuple(reversed(children[i])),
                distribution=tuple(dist),
                loc=Loc(_shorten(paths[i]), lines[i] or None),
            )
            built[i] = node
            if parent[i] >= 0:
                children[parent[i]].append(node)
        return built[0]
