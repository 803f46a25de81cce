"""A forest whose walk can end on a node without probabilities: the fused kernels are not used,
so such rows fail with UndefinedResult as in the reference evaluator (and JPMML-Evaluator),
while forests whose only such nodes are internal ones (sklearn2pmml's shape) stay fused."""

from __future__ import annotations

import pandas as pd
import pytest

import quickscore

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
"""


def _tree(leaf_low: str, strategy: str = "nullPrediction") -> str:
    return f"""<Segment><True/><TreeModel functionName="classification" missingValueStrategy="{strategy}">
  <MiningSchema><MiningField name="x"/><MiningField name="y" usageType="predicted"/></MiningSchema>
  <Node><True/>
    <Node><SimplePredicate field="x" operator="lessOrEqual" value="0"/>{leaf_low}</Node>
    <Node><SimplePredicate field="x" operator="greaterThan" value="0"/>
      <ScoreDistribution value="a" recordCount="1"/><ScoreDistribution value="b" recordCount="3"/></Node>
  </Node></TreeModel></Segment>"""


GOOD = '<ScoreDistribution value="a" recordCount="2"/><ScoreDistribution value="b" recordCount="2"/>'
ZERO = '<ScoreDistribution value="a" recordCount="0"/><ScoreDistribution value="b" recordCount="0"/>'


def _forest(*trees: str) -> bytes:
    return _document(f"""<MiningModel functionName="classification">
  <MiningSchema><MiningField name="x"/><MiningField name="y" usageType="predicted"/></MiningSchema>
  <Segmentation multipleModelMethod="average">{"".join(trees)}</Segmentation></MiningModel>""")


def _document(model: str) -> bytes:
    return f"""<?xml version="1.0"?>
<PMML version="4.4" xmlns="http://www.dmg.org/PMML-4_4"><Header/>
  <DataDictionary>{FIELDS}</DataDictionary>{model}</PMML>""".encode()


def _both(document: bytes) -> tuple[quickscore.Model, quickscore.Model]:
    return quickscore.load(document), quickscore.load(document, engine="reference")


def _fused(model: quickscore.Model) -> bool:
    return getattr(model._compiled.core, "fused", None) is not None


def test_internal_nodes_without_probabilities_stay_fused():
    fast, reference = _both(_forest(_tree(GOOD), _tree(GOOD)))
    assert _fused(fast)
    frame = pd.DataFrame({"x": [-1.0, 1.0]})
    assert fast.predict(frame).equals(reference.predict(frame))


@pytest.mark.parametrize("leaf, strategy", [(ZERO, "nullPrediction"), ("", "nullPrediction"), (GOOD, "lastPrediction")])
def test_a_walk_ending_without_probabilities_fails_as_in_the_reference(leaf, strategy):
    # ZERO: record counts summing to zero; "": a leaf with neither score nor distribution;
    # lastPrediction: a missing x ends the walk on the root, which has no distribution.
    fast, reference = _both(_forest(_tree(GOOD), _tree(leaf, strategy)))
    assert not _fused(fast)
    frame = pd.DataFrame({"x": [-1.0, 1.0, None]})
    got, expected = fast.predict(frame), reference.predict(frame)
    assert got.equals(expected)
    assert got["_error"].notna().any()
    record = {"x": None if strategy == "lastPrediction" else -1.0}
    with pytest.raises(quickscore.errors.UndefinedResult):
        fast.predict(record)
    with pytest.raises(quickscore.errors.UndefinedResult):
        reference.predict(record)
