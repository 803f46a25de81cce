"""TreeModel bodies read into arrays (ir.FlatTree) mean what the Node-object reading means.

Every document is read both ways (``read_pmml(flat=True)``, the default, and ``flat=False``):
the IR must be equal (``TreeModel.root`` is built from the arrays), the locations the same,
the errors the same, and the predictions identical with engine="auto" (vectorised lowering
of the arrays) and engine="reference".
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quickscore.errors import QuickscoreError
from quickscore.io.pmml import read_pmml
from quickscore.ir import MiningModel, TreeModel
from quickscore.runtime.model import Model

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
CORPUS = ROOT.parent / "shared" / "corpus"
IN_SCOPE = {"TreeModel", "RegressionModel", "MiningModel"}


def _corpus(limit: int = 24) -> list:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    cases = []
    for row in csv.DictReader(manifest.open(), delimiter="\t"):
        kinds = set(row["top_models"].split(";")) | {x.split(":")[0] for x in row["nested_models"].split(";") if x}
        if kinds <= IN_SCOPE and "TreeModel" in kinds and not row["duplicate_of"]:
            cases.append(pytest.param(CORPUS / row["path"], id=row["path"].split("/")[-1]))
    return cases[:: max(1, len(cases) // limit)][:limit]


def _trees(model):
    if isinstance(model, TreeModel):
        yield model
    elif isinstance(model, MiningModel):
        for s in model.segmentation.segments:
            yield from _trees(s.model)


def _locs(node, out):
    out.append((node.loc, getattr(node.predicate, "loc", None)))
    for c in node.children:
        _locs(c, out)
    return out


def _records(doc, n=400, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for f in doc.data_fields:
        if f.values:
            vals = list(f.values) + [None]
            cols[f.name] = [vals[i] for i in rng.integers(0, len(vals), n)]
        else:
            x = rng.normal(0, 3, n).round(rng.integers(0, 3)).astype(object)
            x[rng.random(n) < 0.1] = None
            cols[f.name] = list(x)
    return pd.DataFrame(cols)


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        for u, v in zip(a[column].to_numpy(dtype=object), b[column].to_numpy(dtype=object)):
            if isinstance(u, float) and isinstance(v, float):
                assert u == v or (np.isnan(u) and np.isnan(v)), column
            else:
                assert (pd.isna(u) and pd.isna(v)) or u == v, column


def _both(data: bytes):
    """(flat document or error, Node document or error)."""
    out = []
    for flat in (True, False):
        try:
            out.append(read_pmml(iter([data]), None, flat=flat))
        except QuickscoreError as e:
            out.append(e)
    return out


def check(data: bytes, engines=("auto", "reference")) -> None:
    flat, nodes = _both(data)
    if isinstance(nodes, Exception):
        assert isinstance(flat, Exception) and type(flat) is type(nodes) and str(flat) == str(nodes)
        return
    assert not isinstance(flat, Exception), flat
    assert all(t.flat is not None for t in _trees(flat.model))
    assert flat == nodes
    for a, b in zip(_trees(flat.model), _trees(nodes.model)):
        assert _locs(a.root, []) == _locs(b.root, [])
    records = _records(nodes)
    for engine in engines:
        # fresh documents: comparing built every flat TreeModel's Node tree
        fa, na = _both(data)
        try:
            mb = Model(na, engine=engine)
        except QuickscoreError as e:
            with pytest.raises(type(e)) as got:
                Model(fa, engine=engine)
            assert str(got.value) == str(e)
            continue
        ma = Model(fa, engine=engine)
        assert ma.engine == mb.engine
        _identical(ma.predict(records), mb.predict(records))


@pytest.mark.parametrize("pmml", [p for p in sorted(DATA.glob("*.pmml")) if b"<TreeModel" in p.read_bytes()], ids=lambda p: p.stem)
def test_fixtures(pmml):
    check(pmml.read_bytes())


@pytest.mark.parametrize("pmml", _corpus())
def test_corpus(pmml):
    check(pmml.read_bytes())


# --- small documents: each shape the vectorised lowering distinguishes ----------------------------

DD = """<DataDictionary>
  <DataField name="x" optype="continuous" dataType="double"/>
  <DataField name="z" optype="continuous" dataType="float"/>
  <DataField name="k" optype="continuous" dataType="integer"/>
  <DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
  <DataField name="y" optype="categorical" dataType="string"><Value value="p"/><Value value="q"/></DataField>
</DataDictionary>"""
SCHEMA = """<MiningSchema><MiningField name="x"/><MiningField name="z"/><MiningField name="k"/><MiningField name="c"/>
<MiningField name="y" usageType="target"/></MiningSchema>"""


def doc(nodes: str, attrs: str = "") -> bytes:
    return (
        f'<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>{DD}'
        f'<TreeModel functionName="classification" {attrs}>{SCHEMA}{nodes}</TreeModel></PMML>'
    ).encode()


def sd(p: float) -> str:
    return f'<ScoreDistribution value="p" recordCount="{p}"/><ScoreDistribution value="q" recordCount="{1 - p}"/>'


LEAF = '<Node score="{s}" recordCount="2">{pred}' + sd(0.25) + "</Node>"


def leaf(pred: str, s: str = "p") -> str:
    return LEAF.format(s=s, pred=pred)


def sp(field: str, op: str, value: str | None = None) -> str:
    v = "" if value is None else f' value="{value}"'
    return f'<SimplePredicate field="{field}" operator="{op}"{v}/>'


TRUE = "<True/>"
FALSE = "<False/>"

CHAINS = {
    "binary": '<Node score="q"><True/>' + leaf(sp("x", "lessOrEqual", "0.5")) + leaf(TRUE, "q") + "</Node>",
    "complement": "<Node><True/>" + leaf(sp("x", "lessThan", "0")) + leaf(sp("x", "greaterOrEqual", "0"), "q") + "</Node>",
    "multi": '<Node score="q"><True/>' + "".join(
        leaf(sp(f, op, v), s)
        for f, op, v, s in [("x", "greaterThan", "2", "p"), ("z", "lessOrEqual", "0.1", "q"), ("k", "equal", "1", "p"),
                            ("x", "notEqual", "-1", "q"), ("z", "greaterOrEqual", "-INF", "p"), ("k", "lessThan", "-INF", "q")]
    ) + "</Node>",
    "missing ops": "<Node><True/>" + leaf(sp("x", "isMissing")) + leaf(sp("z", "isNotMissing"), "q") + "</Node>",
    "nan values": '<Node score="p"><True/>' + leaf(sp("x", "greaterThan", "NaN")) + leaf(sp("x", "notEqual", "NaN"), "q") + "</Node>",
    "true and false children": "<Node><True/>" + leaf(FALSE) + leaf(sp("x", "lessOrEqual", "1"), "q")
    + "<Node><True/>" + leaf(FALSE, "q") + "</Node>" + leaf(sp("x", "lessOrEqual", "3")) + "</Node>",
    "root predicate": '<Node score="q">' + sp("z", "greaterThan", "-1.5") + leaf(sp("x", "lessOrEqual", "0")) + "</Node>",
    "false root": '<Node score="q"><False/>' + leaf(TRUE) + "</Node>",
    "deep": "<Node><True/>" + "".join(
        f'<Node score="{"pq"[i % 2]}">' + sp("x", "greaterThan", str(-4 + i * 0.5)) for i in range(12)
    ) + "</Node>" * 12 + leaf(TRUE, "q") + "</Node>",
    "compound (general builder)": '<Node score="q"><True/><Node score="p"><CompoundPredicate booleanOperator="and">'
    + sp("x", "lessOrEqual", "1") + '<SimpleSetPredicate field="c" booleanOperator="isIn">'
    '<Array type="string">a</Array></SimpleSetPredicate></CompoundPredicate>' + sd(0.8) + "</Node></Node>",
    "categorical (general builder)": '<Node score="q"><True/>' + leaf(sp("c", "equal", "a")) + "</Node>",
    "distributions after children": '<Node score="q"><True/><Node score="p">' + sp("x", "lessOrEqual", "0")
    + "</Node>" + sd(0.4) + "</Node>",
    "probabilities and confidences": '<Node score="q"><True/><Node score="p">' + sp("x", "lessOrEqual", "0")
    + '<ScoreDistribution value="p" recordCount="3" probability="0.7" confidence="0.6"/>'
    '<ScoreDistribution value="q" recordCount="1" probability="0.3" confidence="0.2"/></Node></Node>',
    "zero counts": '<Node score="q"><True/><Node score="p">' + sp("x", "lessOrEqual", "0")
    + '<ScoreDistribution value="p" recordCount="0"/><ScoreDistribution value="q" recordCount="0"/></Node></Node>',
    "repeated class": '<Node score="q"><True/><Node score="p">' + sp("x", "lessOrEqual", "0")
    + '<ScoreDistribution value="p" recordCount="1"/><ScoreDistribution value="p" recordCount="3"/></Node></Node>',
    "single leaf": '<Node score="q"><True/></Node>',
    "single test": '<Node score="q">' + sp("x", "lessOrEqual", "1") + "</Node>",
    "only false children": '<Node score="q"><True/><Node score="p"><False/></Node></Node>',
    "ids and extensions": '<Node id="r" score="q"><Extension name="e"><Node/></Extension><True/><Node id="n1" score="p">'
    '<SimplePredicate field="x" operator="lessOrEqual" value="0"><Extension/></SimplePredicate><Partition name="p"/></Node></Node>',
}
STRATEGIES = [
    'missingValueStrategy="none"',
    'missingValueStrategy="nullPrediction"',
    'missingValueStrategy="lastPrediction" noTrueChildStrategy="returnLastPrediction"',
    'missingValueStrategy="aggregateNodes"',
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", list(CHAINS))
def test_shapes(name, strategy):
    check(doc(CHAINS[name], strategy))


def test_default_child():
    check(doc('<Node score="q" defaultChild="b"><True/>' + leaf(sp("x", "lessOrEqual", "0")).replace("<Node ", '<Node id="a" ')
              + leaf("<True/>", "q").replace("<Node ", '<Node id="b" ') + "</Node>", 'missingValueStrategy="defaultChild"'))


@pytest.mark.parametrize("nodes", [
    '<Node score="q"><True/><Node score="p"/></Node>',  # no predicate
    '<Node score="q"><True/><False/></Node>',  # two predicates
    '<Node score="q" recordCount="many"><True/></Node>',
    '<Node score="q"><True/><ScoreDistribution value="p" recordCount="x"/></Node>',
    '<Node score="q"><True/><ScoreDistribution value="p"/></Node>',
    '<Node score="q"><True/><Node><SimplePredicate field="x" operator="lessOrEqual"/></Node></Node>',
    '<Node score="q"><True/><Node><SimplePredicate field="x" operator="near" value="1"/></Node></Node>',
    '<Node score="q"><True/><Node><SimplePredicate field="x" operator="lessOrEqual" value="1"><Node/></SimplePredicate></Node></Node>',
    '<Node score="q"><True/><Node><True/><Regression/></Node></Node>',
    '<Node score="q"><True/><Node><True/><CompoundPredicate booleanOperator="and"/></Node></Node>',
    '<Node score="q"><True/><Node score="p"><SimplePredicate field="nope" operator="lessOrEqual" value="1"/></Node></Node>',
    '<Node score="q"><True/><Node score="p"><SimplePredicate field="x" operator="lessOrEqual" value="abc"/></Node></Node>',
    '<Node score="q"><True/><Node score="zz"><True/></Node></Node>',
    '<Node score="q"><True/><Node score="p" id="a"><True/></Node></Node><Node><True/></Node>',
])
def test_errors_are_the_same(nodes):
    check(doc(nodes, 'missingValueStrategy="defaultChild"' if "defaultChild" in nodes else ""))


@pytest.mark.parametrize("name", ["binary", "complement", "multi", "missing ops", "nan values", "true and false children",
                                  "root predicate", "false root", "deep", "distributions after children"])
def test_numeric_shapes_take_the_vectorised_lowering(name, monkeypatch):
    from quickscore.kernels import trees

    def builder(*args, **kwargs):
        raise AssertionError("the general builder ran")

    monkeypatch.setattr(trees, "_Builder", builder)
    model = Model(read_pmml(iter([doc(CHAINS[name], 'missingValueStrategy="nullPrediction"')]), None))
    assert model.engine == "numba"
    assert len(model.predict(_records(read_pmml(iter([doc(CHAINS[name])]), None)))) == 400
