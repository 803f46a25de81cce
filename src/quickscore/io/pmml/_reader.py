"""Streaming PMML reader: XML events -> IR, in one pass, keeping no document tree.

How it works
------------
The XML is parsed by expat (``pyexpat``, in the standard library) fed in chunks. Each
element start pushes a *frame* (its attributes, line, path segment); each element end
pops the frame and calls the element's *builder* with the converted attributes and the
already-built children. The result goes on a value stack for the parent. Nothing of the
document is kept but the open frames, so memory is the IR plus a few hundred bytes.

Why expat and not lxml: with the same per-element work, lxml's ``iterparse`` (tree
building, element proxies, ``clear()``) costs ~2.5x the CPU of expat's callbacks on a
90 MB tree file, and lxml's callback parser target cannot report line numbers.

Safety: a DOCTYPE is refused as soon as it starts (before any entity is declared, let
alone expanded), entity declarations are refused, external entities are never fetched
(no handler is installed), parameter entities are never parsed, and element nesting is
limited to MAX_DEPTH (checked at every start tag). Reading never touches the network or
another file.

What is skipped: ``Extension`` elements and elements of non-PMML namespaces (vendor
extensions), and the elements in ``_schema.IGNORED`` (statistics, verification data,
annotations). None of them changes a prediction for the supported model types. The
Extensions in the corpus are metadata: Rattle/R ``user`` in Header, BigML field ids and
SPSS formats on DataField, KNIME ``summary`` on DerivedField, ``mean`` / ``totalSum`` /
``sumSquaredDeviation`` statistics on Node, JPMML-SkLearn ``X-FeatureImportances`` on
MiningSchema, row ids in InlineTable. JPMML's extensions that do carry semantics are
attributes and are read (``x-mathContext``, ``x-missingPredictionTreatment``,
``x-missingThreshold``, ``x-invalidValueReplacement``, ``x-wordRE``, ``x-report``,
``x-multiModelChain``, ``x-weightedSum`` ...: see ``_schema.RENAMES`` and ``ENUMS``).

Cost: for a 90 MB forest most of the time was expat's callbacks (~3 M Python calls). TreeModel
bodies are read into arrays (``ir.FlatTree``, by ``_trees``) with no object per Node, and a body
in the strict XML subset the exporters write is read from its bytes with no callback per
element (``_trees.feed``, ``_fastscan``; expat still checks everything else); the cyclic GC is paused
while reading; Node / SimplePredicate objects, where they are built (``read_pmml(flat=False)``,
predicates inside compound ones), come from ``fast_constructor`` (see there).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Iterable

import pyexpat

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.io.pmml import _schema as S
from quickscore.ir.expressions import Aggregate, Lag
from quickscore.ir import (
    Apply,
    CategoricalPredictor,
    CompoundPredicate,
    Constant,
    DataField,
    Decision,
    DefineFunction,
    DerivedField,
    Discretize,
    DiscretizeBin,
    Document,
    FalsePredicate,
    FlatTree,
    FieldColumnPair,
    FieldRef,
    Header,
    InlineTable,
    Interval,
    LinearNorm,
    Loc,
    MapValues,
    MiningField,
    MiningModel,
    NormContinuous,
    NormDiscrete,
    Node,
    NumericPredictor,
    OutputField,
    ParameterField,
    PredictorTerm,
    RegressionModel,
    RegressionTable,
    ScoreDistribution,
    Segment,
    Segmentation,
    SimplePredicate,
    SimpleSetPredicate,
    Target,
    TextIndex,
    TextIndexNormalization,
    TargetValue,
    TransformationDictionary,
    TreeModel,
    TruePredicate,
)
from quickscore.io.pmml import _trees  # noqa: E402  (TreeModel bodies as arrays)
from quickscore._memory import BIG_NODES, gc_paused, release_memory  # noqa: E402

#: Deepest element nesting accepted. A decision tree nests one element per level, so
#: this allows trees ~990 levels deep (real ones are < 100); a deeper document is refused
#: at the start tag that exceeds the limit, before anything below it is read.
MAX_DEPTH = 1000

# frame slots
_BASE, _SPEC, _ATTRS, _LINE, _COUNTS, _PN, _TEXT, _CHILDREN = range(8)


# --- locations --------------------------------------------------------------------------------
# Every open element has a *path node* (parent node, segment, line): segment is "Node" for
# the first Node child of its parent, then "Node[2]", ... An element whose IR node has a
# ``loc`` gets a _LocNode as its path node, which *is* its Loc: the path string is only
# built when asked for (a 90 MB forest has ~1.2 M located elements; their path strings
# would take ~300 MB).


def _path_of(pn: tuple | None) -> str:
    """The element path of a path node."""
    parts = []
    while pn is not None:
        parts.append(pn[1])
        pn = pn[0]
    if len(parts) > 40:  # a pathological nesting: keep the message readable
        parts = parts[:20] + [f"...({len(parts) - 40} more)..."] + parts[-20:]
    parts.reverse()
    return "/".join(parts)


class _LocNode(tuple, Loc):  # type: ignore[misc]
    """A :class:`quickscore.ir.Loc` that is a path node ``(parent, segment, line)``.

    It reads, compares, hashes, prints and pickles like the plain ``Loc`` with the same
    path and line (pickling and copying produce a plain ``Loc``).
    """

    __slots__ = ()

    def __new__(cls, path: str | None = None, line: int | None = None) -> "_LocNode":
        return tuple.__new__(cls, (None, path or "", line))  # (dataclasses.replace() lands here)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Loc.__init__ must not run
        pass

    @property  # type: ignore[override]
    def path(self) -> str:
        return _path_of(self)

    @property  # type: ignore[override]
    def line(self) -> int | None:
        return self[2]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Loc):
            return (self.path, self.line) == (other.path, other.line)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.path, self.line))

    def __repr__(self) -> str:
        return f"Loc(path={self.path!r}, line={self.line!r})"

    def __str__(self) -> str:
        return Loc.__str__(self)

    def __reduce__(self) -> Any:
        return (Loc, (self.path, self.line))


_tnew = tuple.__new__
_new = object.__new__
_osa = object.__setattr__


def fast_constructor(cls: type, names: tuple[str, ...]) -> Any:
    """A positional constructor for the frozen dataclass ``cls`` that sets only ``names``.

    The dataclass ``__init__`` assigns every field through ``object.__setattr__``; for the
    hundreds of thousands of Nodes of a forest that is most of the reading time. A field
    left out keeps its default *as a class attribute*, which is what attribute access,
    ``==``, ``hash``, ``repr``, ``copy`` and pickling see, so the object is equivalent.
    That holds only for a plain frozen dataclass whose other fields all have a class-level
    default and no ``__post_init__``: checked here, else the normal constructor is used.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    ok = (
        cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        and "__slots__" not in cls.__dict__
        and not hasattr(cls, "__post_init__")
        and set(names) <= set(fields)
        and all(
            f.default is not dataclasses.MISSING and getattr(cls, f.name, dataclasses.MISSING) is f.default
            for n, f in fields.items() if n not in names
        )
    )
    args = ", ".join(names)
    if ok:
        body = "".join(f"    osa(o, {n!r}, {n})\n" for n in names)
        src = f"def make({args}):\n    o = new(cls)\n{body}    return o\n"
    else:
        src = f"def make({args}):\n    return cls({', '.join(f'{n}={n}' for n in names)})\n"
    ns: dict[str, Any] = {"new": _new, "osa": _osa, "cls": cls}
    exec(src, ns)  # noqa: S102 - generated from field names, as dataclasses itself does
    make = ns["make"]
    make.fast = ok
    return make


# --- element specs ----------------------------------------------------------------------------


class _Spec:
    """How to read one element: its attribute table, children, builder."""

    __slots__ = ("local", "attrs", "build", "children", "text", "renames", "cells", "segs", "loc")

    def __init__(self, local: str, build: Any) -> None:
        self.local = local
        self.segs = {1: local}  # path segment by sibling index: 1 -> "Node", 2 -> "Node[2]"
        self.attrs = S.ATTRS.get(local, ())
        self.build = build
        self.children: dict[str, _Spec | None] = {}  # expat name -> spec (None: skip)
        self.text = local in S.TEXT_ELEMENTS
        self.renames = S.RENAMES.get(local, ())
        self.cells = local == "row"
        self.loc = local in S.LOCATED

    def segment(self, i: int) -> str:
        seg = f"{self.local}[{i}]"
        if i < 256:  # keep the shared cache small (an InlineTable may have 1e6 rows)
            self.segs[i] = seg  # idempotent, so concurrent reads may race harmlessly
        return seg


# --- the reader -------------------------------------------------------------------------------


class PMMLReader:
    """One read of one document. Use :func:`read_pmml`."""

    def __init__(self, source_name: str | None, flat: bool = True) -> None:
        self.source_name = source_name
        self.flat = flat  # TreeModel nodes as an ir.FlatTree (else as Node objects)
        self.flat_nodes = 0  # nodes read into FlatTrees
        self.ns_version: tuple[int, int] | None = None  # from the root's namespace
        self.version: str | None = None
        self.model_seen = False
        self.frames: list[list] = []
        self.parser: Any = None
        self.sd_cache: dict[tuple, ScoreDistribution] = {}
        self.fed = False  # any bytes given to expat yet
        self.fast_tree: Any = None  # set by _trees.read_tree for _trees.feed
        self.fast_at: int | None = None
        self.fast_bodies = 0  # TreeModel bodies read from their bytes (_fastscan)

    # -- errors ----------------------------------------------------------------------------

    def where(self, fr: list) -> str:
        line = fr[_LINE]
        path = _path_of(fr[_PN])
        return f"{path} (line {line})" if line else path

    def invalid(self, fr: list, message: str, hint: str = "") -> InvalidMarkup:
        return InvalidMarkup(f"{message} at {self.where(fr)}{self._in_source()}{hint}")

    def unsupported(self, fr: list, message: str) -> UnsupportedMarkup:
        return UnsupportedMarkup(f"{message} at {self.where(fr)}{self._in_source()}")

    def _in_source(self) -> str:
        return f" in {self.source_name}" if self.source_name else ""

    def loc(self, fr: list) -> Loc:
        pn = fr[_PN]
        return pn if type(pn) is _LocNode else _tnew(_LocNode, pn)

    # -- attributes ------------------------------------------------------------------------

    def convert(self, fr: list) -> dict[str, Any]:
        """The element's attributes as IR keywords (absent optional ones left out)."""
        spec: _Spec = fr[_SPEC]
        a = fr[_ATTRS]
        if spec.renames and a:
            a = self.rename(spec, a)
        out: dict[str, Any] = {}
        for xml, kw, conv, default in spec.attrs:
            v = a.get(xml)
            if v is None:
                if default is S.UNSET:
                    continue
                if default is S.REQUIRED:
                    raise self.invalid(fr, f"Missing required attribute {xml} of {spec.local}")
                out[kw] = default
            elif conv is None:
                out[kw] = v
            else:
                try:
                    out[kw] = conv(v)
                except (ValueError, KeyError, TypeError):
                    raise self.bad_value(fr, xml, v, conv) from None
        return out

    def bad_value(self, fr: list, xml: str, v: str, conv: Any) -> Exception:
        spec: _Spec = fr[_SPEC]
        expected = getattr(conv, "expected", None)
        if expected and v.startswith("x-"):  # a vendor extension value
            return self.unsupported(fr, f"Unsupported value {v!r} for attribute {xml} of {spec.local}")
        hint = f"; expected one of: {expected}" if expected else ""
        return self.invalid(fr, f"Invalid value {v!r} for attribute {xml} of {spec.local}", hint)

    def rename(self, spec: _Spec, a: dict[str, str]) -> dict[str, str]:
        v = self.ns_version
        for upto, old, new in spec.renames:
            if old in a and (upto is None or (v is not None and v <= upto)):
                a = dict(a)
                value = a.pop(old)
                a.setdefault(new, value)
        return a

    # -- the event loop ----------------------------------------------------------------------

    def read(self, chunks: Iterable[bytes]) -> Document:
        P = pyexpat.ParserCreate(namespace_separator=" ")
        self.parser = P
        P.buffer_text = True
        P.buffer_size = 1 << 16
        P.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)

        frames = self.frames
        st: list[tuple[str, Any]] = []  # (local name, built value) of finished children
        push = st.append
        r = self
        max_depth = MAX_DEPTH
        skip = 0  # > 0 while inside a skipped element (its depth below the skipped root)
        text_frame: list | None = None
        doc_spec = _DOC
        tree_root, tree_spec = _SPECS["Node"], _SPECS["TreeModel"]

        def chars(data: str) -> None:
            if not skip and text_frame is not None:
                text_frame[_TEXT].append(data)

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal skip, text_frame
            if skip:
                skip += 1
                if skip + len(frames) > max_depth:
                    r.too_deep(frames[-1])
                return
            top = frames[-1]
            spec = top[_CHILDREN].get(name, _SLOW)
            if spec is _SLOW:
                spec = r.slow_start(top, name, attrs)
            if spec is None:
                skip = 1
                if len(frames) + 1 > max_depth:
                    r.too_deep(top)
                return
            # path segment: "Node" for the first Node child of its parent, then "Node[2]", ...
            counts = top[_COUNTS]
            if counts is None:
                top[_COUNTS] = {spec: 1}
                seg = spec.local
            else:
                i = counts.get(spec, 0) + 1
                counts[spec] = i
                seg = spec.segs.get(i) or spec.segment(i)
            if spec is tree_root and top[_SPEC] is tree_spec and r.flat:
                # A TreeModel's Node tree is read into arrays (see _trees) until it ends.
                return _trees.read_tree(r, P, top, seg, attrs, st, frames)
            line = P.CurrentLineNumber
            pn = _tnew(_LocNode, (top[_PN], seg, line)) if spec.loc else (top[_PN], seg, line)
            fr = [len(st), spec, attrs, line, None, pn, None, spec.children]
            frames.append(fr)
            if len(frames) > max_depth:
                r.too_deep(fr)
            if spec.text:
                fr[_TEXT] = []
                text_frame = fr
                P.CharacterDataHandler = chars

        def end(name: str) -> None:
            nonlocal skip, text_frame
            if skip:
                skip -= 1
                return
            fr = frames.pop()
            base = fr[_BASE]
            if len(st) > base:
                kids = st[base:]
                del st[base:]
            else:
                kids = _NO_KIDS
            spec = fr[_SPEC]
            if text_frame is fr:
                text_frame = None
                P.CharacterDataHandler = None
            push((spec.local, spec.build(r, fr, kids)))

        def doctype(name: str, *args: Any) -> None:
            raise InvalidMarkup(
                f"Refusing a document with a DOCTYPE declaration (<!DOCTYPE {name} ...>, line "
                f"{P.CurrentLineNumber}){self._in_source()}: PMML documents have no DTD, and DTDs "
                "can declare entities that expand to huge or external content"
            )

        def entity(name: str, *args: Any) -> None:
            raise InvalidMarkup(
                f"Refusing an entity declaration ({name}, line {P.CurrentLineNumber}){self._in_source()}"
            )

        P.StartElementHandler = start
        P.EndElementHandler = end
        P.StartDoctypeDeclHandler = doctype
        P.EntityDeclHandler = entity
        P.UnparsedEntityDeclHandler = entity
        P.NotationDeclHandler = entity

        frames.append([0, doc_spec, {}, None, None, None, None, doc_spec.children])
        self.fed = False
        try:
            if self.flat:  # TreeModel bodies may be read from the bytes (see _trees.feed)
                _trees.feed(self, P, chunks)
            else:
                for chunk in chunks:
                    if chunk:
                        self.fed = True
                        P.Parse(chunk, False)
                P.Parse(b"", True)
        except pyexpat.ExpatError as e:
            raise self.xml_error(e, self.fed) from None
        except (LookupError, ValueError) as e:
            # expat hands encodings it does not know to Python's codecs: an unknown name is a
            # LookupError, a multi-byte codec a ValueError. Nothing else raises these here.
            raise InvalidMarkup(f"Not well-formed XML: unsupported encoding ({e}){self._in_source()}") from None
        except RecursionError:  # cannot happen (nothing recurses); never leak it
            raise InvalidMarkup(f"Document too deeply nested{self._in_source()}") from None
        finally:
            P.StartElementHandler = P.EndElementHandler = P.CharacterDataHandler = P.XmlDeclHandler = None
            self.parser = None
            self.fast_tree = None

        for local, value in st:
            if local == "PMML":
                return value
        raise InvalidMarkup(f"Not a PMML document: no root element{self._in_source()}")

    def xml_error(self, e: pyexpat.ExpatError, fed: bool) -> InvalidMarkup:
        msg = pyexpat.ErrorString(e.code)
        if e.code == pyexpat.errors.codes[pyexpat.errors.XML_ERROR_NO_ELEMENTS]:
            if len(self.frames) <= 1 and self.version is None and not self.model_seen:
                return InvalidMarkup(f"Not a PMML document: empty document (no root element){self._in_source()}")
            if len(self.frames) > 1:
                return InvalidMarkup(
                    f"Not well-formed XML: the document ends inside an element (truncated?) "
                    f"at line {e.lineno}, column {e.offset}{self._in_source()}"
                )
        where = f"line {e.lineno}, column {e.offset}"
        if len(self.frames) > 1:
            where += f", in {_path_of(self.frames[-1][_PN])}"
        return InvalidMarkup(f"Not well-formed XML: {msg} ({where}){self._in_source()}")

    def too_deep(self, fr: list) -> None:
        raise InvalidMarkup(
            f"Document nested deeper than {MAX_DEPTH} elements at {self.where(fr)}{self._in_source()}"
        )

    def slow_start(self, top: list, name: str, attrs: dict[str, str]) -> _Spec | None:
        """A child not in the parent's table: skip it, make it a cell, or refuse it."""
        uri, _, local = name.rpartition(" ")
        parent: _Spec = top[_SPEC]
        if parent is _DOC:
            return self.root(name, uri, local, attrs)
        if parent.cells:  # InlineTable/row: every child element is a cell, in any namespace
            cell = _CELLS.get(local)
            if cell is None:
                cell = _CellSpec(local)
                if len(_CELLS) < 4096:  # shared by all reads: keep it bounded
                    _CELLS[local] = cell
            return cell
        if parent.build is b_cell:
            return None  # markup inside a cell: not part of the table
        if uri and uri not in S.NAMESPACES:
            return None  # vendor namespace
        if local == "Extension" or local in S.IGNORED:
            return None
        fr = self._child_frame(top, local)
        if parent is _PMML and local in S.MODEL_ELEMENTS:
            if self.model_seen:
                return None  # the document's model is the first one (as in JPMML)
            self.model_seen = True
            spec = _SPECS.get(local) if local in S.SUPPORTED_MODELS else None
            if spec is None:
                raise self.unsupported(fr, f"Unsupported element {local}")
            return spec
        if local in _SPECS and local not in S.UNSUPPORTED and (parent.local, local) not in S.UNSUPPORTED_PLACES:
            raise self.invalid(fr, f"Unexpected element {local} in {parent.local}")
        reason = S.UNSUPPORTED_REASONS.get(local)
        raise self.unsupported(fr, f"Unsupported element {local}" + (f": {reason}" if reason else ""))

    def _child_frame(self, top: list, local: str) -> list:
        """A frame for error messages about a child that will not be read."""
        counts = top[_COUNTS] or {}
        i = sum(n for spec, n in counts.items() if spec.local == local) + 1
        seg = local if i == 1 else f"{local}[{i}]"
        line = self.parser.CurrentLineNumber
        return [0, None, {}, line, None, (top[_PN], seg, line), None, {}]

    def root(self, name: str, uri: str, local: str, attrs: dict[str, str]) -> _Spec:
        line = self.parser.CurrentLineNumber
        shown = f"<{local}>" if not uri else f"<{local}> (namespace {uri})"
        if local != "PMML":
            hint = ""
            if local.lower() == "pmml":
                hint = "; element names are case-sensitive"
            elif local in _SPECS or local in S.MODEL_ELEMENTS:
                hint = "; this looks like a fragment of a PMML document"
            raise InvalidMarkup(
                f"Not a PMML document: the root element is {shown} at line {line}, expected <PMML>"
                f"{hint}{self._in_source()}"
            )
        if uri and uri not in S.NAMESPACES:
            raise InvalidMarkup(
                f"Not a PMML document: the root element <PMML> at line {line} is in namespace "
                f"{uri!r}, not a PMML namespace (http://www.dmg.org/PMML-4_4 etc.){self._in_source()}"
            )
        self.version = attrs.get("version") or (S.NAMESPACES[uri] if uri else None)
        self.ns_version = S.version_tuple(S.NAMESPACES[uri] if uri else self.version)
        return _PMML


# --- builders ----------------------------------------------------------------------------------
# build(reader, frame, kids) -> value; kids is a list of (local name, value) of the children
# in document order (only elements allowed by CHILDREN reach here).

_NO_KIDS: list = []


def _one(r: PMMLReader, fr: list, kids: list, names: frozenset | set | tuple, what: str, required: bool = True) -> Any:
    found = [v for n, v in kids if n in names]
    if len(found) > 1:
        raise r.invalid(fr, f"{fr[_SPEC].local} has {len(found)} {what} elements, expected one")
    if not found:
        if required:
            raise r.invalid(fr, f"{fr[_SPEC].local} has no {what}")
        return None
    return found[0]


def _all(kids: list, name: str) -> tuple:
    return tuple(v for n, v in kids if n == name)


def _text(fr: list) -> str | None:
    t = fr[_TEXT]
    return "".join(t) if t else None


# documents and dictionaries


def b_pmml(r: PMMLReader, fr: list, kids: list) -> Document:
    header = Header()
    data_fields: tuple = ()
    transformations = TransformationDictionary()
    model = None
    for n, v in kids:
        if n == "Header":
            header = v
        elif n == "DataDictionary":
            data_fields = v
        elif n == "TransformationDictionary":
            transformations = v
        elif n in S.SUPPORTED_MODELS:
            model = v
    if model is None:
        raise r.invalid(fr, "PMML document has no model element")
    return Document(
        format="pmml", version=r.version, header=header, data_fields=data_fields, model=model,
        transformations=transformations, source_name=r.source_name,
    )


def b_header(r: PMMLReader, fr: list, kids: list) -> Header:
    a = r.convert(fr)
    for n, v in kids:
        if n == "Application":
            a.update(v)
        elif n == "Timestamp":
            a["timestamp"] = v
    return Header(**a)


def b_dict(r: PMMLReader, fr: list, kids: list) -> dict:
    return r.convert(fr)


def b_text(r: PMMLReader, fr: list, kids: list) -> str | None:
    t = _text(fr)
    return t.strip() if t else t


def b_data_dictionary(r: PMMLReader, fr: list, kids: list) -> tuple:
    return tuple(v for n, v in kids)


def _values(r: PMMLReader, fr: list, kids: list) -> tuple[list, list, list, list, list]:
    valid, invalid, missing, display, intervals = [], [], [], [], []
    for n, v in kids:
        if n == "Value":
            prop, value, dv = v
            (valid if prop == "valid" else invalid if prop == "invalid" else missing).append(value)
            if dv is not None:
                display.append((value, dv))
        elif n == "Interval":
            intervals.append(v)
    return valid, invalid, missing, display, intervals


def b_data_field(r: PMMLReader, fr: list, kids: list) -> DataField:
    a = r.convert(fr)
    if kids:
        valid, invalid, missing, display, intervals = _values(r, fr, kids)
        a.update(values=tuple(valid), invalid_values=tuple(invalid), missing_values=tuple(missing),
                 display_values=tuple(display), intervals=tuple(intervals))
    return DataField(loc=r.loc(fr), **a)


def b_value(r: PMMLReader, fr: list, kids: list) -> tuple:
    a = r.convert(fr)
    return (a["property"], a["value"], a.get("display_value"))


def b_interval(r: PMMLReader, fr: list, kids: list) -> Interval:
    a = r.convert(fr)
    left, right = a["left"], a["right"]
    if left is not None and right is not None and left > right:
        raise r.invalid(fr, f"Interval leftMargin {left} is greater than rightMargin {right}")
    return Interval(a["closure"], left, right)


# transformations


def b_transformation_dictionary(r: PMMLReader, fr: list, kids: list) -> TransformationDictionary:
    return TransformationDictionary(define_functions=_all(kids, "DefineFunction"),
                                    derived_fields=_all(kids, "DerivedField"))


def b_local_transformations(r: PMMLReader, fr: list, kids: list) -> tuple:
    return _all(kids, "DerivedField")


def b_derived_field(r: PMMLReader, fr: list, kids: list) -> DerivedField:
    a = r.convert(fr)
    expr = _one(r, fr, kids, S.EXPRESSIONS, "expression")
    valid, invalid, missing, _display, _intervals = _values(r, fr, kids)
    if invalid or missing:
        raise r.unsupported(fr, "Unsupported Value with property invalid/missing in DerivedField")
    return DerivedField(expression=expr, values=tuple(valid), loc=r.loc(fr), **a)


def b_define_function(r: PMMLReader, fr: list, kids: list) -> DefineFunction:
    a = r.convert(fr)
    expr = _one(r, fr, kids, S.EXPRESSIONS, "expression")
    return DefineFunction(parameters=_all(kids, "ParameterField"), expression=expr, loc=r.loc(fr), **a)


def b_parameter_field(r: PMMLReader, fr: list, kids: list) -> ParameterField:
    return ParameterField(**r.convert(fr))


# expressions


def b_constant(r: PMMLReader, fr: list, kids: list) -> Constant:
    # The text is kept exactly as written (SAS's <Constant>FMTWIDTH</Constant>, which means
    # a field reference, is left for evaluation to interpret).
    return Constant(value=_text(fr), loc=r.loc(fr), **r.convert(fr))


def b_field_ref(r: PMMLReader, fr: list, kids: list) -> FieldRef:
    return FieldRef(loc=r.loc(fr), **r.convert(fr))


def b_norm_continuous(r: PMMLReader, fr: list, kids: list) -> NormContinuous:
    norms = _all(kids, "LinearNorm")
    if len(norms) < 2:
        raise r.invalid(fr, f"NormContinuous has {len(norms)} LinearNorm elements, expected at least 2")
    return NormContinuous(norms=norms, loc=r.loc(fr), **r.convert(fr))


def b_linear_norm(r: PMMLReader, fr: list, kids: list) -> LinearNorm:
    return LinearNorm(**r.convert(fr))


def b_norm_discrete(r: PMMLReader, fr: list, kids: list) -> NormDiscrete:
    return NormDiscrete(loc=r.loc(fr), **r.convert(fr))


def b_discretize(r: PMMLReader, fr: list, kids: list) -> Discretize:
    return Discretize(bins=_all(kids, "DiscretizeBin"), loc=r.loc(fr), **r.convert(fr))


def b_discretize_bin(r: PMMLReader, fr: list, kids: list) -> DiscretizeBin:
    interval = _one(r, fr, kids, ("Interval",), "Interval")
    return DiscretizeBin(interval=interval, **r.convert(fr))


def b_map_values(r: PMMLReader, fr: list, kids: list) -> MapValues:
    table = _one(r, fr, kids, ("InlineTable",), "InlineTable")
    return MapValues(field_column_pairs=_all(kids, "FieldColumnPair"), table=table, loc=r.loc(fr), **r.convert(fr))


def b_field_column_pair(r: PMMLReader, fr: list, kids: list) -> FieldColumnPair:
    return FieldColumnPair(**r.convert(fr))


def b_inline_table(r: PMMLReader, fr: list, kids: list) -> InlineTable:
    return InlineTable(rows=_all(kids, "row"))


def b_row(r: PMMLReader, fr: list, kids: list) -> tuple:
    return tuple(v for n, v in kids)


def b_cell(r: PMMLReader, fr: list, kids: list) -> tuple[str, str]:
    # column elements may carry any namespace prefix (<data:input>): the column is the local name
    return (fr[_SPEC].local, _text(fr) or "")


def b_apply(r: PMMLReader, fr: list, kids: list) -> Apply:
    a = r.convert(fr)
    f = a["function"]
    if f in S.X_FUNCTIONS and r.ns_version is not None and r.ns_version <= (4, 3):
        a["function"] = sys.intern(f[2:])
    return Apply(args=tuple(v for n, v in kids), loc=r.loc(fr), **a)


def b_text_index(r: PMMLReader, fr: list, kids: list) -> TextIndex:
    term = _one(r, fr, kids, S.EXPRESSIONS, "expression")
    return TextIndex(term=term, normalizations=_all(kids, "TextIndexNormalization"), loc=r.loc(fr), **r.convert(fr))


def b_text_index_normalization(r: PMMLReader, fr: list, kids: list) -> TextIndexNormalization:
    table = _one(r, fr, kids, ("InlineTable",), "InlineTable")
    return TextIndexNormalization(table=table, **r.convert(fr))


def b_lag(r: PMMLReader, fr: list, kids: list) -> Lag:
    return Lag(block_indicators=_all(kids, "BlockIndicator"), loc=r.loc(fr), **r.convert(fr))


def b_block_indicator(r: PMMLReader, fr: list, kids: list) -> str:
    return r.convert(fr)["field"]


def b_aggregate(r: PMMLReader, fr: list, kids: list) -> Aggregate:
    return Aggregate(loc=r.loc(fr), **r.convert(fr))


# mining schema, targets, output


def b_tuple(r: PMMLReader, fr: list, kids: list) -> tuple:
    return tuple(v for n, v in kids)


def b_mining_field(r: PMMLReader, fr: list, kids: list) -> MiningField:
    return MiningField(loc=r.loc(fr), **r.convert(fr))


def b_target(r: PMMLReader, fr: list, kids: list) -> Target:
    return Target(values=_all(kids, "TargetValue"), loc=r.loc(fr), **r.convert(fr))


def b_target_value(r: PMMLReader, fr: list, kids: list) -> TargetValue:
    return TargetValue(**r.convert(fr))


def b_output_field(r: PMMLReader, fr: list, kids: list) -> OutputField:
    a = r.convert(fr)
    expr = _one(r, fr, kids, S.EXPRESSIONS, "expression", required=False)
    decisions = _one(r, fr, kids, ("Decisions",), "Decisions", required=False)
    valid, invalid, missing, _display, _intervals = _values(r, fr, kids)
    if invalid or missing:
        raise r.unsupported(fr, "Unsupported Value with property invalid/missing in OutputField")
    return OutputField(expression=expr, decisions=decisions or (), values=tuple(valid), loc=r.loc(fr), **a)


def b_decision(r: PMMLReader, fr: list, kids: list) -> Decision:
    return Decision(**r.convert(fr))


# predicates


def b_simple_predicate(r: PMMLReader, fr: list, kids: list) -> SimplePredicate:
    a = fr[_ATTRS]
    try:
        field = a["field"]
        op = _OPERATORS[a["operator"]]
    except KeyError:
        return SimplePredicate(loc=r.loc(fr), **r.convert(fr))  # raises the precise error
    value = a.get("value")
    if value is None and op != "isMissing" and op != "isNotMissing":
        raise r.invalid(fr, f"Missing attribute value of SimplePredicate (operator {op})")
    return _make_sp(_intern(field), op, value, fr[_PN])


def b_compound_predicate(r: PMMLReader, fr: list, kids: list) -> CompoundPredicate:
    if not kids:
        raise r.invalid(fr, "CompoundPredicate has no predicates")
    return CompoundPredicate(predicates=tuple(v for n, v in kids), loc=r.loc(fr), **r.convert(fr))


def b_simple_set_predicate(r: PMMLReader, fr: list, kids: list) -> SimpleSetPredicate:
    a = r.convert(fr)
    array_type, values = _one(r, fr, kids, ("Array",), "Array")
    return SimpleSetPredicate(values=values, array_type=array_type, loc=r.loc(fr), **a)


def b_array(r: PMMLReader, fr: list, kids: list) -> tuple[str, tuple[str, ...]]:
    a = r.convert(fr)
    kind = a["type"]
    values = parse_array(_text(fr) or "", quotes=kind == "string")
    n = a.get("n")
    if n is not None and n != len(values):  # JPMML refuses this too (ArrayUtil)
        raise r.invalid(fr, f"Array has {len(values)} entries but n={n}")
    if kind != "string":
        conv = S.to_int if kind == "int" else S.to_number
        for v in values:
            try:
                conv(v)
            except ValueError:
                raise r.invalid(fr, f"Invalid {kind} value {v!r} in Array") from None
    return (kind, values)


def b_true(r: PMMLReader, fr: list, kids: list) -> TruePredicate:
    return TruePredicate(loc=fr[_PN])


def b_false(r: PMMLReader, fr: list, kids: list) -> FalsePredicate:
    return FalsePredicate(loc=r.loc(fr))


# Java's Character.isWhitespace (what JPMML splits on): Unicode spaces except the
# no-break ones, plus the ASCII controls \t \n \v \f \r and \x1c-\x1f. Not \x85.
_NOT_JAVA_SPACE = frozenset("\u00a0\u2007\u202f\x85")


def _is_space(c: str) -> bool:
    return c.isspace() and c not in _NOT_JAVA_SPACE


def parse_array(text: str, quotes: bool = True) -> tuple[str, ...]:
    """Split the content of a PMML Array the way JPMML-Evaluator does.

    Entries are separated by white space. In a string array (``quotes``) an entry in
    double quotes may contain white space, ``\\"`` inside it is a quote (any other
    backslash is kept), and a quote also ends the entry before it (``a"b c"`` is two
    entries). An unterminated quoted entry keeps its opening quote. Numeric arrays treat
    quotes as ordinary characters.
    """
    if not (quotes and '"' in text):
        if text.isascii():
            return tuple(text.split())
        quotes = False
    out: list[str] = []
    buf: list[str] = []

    def token() -> None:
        t = "".join(buf)
        buf.clear()
        if len(t) > 1 and t[0] == '"' and t[-1] == '"':
            t = t[1:-1]
        out.append(t)

    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quoted:
            if c == "\\" and i < n - 1:
                if text[i + 1] == '"':
                    buf.append('"')
                    i += 2
                else:
                    buf.append("\\")
                    i += 1
                continue
            buf.append(c)
            if c == '"':
                token()
                quoted = False
        elif c == '"' and quotes:
            if buf:
                token()
            buf.append('"')
            quoted = True
        elif _is_space(c):
            if buf:
                token()
        else:
            buf.append(c)
        i += 1
    if buf:
        token()
    return tuple(out)


# TreeModel

_OPERATORS = S.ENUMS["OPERATOR"].mapping
_make_node = fast_constructor(Node, ("predicate", "children", "distribution", "loc"))
_make_sp = fast_constructor(SimplePredicate, ("field", "operator", "value", "loc"))
_intern = sys.intern
_SD_CACHE_MAX = 100_000


def b_node(r: PMMLReader, fr: list, kids: list) -> Node:
    pred = None
    children = []
    dist = []
    for n, v in kids:
        if n == "Node":
            children.append(v)
        elif n == "ScoreDistribution":
            dist.append(v)
        elif pred is None:
            pred = v
        else:
            raise r.invalid(fr, "Node has more than one predicate")
    if pred is None:
        raise r.invalid(fr, "Node has no predicate")
    node = _make_node(pred, tuple(children), tuple(dist), fr[_PN])
    if fr[_ATTRS]:
        a = r.convert(fr)
        if _make_node.fast:
            for k, v in a.items():
                _osa(node, k, v)
        else:
            node = dataclasses.replace(node, **a)
    return node


def b_score_distribution(r: PMMLReader, fr: list, kids: list) -> ScoreDistribution:
    # Identical distributions are shared (they are immutable): forests repeat them a lot.
    a = fr[_ATTRS]
    key = tuple(a.items())
    cache = r.sd_cache
    sd = cache.get(key)
    if sd is None:
        sd = ScoreDistribution(**r.convert(fr))
        if len(cache) < _SD_CACHE_MAX:
            cache[key] = sd
    return sd


def _model_common(r: PMMLReader, fr: list, kids: list) -> dict[str, Any]:
    a = r.convert(fr)
    mining_schema = None
    for n, v in kids:
        if n == "MiningSchema":
            if mining_schema is not None:
                raise r.invalid(fr, f"{fr[_SPEC].local} has more than one MiningSchema")
            mining_schema = v
        elif n == "Output":
            a["output"] = v
        elif n == "Targets":
            a["targets"] = v
        elif n == "LocalTransformations":
            a["local_transformations"] = v
    if mining_schema is None:
        raise r.invalid(fr, f"{fr[_SPEC].local} has no MiningSchema")
    a["mining_schema"] = mining_schema
    a["loc"] = r.loc(fr)
    return a


def b_tree_model(r: PMMLReader, fr: list, kids: list) -> TreeModel:
    a = _model_common(r, fr, kids)
    root = _one(r, fr, kids, ("Node",), "Node")
    if isinstance(root, FlatTree):
        return TreeModel.from_flat(root, **a)
    return TreeModel(root=root, **a)


# RegressionModel


def b_regression_model(r: PMMLReader, fr: list, kids: list) -> RegressionModel:
    a = _model_common(r, fr, kids)
    tables = _all(kids, "RegressionTable")
    if not tables:
        raise r.invalid(fr, "RegressionModel has no RegressionTable")
    return RegressionModel(tables=tables, **a)


def b_regression_table(r: PMMLReader, fr: list, kids: list) -> RegressionTable:
    return RegressionTable(
        numeric=_all(kids, "NumericPredictor"), categorical=_all(kids, "CategoricalPredictor"),
        terms=_all(kids, "PredictorTerm"), **r.convert(fr),
    )


def b_numeric_predictor(r: PMMLReader, fr: list, kids: list) -> NumericPredictor:
    return NumericPredictor(**r.convert(fr))


def b_categorical_predictor(r: PMMLReader, fr: list, kids: list) -> CategoricalPredictor:
    return CategoricalPredictor(**r.convert(fr))


def b_predictor_term(r: PMMLReader, fr: list, kids: list) -> PredictorTerm:
    fields = tuple(v.field for n, v in kids)
    if not fields:
        raise r.invalid(fr, "PredictorTerm has no FieldRef")
    return PredictorTerm(fields=fields, **r.convert(fr))


# MiningModel


def b_mining_model(r: PMMLReader, fr: list, kids: list) -> MiningModel:
    a = _model_common(r, fr, kids)
    seg = _one(r, fr, kids, ("Segmentation",), "Segmentation")
    return MiningModel(segmentation=seg, **a)


def b_segmentation(r: PMMLReader, fr: list, kids: list) -> Segmentation:
    a = r.convert(fr)
    lt = _one(r, fr, kids, ("LocalTransformations",), "LocalTransformations", required=False)
    if lt is not None:
        a["local_transformations"] = lt
    return Segmentation(segments=_all(kids, "Segment"), loc=r.loc(fr), **a)


def b_segment(r: PMMLReader, fr: list, kids: list) -> Segment:
    pred = _one(r, fr, kids, S.PREDICATES, "predicate")
    model = _one(r, fr, kids, S.SUPPORTED_MODELS, "model")
    return Segment(predicate=pred, model=model, loc=r.loc(fr), **r.convert(fr))


_BUILDERS = {
    "PMML": b_pmml,
    "Header": b_header,
    "Application": b_dict,
    "Timestamp": b_text,
    "DataDictionary": b_data_dictionary,
    "DataField": b_data_field,
    "Value": b_value,
    "Interval": b_interval,
    "TransformationDictionary": b_transformation_dictionary,
    "LocalTransformations": b_local_transformations,
    "DerivedField": b_derived_field,
    "DefineFunction": b_define_function,
    "ParameterField": b_parameter_field,
    "Constant": b_constant,
    "FieldRef": b_field_ref,
    "NormContinuous": b_norm_continuous,
    "LinearNorm": b_linear_norm,
    "NormDiscrete": b_norm_discrete,
    "Discretize": b_discretize,
    "DiscretizeBin": b_discretize_bin,
    "MapValues": b_map_values,
    "FieldColumnPair": b_field_column_pair,
    "InlineTable": b_inline_table,
    "row": b_row,
    "Apply": b_apply,
    "TextIndex": b_text_index,
    "TextIndexNormalization": b_text_index_normalization,
    "Lag": b_lag,
    "BlockIndicator": b_block_indicator,
    "Aggregate": b_aggregate,
    "MiningSchema": b_tuple,
    "MiningField": b_mining_field,
    "Targets": b_tuple,
    "Target": b_target,
    "TargetValue": b_target_value,
    "Output": b_tuple,
    "OutputField": b_output_field,
    "Decisions": b_tuple,
    "Decision": b_decision,
    "SimplePredicate": b_simple_predicate,
    "CompoundPredicate": b_compound_predicate,
    "SimpleSetPredicate": b_simple_set_predicate,
    "Array": b_array,
    "True": b_true,
    "False": b_false,
    "TreeModel": b_tree_model,
    "Node": b_node,
    "ScoreDistribution": b_score_distribution,
    "RegressionModel": b_regression_model,
    "RegressionTable": b_regression_table,
    "NumericPredictor": b_numeric_predictor,
    "CategoricalPredictor": b_categorical_predictor,
    "PredictorTerm": b_predictor_term,
    "MiningModel": b_mining_model,
    "Segmentation": b_segmentation,
    "Segment": b_segment,
}


class _CellSpec(_Spec):
    """An InlineTable cell: the element's local name is the column, in any namespace."""

    __slots__ = ()

    def __init__(self, column: str) -> None:
        super().__init__(sys.intern(column), b_cell)
        self.attrs = ()
        self.renames = ()
        self.text = True


_SPECS: dict[str, _Spec] = {local: _Spec(local, build) for local, build in _BUILDERS.items()}
_DOC = _Spec("(document)", None)
_PMML = _SPECS["PMML"]
_CELLS: dict[str, _CellSpec] = {}
_SLOW: Any = object()


def _link() -> None:
    missing = set(S.CHILDREN) ^ set(_SPECS)
    if missing:  # the tables and the builders must describe the same elements
        raise RuntimeError(f"PMML tables out of sync: {sorted(missing)}")
    for local, spec in _SPECS.items():
        for child in S.CHILDREN[local]:
            for prefix in S.NAME_PREFIXES:
                spec.children[prefix + child] = _SPECS[child]
        for prefix in S.NAME_PREFIXES:  # skipped everywhere: Extension and the IGNORED set
            spec.children[prefix + "Extension"] = None
            if not spec.cells:  # in a row, any other element is a cell (a column)
                for ignored in S.IGNORED:
                    spec.children[prefix + ignored] = None


_link()


def read_pmml(chunks: Iterable[bytes], source_name: str | None = None, *, flat: bool = True) -> Document:
    """Read a PMML document from byte chunks into a :class:`quickscore.ir.Document`.

    ``flat``: TreeModel nodes are read into arrays (``ir.FlatTree``, see ``_trees``);
    False builds ``ir.Node`` objects instead (same meaning, much more memory and time).
    """
    # The IR of a big forest is millions of small objects, none of them in a reference
    # cycle; letting the cyclic GC scan them again and again while they are built doubles
    # the reading time. Pause it for the read (it is re-enabled even on error).
    with gc_paused():
        reader = PMMLReader(source_name, flat)
        document = reader.read(chunks)
    if reader.flat_nodes > BIG_NODES:
        release_memory()
    return document
