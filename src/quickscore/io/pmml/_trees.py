"""Reading a TreeModel's Node tree straight into arrays (``ir.FlatTree``).

The reader (``_reader``) hands the root Node of every TreeModel to :func:`read_tree`, which
installs its own expat handlers until that Node ends. Node, SimplePredicate, True, False
and ScoreDistribution elements go into flat lists (no frame, no IR object per element); the
rest is handled as the general reader handles it:

* Extension elements, the ``_schema.IGNORED`` elements and elements of non-PMML namespaces
  are skipped with their content;
* any other element directly in a Node (CompoundPredicate, SimpleSetPredicate, or markup
  the reader refuses) is handed to the general reader's handlers, under a frame standing
  for the Node, and its IR object is kept in ``FlatTree.objects``;
* anything inside a SimplePredicate, True, False or ScoreDistribution is refused as the
  general reader refuses it.

Attribute values are converted by the same ``_schema`` converters; a value they refuse is
reported by the general reader's ``convert`` (same message, element path and line).

The fast path: ``feed`` gives the document to expat, but a TreeModel body written in the
strict subset of ``_fastscan`` (what the usual exporters write) is read from its bytes with
numpy and ``re`` (``read_tree``'s ``fast_fill``) into the same columns the handlers fill, and
expat gets line feeds and blanks in its place. Anything outside the subset, and any value a
converter refuses, is left to the handlers, so results and errors are the same either way
(tests/unit/io/test_fast_tree_scan.py reads documents both ways).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quickscore.io.pmml import _fastscan
from quickscore.io.pmml import _schema as S
from quickscore.ir.flat import (
    HAS_CONFIDENCE,
    HAS_PROBABILITY,
    HAS_RECORD_COUNT,
    OPERATOR_CODES,
    PRED_FALSE,
    PRED_OBJECT,
    PRED_SIMPLE,
    PRED_TRUE,
    FlatTree,
    StringTable,
    compact_counts,
    narrow,
)

# element kinds
_NODE, _SP, _TRUE, _FALSE, _SD = range(5)  # (read_tree's start handler spells them as literals)
_KINDS: dict[str, int] = {}
_SKIPPED: set[str] = set()
for _prefix in S.NAME_PREFIXES:
    for _local, _kind in (("Node", _NODE), ("SimplePredicate", _SP), ("True", _TRUE), ("False", _FALSE), ("ScoreDistribution", _SD)):
        _KINDS[_prefix + _local] = _kind
    _SKIPPED.add(_prefix + "Extension")
    _SKIPPED.update(_prefix + ignored for ignored in S.IGNORED)

_OPS = {xml: OPERATOR_CODES[ir] for xml, ir in S.ENUMS["OPERATOR"].mapping.items()}
_IS_MISSING = frozenset({OPERATOR_CODES["isMissing"], OPERATOR_CODES["isNotMissing"]})
_LOCALS = {_NODE: "Node", _SP: "SimplePredicate", _TRUE: "True", _FALSE: "False", _SD: "ScoreDistribution"}
_to_number = S.to_number
_CACHE_MAX = 1 << 20  # converted attribute sets kept per tree
_OBJECT_BASE = 1 << 40  # pred_conv entries from here on: objects[entry - _OBJECT_BASE]
_DIRECT = -2  # pred_conv entry of a SimplePredicate read without the cache (sp_field, ...)
_OPS_BYTES = {xml.encode("ascii"): code for xml, code in _OPS.items()}
_FAST_CAP = 32 << 20  # a tree body longer than this is read by the expat handlers
#: Declared encodings in which the scanned subset (printable ASCII) means the same characters.
_FAST_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1",
                             "iso-latin-1", "windows-1252", "cp1252"})


def _optional(column: np.ndarray, bound: int) -> np.ndarray | None:
    """A string-index column, or None when no node has the attribute (all -1)."""
    return narrow(column, bound) if (column >= 0).any() else None


def _dict(a: list) -> dict:
    """Ordered attributes ([name, value, ...]) as the dict the general reader gets."""
    return dict(zip(a[::2], a[1::2]))


def _skippable(name: str) -> bool:
    if name in _SKIPPED:
        return True
    uri, _, _ = name.rpartition(" ")
    return bool(uri) and uri not in S.NAMESPACES


def read_tree(r: Any, P: Any, top: list, seg: str, attrs: dict, st: list, frames: list) -> None:
    """Read the TreeModel root Node that starts here (with ``attrs``) into a FlatTree.

    ``top`` is the TreeModel's frame, ``seg`` the root's path segment; ``st`` / ``frames`` the
    general reader's value and frame stacks. When the root Node ends, ("Node", FlatTree) is
    pushed on ``st`` and the general handlers are back.
    """
    from quickscore.io.pmml import _reader as R

    normal_start, normal_end = P.StartElementHandler, P.EndElementHandler
    base_depth = len(frames)
    max_depth = R.MAX_DEPTH
    tree_pn = top[R._PN]

    table: dict[str, int] = {}
    sindex = table.setdefault
    parent: list[int] = []
    lines: list[int] = []
    node_conv: list[int] = []  # per node: index into node_convs (its converted attributes), -1 none
    node_convs: list[tuple] = []  # (score, id, defaultChild, recordCount, flags)
    node_cache: dict[tuple, int] = {}
    pred_node: list[int] = []  # per predicate element: its node
    pred_conv: list[int] = []  # index into pred_convs
    pred_line: list[int] = []
    pred_convs: list[tuple] = []  # (kind, field, operator, value)
    pred_cache: dict[tuple, int] = {}
    # SimplePredicates read without the cache (pred_conv holds _DIRECT), in document order
    sp_field: list[int] = []
    sp_op: list[int] = []
    sp_value: list[int] = []
    sd_node: list[int] = []
    sd_conv: list[int] = []  # index into sd_convs
    sd_convs: list[tuple] = []  # (value, recordCount, flags, confidence, probability)
    sd_cache: dict[tuple, int] = {}
    objects: list = []
    # the columns of the nodes after the root, when the body was read from its bytes
    # (fast_fill): appended to the lists above by finish
    fast: dict[str, np.ndarray] = {}

    parent_append, lines_append, node_conv_append = parent.append, lines.append, node_conv.append
    pred_node_append, pred_conv_append, pred_line_append = pred_node.append, pred_conv.append, pred_line.append
    sd_node_append, sd_conv_append = sd_node.append, sd_conv.append
    node_get, pred_get, sd_get = node_cache.get, pred_cache.get, sd_cache.get
    kinds_get = _KINDS.get
    ops_get = _OPS.get
    sp_field_append, sp_op_append, sp_value_append = sp_field.append, sp_op.append, sp_value.append

    # The open Nodes: ``cur`` is the innermost (-1 before the root), ``stack`` holds the ones
    # around it (their parents), ``nd`` counts them; ``leaf`` is -1 - kind inside a predicate
    # or ScoreDistribution element (they hold no Node), else 0.
    stack: list[int] = []
    stack_append, stack_pop = stack.append, stack.pop
    cur = -1
    nd = 0
    leaf = 0
    limit = max_depth - base_depth
    skip = 0  # > 0 inside a skipped element
    delegated = 0  # > 0 inside an element handed to the general reader
    d_node = 0  # the node of the delegated element

    # --- locations and errors -------------------------------------------------------------

    def node_pn(i: int) -> tuple:
        chain = []
        while i >= 0:
            chain.append(i)
            i = parent[i]
        pn = tree_pn
        for j in reversed(chain):
            p = parent[j]
            if p < 0:
                segment = seg
            else:
                k = sum(1 for c in range(p + 1, j + 1) if parent[c] == p)
                segment = "Node" if k == 1 else f"Node[{k}]"
            pn = R._tnew(R._LocNode, (pn, segment, lines[j]))
        return pn

    def frame_of(i: int) -> list:
        spec = R._SPECS["Node"]
        return [len(st), spec, {}, lines[i], None, node_pn(i), None, spec.children]

    def leaf_frame(i: int, local: str, a: dict) -> list:
        """A frame for the element being read (a child of node i), for error messages."""
        spec = R._SPECS[local]
        ln = P.CurrentLineNumber
        # its position among the node's children of that name (it is already counted)
        k = sd_node.count(i) if local == "ScoreDistribution" else max(pred_node.count(i), 1)
        segment = local if k <= 1 else f"{local}[{k}]"
        return [len(st), spec, a, ln, None, (node_pn(i), segment, ln), None, spec.children]

    def refuse_attrs(i: int, local: str, a: dict) -> None:
        """Raise the general reader's error for the attributes of this element."""
        r.convert(leaf_frame(i, local, a))
        raise r.invalid(leaf_frame(i, local, a), f"Invalid attributes of {local}")  # not reached

    def new_node_conv(key: tuple, a: dict) -> int:
        v = a.get("recordCount")
        rc, f = 0.0, 0
        if v is not None:
            try:
                rc, f = _to_number(v), HAS_RECORD_COUNT
            except ValueError:
                i = len(parent) - 1
                r.convert([len(st), R._SPECS["Node"], a, lines[i], None, node_pn(i), None, {}])
                raise
        conv = tuple(-1 if a.get(x) is None else sindex(a[x], len(table)) for x in ("score", "id", "defaultChild")) + (rc, f)
        ci = len(node_convs)
        node_convs.append(conv)
        if len(node_cache) < _CACHE_MAX:
            node_cache[key] = ci
        return ci

    def new_pred_conv(key: tuple, k: int, up: int, a: dict) -> int:
        if k == _SP:
            fld = a.get("field")
            op = _OPS.get(a.get("operator"))  # type: ignore[arg-type]
            if fld is None or op is None:
                refuse_attrs(up, "SimplePredicate", a)
            v = a.get("value")
            if v is None and op not in _IS_MISSING:
                raise r.invalid(leaf_frame(up, "SimplePredicate", a), f"Missing attribute value of SimplePredicate (operator {S.ENUMS['OPERATOR'].mapping[a['operator']]})")
            conv = (PRED_SIMPLE, sindex(fld, len(table)), op, -1 if v is None else sindex(v, len(table)))
        else:
            conv = (PRED_TRUE if k == _TRUE else PRED_FALSE, -1, 0, -1)
        ci = len(pred_convs)
        pred_convs.append(conv)
        if len(pred_cache) < _CACHE_MAX:
            pred_cache[key] = ci
        return ci

    def new_sd_conv(key: tuple, up: int, a: dict) -> int:
        value, rc = a.get("value"), a.get("recordCount")
        if value is None or rc is None:
            refuse_attrs(up, "ScoreDistribution", a)
        try:
            f = 0
            conf = prob = 0.0
            v = a.get("confidence")
            if v is not None:
                conf, f = _to_number(v), f | HAS_CONFIDENCE
            v = a.get("probability")
            if v is not None:
                prob, f = _to_number(v), f | HAS_PROBABILITY
            conv = (sindex(value, len(table)), _to_number(rc), f, conf, prob)  # type: ignore[arg-type]
        except ValueError:
            refuse_attrs(up, "ScoreDistribution", a)
        ci = len(sd_convs)
        sd_convs.append(conv)
        if len(sd_cache) < _CACHE_MAX:
            sd_cache[key] = ci
        return ci

    # --- handlers --------------------------------------------------------------------------

    def start(name: str, a: list) -> None:
        # ``a``: the attributes as [name, value, name, value, ...] (ordered_attributes).
        # Runs once per element of the tree (~1.5 M for a 100-tree forest): the element
        # kinds are literals, the usual attribute spellings skip the dictionaries.
        nonlocal leaf, cur, nd
        if leaf:  # inside a SimplePredicate / True / False / ScoreDistribution
            inside_leaf(name, _dict(a))
            return
        if nd >= limit:  # the element would be deeper than the reader allows
            r.too_deep(frame_of(cur) if cur >= 0 else top)
        k = kinds_get(name)
        if k == 4:  # _SD
            leaf = -5  # -1 - _SD
            key = tuple(a)
            ci = sd_get(key)
            sd_node_append(cur)
            sd_conv_append(new_sd_conv(key, cur, _dict(a)) if ci is None else ci)
            return
        if k == 0:  # _NODE
            i = len(parent)
            parent_append(cur)
            stack_append(cur)
            cur = i
            nd += 1
            lines_append(P.CurrentLineNumber)
            if a:
                key = tuple(a)
                ci = node_get(key)
                node_conv_append(new_node_conv(key, _dict(a)) if ci is None else ci)
            else:
                node_conv_append(-1)
            return
        if k == 1:  # _SP
            leaf = -2  # -1 - _SP
            pred_node_append(cur)
            pred_line_append(P.CurrentLineNumber)
            if len(a) == 6 and a[0] == "field" and a[2] == "operator" and a[4] == "value":
                op = ops_get(a[3])
                if op is not None:  # the usual spelling: no dictionary, no cache
                    pred_conv_append(_DIRECT)  # a SimplePredicate of its own (see finish)
                    sp_field_append(sindex(a[1], len(table)))
                    sp_op_append(op)
                    sp_value_append(sindex(a[5], len(table)))
                    return
            key = (k, *a)
            ci = pred_get(key)
            pred_conv_append(new_pred_conv(key, k, cur, _dict(a)) if ci is None else ci)
            return
        if k is not None:  # True, False
            leaf = -1 - k
            key = (k, *a)
            ci = pred_get(key)
            pred_node_append(cur)
            pred_line_append(P.CurrentLineNumber)
            pred_conv_append(new_pred_conv(key, k, cur, _dict(a)) if ci is None else ci)
            return
        # anything else: skipped, or read by the general reader under a frame for the Node
        if _skippable(name):
            skip_element()
            return
        delegate(cur, name, _dict(a))

    def skip_element() -> None:
        """Skip the element that just started, with everything inside it (own handlers)."""
        nonlocal skip
        skip = 1
        P.StartElementHandler = skip_start
        P.EndElementHandler = skip_end

    def skip_start(name: str, a: list) -> None:
        nonlocal skip
        skip += 1
        if nd + (1 if leaf else 0) + skip > limit:
            r.too_deep(top)

    def skip_end(name: str) -> None:
        nonlocal skip
        skip -= 1
        if not skip:
            P.StartElementHandler = start
            P.EndElementHandler = end

    def inside_leaf(name: str, a: dict) -> None:
        """Inside SimplePredicate / True / False / ScoreDistribution: only skippable markup."""
        if _skippable(name):
            skip_element()
            return
        local = _LOCALS[-1 - leaf]
        i = cur
        if r.slow_start(leaf_frame(i, local, {}), name, a) is None:  # raises for anything else
            skip_element()
            return
        raise r.invalid(frame_of(i), f"Unexpected element {name} in {local}")  # not reached

    def end(name: str) -> None:
        nonlocal leaf, cur, nd
        if leaf:  # the end of a SimplePredicate / True / False / ScoreDistribution
            leaf = 0
            return
        cur = stack_pop()  # a Node ends: its parent is current again
        nd -= 1
        if not nd:
            finish()

    # --- handing an element to the general reader -----------------------------------------

    def delegate(i: int, name: str, a: dict) -> None:
        nonlocal delegated, d_node
        fr = frame_of(i)
        frames.append(fr)
        delegated = 1
        d_node = i
        P.ordered_attributes = False
        P.StartElementHandler = d_start
        P.EndElementHandler = d_end
        normal_start(name, a)

    def d_start(name: str, a: dict) -> None:
        nonlocal delegated
        delegated += 1
        normal_start(name, a)

    def d_end(name: str) -> None:
        nonlocal delegated
        normal_end(name)
        delegated -= 1
        if delegated:
            return
        fr = frames.pop()
        base = fr[R._BASE]
        kids = st[base:]
        del st[base:]
        P.ordered_attributes = True
        P.StartElementHandler = start
        P.EndElementHandler = end
        for _, value in kids:
            pred_node_append(d_node)
            pred_line_append((getattr(value, "loc", None) and value.loc.line) or 0)
            pred_conv_append(_OBJECT_BASE + len(objects))  # an object
            objects.append(value)

    # --- the body read from its bytes (_fastscan) ------------------------------------------------

    def fast_fill(region: bytes, tag_newlines: int) -> bool:
        """Read the root Node's content and end tag from ``region`` (see ``feed``) into the
        lists the handlers fill, as they would fill them; False (nothing changed) if the
        region is not in ``_fastscan``'s subset or a value would be refused (the handlers
        then read it, and report the error)."""
        sc = _fastscan.scan(region, limit)
        if sc is None or len(parent) != 1 or pred_node or sd_node or fast:
            return False
        # the attribute texts, each converted once (as new_node_conv / new_sd_conv do)
        node_rows: dict[bytes, tuple] = {}
        for text in dict.fromkeys(sc.node_attrs):
            a = _fastscan.attributes(text)
            if a is None:
                return False
            rc, f = 0.0, 0
            v = a.get(b"recordCount")
            if v is not None:
                try:
                    rc, f = _to_number(v.decode("ascii")), HAS_RECORD_COUNT
                except ValueError:
                    return False
            node_rows[text] = (a.get(b"score"), a.get(b"id"), a.get(b"defaultChild"), rc, f) if a else None
        sd_rows: dict[bytes, tuple] = {}
        for text in dict.fromkeys(sc.sd_attrs):
            a = _fastscan.attributes(text)
            if a is None or b"value" not in a or b"recordCount" not in a:
                return False
            try:
                f = 0
                conf = prob = 0.0
                v = a.get(b"confidence")
                if v is not None:
                    conf, f = _to_number(v.decode("ascii")), f | HAS_CONFIDENCE
                v = a.get(b"probability")
                if v is not None:
                    prob, f = _to_number(v.decode("ascii")), f | HAS_PROBABILITY
                rc = _to_number(a[b"recordCount"].decode("ascii"))
            except ValueError:
                return False
            sd_rows[text] = (a[b"value"], rc, f, conf, prob)
        if sc.sp:
            fields, op_texts, values = zip(*sc.sp)
            ops = list(map(_OPS_BYTES.get, op_texts))
            if None in ops:
                return False
        else:
            fields = op_texts = values = ()
            ops = []
        # string indices in order of first use, as the handlers number them: per element in
        # document order; a Node's score, id, defaultChild; a SimplePredicate's field, value;
        # a ScoreDistribution's value. Each distinct text is a candidate at its first element.
        cand: list = []
        keys: list = []
        for texts, tags, sub in ((fields, sc.sp_tag, 0), (values, sc.sp_tag, 1)):
            first = dict(zip(reversed(texts), range(len(texts) - 1, -1, -1)))  # text -> its first position
            cand.extend(first)
            keys.append(tags[np.fromiter(first.values(), dtype=np.int64, count=len(first))] * 4 + sub)
        node_tag, sd_tag = sc.node_tag.tolist(), sc.sd_tag.tolist()
        for text, i in dict(zip(reversed(sc.node_attrs), range(len(sc.node_attrs) - 1, -1, -1))).items():
            row = node_rows[text]
            if row is not None:
                cand.extend(row[:3])
                keys.append(np.array([node_tag[i] * 4, node_tag[i] * 4 + 1, node_tag[i] * 4 + 2]))
        for text, i in dict(zip(reversed(sc.sd_attrs), range(len(sc.sd_attrs) - 1, -1, -1))).items():
            cand.append(sd_rows[text][0])
            keys.append(np.array([sd_tag[i] * 4]))
        order = np.argsort(np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64), kind="stable").tolist()
        uniq = [b for b in dict.fromkeys([cand[i] for i in order]) if b is not None]
        decoded = b"\x00".join(uniq).decode("ascii").split("\x00") if uniq else []  # (no NUL in a region)
        n0 = len(table)
        new = [t for t in decoded if t not in table]
        table.update(zip(new, range(n0, n0 + len(new))))
        ids: dict = dict(zip(uniq, map(table.__getitem__, decoded)))
        ids[None] = -1
        node_ci: dict[bytes, int] = {}
        for text, row in node_rows.items():
            if row is None:
                node_ci[text] = -1
            else:
                node_ci[text] = len(node_convs)
                node_convs.append((ids[row[0]], ids[row[1]], ids[row[2]], row[3], row[4]))
        sd_ci: dict[bytes, int] = {}
        for text, row in sd_rows.items():
            sd_ci[text] = len(sd_convs)
            sd_convs.append((ids[row[0]], *row[1:]))
        kinds = sc.pred_kind
        conv = np.full(len(kinds), _DIRECT, dtype=np.int64)
        for k in (_TRUE, _FALSE):
            if (kinds == k).any():
                key = (k,)
                ci = pred_get(key)
                conv[kinds == k] = new_pred_conv(key, k, 0, {}) if ci is None else ci
        first = lines[0] + tag_newlines
        fast.update(
            parent=sc.node_parent, lines=sc.node_line + first,
            node_conv=np.fromiter(map(node_ci.__getitem__, sc.node_attrs), dtype=np.int64, count=len(sc.node_attrs)),
            pred_node=sc.pred_node, pred_line=sc.pred_line + first, pred_conv=conv,
            sp_field=np.fromiter(map(ids.__getitem__, fields), dtype=np.int64, count=len(fields)),
            sp_op=np.array(ops, dtype=np.int64),
            sp_value=np.fromiter(map(ids.__getitem__, values), dtype=np.int64, count=len(values)),
            sd_node=sc.sd_node,
            sd_conv=np.fromiter(map(sd_ci.__getitem__, sc.sd_attrs), dtype=np.int64, count=len(sc.sd_attrs)),
        )
        return True

    # --- the end of the root Node -------------------------------------------------------------

    def finish() -> None:
        r.fast_tree = None
        P.ordered_attributes = False
        P.StartElementHandler = normal_start
        P.EndElementHandler = normal_end
        def column(values: list, key: str) -> np.ndarray:  # a list, then its fast_fill part
            a = np.array(values, dtype=np.int64)
            tail = fast.get(key)
            return a if tail is None else np.concatenate([a, tail])

        parent_a = column(parent, "parent")
        n = len(parent_a)
        owners = column(pred_node, "pred_node")
        count = np.bincount(owners, minlength=n)
        if (count != 1).any():
            i = int(np.flatnonzero(count != 1)[0])
            if fast:  # (frame_of reads the lists)
                parent[:], lines[:] = parent_a.tolist(), column(lines, "lines").tolist()
            raise r.invalid(frame_of(i), "Node has no predicate" if count[i] == 0 else "Node has more than one predicate")
        order = np.argsort(owners, kind="stable")
        conv_of = column(pred_conv, "pred_conv")
        # rows (kind, field, operator, value): the cached conversions, then the direct SimplePredicates
        table_p = np.array(pred_convs or [(0, -1, 0, -1)], dtype=np.int64)
        sp_field_a = column(sp_field, "sp_field")
        if len(sp_field_a):
            direct = np.empty((len(sp_field_a), 4), dtype=np.int64)
            direct[:, 0] = PRED_SIMPLE
            direct[:, 1] = sp_field_a
            direct[:, 2] = column(sp_op, "sp_op")
            direct[:, 3] = column(sp_value, "sp_value")
            base = len(table_p)
            table_p = np.concatenate([table_p, direct])
            is_direct = conv_of == _DIRECT  # the k-th of them (document order) is row base + k
            conv_of[is_direct] = np.arange(base, base + len(sp_field_a))
        conv_of = conv_of[order]
        is_object = conv_of >= _OBJECT_BASE
        rows = table_p[np.where(is_object, 0, conv_of)]
        kinds = rows[:, 0].astype(np.int8)
        kinds[is_object] = PRED_OBJECT
        pvalue = rows[:, 3].astype(np.int32)
        pvalue[is_object] = conv_of[is_object] - _OBJECT_BASE

        node_ci = column(node_conv, "node_conv")
        table_n = np.array(node_convs or [(-1, -1, -1, 0.0, 0)], dtype=np.float64)
        nrows = table_n[np.maximum(node_ci, 0)]
        nrows[node_ci < 0] = (-1, -1, -1, 0.0, 0)

        sd_owners = column(sd_node, "sd_node")
        sd_order = None
        if sd_owners.size and np.any(sd_owners[1:] < sd_owners[:-1]):  # ScoreDistributions after child Nodes
            sd_order = np.argsort(sd_owners, kind="stable")
        sd_ci = column(sd_conv, "sd_conv")
        if sd_order is not None:
            sd_ci = sd_ci[sd_order]
        table_s = np.array(sd_convs or [(0, 0.0, 0, 0.0, 0.0)], dtype=np.float64)
        srows = table_s[sd_ci] if sd_ci.size else np.zeros((0, 5))
        sd_flags = srows[:, 2].astype(np.uint8)
        offsets = np.zeros(n + 1, dtype=np.int32)
        if sd_owners.size:
            np.cumsum(np.bincount(sd_owners, minlength=n), out=offsets[1:])
        node_lines = column(lines, "lines").astype(np.int32)
        predicate_lines = column(pred_line, "pred_line").astype(np.int32)[order]
        strings = list(table)  # (numbered in insertion order: see sindex)
        bound = max(n + 1, len(table), len(objects), len(sd_owners) + 1)  # every index is below it
        flat = FlatTree(
            parent=narrow(parent_a, bound),
            pred_kind=kinds,
            pred_field=narrow(rows[:, 1], bound),
            pred_op=rows[:, 2].astype(np.int8),
            pred_value=narrow(pvalue, bound),
            score=narrow(nrows[:, 0], bound),
            node_id=_optional(nrows[:, 1], bound),
            default_child=_optional(nrows[:, 2], bound),
            record_count=compact_counts(np.ascontiguousarray(nrows[:, 3])),
            flags=nrows[:, 4].astype(np.uint8),
            line=node_lines,
            pred_line=None if np.array_equal(predicate_lines, node_lines + 1) else predicate_lines,
            sd_offsets=narrow(offsets, bound),
            sd_value=narrow(srows[:, 0], bound),
            sd_record_count=compact_counts(np.ascontiguousarray(srows[:, 1])),
            sd_flags=sd_flags,
            sd_confidence=np.ascontiguousarray(srows[:, 3]) if (sd_flags & HAS_CONFIDENCE).any() else None,
            sd_probability=np.ascontiguousarray(srows[:, 4]) if (sd_flags & HAS_PROBABILITY).any() else None,
            strings=StringTable.of(strings),
            objects=tuple(objects),
            loc=tree_pn,
            root_segment=seg,
        )
        object.__setattr__(flat, "_valid", True)  # built here: every index is in range
        st.append(("Node", flat))
        r.flat_nodes += n
        # The handlers refer to each other (a reference cycle the paused GC would not free):
        # empty the per-tree containers now.
        for container in (table, parent, lines, node_conv, node_convs, node_cache, pred_node, pred_conv, pred_line,
                          pred_convs, pred_cache, sd_node, sd_conv, sd_convs, sd_cache, objects, sp_field, sp_op, sp_value,
                          fast):
            container.clear()

    P.ordered_attributes = True  # cheaper than a dict per element; restored at the end
    P.StartElementHandler = start
    P.EndElementHandler = end
    r.fast_at = P.CurrentByteIndex  # where the root's start tag is: see feed
    start("Node", [x for kv in attrs.items() for x in kv])  # the root Node itself
    r.fast_tree = fast_fill


def feed(r: Any, P: Any, chunks: Any) -> None:
    """Give the document's bytes to the expat parser ``P`` of the reader ``r``, reading
    TreeModel bodies in ``_fastscan``'s subset from the bytes instead.

    Expat reads everything; where a ``<TreeModel`` is followed by ``<Node``, the bytes are
    given up to the end of that start tag only. If expat then reports that a TreeModel's root
    Node started exactly there (``read_tree`` sets ``r.fast_tree`` and ``r.fast_at``), the
    Node's body (up to its end tag) is scanned; if ``read_tree``'s ``fast_fill`` takes it,
    expat gets, instead of the body, as many line feeds and blanks (so that the lines and
    columns of what follows stay the same) and the end tag, which ends the tree as usual.
    Anything else is given to expat as it is.
    """
    it = iter(chunks)
    buf = b""  # bytes received; buf[pos:] not given to expat yet
    pos = 0
    fed = 0  # bytes given to expat
    eof = False
    encoding_ok = True

    def xml_decl(version: str | None, encoding: str | None, standalone: int) -> None:
        nonlocal encoding_ok
        encoding_ok = encoding is None or encoding.lower() in _FAST_ENCODINGS

    def pull() -> None:  # the next non-empty chunk onto buf (eof: none left)
        nonlocal buf, pos, eof
        for chunk in it:
            if chunk:
                r.fed = True
                buf = buf[pos:] + chunk if pos < len(buf) else chunk
                pos = 0
                return
        eof = True

    def give(upto: int) -> None:  # buf[pos:upto] to expat
        nonlocal pos, fed
        if upto > pos:
            P.Parse(memoryview(buf)[pos:upto], False)
            fed += upto - pos
            pos = upto

    P.XmlDeclHandler = xml_decl
    r.fast_tree = r.fast_at = None
    r.fed = False
    in_tree = False  # after a "<TreeModel": looking for its root Node
    while True:
        if not in_tree:
            i = buf.find(b"<TreeModel", pos)
            if i < 0:
                if eof:
                    break
                give(len(buf) - 9)  # keep what may be the start of "<TreeModel"
                pull()
                continue
            give(i + 10)
            in_tree = True
        j = buf.find(b"<Node", pos)
        e = buf.find(b">", j) if j >= 0 else -1
        if e < 0:
            if eof:
                break
            give(len(buf) - 5 if j < 0 else j)
            pull()
            continue
        if buf[j + 5 : j + 6] not in (b" ", b"\t", b"\n", b"\r", b">", b"/"):
            give(j + 5)  # "<NodeX...": not a Node
            continue
        in_tree = False
        tag = buf[j : e + 1]
        expected = fed + j - pos  # expat's byte index of the tag
        r.fast_tree = None
        give(e + 1)
        fill = r.fast_tree
        if fill is None or r.fast_at != expected or tag.endswith(b"/>") or b"\r" in tag or not encoding_ok:
            continue
        # the end of the body: before the next "</TreeModel" (if that is the tree's end)
        while (stop := buf.find(b"</TreeModel", pos)) < 0 and not eof and len(buf) - pos <= _FAST_CAP:
            pull()
        end = _fastscan.find_end(buf, pos, stop)
        if end < 0 and stop >= 0:  # not before it: anywhere
            while True:
                end = _fastscan.find_end(buf, pos)
                if end >= 0 or eof or len(buf) - pos > _FAST_CAP:
                    break
                pull()
        if end < 0:
            continue
        region = buf[pos:end]
        if not fill(region, tag.count(b"\n")):
            continue
        close = region.rfind(b"<")
        last = region.rfind(b"\n", 0, close)
        stand_in = b"\n" * region.count(b"\n", 0, close) + b" " * (close - last - 1) + region[close:]
        pos = end
        r.fast_bodies += 1
        P.Parse(stand_in, False)
        fed += len(stand_in)
    if pos < len(buf):
        P.Parse(memoryview(buf)[pos:], False)
    P.Parse(b"", True)
