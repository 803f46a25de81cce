"""MiningModel / Segmentation: every multipleModelMethod, missing predictions, chains."""

from __future__ import annotations

import pytest

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
<DataField name="r" optype="continuous" dataType="double"/>
"""


def reg_tree(score_lt: str, score_ge: str, split: str = "0") -> str:
    """A regression tree scoring score_lt for x < split, score_ge otherwise (no prediction when x missing)."""
    return f"""<TreeModel functionName="regression" missingValueStrategy="nullPrediction">
      <MiningSchema><MiningField name="x"/></MiningSchema>
      <Node score="0"><True/>
        <Node score="{score_lt}"><SimplePredicate field="x" operator="lessThan" value="{split}"/></Node>
        <Node score="{score_ge}"><SimplePredicate field="x" operator="greaterOrEqual" value="{split}"/></Node>
      </Node></TreeModel>"""


def cls_tree(label_lt: str, label_ge: str, p_yes_lt: float = 1.0, p_yes_ge: float = 0.0) -> str:
    return f"""<TreeModel functionName="classification" missingValueStrategy="nullPrediction">
      <MiningSchema><MiningField name="x"/></MiningSchema>
      <Node><True/>
        <Node score="{label_lt}"><SimplePredicate field="x" operator="lessThan" value="0"/>
          <ScoreDistribution value="yes" recordCount="{p_yes_lt}"/><ScoreDistribution value="no" recordCount="{1 - p_yes_lt}"/></Node>
        <Node score="{label_ge}"><SimplePredicate field="x" operator="greaterOrEqual" value="0"/>
          <ScoreDistribution value="yes" recordCount="{p_yes_ge}"/><ScoreDistribution value="no" recordCount="{1 - p_yes_ge}"/></Node>
      </Node></TreeModel>"""


def mining(method: str, segments: list[tuple[str, str, float]], function: str = "regression", target: str = "r", seg_attrs: str = "", output: str = "") -> str:
    segs = "".join(f'<Segment id="{i + 1}" weight="{w}">{pred}{model}</Segment>' for i, (pred, model, w) in enumerate(segments))
    return f"""<MiningModel functionName="{function}">
      <MiningSchema><MiningField name="x"/><MiningField name="{target}" usageType="predicted"/></MiningSchema>
      {output}
      <Segmentation multipleModelMethod="{method}" {seg_attrs}>{segs}</Segmentation>
    </MiningModel>"""


T = "<True/>"
REG = [(T, reg_tree("1", "2"), 1.0), (T, reg_tree("3", "10"), 3.0), (T, reg_tree("5", "30"), 1.0)]


@pytest.mark.parametrize(
    "method, expected",
    [
        ("sum", 42.0),
        ("average", 14.0),
        ("weightedSum", 2 + 30 + 30),
        ("weightedAverage", (2 + 30 + 30) / 5),
        ("median", 10.0),
        ("weightedMedian", 10.0),
        ("max", 30.0),
        ("selectFirst", 2.0),
        ("modelChain", 30.0),
    ],
)
def test_regression_methods(pmml, method, expected):
    assert pmml(FIELDS, mining(method, REG)).predict({"x": 1.0})["r"] == pytest.approx(expected)


def test_segment_predicates_select_rows(pmml):
    segs = [('<SimplePredicate field="x" operator="lessThan" value="-5"/>', reg_tree("1", "2"), 1.0), (T, reg_tree("3", "4"), 1.0)]
    m = pmml(FIELDS, mining("selectFirst", segs))
    out = m.predict([{"x": -10.0}, {"x": 1.0}])
    assert list(out["r"]) == [1.0, 4.0]


NO_PREDICTION_FOR_POSITIVE_X = reg_tree("2", "2").replace('operator="greaterOrEqual" value="0"', 'operator="greaterOrEqual" value="5"')


@pytest.mark.parametrize(
    "treatment, expected",
    [("returnMissing", None), ("skipSegment", 2.0), ("continue", None)],
)
def test_missing_prediction_treatment(pmml, treatment, expected):
    segs = [(T, reg_tree("2", "2"), 1.0), (T, NO_PREDICTION_FOR_POSITIVE_X, 1.0)]
    m = pmml(FIELDS, mining("average", segs, seg_attrs=f'missingPredictionTreatment="{treatment}"'))
    assert m.predict({"x": 1.0})["r"] == expected


def test_missing_threshold(pmml):
    segs = [(T, reg_tree("2", "2"), 1.0), (T, NO_PREDICTION_FOR_POSITIVE_X, 1.0)]
    m = pmml(FIELDS, mining("average", segs, seg_attrs='missingPredictionTreatment="skipSegment" missingThreshold="0.4"'))
    assert m.predict({"x": 1.0})["r"] is None


def test_majority_vote(pmml):
    segs = [(T, cls_tree("yes", "no"), 1.0), (T, cls_tree("yes", "yes", 1, 1), 1.0), (T, cls_tree("no", "no", 0, 0), 1.5)]
    out = pmml(FIELDS, mining("majorityVote", segs, "classification", "y")).predict({"x": 1.0})
    assert out["y"] == "no" and out["probability(no)"] == pytest.approx(2 / 3)
    out = pmml(FIELDS, mining("weightedMajorityVote", segs, "classification", "y")).predict({"x": -1.0})
    assert out["y"] == "yes" and out["probability(yes)"] == pytest.approx(2 / 3.5)


def test_average_probabilities(pmml):
    segs = [(T, cls_tree("yes", "no", 0.9, 0.2), 1.0), (T, cls_tree("yes", "no", 0.7, 0.4), 3.0)]
    out = pmml(FIELDS, mining("average", segs, "classification", "y")).predict({"x": 1.0})
    assert out["probability(yes)"] == pytest.approx(0.3)
    out = pmml(FIELDS, mining("weightedAverage", segs, "classification", "y")).predict({"x": 1.0})
    assert out["probability(yes)"] == pytest.approx((0.2 + 3 * 0.4) / 4)


def test_model_chain_passes_output_fields(pmml):
    first = reg_tree("1", "2").replace(
        "<MiningSchema><MiningField name=\"x\"/></MiningSchema>",
        '<MiningSchema><MiningField name="x"/></MiningSchema><Output><OutputField name="raw" feature="predictedValue" isFinalResult="false"/></Output>',
    )
    second = """<RegressionModel functionName="classification" normalizationMethod="logit">
      <MiningSchema><MiningField name="raw"/><MiningField name="y" usageType="predicted"/></MiningSchema>
      <RegressionTable intercept="0" targetCategory="yes"><NumericPredictor name="raw" coefficient="1"/></RegressionTable>
      <RegressionTable intercept="0" targetCategory="no"/></RegressionModel>"""
    out = pmml(FIELDS, mining("modelChain", [(T, first, 1.0), (T, second, 1.0)], "classification", "y")).predict({"x": 1.0})
    import math

    assert out["probability(yes)"] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_segment_output_field(pmml):
    out = pmml(
        FIELDS,
        mining("sum", REG, output='<Output><OutputField name="s2" segmentId="2" feature="predictedValue"/></Output>'),
    ).predict({"x": -1.0})
    assert out["s2"] == 3.0 and out["r"] == 9.0


def test_nested_mining_models(pmml):
    inner = mining("sum", REG[:2]).replace('<MiningField name="r" usageType="predicted"/>', "")
    out = pmml(FIELDS, mining("average", [(T, inner, 1.0), (T, reg_tree("0", "0"), 1.0)])).predict({"x": 1.0})
    assert out["r"] == 6.0
