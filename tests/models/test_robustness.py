"""Bad input never crashes a batch: each record gets its score or its own error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quickscore

DATA = Path(__file__).resolve().parents[1] / "data"

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="-100" rightMargin="100"/></DataField>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
<DataField name="y" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
"""

MODEL = """<TreeModel functionName="classification" missingValueStrategy="lastPrediction" noTrueChildStrategy="returnLastPrediction">
  <MiningSchema><MiningField name="x" invalidValueTreatment="{inv}"/><MiningField name="c" invalidValueTreatment="{inv}"/>
    <MiningField name="y" usageType="predicted"/></MiningSchema>
  <Node score="no"><True/><ScoreDistribution value="no" recordCount="3"/><ScoreDistribution value="yes" recordCount="1"/>
    <Node score="yes"><SimplePredicate field="x" operator="greaterThan" value="0"/>
      <Node score="no"><SimplePredicate field="c" operator="equal" value="a"/></Node>
    </Node>
  </Node>
</TreeModel>"""

values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=5),
    st.sampled_from(["a", "b", "", " ", "NaN", "inf", "-0", "1e400", "é", "a\x00"]),
)
records = st.lists(st.fixed_dictionaries({}, optional={"x": values, "c": values, "extra": values}), min_size=1, max_size=20)


@pytest.mark.parametrize("inv", ["returnInvalid", "asMissing", "asIs"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=records)
def test_fuzzed_batches_score_every_record_or_name_its_error(pmml, inv, batch):
    model = pmml(FIELDS, MODEL.format(inv=inv))
    out = model.predict(batch)
    assert len(out) == len(batch)
    for i, record in enumerate(batch):
        error = out["_error"].iloc[i]
        if isinstance(error, str):
            assert "Invalid value" in error or "Missing value" in error
            assert pd.isna(out["y"].iloc[i])
            with pytest.raises(quickscore.EvaluationError):
                model.predict(record)
        else:
            assert out["y"].iloc[i] in ("yes", "no")
            assert model.predict(record)["y"] == out["y"].iloc[i]


def test_a_defect_costs_only_the_records_that_trigger_it(pmml, monkeypatch):
    model = pmml(FIELDS, MODEL.format(inv="returnInvalid"))
    compiled = model._compiled
    real_run = compiled.run

    def flaky(frame):
        x = frame.get("x").values
        if np.any(x == 13.0):
            raise ZeroDivisionError("boom")
        return real_run(frame)

    monkeypatch.setattr(compiled, "run", flaky)
    out = model.predict([{"x": 1.0, "c": "b"}, {"x": 13.0, "c": "b"}, {"x": -1.0, "c": "a"}])
    assert list(out["y"].iloc[[0, 2]]) == ["yes", "no"]
    assert "Internal error" in out["_error"].iloc[1] and "boom" in out["_error"].iloc[1]
    monkeypatch.setattr(model, "_record", None)  # one record through the (patched) batch path
    with pytest.raises(quickscore.EvaluationError, match="boom"):
        model.predict({"x": 13.0, "c": "b"})


def test_a_defect_in_the_record_path_falls_back_to_the_batch_path(pmml, monkeypatch):
    model = pmml(FIELDS, MODEL.format(inv="returnInvalid"))
    assert model._record is not None

    def broken(values):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(model._record, "step", broken)
    assert model.predict({"x": 1.0, "c": "b"})["y"] == "yes"


def test_infinities_compare_as_numbers(pmml):
    model = pmml(FIELDS.replace('<Interval closure="closedClosed" leftMargin="-100" rightMargin="100"/>', ""), MODEL.format(inv="returnInvalid"))
    assert model.predict({"x": math.inf, "c": "b"})["y"] == "yes"
    assert model.predict({"x": -math.inf, "c": "b"})["y"] == "no"


@pytest.mark.parametrize("kind", ["dataframe", "arrow", "columns", "records"])
def test_batch_input_kinds_agree(pmml, kind):
    model = pmml(FIELDS, MODEL.format(inv="asMissing"))
    rows = [{"x": 1.0, "c": "a"}, {"x": 2.0, "c": "b"}, {"x": None, "c": None}]
    frame = pd.DataFrame(rows)
    data = {
        "dataframe": frame,
        "arrow": __import__("pyarrow").Table.from_pandas(frame),
        "columns": {"x": [1.0, 2.0, None], "c": ["a", "b", None]},
        "records": rows,
    }[kind]
    assert list(model.predict(data)["y"]) == ["no", "yes", "no"]
