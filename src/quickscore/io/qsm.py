"""The compiled model file (``.qsm``): the IR and its lowered arrays, loaded in milliseconds.

``quickscore compile MODEL -o MODEL.qsm`` (or :func:`write_qsm`) reads a model once, lowers
it, and writes what a load needs: the IR document and the arrays lowering computed (tree
node tables, the kernels' decision graphs), so that a fleet of servers loads the file
without parsing XML or lowering trees. No pickle: nothing in the file is code, and reading
it only builds IR dataclasses from a fixed list and numpy arrays of checked dtypes.

Layout (all integers little-endian)::

    magic        8 bytes   b"\\x89QSM\\r\\n\\x1a\\n" (a PNG-style magic: catches text-mode copies)
    header_size  uint64    n
    header_crc   uint32    zlib.crc32 of the header bytes
    reserved     uint32    0
    header       n bytes   UTF-8 JSON (below)
    padding                zero bytes up to a multiple of 64
    payload                the arrays, each at a multiple of 64 from the payload start

The header: ``format`` ("quickscore-model"), ``format_version`` (FORMAT_VERSION; a newer
one is refused), ``quickscore_version`` (of the writer), ``source`` (name, byte size and
sha256 of the model file it was compiled from), ``payload_size`` and ``payload_crc32``
(zlib.crc32 of the payload), ``arrays`` (per array: dtype, shape, offset, byte size),
``document`` (the IR as JSON, arrays by index) and ``lowered`` (per TreeModel / MiningModel,
by its position in the model tree, the precomputed tables and kernel arrays).

Format version 2 (version 1 files are still read): a fused ensemble's per-node table is
written once (``lowered[...]["fused"]["table"]``) and its trees' tables refer to their rows
(``{"@a": i, "rows": [start, end]}``), so that a load neither copies the trees' tables into
a new table (W1: 7 MB) nor maps them twice. A classification MiningModel's entry may carry
``"ends_undefined": true/false``, whether a fused walk could end on a node without
probabilities (``models.fast._ends_undefined``, asked once when the file is written); files
without it (written before it was stored) have it computed at load, as before.

The lowered arrays are used only when the file was written by this very quickscore
version and the kernels' record layout is unchanged; otherwise the IR is lowered again at
load (slower, same predictions). Any inconsistency - wrong magic, truncation, a checksum
mismatch, a future format version, an array whose dtype or shape is not what its place
requires, an unknown IR class - raises :class:`quickscore.errors.InvalidMarkup` naming
the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
import struct
import threading
import zlib
from typing import Any, Iterator

import numpy as np
import orjson

from quickscore.errors import InvalidMarkup
from quickscore.ir import Document, MiningModel, TreeModel
from quickscore.ir import expressions as _expressions
from quickscore.ir import fields as _fields
from quickscore.ir import flat as _flat
from quickscore.ir import models as _models
from quickscore.ir import types as _types
from quickscore.ir.flat import ALT_DTYPES, ARRAYS, OPTIONAL_ARRAYS, FlatTree, StringTable

MAGIC = b"\x89QSM\r\n\x1a\n"
FORMAT = "quickscore-model"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<8sQII")  # magic, header size, header crc32, reserved
_ALIGN = 64
#: The largest header accepted (the IR of every non-tree part, as JSON).
MAX_HEADER = 1 << 30

__all__ = ["MAGIC", "FORMAT_VERSION", "write_qsm", "read_qsm", "read_qsm_path", "sniff_qsm"]


def sniff_qsm(head: bytes) -> bool:
    return head.startswith(MAGIC)


# --- IR <-> JSON ---------------------------------------------------------------------------------
# A dataclass is {"@": "ClassName", field: value, ...} (fields with their default left out),
# a tuple {"@t": [...]}, an enum {"@e": "DataType", "v": "double"}, a float that JSON cannot
# hold {"@f": "nan"}, a numpy array {"@a": index}. Only the IR classes below can be built.

_CLASSES: dict[str, type] = {}
for _module in (_types, _expressions, _fields, _models, _flat):
    for _name, _obj in vars(_module).items():
        if isinstance(_obj, type) and _obj.__module__ == _module.__name__ and dataclasses.is_dataclass(_obj):
            _CLASSES[_name] = _obj
_ENUMS: dict[str, type] = {"DataType": _types.DataType, "OpType": _types.OpType}
_NO_DEFAULT = dataclasses.MISSING
_SCALARS = frozenset({bool, str, int, float})


def _plan(cls: type) -> tuple[dict, Any, frozenset, int, type] | None:
    """How ``_Decoder`` builds ``cls`` without calling its ``__init__``: (every field with its
    default, in field order; the field names; the fields without a default; their number;
    the class), or None when the generated ``__init__`` must run. Python: "frozen=True ... emulates read-only frozen
    instances" - the generated ``__init__`` only assigns each field with ``object.__setattr__``
    (the dataclasses docs); filling the instance dict does the same in one step (W1's 4,500
    IR objects: ~2 us each instead of ~5 us). Not for a class with ``__post_init__``, a
    ``default_factory``, a field left out of ``__init__``, an InitVar, or ``__slots__``. A
    TreeModel is built as ``TreeModel.from_flat`` leaves it: with ``flat`` and without
    ``root`` (built from ``flat`` on first access); one with ``root`` takes the other way."""
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        return None
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dataclass_fields__) or any(not f.init or f.default_factory is not _NO_DEFAULT for f in fields):
        return None
    if cls is TreeModel:
        fields = tuple(f for f in fields if f.name != "root")
    template = {f.name: None if f.default is _NO_DEFAULT else f.default for f in fields}
    required = frozenset(f.name for f in fields if f.default is _NO_DEFAULT) | ({"flat"} if cls is TreeModel else set())
    return template, template.keys(), required, len(template), cls


_new = object.__new__
_set = object.__setattr__
_Loc = _types.Loc
_PLANS = {name: _plan(cls) for name, cls in _CLASSES.items()}
#: FlatTree arrays: name -> the dtypes it may have.
_FLAT_DTYPES = {name: (np.dtype(dtype), np.dtype(ALT_DTYPES.get(name, dtype))) for name, dtype in ARRAYS.items()}


class _Encoder:
    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        #: id(array) -> (index of the table written, first row, end row): arrays that are rows
        #: of a table already written (a tree's per-node table in its ensemble's fused table).
        self.rows: dict[int, tuple[int, int, int]] = {}

    def array(self, a: np.ndarray) -> dict:
        shared = self.rows.get(id(a))
        if shared is not None:
            return {"@a": shared[0], "rows": [shared[1], shared[2]]}
        self.arrays.append(np.ascontiguousarray(a))
        return {"@a": len(self.arrays) - 1}

    def table(self, table: np.ndarray, parts: list) -> dict:
        """Write ``table`` once; every array of ``parts`` that is its next rows (the same
        memory) is written as a reference to those rows."""
        ref = self.array(table)
        offset = 0
        for a in parts:
            if not _rows_of(a, table, offset):
                break
            self.rows[id(a)] = (ref["@a"], offset, offset + len(a))
            offset += len(a)
        return ref

    def encode(self, v: Any) -> Any:
        if isinstance(v, enum.Enum):  # first: DataType and OpType are str too
            return {"@e": type(v).__name__, "v": v.value}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"@f": repr(v)}
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, StringTable):
            text = np.frombuffer(v.text.encode("utf-8"), dtype=np.uint8)
            return {"@": "StringTable", "utf8": self.array(text), "offsets": self.array(v.offsets)}
        if isinstance(v, tuple) and not dataclasses.is_dataclass(v):
            return {"@t": [self.encode(x) for x in v]}
        if isinstance(v, list):
            return [self.encode(x) for x in v]
        if isinstance(v, dict):
            return {"@d": [[self.encode(k), self.encode(x)] for k, x in v.items()]}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            cls = _types.Loc if isinstance(v, _types.Loc) else type(v)
            if _CLASSES.get(cls.__name__) is not cls:
                raise TypeError(f"cannot write {cls.__name__} into a .qsm file")
            out: dict[str, Any] = {"@": cls.__name__}
            flat = v.flat if isinstance(v, TreeModel) else None
            for f in dataclasses.fields(cls):
                if not f.init or (flat is not None and f.name == "root"):
                    continue
                value = getattr(v, f.name)
                if f.default is not _NO_DEFAULT and _same(value, f.default):
                    continue
                out[f.name] = self.encode(value)
            return out
        raise TypeError(f"cannot write a {type(v).__name__} into a .qsm file")


def _rows_of(a: Any, table: np.ndarray, offset: int) -> bool:
    """Whether ``a`` is ``table[offset : offset + len(a)]``: the same memory, dtype and layout."""
    if not isinstance(a, np.ndarray) or a.ndim != table.ndim or a.dtype != table.dtype or a.shape[1:] != table.shape[1:]:
        return False
    rows = table[offset : offset + len(a)]
    return len(rows) == len(a) and rows.strides == a.strides and (not a.size or rows.__array_interface__["data"][0] == a.__array_interface__["data"][0])


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. arrays
        return False


class _Decoder:
    def __init__(self, arrays: list[np.ndarray], where: str):
        self.arrays = arrays
        self.where = where

    def bad(self, message: str) -> InvalidMarkup:
        return InvalidMarkup(f"Invalid .qsm file{self.where}: {message}")

    def array(self, v: Any) -> np.ndarray:
        i = v.get("@a") if type(v) is dict and len(v) == 1 else None
        if type(i) is not int or not 0 <= i < len(self.arrays):
            raise self.bad(f"expected an array reference, found {str(v)[:80]!r}")
        return self.arrays[i]

    def rows(self, v: Any) -> np.ndarray:
        """An array reference of the lowered tables: a whole array, or rows of one
        (``{"@a": i, "rows": [start, end]}``, format version 2)."""
        if type(v) is dict and len(v) == 2 and "rows" in v:
            a = self.array({"@a": v.get("@a")})
            span = v["rows"]
            if type(span) is not list or len(span) != 2 or any(type(x) is not int for x in span) or not 0 <= span[0] <= span[1] <= len(a):
                raise self.bad(f"invalid rows {str(span)[:80]} of array {v.get('@a')} ({len(a)} rows)")
            return a[span[0] : span[1]]
        return self.array(v)

    def decode(self, v: Any, path: str = "document") -> Any:
        # ``path``: the enclosing IR class (for messages)
        if v is None or type(v) in _SCALARS:
            return v
        name = v.get("@") if type(v) is dict else None
        if name is not None and name != "StringTable":
            # An IR object (the common case, first): scalar fields taken as they are.
            if name == "Loc" and len(v) <= 3:
                path_, line = v.get("path"), v.get("line")
                if type(path_) is str and (line is None or type(line) is int):
                    obj = _new(_Loc)
                    _set(obj, "__dict__", {"path": path_, "line": line})
                    return obj
            plan = _PLANS.get(name)
            if plan is not None and plan[2] <= v.keys():
                # Built as the generated __init__ would (see _plan); any other case below.
                fields = plan[0].copy()
                for k, x in v.items():
                    if x is None or type(x) in _SCALARS:
                        fields[k] = x
                    elif k == "loc" and type(x) is dict and len(x) <= 3 and x.get("@") == "Loc":
                        # A Loc (most IR objects have one) without a call; as above.
                        path_, line = x.get("path"), x.get("line")
                        if type(path_) is str and (line is None or type(line) is int):
                            loc = _new(_Loc)
                            _set(loc, "__dict__", {"path": path_, "line": line})
                            fields[k] = loc
                        else:
                            fields[k] = self.decode(x, name)
                    else:
                        fields[k] = self.decode(x, name)
                del fields["@"]
                if len(fields) == plan[3]:  # no field the class does not have
                    cls = plan[4]
                    if cls is FlatTree:
                        self.check_flat(fields, path)
                    obj = _new(cls)
                    _set(obj, "__dict__", fields)
                    return obj
            cls = _CLASSES.get(name)
            if cls is None:
                raise self.bad(f"unknown IR class {name!r} at {path}")
            kwargs = {k: x if x is None or type(x) in _SCALARS else self.decode(x, name) for k, x in v.items() if k != "@"}
            return self._build(cls, name, kwargs, path)
        if isinstance(v, list):
            return [self.decode(x, path) for x in v]
        if not isinstance(v, dict):
            raise self.bad(f"unexpected JSON value in {path}")
        if "@a" in v:  # an array (a FlatTree has ~18)
            return self.array(v)
        if "@t" in v:
            return tuple(self.decode(x, path) for x in v["@t"])
        if "@d" in v:
            return {self.decode(k, path): self.decode(x, path) for k, x in v["@d"]}
        if "@f" in v:
            if v["@f"] not in ("nan", "inf", "-inf"):
                raise self.bad(f"invalid number {v['@f']!r} at {path}")
            return float(v["@f"])
        if "@e" in v:
            cls = _ENUMS.get(v["@e"])
            if cls is None:
                raise self.bad(f"unknown enumeration {v['@e']!r} at {path}")
            try:
                return cls(v["v"])
            except ValueError:
                raise self.bad(f"invalid {v['@e']} value {v.get('v')!r} at {path}") from None
        if name == "StringTable":
            utf8, offsets = self.array(v.get("utf8")), self.array(v.get("offsets"))
            if utf8.dtype != np.uint8 or utf8.ndim != 1 or offsets.dtype not in (np.int32, np.int64) or offsets.ndim != 1 or len(offsets) == 0:
                raise self.bad(f"invalid string table in {path}")
            try:
                text = utf8.tobytes().decode("utf-8")
            except UnicodeDecodeError:
                raise self.bad(f"string table is not UTF-8 in {path}") from None
            if offsets[0] != 0 or offsets[-1] != len(text) or (len(offsets) > 1 and (np.diff(offsets) < 0).any()):
                raise self.bad(f"string table offsets out of range at {path}")
            return StringTable(text, offsets)
        raise self.bad(f"unknown IR class {name!r} at {path}")

    def _build(self, cls: type, name: str, kwargs: dict, path: str) -> Any:
        if cls is FlatTree:
            self.check_flat(kwargs, path)
        try:
            if cls is TreeModel and "flat" in kwargs and "root" not in kwargs:
                flat = kwargs.pop("flat")
                return TreeModel.from_flat(flat, **kwargs)
            return cls(**kwargs)
        except TypeError as e:
            raise self.bad(f"invalid {name} at {path}: {e}") from None

    def check_flat(self, kwargs: dict, path: str) -> None:
        """Every array of a FlatTree has its dtype and a consistent shape."""
        for name, dtypes in _FLAT_DTYPES.items():
            a = kwargs.get(name)
            if a is None:
                if name in OPTIONAL_ARRAYS:
                    continue
                raise self.bad(f"FlatTree array {name} missing at {path}")
            if type(a) is not np.ndarray or a.ndim != 1:
                raise self.bad(f"FlatTree array {name} at {path} has dtype {getattr(a, 'dtype', None)} shape {getattr(a, 'shape', None)}, expected {dtypes[0]} (1-d)")
            dt = a.dtype
            if dt is not dtypes[0] and dt is not dtypes[1] and dt not in dtypes:  # identity: numpy's built-in dtypes are shared
                raise self.bad(f"FlatTree array {name} at {path} has dtype {getattr(a, 'dtype', None)} shape {getattr(a, 'shape', None)}, expected {dtypes[0]} (1-d)")
        n = len(kwargs["parent"])
        m = len(kwargs["sd_value"])
        for name in ARRAYS:
            a = kwargs.get(name)
            if a is None:
                continue
            expected = n + 1 if name == "sd_offsets" else m if name.startswith("sd_") else n
            if len(a) != expected:
                raise self.bad(f"FlatTree array {name} at {path} has {len(a)} entries, expected {expected}")
        if not isinstance(kwargs.get("strings"), StringTable):
            raise self.bad(f"FlatTree without a string table at {path}")
        # Index ranges are checked by FlatTree.validate() before the arrays are used (the
        # precomputed tables of a tree make that unnecessary at load).


# --- typed values (class labels, category codes) ------------------------------------------------


def _typed(v: Any) -> list:
    if v is None:
        return ["n"]
    if isinstance(v, bool):
        return ["b", v]
    if isinstance(v, str):
        return ["s", v]
    if isinstance(v, int):
        return ["i", str(v)]
    if isinstance(v, float):
        return ["f", v.hex()]
    raise TypeError(type(v).__name__)


def _untyped(t: Any) -> Any:
    kind = t[0]
    if kind == "n":
        return None
    if kind == "b":
        return bool(t[1])
    if kind == "s":
        return str(t[1])
    if kind == "i":
        return int(t[1])
    if kind == "f":
        return float.fromhex(t[1])
    raise ValueError(kind)


# --- lowered arrays ----------------------------------------------------------------------------------


def _layout_fingerprint() -> str:
    from quickscore.kernels._layout import FAST_DTYPE, NODE_DTYPE

    return hashlib.sha256(repr((NODE_DTYPE.descr, NODE_DTYPE.itemsize, FAST_DTYPE.descr)).encode()).hexdigest()[:16]


def _walk(model: Any, compiled: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(position, IR model, CompiledModel) for the model and every segment model below it."""
    yield path, model, compiled
    if isinstance(model, MiningModel):
        segments = getattr(compiled.core, "segments", None) if compiled is not None else None
        for i, s in enumerate(model.segmentation.segments):
            child = segments[i].model if segments is not None and i < len(segments) else None
            yield from _walk(s.model, child, f"{path}/{i}")


def _encode_arrays(enc: _Encoder, arrays: Any) -> dict:
    from quickscore.ir import DataType  # noqa: F401

    return {
        "nodes": enc.array(arrays.nodes),
        "fast": enc.array(arrays.fast),
        "features": enc.array(arrays.features),
        "bitsets": enc.array(arrays.bitsets),
        "set_values": enc.array(arrays.set_values),
        "roots": enc.array(arrays.roots),
        "node_offsets": enc.array(arrays.node_offsets),
        "all_le": arrays.all_le,
        "n_features": arrays.n_features,
        "fields": [[name, e.column, e.data_type.value, [_typed(c) for c in e.categories]] for name, e in arrays.fields.items()],
        "used": sorted(arrays.used),
        "categories": [[name, [_typed(v) for v in table]] for name, table in arrays.categories.items()],
    }


def _encode_tables(enc: _Encoder, core: Any) -> dict:
    out: dict[str, Any] = {"n_nodes": core.n_nodes, "has_undefined": bool(core.has_undefined)}
    if not core.ctx.classification:
        out["scores"] = enc.array(np.asarray(core.scores, dtype=np.float64))
        return out
    classes = list(core.classes)
    index = {c: i for i, c in enumerate(classes)}
    out["classes"] = [_typed(c) for c in classes]
    out["scores"] = enc.array(np.array([-1 if v is None else index[v] for v in core.scores], dtype=np.int32))
    out["probabilities"] = enc.array(core.probabilities)
    if core.confidences is not None:
        out["confidences"] = enc.array(core.confidences)
    sd_labels = getattr(core, "_sd_labels", None)
    if sd_labels is not None:
        out["sd_labels"] = [enc.array(np.asarray(sd_labels[0], dtype=np.int64)), enc.array(np.asarray(sd_labels[1], dtype=np.int64))]
    return out


#: FusedEnsemble.kind -> the TreeCore table whose rows its ``table`` concatenates.
_FUSED_TABLES = {"values": "scores", "probabilities": "probabilities"}


def _lowered(enc: _Encoder, document: Document, compiled: Any) -> dict:
    from quickscore.models.mining import MiningCore
    from quickscore.models.tree import _PENDING, TreeCore

    out: dict[str, Any] = {}
    for path, model, cm in _walk(document.model, compiled, ""):
        if cm is None:
            continue
        core = cm.core
        entry: dict[str, Any] = {}
        try:
            if isinstance(core, TreeCore) and model.flat is not None:
                entry["tables"] = _encode_tables(enc, core)
                if core._arrays is not None and core._arrays is not _PENDING:
                    entry["arrays"] = _encode_arrays(enc, core._arrays)
            elif isinstance(core, MiningCore) and core.fused is not None:
                fused = core.fused
                entry["fused"] = _encode_arrays(enc, fused.arrays)
                # The fused kernels' per-node table, written once: the trees' own tables are
                # its rows (FusedEnsemble shares them), so that a load neither copies them
                # into a new table nor reads them twice.
                per_tree = _FUSED_TABLES.get(fused.kind)
                if per_tree is not None:
                    parts = [getattr(s.model.core, per_tree, None) for s in core.segments]
                    entry["fused"]["table"] = enc.table(fused.table, parts)
            if isinstance(core, MiningCore) and core.ends_undefined is not None:
                # fast.fuse's terminal check (~6-11 ms of a W1 load), done once here.
                entry["ends_undefined"] = core.ends_undefined
        except TypeError:  # a label or category of a type the file cannot hold: lowered at load
            entry = {}
        if entry:
            out[path or "/"] = entry
    return out


# --- writing -----------------------------------------------------------------------------------


def write_qsm(source: Any, destination: "str | os.PathLike[str]", *, source_name: str | None = None) -> dict:
    """Compile the model file ``source`` (a path or bytes) into ``destination``; returns the header.

    The model is read and lowered as ``quickscore.load`` does (engine "auto"), so every error
    a load would raise is raised here.
    """
    from quickscore import __version__
    from quickscore.io import read_document
    from quickscore.runtime.model import Model

    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read()
        source_name = source_name or os.path.basename(os.fspath(source))
    else:
        data = bytes(source)
    document = read_document(data)
    model = Model(document)
    enc = _Encoder()
    doc_json = enc.encode(dataclasses.replace(document, source_name=None))
    lowered = _lowered(enc, document, model._compiled)
    payload_parts = []
    table = []
    offset = 0
    for a in enc.arrays:
        pad = -offset % _ALIGN
        if pad:
            payload_parts.append(b"\0" * pad)
            offset += pad
        raw = a.tobytes()
        table.append({"dtype": _dtype_json(a.dtype), "shape": list(a.shape), "offset": offset, "nbytes": len(raw)})
        payload_parts.append(raw)
        offset += len(raw)
    payload = b"".join(payload_parts)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "quickscore_version": __version__,
        "layout": _layout_fingerprint(),
        "source": {"name": source_name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        "payload_size": len(payload),
        "payload_crc32": zlib.crc32(payload),
        "arrays": table,
        "document": doc_json,
        "lowered": lowered,
    }
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    prefix = _PREFIX.pack(MAGIC, len(head), zlib.crc32(head), 0)
    pad = -(len(prefix) + len(head)) % _ALIGN
    tmp = os.fspath(destination) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(prefix)
        f.write(head)
        f.write(b"\0" * pad)
        f.write(payload)
    os.replace(tmp, destination)
    return header


def _dtype_json(dt: np.dtype) -> Any:
    return dt.str if dt.fields is None else [list(x) for x in dt.descr]


def _dtype_of(spec: Any) -> np.dtype:
    if isinstance(spec, str):
        dt = np.dtype(spec)
        if dt.kind not in "biuf" or dt.hasobject:
            raise ValueError(spec)
        return dt
    if isinstance(spec, list):  # a record dtype (the kernels' test records), numeric fields only
        dt = np.dtype([tuple(x) for x in spec])
        if dt.hasobject or any(dt.fields[name][0].kind not in "biuf" for name in dt.names):
            raise ValueError(spec)
        return dt
    raise ValueError(spec)


# --- reading -----------------------------------------------------------------------------------


def read_qsm(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    """The IR document of a .qsm file, with its lowered arrays attached (see the module doc)."""
    from quickscore.io import refuse_options

    refuse_options("qsm", options)
    # writable: the kernels take writable arrays
    return _read(bytearray().join(chunks), source_name)


def read_qsm_path(path: str, source_name: str | None, options: dict) -> Document:
    """``read_qsm`` of a file by path: the file is mapped copy-on-write, not copied."""
    import mmap

    from quickscore.io import refuse_options

    refuse_options("qsm", options)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return _read(bytearray(), source_name)
        # ACCESS_COPY: writable arrays (the kernels take writable arrays) whose pages come
        # from the page cache; nothing is written back to the file.
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    return _read(buf, source_name)


def _read(buf: Any, source_name: str | None) -> Document:
    from quickscore import __version__

    where = f" ({source_name})" if source_name else ""

    def bad(message: str) -> InvalidMarkup:
        return InvalidMarkup(f"Invalid .qsm file{where}: {message}")

    if len(buf) < _PREFIX.size or buf[: len(MAGIC)] != MAGIC:
        raise bad("not a quickscore compiled model (wrong magic bytes)" if buf[: len(MAGIC)] != MAGIC else "truncated before its header")
    _, head_size, head_crc, _reserved = _PREFIX.unpack_from(buf, 0)
    if head_size > MAX_HEADER or _PREFIX.size + head_size > len(buf):
        raise bad(f"truncated: the header needs {head_size} bytes, the file has {len(buf) - _PREFIX.size} after the prefix")
    head = bytes(memoryview(buf)[_PREFIX.size : _PREFIX.size + head_size])
    if zlib.crc32(head) != head_crc:
        raise bad("header checksum mismatch (the file is corrupted)")
    try:
        # orjson: the W1 forest's 0.5 MB header parses in ~5 ms instead of ~35 ms (cold).
        header = orjson.loads(head)
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"header is not JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise bad(f"format {header.get('format') if isinstance(header, dict) else None!r}, expected {FORMAT!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad(f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise bad(
            f"format_version {version} is newer than this quickscore ({__version__}) reads (up to "
            f"{FORMAT_VERSION}); upgrade quickscore or compile the model again"
        )
    if version < 1:
        raise bad(f"invalid format_version {version}")
    start = _PREFIX.size + head_size
    start += -start % _ALIGN
    size = header.get("payload_size")
    if not isinstance(size, int) or size < 0:
        raise bad(f"invalid payload_size {size!r}")
    if len(buf) - start != size:
        raise bad(f"truncated or extended: the payload is {max(len(buf) - start, 0)} bytes, the header says {size}")
    payload = memoryview(buf)[start:]
    check = _PayloadCheck(payload, header.get("payload_crc32"))
    try:
        document = _decode(header, payload, size, where, source_name, bad)
    except BaseException:
        if not check.ok():  # a corrupted payload explains whatever went wrong reading it
            raise bad("payload checksum mismatch (the file is corrupted)") from None
        raise
    if not check.ok():
        raise bad("payload checksum mismatch (the file is corrupted)")
    return document


class _PayloadCheck:
    """``zlib.crc32`` of the payload, compared with the header's ``payload_crc32``.

    A payload of more than ``_THREAD_MIN`` bytes is checked in a thread while the reader
    decodes the header (W1: ~20 ms of crc32 over 41 MB next to ~40 ms of decoding).
    CPython's Modules/zlibmodule.c, zlib_crc32_impl: "Releasing the GIL for very small
    buffers is inefficient and may lower performance" - ``if (data->len > 1024*5)`` the
    checksum runs between Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS. ``_read`` returns no
    document before ``ok()`` said yes: nothing scores from bytes not checked, and nothing is
    computed from them before except the decoding itself (whose own checks stay).
    """

    def __init__(self, payload: memoryview, expected: Any):
        self.expected = expected
        self.value: int | None = None
        self.thread: threading.Thread | None = None
        if len(payload) > _THREAD_MIN and _cpus() > 1:
            self.thread = threading.Thread(target=self._run, args=(payload,), name="quickscore-qsm-crc32", daemon=True)
            self.thread.start()
        else:
            self._run(payload)

    def _run(self, payload: memoryview) -> None:
        self.value = zlib.crc32(payload)

    def ok(self) -> bool:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        return self.value is not None and self.value == self.expected


#: Payloads up to this size are checked without a thread (1 MB: ~0.5 ms of crc32).
_THREAD_MIN = 1 << 20


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _decode(header: dict, payload: memoryview, size: int, where: str, source_name: str | None, bad: Any) -> Document:
    """The document of a .qsm file whose header ``_read`` checked (the payload is checked
    meanwhile by ``_PayloadCheck``)."""
    from quickscore import __version__

    arrays: list[np.ndarray] = []
    append = arrays.append
    dtypes: dict[Any, tuple[np.dtype, int, int]] = {}
    frombuffer = np.frombuffer
    for i, spec in enumerate(header.get("arrays") or ()):
        try:
            d = spec["dtype"]
            key = d if type(d) is str else json.dumps(d)
            got = dtypes.get(key)
            if got is None:
                dt = _dtype_of(d)
                got = dtypes[key] = (dt, dt.itemsize, dt.alignment)
            dt, itemsize, alignment = got
            shape, offset, nbytes = spec["shape"], spec["offset"], spec["nbytes"]
            count = 1
            for x in shape:
                if type(x) is not int or x < 0:
                    raise ValueError(x)
                count *= x
            if type(offset) is not int or type(nbytes) is not int:
                raise ValueError(offset)
        except (KeyError, TypeError, ValueError):
            raise bad(f"array {i}: invalid dtype or shape {str(spec)[:120]}") from None
        if nbytes != count * itemsize or offset < 0 or offset + nbytes > size or offset % alignment:
            raise bad(f"array {i}: {dt} {tuple(shape)} does not fit its {nbytes} bytes at offset {offset}")
        a = frombuffer(payload, dt, count, offset)
        append(a if len(shape) == 1 else a.reshape(shape))
    dec = _Decoder(arrays, where)
    document = dec.decode(header.get("document"))
    if not isinstance(document, Document):
        raise bad("no document")
    document = dataclasses.replace(document, source_name=source_name)
    same_build = header.get("quickscore_version") == __version__ and header.get("layout") == _layout_fingerprint()
    lowered = header.get("lowered") or {}
    _attach(document, lowered if same_build and isinstance(lowered, dict) else {}, dec)
    return document


def _attach(document: Document, lowered: dict, dec: _Decoder) -> None:
    """Put the precomputed tables / arrays on the IR models they belong to (``_lowered``)."""
    for path, model, _ in _walk(document.model, None, ""):
        entry = lowered.get(path or "/")
        if not isinstance(entry, dict):
            continue
        try:
            found: dict[str, Any] = {}
            if "tables" in entry and isinstance(model, TreeModel) and model.flat is not None:
                found["tables"] = _decode_tables(entry["tables"], dec, model.flat.n_nodes, len(model.flat.strings))
            if "arrays" in entry:
                found["arrays"] = _decode_arrays(entry["arrays"], dec)
            if type(entry.get("ends_undefined")) is bool and isinstance(model, MiningModel):
                # Anything else (absent: a file written before it was stored) is checked at load.
                found["ends_undefined"] = entry["ends_undefined"]
            if "fused" in entry and isinstance(model, MiningModel):
                found["fused"] = _decode_arrays(entry["fused"], dec)
                if "table" in entry["fused"]:
                    # Used by FusedEnsemble only where the trees' tables are its rows.
                    table = dec.array(entry["fused"]["table"])
                    if table.dtype != np.float64 or table.ndim not in (1, 2):
                        raise dec.bad(f"fused table of the model at {path or '/'} has dtype {table.dtype} shape {table.shape}")
                    found["fused"]["table"] = table
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise dec.bad(f"invalid lowered arrays for the model at {path or '/'} ({e})") from None
        object.__setattr__(model, "_lowered", found)
    for path, model, _ in _walk(document.model, None, ""):
        if isinstance(model, TreeModel) and model.flat is not None and "tables" not in model.__dict__.get("_lowered", {}):
            _validate(model.flat, dec)


def _validate(flat: FlatTree, dec: _Decoder) -> None:
    try:
        flat.validate()
    except ValueError as e:
        raise dec.bad(str(e)) from None


def _checked(a: np.ndarray, dtype: Any, shape: tuple, what: str, dec: _Decoder) -> np.ndarray:
    expected = _DTYPES.get(dtype) if type(dtype) is str else None
    if expected is None:
        expected = np.dtype(dtype)
    if a.dtype != expected or len(a.shape) != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        raise dec.bad(f"{what} has dtype {a.dtype} shape {a.shape}, expected {np.dtype(dtype)} {shape}")
    return a


_DTYPES = {d: np.dtype(d) for d in ("<f8", "<i4", "<i8", "<u8")}


def _decode_tables(t: dict, dec: _Decoder, n: int, n_strings: int) -> dict:
    out: dict[str, Any] = {"n_nodes": int(t["n_nodes"]), "has_undefined": bool(t["has_undefined"])}
    if out["n_nodes"] != n:
        raise ValueError("node count")
    if "classes" not in t:
        out["scores"] = _checked(dec.rows(t["scores"]), "<f8", (n,), "regression scores", dec)
        return out
    classes = tuple(_untyped(c) for c in t["classes"])
    k = len(classes)
    out["classes"] = classes
    index = _checked(dec.array(t["scores"]), "<i4", (n,), "node scores", dec)
    if len(index) and (index.min() < -1 or index.max() >= k):
        raise dec.bad("node scores point outside the classes")
    out["scores"] = index
    out["probabilities"] = _checked(dec.rows(t["probabilities"]), "<f8", (n, k), "node probabilities", dec)
    if "confidences" in t:
        out["confidences"] = _checked(dec.array(t["confidences"]), "<f8", (n, k), "node confidences", dec)
    if "sd_labels" in t:
        strings = _checked(dec.array(t["sd_labels"][0]), "<i8", (None,), "ScoreDistribution value strings", dec)
        classes_of = _checked(dec.array(t["sd_labels"][1]), "<i8", (len(strings),), "ScoreDistribution value classes", dec)
        if len(strings) and (strings.min() < 0 or strings.max() >= n_strings or classes_of.min() < 0 or classes_of.max() >= k):
            raise dec.bad("ScoreDistribution value classes out of range")
        out["sd_labels"] = (strings, classes_of)
    return out


def _decode_arrays(a: dict, dec: _Decoder) -> Any:
    from quickscore.ir import DataType
    from quickscore.kernels._layout import FAST_DTYPE, NODE_DTYPE, OP_BITS, OP_SHIFT, OP_SORTED
    from quickscore.kernels.trees import FieldEncoding

    nodes = _checked(dec.array(a["nodes"]), NODE_DTYPE, (None,), "kernel tests", dec)
    fast = _checked(dec.array(a["fast"]), FAST_DTYPE, (len(nodes),), "kernel tests (compact)", dec)
    features = _checked(dec.array(a["features"]), "<i4", (len(nodes),), "kernel test features", dec)

    bitsets = _checked(dec.array(a["bitsets"]), "<u8", (None,), "kernel bitsets", dec)
    set_values = _checked(dec.array(a["set_values"]), "<f8", (None,), "kernel sets", dec)
    roots = _checked(dec.array(a["roots"]), "<i4", (None,), "tree roots", dec)
    offsets = _checked(dec.array(a["node_offsets"]), "<i4", (len(roots) + 1,), "tree node offsets", dec)
    m = len(nodes)
    n_features = int(a["n_features"])
    fields = {
        name: FieldEncoding(int(col), DataType(dt), tuple(_untyped(c) for c in cats)) for name, col, dt, cats in a["fields"]
    }
    # The kernels index with these without bounds checks: every reference must be in range.
    # (An exit below -1 ends the walk with node -(x + 2), an index into the node tables.)
    n_nodes = int(offsets[-1])
    for what, nxt in (("true", nodes["true_next"]), ("false", nodes["false_next"]), ("missing", nodes["missing_next"]),
                      ("true (compact)", fast["true_next"]), ("false (compact)", fast["false_next"])):
        if m and (int(nxt.max()) >= m or -int(nxt.min()) - 2 >= n_nodes):
            raise dec.bad(f"kernel test {what} exits out of range")
    if m and (nodes["feature"].min() < 0 or nodes["feature"].max() >= n_features):
        raise dec.bad("kernel test features out of range")
    if m and (features.min() < 0 or features.max() >= n_features):
        # Not only OP_LE tests with their column (the common case, checked above): split.
        column, op = features & ((1 << OP_SHIFT) - 1), features >> OP_SHIFT
        if column.max() >= n_features or features.min() < 0 or op.max() > OP_SORTED:
            raise dec.bad("kernel compact test features out of range")
        if op.max() >= OP_BITS:  # OP_BITS and OP_SORTED are the highest ops
            sets = fast["threshold"][(op == OP_BITS) | (op == OP_SORTED)]
            if sets.size and (sets.min() < 0 or sets.max() >= max(len(bitsets), len(set_values))):
                raise dec.bad("kernel set offsets out of range")
    if len(roots) and (roots.max() >= m or ((roots < 0) & ((-roots - 2) >= int(offsets[-1]))).any()):
        raise dec.bad("tree roots out of range")
    ops = nodes["op"]
    op_max = int(ops.max()) if m else 0
    if m and (ops.min() < 0 or op_max > OP_SORTED):
        raise dec.bad("kernel ops out of range")
    if op_max >= OP_BITS:
        sets = nodes["threshold"][(ops == OP_BITS) | (ops == OP_SORTED)]
        if sets.size and (sets.min() < 0 or sets.max() >= max(len(bitsets), len(set_values))):
            raise dec.bad("kernel set offsets out of range")
    if len(offsets) and (offsets[0] != 0 or (np.diff(offsets) < 0).any()):
        raise dec.bad("tree node offsets are not increasing")
    return {
        "nodes": nodes, "fast": fast, "features": features, "bitsets": bitsets, "set_values": set_values, "roots": roots, "node_offsets": offsets,
        "all_le": bool(a["all_le"]), "n_features": n_features, "fields": fields, "used": frozenset(a["used"]),
        "categories": {name: {_untyped(v): i for i, v in enumerate(values)} for name, values in a["categories"]},
    }


def tree_arrays(spec: dict) -> Any:
    """A TreeArrays from decoded lowered arrays."""
    from quickscore.kernels.trees import TreeArrays

    nodes = spec["nodes"]
    return TreeArrays(
        nodes=nodes, fast=spec["fast"], features=spec["features"], bitsets=spec["bitsets"], set_values=spec["set_values"],
        roots=spec["roots"], node_offsets=spec["node_offsets"], all_le=spec["all_le"],
        # np.unique(nodes["feature"]) without its sort (~3 ms for W1's 580k tests): the columns
        # are in range(n_features) (_decode_arrays checked it).
        used_cols=np.flatnonzero(np.bincount(nodes["feature"], minlength=spec["n_features"])).astype(np.int64),
        n_features=spec["n_features"],
        fields=spec["fields"], used=spec["used"], categories=spec["categories"],
    )
