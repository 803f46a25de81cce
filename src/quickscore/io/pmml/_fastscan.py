"""The fast path for a TreeModel's Node tree: its bytes scanned with numpy and ``re``.

Most of the time of reading a big forest goes into expat's callbacks: ~3 million Python
calls for a 90 MB random forest (one per element start and end). The body of a tree as
the usual exporters write it (sklearn2pmml / JPMML, R, KNIME ...) uses a handful of
spellings only, e.g.::

    <Node score="1" recordCount="12">
        <SimplePredicate field="x3" operator="lessOrEqual" value="0.25"/>
        <ScoreDistribution value="0" recordCount="5"/>
        ...
    </Node>

For such a body, ``scan`` reads it straight from the bytes: the tags are found with numpy
(all ``<`` and ``>`` positions), the attributes with one ``re.findall`` per element kind,
the nesting with a cumulative sum. It accepts a *strict subset* of XML, chosen so that the
subset means exactly what expat would report for it, and returns None for anything else
(the caller then lets expat read the body as before). The subset:

* only the elements Node (start and end tags), SimplePredicate (``field``, ``operator``,
  ``value`` in that order), True, False (no attributes) and ScoreDistribution, all without
  a namespace prefix, the leaf elements as empty-element tags (``<True/>``);
* attributes ``name="value"``: names ``[A-Za-z][A-Za-z0-9_.-]*`` (so no ``xmlns``
  declaration: ``xmlns`` itself is refused explicitly, prefixed names do not match), each
  name once per element; values without ``<``, ``>``, ``&`` (no character or entity
  references), without tabs and line breaks (which XML attribute-value normalization would
  turn into blanks);
* between tags only blanks, tabs and line feeds: no text, comments, processing instructions,
  CDATA sections or DOCTYPE; no carriage return (expat's line counting of CR is then the
  plain count of line feeds); only printable ASCII bytes anywhere (so the bytes are the same
  characters in every encoding the caller accepts).

XML 1.0 (https://www.w3.org/TR/xml/) section 3.3.3: "Before the value of an attribute is
passed to the application ... the normalized value is computed by ... For a white space
character (#x20, #xD, #xA, #x9), append a space character (#x20) to the normalized value.
... For a character reference, append the referenced character ... For an entity
reference, recursively apply step 3": a value with none of these characters and no ``&``
is passed as written. Section 2.4: "The ampersand character (&) and the left angle bracket
(<) MUST NOT appear in their literal form, except when used as markup delimiters".

The result holds the same facts the expat handlers of ``_trees`` collect (nodes in document
order with their parents and source lines, the predicates and ScoreDistributions with their
nodes), with the attribute values still as bytes; ``_trees`` converts them exactly as its
handlers do.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

_NAME = rb"[A-Za-z][A-Za-z0-9_.\-]*"
_VALUE = rb'[^"<>&\t\n\r]*'
_WS = rb"[ \t\n]"
_ATTRS = rb"((?:" + _WS + rb"+" + _NAME + rb'="' + _VALUE + rb'")*)' + _WS + rb"*"
# a Node start tag / ScoreDistribution tag with its attribute text (checked against
# _ATTRS_TEXT once per distinct text); SimplePredicates in their one usual spelling
_NODE_RE = re.compile(rb"<Node([^>]*)>")
_SD_RE = re.compile(rb"<ScoreDistribution([^>]*)/>")
_ATTRS_TEXT = re.compile(_ATTRS)
_SP_RE = re.compile(
    rb"<SimplePredicate" + _WS + rb'+field="(' + _VALUE + rb')"' + _WS + rb'+operator="(' + _VALUE + rb')"'
    + _WS + rb'+value="(' + _VALUE + rb')"' + _WS + rb"*/>"
)
_ATTR_RE = re.compile(b"(" + _NAME + rb')="(' + _VALUE + rb')"')

# tag kinds
_OPEN, _SP, _TRUE, _FALSE, _SD, _CLOSE = range(6)
_KIND_OF_FIRST = np.full(256, -1, dtype=np.int8)  # by the byte after "<" (S: see scan)
for _c, _k in ((b"N", _OPEN), (b"T", _TRUE), (b"F", _FALSE), (b"/", _CLOSE)):
    _KIND_OF_FIRST[_c[0]] = _k
_PAD = 8  # bytes of padding after a buffer, so that the bytes after a '<' can be read past its end
# the bytes a region may hold: printable ASCII but "&", and tab, line feed
_ALLOWED = bytes(sorted(set(range(0x20, 0x7F)) - {ord("&")} | {0x09, 0x0A}))


class Scan(NamedTuple):
    """A tree body read from its bytes. Nodes are numbered as the tree's nodes (the root,
    read before the body, is node 0); ``*_line`` are line feeds before the element in the
    region (add the line where the region starts)."""

    node_parent: np.ndarray  # int64 (n - 1,): parent of nodes 1..n-1
    node_line: np.ndarray  # int64 (n - 1,)
    node_attrs: list  # bytes (n - 1,): the attribute text of each Node start tag
    pred_node: np.ndarray  # int64 (p,): each predicate's node (document order)
    pred_line: np.ndarray  # int64 (p,)
    pred_kind: np.ndarray  # int8 (p,): 1 SimplePredicate, 2 True, 3 False (as _SP, _TRUE, _FALSE)
    sp: list  # (field, operator, value) bytes of each SimplePredicate, document order
    sd_node: np.ndarray  # int64 (m,)
    sd_attrs: list  # bytes (m,): the attribute text of each ScoreDistribution
    node_tag: np.ndarray  # tag index (document order) of each Node start after the root
    sp_tag: np.ndarray  # of each SimplePredicate
    sd_tag: np.ndarray  # of each ScoreDistribution
    max_depth: int  # deepest element, the root Node being depth 1


def find_end(buf: bytes, start: int, stop: int = -1) -> int:
    """The end (exclusive) of the ``</Node>`` that closes the Node whose start tag ends at
    ``start``, looking before ``stop`` (-1: to the end of ``buf``), or -1 if not found there.
    Depth is counted over the tags ``<N...`` (opening) and ``</N...`` (closing) only: anything
    that fools this count (a comment, an empty ``<Node/>``, another element) is refused by
    ``scan`` afterwards."""
    B = np.frombuffer(buf, dtype=np.uint8)[start : len(buf) if stop < 0 else stop]
    lt = np.flatnonzero(B == 0x3C)
    if not len(lt):
        return -1
    B = np.concatenate([B, np.zeros(_PAD, dtype=np.uint8)])
    first = B[lt + 1]
    delta = (first == 0x4E).astype(np.int64)  # "<N"
    delta[(first == 0x2F) & (B[lt + 2] == 0x4E)] = -1  # "</N"
    hit = np.flatnonzero(np.cumsum(delta) == -1)
    if not len(hit):
        return -1
    gt = buf.find(b">", start + int(lt[hit[0]]))
    return -1 if gt < 0 else gt + 1


def _spelled(raw: np.ndarray, lt: np.ndarray, length: np.ndarray, text: bytes) -> bool:
    """Whether every tag starting at ``lt`` (of ``length`` bytes) is exactly ``text``."""
    if (length != len(text)).any():
        return False
    ok = np.ones(len(lt), dtype=bool)
    for k, c in enumerate(text):
        ok &= raw[lt + k] == c
    return bool(ok.all())


def scan(region: bytes, limit: int) -> Scan | None:
    """Read a Node's content and end tag (``region``: the bytes from just after its start tag
    to the ``>`` of its end tag), or None if it is not in the subset (see the module)."""
    if region.translate(None, _ALLOWED):
        return None  # a byte outside the subset (see _ALLOWED)
    raw = np.frombuffer(region, dtype=np.uint8)
    lt = np.flatnonzero(raw == 0x3C)
    gt = np.flatnonzero(raw == 0x3E)
    if len(lt) == 0 or len(lt) != len(gt) or (gt < lt).any() or (lt[1:] < gt[:-1]).any():
        return None  # '<' and '>' must alternate: no '>' in a value
    # between the tags only blanks: with the blanks deleted, every '>' but the last is
    # followed by '<' (the region starts after a tag and ends with one)
    dense = region.translate(None, b" \t\n")
    if dense[:1] != b"<" or dense.count(b"><") != len(lt) - 1:
        return None
    # each tag's kind from its first two bytes; the exact spellings are checked below
    first = raw[lt + 1]
    second = raw[np.minimum(lt + 2, len(raw) - 1)]
    kind = _KIND_OF_FIRST[first]
    s_tags = first == ord("S")
    kind[s_tags & (second == ord("i"))] = _SP
    kind[s_tags & (second == ord("c"))] = _SD
    if (kind < 0).any() or kind[-1] != _CLOSE:
        return None
    opens = kind == _OPEN
    closes = kind == _CLOSE
    depth = 1 + np.cumsum(opens.astype(np.int64) - closes)  # open Nodes after each tag
    if (depth[:-1] <= 0).any() or depth[-1] != 0:
        return None
    max_depth = int(depth.max()) + 1  # a leaf element below the deepest Node
    if max_depth > limit:
        return None

    # each kind's tags must all be in their strict spelling: one match per tag
    # (a match of a kind's pattern is one whole tag of that kind: the patterns start with the
    # full name and cannot cross a '<' or '>'; as many matches as tags: all of them match)
    counts = np.bincount(kind, minlength=6)
    length = gt - lt + 1
    for k, text in ((_TRUE, b"<True/>"), (_FALSE, b"<False/>"), (_CLOSE, b"</Node>")):
        if counts[k] and not _spelled(raw, lt[kind == k], length[kind == k], text):
            return None
    node_attrs = _NODE_RE.findall(region)
    if len(node_attrs) != counts[_OPEN]:
        return None
    sp = _SP_RE.findall(region)
    if len(sp) != counts[_SP]:
        return None
    sd_attrs = _SD_RE.findall(region)
    if len(sd_attrs) != counts[_SD]:
        return None

    # the Node each tag is in: for a tag at depth d (after it), the last Node opened at
    # depth d at or before it (the root: depth 1, before the region)
    open_tags = np.flatnonzero(opens)
    open_depth = depth[open_tags]
    # sort key: (depth, tag index); the root as (1, -1)
    keys = np.concatenate([[1 * (len(lt) + 1) + 0], open_depth * (len(lt) + 1) + open_tags + 1])
    nodes_by_key = np.concatenate([[0], np.arange(1, len(open_tags) + 1)])
    sort = np.argsort(keys, kind="stable")
    keys, nodes_by_key = keys[sort], nodes_by_key[sort]

    def enclosing(d: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The Node opened last at depth d, at or before tag t."""
        q = d * (len(lt) + 1) + t + 1
        j = np.searchsorted(keys, q, side="right") - 1
        return nodes_by_key[j]

    parent = enclosing(open_depth - 1, open_tags - 1)
    leaves = np.flatnonzero((kind != _OPEN) & (kind != _CLOSE))
    owner = enclosing(depth[leaves], leaves)
    lk = kind[leaves]
    is_pred = lk != _SD
    pred_tags = leaves[is_pred]
    sd_tags = leaves[~is_pred]
    newlines = np.flatnonzero(raw == 0x0A)
    line_of = np.searchsorted(newlines, lt)  # line feeds before each tag
    return Scan(
        node_parent=parent,
        node_line=line_of[open_tags],
        node_attrs=node_attrs,
        pred_node=owner[is_pred],
        pred_line=line_of[pred_tags],
        pred_kind=lk[is_pred],
        sp=sp,
        sd_node=owner[~is_pred],
        sd_attrs=sd_attrs,
        node_tag=open_tags,
        sp_tag=pred_tags[lk[is_pred] == _SP],
        sd_tag=sd_tags,
        max_depth=max_depth,
    )


def attributes(text: bytes) -> dict[bytes, bytes] | None:
    """The attributes of a start tag's attribute text (as ``_NODE_RE`` / ``_SD_RE`` matched
    it), or None if it is not in the subset (see the module), has a repeated name or an
    ``xmlns`` declaration."""
    if _ATTRS_TEXT.fullmatch(text) is None:
        return None
    pairs = _ATTR_RE.findall(text)
    a = dict(pairs)
    if len(a) != len(pairs) or b"xmlns" in a:
        return None
    return a
