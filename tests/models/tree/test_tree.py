"""TreeModel: one small named test per attribute and strategy."""

from __future__ import annotations

import math

import pytest

import quickscore

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
<DataField name="y" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
<DataField name="r" optype="continuous" dataType="double"/>
"""


def tree(body: str, function: str = "classification", target: str = "y", attrs: str = "", output: str = "") -> str:
    return f"""
<TreeModel functionName="{function}" {attrs}>
  <MiningSchema>
    <MiningField name="x"/><MiningField name="c"/><MiningField name="{target}" usageType="predicted"/>
  </MiningSchema>
  {output}
  {body}
</TreeModel>"""


BINARY = """
<Node id="root" score="no" recordCount="10">
  <True/>
  <ScoreDistribution value="no" recordCount="6" confidence="0.6"/>
  <ScoreDistribution value="yes" recordCount="4" confidence="0.4"/>
  <Node id="left" score="yes" recordCount="4">
    <SimplePredicate field="x" operator="lessThan" value="1.5"/>
    <ScoreDistribution value="no" recordCount="1" confidence="0.25"/>
    <ScoreDistribution value="yes" recordCount="3" confidence="0.75"/>
  </Node>
  <Node id="right" score="no" recordCount="6">
    <SimplePredicate field="x" operator="greaterOrEqual" value="1.5"/>
    <ScoreDistribution value="no" recordCount="5" confidence="0.8"/>
    <ScoreDistribution value="yes" recordCount="1" confidence="0.2"/>
  </Node>
</Node>"""


def test_classification_follows_first_true_child(pmml):
    m = pmml(FIELDS, tree(BINARY))
    assert m.predict({"x": 1.0}) == {"y": "yes", "probability(no)": 0.25, "probability(yes)": 0.75}
    assert m.predict({"x": 1.5})["y"] == "no"


def test_probabilities_from_record_counts_are_normalised(pmml):
    out = pmml(FIELDS, tree(BINARY)).predict({"x": 3.0})
    assert out["probability(no)"] == pytest.approx(5 / 6, rel=1e-15)


@pytest.mark.parametrize(
    "strategy, expected",
    [("none", None), ("nullPrediction", None), ("lastPrediction", "no")],
)
def test_missing_value_strategy(pmml, strategy, expected):
    m = pmml(FIELDS, tree(BINARY, attrs=f'missingValueStrategy="{strategy}"'))
    assert m.predict({"x": None})["y"] == expected


def test_missing_value_strategy_default_child_applies_penalty_to_confidence(pmml):
    out = pmml(
        FIELDS,
        tree(
            BINARY.replace('<Node id="root" score="no" recordCount="10">', '<Node id="root" score="no" recordCount="10" defaultChild="right">'),
            attrs='missingValueStrategy="defaultChild" missingValuePenalty="0.5"',
            output='<Output><OutputField name="conf" feature="confidence" value="no"/><OutputField name="node" feature="entityId"/></Output>',
        ),
    ).predict({"x": None})
    assert out["y"] == "no"
    assert out["node"] == "right"
    assert out["conf"] == pytest.approx(0.4)


def test_no_true_child_strategy_return_last_prediction(pmml):
    body = BINARY.replace('operator="greaterOrEqual" value="1.5"', 'operator="greaterOrEqual" value="5"')
    assert pmml(FIELDS, tree(body)).predict({"x": 3.0})["y"] is None
    m = pmml(FIELDS, tree(body, attrs='noTrueChildStrategy="returnLastPrediction"'))
    assert m.predict({"x": 3.0})["y"] == "no"


def test_root_predicate_false_gives_no_prediction(pmml):
    body = BINARY.replace("<True/>", "<False/>", 1)
    out = pmml(FIELDS, tree(body)).predict({"x": 1.0})
    assert out["y"] is None and out["probability(no)"] is None


@pytest.mark.parametrize(
    "op, value, x, hit",
    [
        ("equal", "2", 2.0, True),
        ("notEqual", "2", 2.0, False),
        ("lessThan", "2", 2.0, False),
        ("lessOrEqual", "2", 2.0, True),
        ("greaterThan", "2", 2.0, False),
        ("greaterOrEqual", "2", 2.0, True),
        ("isMissing", None, None, True),
        ("isNotMissing", None, None, False),
    ],
)
def test_simple_predicate_operators(pmml, op, value, x, hit):
    v = "" if value is None else f'value="{value}"'
    body = f"""<Node score="no"><True/>
      <Node score="yes"><SimplePredicate field="x" operator="{op}" {v}/></Node>
      <Node score="no"><True/></Node></Node>"""
    assert pmml(FIELDS, tree(body)).predict({"x": x})["y"] == ("yes" if hit else "no")


@pytest.mark.parametrize("op, c, hit", [("isIn", "a", True), ("isIn", "c", False), ("isNotIn", "c", True), ("isIn", None, None)])
def test_simple_set_predicate(pmml, op, c, hit):
    body = f"""<Node score="no"><True/>
      <Node score="yes"><SimpleSetPredicate field="c" booleanOperator="{op}"><Array n="2" type="string">a "b"</Array></SimpleSetPredicate></Node>
      <Node score="no"><True/></Node></Node>"""
    out = pmml(FIELDS, tree(body, attrs='missingValueStrategy="nullPrediction"')).predict({"c": c})["y"]
    assert out == {True: "yes", False: "no", None: None}[hit]


@pytest.mark.parametrize(
    "op, x, c, expected",
    [
        ("and", 1.0, "a", "yes"),
        ("and", 1.0, "b", "no"),
        ("or", 9.0, "a", "yes"),
        ("xor", 1.0, "a", "no"),
        ("xor", 9.0, "a", "yes"),
        ("surrogate", None, "a", "yes"),
        ("surrogate", None, "b", "no"),
    ],
)
def test_compound_predicate(pmml, op, x, c, expected):
    body = f"""<Node score="no"><True/>
      <Node score="yes"><CompoundPredicate booleanOperator="{op}">
        <SimplePredicate field="x" operator="lessThan" value="2"/>
        <SimplePredicate field="c" operator="equal" value="a"/>
      </CompoundPredicate></Node>
      <Node score="no"><True/></Node></Node>"""
    assert pmml(FIELDS, tree(body)).predict({"x": x, "c": c})["y"] == expected


def test_regression_tree(pmml):
    body = """<Node score="0"><True/>
      <Node score="1.25"><SimplePredicate field="x" operator="lessThan" value="0"/></Node>
      <Node score="-3.5"><True/></Node></Node>"""
    m = pmml(FIELDS, tree(body, function="regression", target="r"))
    assert m.predict({"x": -1}) == {"r": 1.25}
    assert m.predict({"x": 1}) == {"r": -3.5}


def test_entity_id_defaults_to_preorder_position(pmml):
    body = """<Node score="no"><True/><Node score="yes"><True/></Node></Node>"""
    out = pmml(FIELDS, tree(body, output='<Output><OutputField name="id" feature="entityId"/></Output>')).predict({"x": 1})
    assert out["id"] == "2"


def test_weighted_confidence_and_aggregate_nodes(pmml):
    body = """<Node score="no" recordCount="10"><True/>
      <Node score="yes" recordCount="4"><SimplePredicate field="x" operator="lessThan" value="1"/>
        <ScoreDistribution value="no" recordCount="1" confidence="0.25"/><ScoreDistribution value="yes" recordCount="3" confidence="0.75"/></Node>
      <Node score="no" recordCount="6"><SimplePredicate field="x" operator="greaterOrEqual" value="1"/>
        <ScoreDistribution value="no" recordCount="6" confidence="1.0"/><ScoreDistribution value="yes" recordCount="0" confidence="0.0"/></Node>
    </Node>"""
    out = pmml(FIELDS, tree(body, attrs='missingValueStrategy="aggregateNodes"')).predict({"x": None})
    assert out["y"] == "no" and out["probability(no)"] == pytest.approx(0.7)
    out = pmml(
        FIELDS,
        tree(body, attrs='missingValueStrategy="weightedConfidence"', output='<Output><OutputField name="cy" feature="confidence" value="yes"/></Output>'),
    ).predict({"x": None})
    assert out["cy"] == pytest.approx(0.4 * 0.75)


def test_predicate_on_unknown_field_is_refused(pmml):
    body = """<Node score="no"><True/><Node score="yes"><SimplePredicate field="nope" operator="equal" value="1"/></Node></Node>"""
    with pytest.raises(quickscore.InvalidMarkup, match="nope"):
        pmml(FIELDS, tree(body))


def test_batch_matches_single_rows(pmml):
    m = pmml(FIELDS, tree(BINARY, attrs='missingValueStrategy="lastPrediction"'))
    rows = [{"x": v} for v in (0.0, 1.5, None, math.inf, -math.inf, 2.0)]
    batch = m.predict(rows)
    for i, r in enumerate(rows):
        single = m.predict(r)
        for k, v in single.items():
            got = batch[k].iloc[i]
            assert (v is None and (got is None or got != got)) or got == v


def test_surrogate_alternative_counts_a_missing_level(pmml):
    body = """<Node score="no"><True/>
      <Node score="yes"><CompoundPredicate booleanOperator="surrogate">
          <SimplePredicate field="x" operator="lessThan" value="2"/>
          <SimplePredicate field="c" operator="equal" value="a"/>
        </CompoundPredicate>
        <ScoreDistribution value="no" recordCount="1" confidence="0.2"/><ScoreDistribution value="yes" recordCount="4" confidence="0.8"/></Node>
      <Node score="no"><True/></Node></Node>"""
    output = '<Output><OutputField name="cy" feature="confidence" value="yes"/></Output>'
    m = pmml(FIELDS, tree(body, attrs='missingValuePenalty="0.5"', output=output))
    assert m.predict({"x": 1, "c": "b"})["cy"] == pytest.approx(0.8)
    assert m.predict({"x": None, "c": "a"})["cy"] == pytest.approx(0.4)
