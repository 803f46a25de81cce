"""TreeModel bodies read from their bytes (io/pmml/_fastscan, _trees.feed) give exactly what
the expat handlers give.

Every document is read twice: as usual (the fast path wherever the body is in the scanned
subset) and with the fast path off (``_fastscan.scan`` returning None: every body read by the
handlers). The documents must be equal, every FlatTree array equal with the same dtype, the
string tables in the same order, the source lines the same; errors the same class and text.
Documents are also fed in small chunks (tags and the scanned bodies cut anywhere).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from test_flat_trees import CHAINS, STRATEGIES, doc, leaf, sd, sp

from quickscore.errors import QuickscoreError
from quickscore.io.pmml import _fastscan, _reader, read_pmml
from quickscore.ir import MiningModel, TreeModel

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
CORPUS = ROOT.parent / "shared" / "corpus"


def _trees(model):
    if isinstance(model, TreeModel):
        yield model
    elif isinstance(model, MiningModel):
        for s in model.segmentation.segments:
            yield from _trees(s.model)


def _chunks(data: bytes, size: int | None):
    if size is None:
        return iter([data])
    return (data[i : i + size] for i in range(0, len(data), size))


def _read(data: bytes, monkeypatch, *, fast: bool, size: int | None = None):
    """(document or error, number of TreeModel bodies read from their bytes)."""
    readers = []
    init = _reader.PMMLReader.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        readers.append(self)

    with monkeypatch.context() as m:
        m.setattr(_reader.PMMLReader, "__init__", recording_init)
        if not fast:
            m.setattr(_fastscan, "scan", lambda region, limit: None)
        try:
            out = read_pmml(_chunks(data, size), "doc.pmml")
        except QuickscoreError as e:
            out = e
    return out, readers[-1].fast_bodies


def same(data: bytes, monkeypatch, *, size: int | None = None, documents: bool = True) -> int:
    """Assert that both readings agree; the number of bodies the fast path took."""
    slow, _ = _read(data, monkeypatch, fast=False)
    fast, taken = _read(data, monkeypatch, fast=True, size=size)
    if isinstance(slow, Exception):
        assert type(fast) is type(slow) and str(fast) == str(slow)
        return taken
    assert not isinstance(fast, Exception), fast
    a_trees, b_trees = list(_trees(fast.model)), list(_trees(slow.model))
    assert len(a_trees) == len(b_trees)
    for a, b in zip(a_trees, b_trees):
        fa, fb = a.flat, b.flat
        assert (fa is None) == (fb is None)
        if fa is None:
            continue
        assert list(fa.strings) == list(fb.strings)
        for name, x in fa.arrays().items():
            y = getattr(fb, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert x.dtype == y.dtype, name
                assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        assert fa.objects == fb.objects and fa.loc == fb.loc and fa.root_segment == fb.root_segment
        assert fa == fb
    if documents:
        assert fast == slow  # (builds every Node tree from the arrays, with its locations)
    return taken


# --- the bodies the exporters write: taken by the fast path, same result --------------------------


@pytest.mark.parametrize("strategy", STRATEGIES[:2])
@pytest.mark.parametrize("name", list(CHAINS))
def test_shapes(name, strategy, monkeypatch):
    data = doc(CHAINS[name], strategy)
    taken = same(data, monkeypatch)
    # (isMissing has no value attribute: not the one SimplePredicate spelling scanned)
    assert taken == (not any(s in CHAINS[name] for s in ("Compound", "Extension", "isMissing")))


@pytest.mark.parametrize("pmml", [p for p in sorted(DATA.glob("*.pmml")) if b"<TreeModel" in p.read_bytes()], ids=lambda p: p.stem)
def test_fixtures(pmml, monkeypatch):
    same(pmml.read_bytes(), monkeypatch)


def _corpus(limit: int = 16) -> list:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    cases = []
    for row in csv.DictReader(manifest.open(), delimiter="\t"):
        kinds = set(row["top_models"].split(";")) | {x.split(":")[0] for x in row["nested_models"].split(";") if x}
        if "TreeModel" in kinds and not row["duplicate_of"]:
            cases.append(pytest.param(CORPUS / row["path"], id=row["path"].split("/")[-1]))
    return cases[:: max(1, len(cases) // limit)][:limit]


@pytest.mark.parametrize("pmml", _corpus())
def test_corpus(pmml, monkeypatch):
    data = pmml.read_bytes()
    if len(data) > 20_000_000:
        pytest.skip("large file (the W1 check covers one)")
    same(data, monkeypatch)


FOREST = doc(
    '<Node score="q"><True/>'
    + "".join(
        f'<Node score="{"pq"[i % 2]}" recordCount="{i}">' + sp("x", "lessOrEqual", f"{i / 7:.6f}")
        + leaf(sp("z", "greaterThan", f"-{i}.5"), "p") + leaf("<True/>", "q") + sd(0.5) + "</Node>"
        for i in range(40)
    )
    + "</Node>"
)


@pytest.mark.parametrize("size", [1, 7, 64, 333, 4096])
def test_chunks_cut_anywhere(size, monkeypatch):
    assert same(FOREST, monkeypatch, size=size) == 1


def test_many_trees_in_a_mining_model(monkeypatch):
    trees = "".join(
        f'<Segment id="{k}"><True/><TreeModel functionName="regression" noTrueChildStrategy="returnLastPrediction">'
        '<MiningSchema><MiningField name="x"/><MiningField name="z"/></MiningSchema>'
        f'<Node score="{k}"><True/><Node score="{k + 0.5}">' + sp("x", "lessOrEqual", str(k)) + "</Node>"
        f'<Node score="{k}e1"><True/></Node></Node></TreeModel></Segment>'
        for k in range(5)
    )
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>'
        '<DataDictionary><DataField name="x" optype="continuous" dataType="double"/>'
        '<DataField name="z" optype="continuous" dataType="float"/>'
        '<DataField name="y" optype="continuous" dataType="double"/></DataDictionary>'
        '<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="z"/>'
        '<MiningField name="y" usageType="target"/></MiningSchema><Segmentation multipleModelMethod="sum">'
        f"{trees}</Segmentation></MiningModel></PMML>"
    ).encode()
    assert same(data, monkeypatch) == 5
    assert same(data, monkeypatch, size=50) == 5


# --- spellings: the fast path takes them or leaves them to expat, the result is the same ----------

VARIANTS = {
    "attribute order": '<Node recordCount="3" score="q"><True/>'
    '<Node score="p"><SimplePredicate field="x" operator="lessOrEqual" value="1"/>'
    '<ScoreDistribution recordCount="2" value="p"/></Node></Node>',
    "numbers": '<Node score="q" recordCount=" 1e3 "><True/><Node score="p" recordCount="INF">'
    + sp("x", "lessOrEqual", "1") + '<ScoreDistribution value="p" recordCount="-0" confidence="+2.5e-1" probability=".5"/>'
    '<ScoreDistribution value="q" recordCount="1E-3" probability="-INF"/></Node></Node>',
    "number with underscore (refused)": '<Node score="q"><True/><Node score="p" recordCount="1_0"><True/></Node></Node>',
    "blanks and line breaks in tags": '<Node\n score="q"\n\t>\n<True\n/>\n<Node   score="p" >'
    '<SimplePredicate\n field="x"\toperator="lessOrEqual"\n value="2"\n/><ScoreDistribution\nvalue="p"\trecordCount="1" />'
    "</Node\n>\n</Node >",
    "line breaks in Node tags": '<Node\n score="q"\n\t>\n<True/>\n<Node   score="p" >'
    '<SimplePredicate\n field="x"\toperator="lessOrEqual"\n value="2"\n/><ScoreDistribution\nvalue="p"\trecordCount="1" />'
    "</Node>\n</Node>",
    "blank spelled True": '<Node score="q"><True /><Node score="p"><False /></Node></Node>',
    "ids, defaultChild, empty values": '<Node id="" score="" defaultChild="n1"><True/><Node id="n1" score="p">'
    '<SimplePredicate field="x" operator="equal" value=""/></Node></Node>',
    "character reference": '<Node score="q"><True/><Node score="&#112;">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "entity in a value": '<Node score="q"><True/><Node score="a&amp;b">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "gt in a value": '<Node score="q"><True/><Node score="a>b">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "tab in a value": '<Node score="q"><True/><Node score="a\tb">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "newline in a value": '<Node score="q"><True/><Node score="a\nb">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "single quotes": "<Node score='q'><True/><Node score='p'>" + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "comment": '<Node score="q"><True/><!-- </Node> --><Node score="p">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "processing instruction": '<Node score="q"><True/><?pi x?><Node score="p"><True/></Node></Node>',
    "cdata": '<Node score="q"><True/><![CDATA[ x ]]><Node score="p"><True/></Node></Node>',
    "text": '<Node score="q"><True/>text<Node score="p"><True/></Node></Node>',
    "non-ascii value": '<Node score="q"><True/><Node score="\u00e9">' + sp("x", "lessOrEqual", "1") + "</Node></Node>",
    "xmlns redeclared": '<Node score="q"><True/><Node xmlns="urn:other" score="p"><True/></Node></Node>',
    "prefixed attribute": '<Node score="q" xmlns:v="urn:v"><True/><Node v:a="1" score="p"><True/></Node></Node>',
    "duplicate attribute": '<Node score="q"><True/><Node score="p" score="q"><True/></Node></Node>',
    "empty Node": '<Node score="q"><True/><Node score="p"/></Node>',
    "SimplePredicate with content": '<Node score="q"><True/><Node>'
    '<SimplePredicate field="x" operator="lessOrEqual" value="1"></SimplePredicate></Node></Node>',
    "True with an attribute": '<Node score="q"><True a="1"/><Node score="p"><True/></Node></Node>',
    "unknown attributes": '<Node score="q" extra="1"><True/><Node score="p" x-foo="bar">' + sp("x", "lessOrEqual", "1")
    + '<ScoreDistribution value="p" recordCount="1" x-bar="2"/></Node></Node>',
    "isMissing": '<Node score="q"><True/><Node score="p"><SimplePredicate field="x" operator="isMissing"/></Node></Node>',
    "unknown operator": '<Node score="q"><True/><Node><SimplePredicate field="x" operator="near" value="1"/></Node></Node>',
    "missing recordCount": '<Node score="q"><True/><Node><True/><ScoreDistribution value="p"/></Node></Node>',
    "bad recordCount": '<Node score="q"><True/><Node><True/><ScoreDistribution value="p" recordCount="x"/></Node></Node>',
    "no predicate": '<Node score="q"><True/><Node score="p"></Node></Node>',
    "two predicates": '<Node score="q"><True/><Node score="p"><True/><False/></Node></Node>',
    "extension": '<Node score="q"><True/><Node score="p"><Extension name="a"/><True/></Node></Node>',
    "unknown element": '<Node score="q"><True/><Node score="p"><True/><Foo/></Node></Node>',
    "empty root": '<Node score="q"/>',
    "root without predicate": '<Node score="q"></Node>',
    "distribution first": '<Node score="q"><ScoreDistribution value="p" recordCount="1"/><True/></Node>',
}


#: the variants in the scanned subset (the others are read by the expat handlers)
SCANNED = {"attribute order", "numbers", "line breaks in Node tags", "ids, defaultChild, empty values",
           "unknown attributes", "no predicate", "two predicates", "root without predicate", "distribution first"}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variants(name, monkeypatch):
    data = doc(VARIANTS[name], 'missingValueStrategy="defaultChild"' if "defaultChild" in VARIANTS[name] else "")
    assert same(data, monkeypatch) == (name in SCANNED)


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_carriage_returns(newline, monkeypatch):
    data = doc(VARIANTS["blanks and line breaks in tags"]).replace(b"\n", newline.encode())
    same(data, monkeypatch)
    same(doc(CHAINS["deep"].replace("><", ">" + newline + "<")), monkeypatch)


@pytest.mark.parametrize("encoding", ["UTF-8", "ISO-8859-1", "US-ASCII", "UTF-16"])
def test_declared_encodings(encoding, monkeypatch):
    text = doc(CHAINS["multi"]).decode()
    data = f'<?xml version="1.0" encoding="{encoding}"?>\n{text}'.encode(encoding.lower().replace("us-", ""))
    same(data, monkeypatch)


def test_lines_after_a_scanned_body(monkeypatch):
    # an error after the body names the same line and column either way
    data = doc(CHAINS["deep"].replace("><", ">\n  <")).replace(b"</TreeModel>", b"</TreeModel>\n  <Bad x=>")
    slow, _ = _read(data, monkeypatch, fast=False)
    assert isinstance(slow, QuickscoreError) and "line" in str(slow)
    fast, taken = _read(data, monkeypatch, fast=True)
    assert taken == 1 and str(fast) == str(slow)


def test_truncated_in_a_body(monkeypatch):
    data = doc(CHAINS["deep"])
    cut = data[: data.index(b"</Node>") + 3]
    assert isinstance(same(cut, monkeypatch, size=10), int)


def test_depth_limit(monkeypatch):
    from quickscore.io.pmml import _reader

    monkeypatch.setattr(_reader, "MAX_DEPTH", 12)
    for depth in (7, 8, 9, 10, 11):
        nodes = "<Node><True/>" * depth + leaf("<True/>") + "</Node>" * depth
        same(doc(nodes), monkeypatch)


def test_scan_refuses_outside_the_subset():
    body = b'<True/><Node score="p"><SimplePredicate field="x" operator="lessOrEqual" value="1"/></Node></Node>'
    assert _fastscan.scan(body, 100) is not None
    for bad in (b"&", b"\r", b"\x00", "\u00e9".encode(), b"<!-- x -->", b"text"):
        assert _fastscan.scan(body.replace(b"<True/>", b"<True/>" + bad), 100) is None
    assert _fastscan.scan(body, 2) is None  # deeper than the limit
    assert _fastscan.scan(body[:-7], 100) is None  # no end tag
    assert _fastscan.scan(body + b"</Node>", 100) is None  # one end tag too many


def test_w1_forest_when_cached(monkeypatch):
    """The benchmark's 90 MB forest (bench/.cache, when present): all 100 bodies scanned."""
    path = ROOT / "bench" / ".cache" / "w1" / "model.pmml"
    if not path.exists():
        pytest.skip(f"the W1 workload is not cached at {path}")
    data = path.read_bytes()
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    # (the FlatTrees compared; building the 436k Node objects to compare documents is slow)
    assert same(b"".join(chunks), monkeypatch, size=1 << 20, documents=False) == 100
