"""PMML reader: document, Header, DataDictionary, MiningSchema, Targets, Output."""

from __future__ import annotations

import pytest
from io_testlib import DD, SCHEMA, line_of, model, pmml, raises, read, tree

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import DataType, Decision, FieldRef, Interval, Loc, OpType

# --- document and versions -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0", "3.1", "3.2", "4.0", "4.1", "4.2", "4.3", "4.4"])
def test_every_pmml_namespace_is_read(version):
    ns = f"http://www.dmg.org/PMML-{version.replace('.', '_')}"
    doc = read(tree(ns=ns, version=version))
    assert doc.format == "pmml"
    assert doc.version == version


def test_https_namespace_spelling_is_read():  # SAS writes https://www.dmg.org/PMML-3_1
    assert read(tree(ns="https://www.dmg.org/PMML-3_1", version="3.1")).version == "3.1"


def test_document_without_namespace_is_read():
    assert read(tree(ns=None, version="4.2")).version == "4.2"


def test_version_attribute_is_recorded_as_written():  # RapidMiner: PMML-3_1 namespace, version="3.2"
    assert read(tree(ns="http://www.dmg.org/PMML-3_1", version="3.2")).version == "3.2"


def test_version_falls_back_to_the_namespace():
    assert read(tree(version=None)).version == "4.4"


def test_foreign_root_namespace_is_invalid():
    raises(InvalidMarkup, tree(ns="http://example.com/PMML"), "not a PMML namespace")


def test_source_name_is_none_for_bytes():
    assert read(tree()).source_name is None


def test_model_is_the_first_model_element():
    second = '<RegressionModel functionName="regression">' + SCHEMA + '<RegressionTable intercept="0"/></RegressionModel>'
    doc = read(pmml('<TreeModel functionName="regression">' + SCHEMA + '<Node score="1"><True/></Node></TreeModel>' + second))
    assert type(doc.model).__name__ == "TreeModel"


def test_later_unsupported_model_is_ignored():
    nn = '<NeuralNetwork functionName="regression" activationFunction="tanh"><MiningSchema/></NeuralNetwork>'
    doc = read(pmml('<TreeModel functionName="regression">' + SCHEMA + '<Node score="1"><True/></Node></TreeModel>' + nn))
    assert type(doc.model).__name__ == "TreeModel"


def test_first_model_unsupported_names_element_path_and_line():
    data = pmml('<NeuralNetwork functionName="regression" activationFunction="tanh"><MiningSchema/></NeuralNetwork>')
    msg = raises(UnsupportedMarkup, data, "Unsupported element NeuralNetwork at PMML/NeuralNetwork")
    assert f"(line {line_of(data, '<NeuralNetwork')})" in msg


@pytest.mark.parametrize("element", [
    "NeuralNetwork", "SupportVectorMachineModel", "GeneralRegressionModel", "NaiveBayesModel", "ClusteringModel",
    "RuleSetModel", "AssociationModel", "Scorecard", "NearestNeighborModel", "GaussianProcessModel",
    "AnomalyDetectionModel", "BayesianNetworkModel", "BaselineModel", "SequenceModel", "TextModel", "TimeSeriesModel",
])
def test_other_model_types_are_unsupported(element):
    raises(UnsupportedMarkup, pmml(f'<{element} functionName="regression"><MiningSchema/></{element}>'),
           f"Unsupported element {element}")


def test_document_without_model_is_invalid():
    raises(InvalidMarkup, pmml(""), "no model element")


def test_transformation_dictionary_after_the_model_is_read():  # JPMML's own tests write it there
    td = '<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></TransformationDictionary>'
    doc = read(pmml('<TreeModel functionName="regression">' + SCHEMA + '<Node score="1"><True/></Node></TreeModel>' + td))
    assert doc.transformations.derived_fields[0].name == "d"


# --- Header --------------------------------------------------------------------------------------


def test_header_copyright():
    assert read(tree(header='<Header copyright="(c) me"/>')).header.copyright == "(c) me"


def test_header_description():
    assert read(tree(header='<Header description="a tree"/>')).header.description == "a tree"


def test_header_application_name_and_version():
    h = read(tree(header='<Header><Application name="JPMML-SkLearn" version="1.6.18"/></Header>')).header
    assert (h.application_name, h.application_version) == ("JPMML-SkLearn", "1.6.18")


def test_header_timestamp():
    h = read(tree(header="<Header><Timestamp>\n  2021-06-02T17:58:25Z\n</Timestamp></Header>")).header
    assert h.timestamp == "2021-06-02T17:58:25Z"


def test_header_annotation_and_extension_are_ignored():
    h = read(tree(header='<Header><Extension name="user" value="me"/><Application name="R"/><Annotation>hi</Annotation></Header>')).header
    assert h.application_name == "R"


def test_missing_header_gives_an_empty_header():
    assert read(tree(header="")).header.application_name is None


# --- DataDictionary ------------------------------------------------------------------------------


def _field(xml: str):
    return read(tree(dd=f"<DataDictionary>{xml}</DataDictionary>")).data_fields[0]


def test_data_field_name_optype_datatype():
    f = _field('<DataField name="x" optype="continuous" dataType="double"/>')
    assert (f.name, f.op_type, f.data_type) == ("x", OpType.CONTINUOUS, DataType.DOUBLE)


@pytest.mark.parametrize("dt", [d.value for d in DataType])
def test_data_field_every_data_type(dt):
    assert _field(f'<DataField name="x" optype="continuous" dataType="{dt}"/>').data_type == DataType(dt)


@pytest.mark.parametrize("op", ["categorical", "ordinal", "continuous"])
def test_data_field_every_optype(op):
    assert _field(f'<DataField name="x" optype="{op}" dataType="string"/>').op_type == OpType(op)


def test_data_field_valid_values_in_order():
    f = _field('<DataField name="c" optype="ordinal" dataType="string"><Value value="lo"/><Value value="mid" property="valid"/><Value value="hi"/></DataField>')
    assert f.values == ("lo", "mid", "hi")


def test_data_field_invalid_values():
    f = _field('<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="bad" property="invalid"/></DataField>')
    assert (f.values, f.invalid_values) == (("a",), ("bad",))


def test_data_field_missing_values():
    f = _field('<DataField name="x" optype="continuous" dataType="double"><Value value="-999" property="missing"/></DataField>')
    assert (f.values, f.missing_values) == ((), ("-999",))


def test_data_field_display_values():
    f = _field('<DataField name="c" optype="categorical" dataType="string"><Value value="0" displayValue="zero"/><Value value="1"/></DataField>')
    assert f.display_values == (("0", "zero"),)


@pytest.mark.parametrize("closure", ["openClosed", "openOpen", "closedOpen", "closedClosed"])
def test_interval_closure(closure):
    f = _field(f'<DataField name="x" optype="continuous" dataType="double"><Interval closure="{closure}" leftMargin="0" rightMargin="1"/></DataField>')
    assert f.intervals == (Interval(closure, 0.0, 1.0),)


def test_interval_without_left_margin():
    f = _field('<DataField name="x" optype="continuous" dataType="double"><Interval closure="openClosed" rightMargin="5"/></DataField>')
    assert f.intervals == (Interval("openClosed", None, 5.0),)


def test_interval_without_right_margin():
    f = _field('<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedOpen" leftMargin="-1.5e2"/></DataField>')
    assert f.intervals == (Interval("closedOpen", -150.0, None),)


def test_interval_left_above_right_is_invalid():
    raises(InvalidMarkup, tree(dd='<DataDictionary><DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="2" rightMargin="1"/></DataField></DataDictionary>'),
           "leftMargin 2.0 is greater than rightMargin 1.0")


def test_interval_bad_closure_is_invalid():
    raises(InvalidMarkup, tree(dd='<DataDictionary><DataField name="x" optype="continuous" dataType="double"><Interval closure="open"/></DataField></DataDictionary>'),
           "Invalid value 'open' for attribute closure of Interval")


def test_data_field_without_name_is_invalid():
    data = tree(dd='<DataDictionary>\n<DataField name="a" optype="continuous" dataType="double"/>\n<DataField optype="continuous" dataType="double"/></DataDictionary>')
    raises(InvalidMarkup, data, "Missing required attribute name of DataField at PMML/DataDictionary/DataField[2]",
           f"(line {line_of(data, '<DataField optype')})")


def test_data_field_unknown_data_type_is_invalid():
    raises(InvalidMarkup, tree(dd='<DataDictionary><DataField name="x" optype="continuous" dataType="real"/></DataDictionary>'),
           "Invalid value 'real' for attribute dataType of DataField")


def test_data_field_unknown_optype_is_invalid():
    raises(InvalidMarkup, tree(dd='<DataDictionary><DataField name="x" optype="numeric" dataType="double"/></DataDictionary>'),
           "Invalid value 'numeric' for attribute optype of DataField", "expected one of")


def test_data_field_names_keep_their_blanks():  # SAS writes names with trailing blanks
    assert _field('<DataField name="P_x " optype="continuous" dataType="double"/>').name == "P_x "


def test_data_field_loc():
    data = tree()
    f = read(data).data_fields[1]
    assert f.loc == Loc("PMML/DataDictionary/DataField[2]", line_of(data, '<DataField name="c"'))


def test_data_field_taxonomy_is_ignored():
    dd = DD.replace("</DataDictionary>", '<Taxonomy name="t"><ChildParent childField="a" parentField="b"/></Taxonomy></DataDictionary>')
    assert len(read(tree(dd=dd)).data_fields) == 3


# --- MiningSchema --------------------------------------------------------------------------------


def _mf(attrs: str, **kw):
    s = f'<MiningSchema><MiningField name="x" {attrs}/></MiningSchema>'
    return read(pmml(f'<TreeModel functionName="regression">{s}<Node score="1"><True/></Node></TreeModel>', **kw)).model.mining_schema[0]


def test_mining_field_defaults():
    f = _mf("")
    assert (f.name, f.usage_type, f.op_type, f.outliers, f.low_value, f.high_value) == ("x", "active", None, "asIs", None, None)
    assert (f.missing_value_replacement, f.missing_value_treatment, f.invalid_value_treatment, f.invalid_value_replacement) == (None, None, "returnInvalid", None)


@pytest.mark.parametrize("usage", ["active", "predicted", "target", "supplementary", "group", "order", "frequencyWeight", "analysisWeight"])
def test_mining_field_usage_type(usage):
    assert _mf(f'usageType="{usage}"').usage_type == usage


def test_mining_field_predicted_and_target_both_mark_the_target():
    assert _mf('usageType="predicted"').is_target and _mf('usageType="target"').is_target


def test_mining_field_unknown_usage_type_is_invalid():
    raises(InvalidMarkup, tree(inside="").replace(b'<MiningField name="x"/>', b'<MiningField name="x" usageType="foo"/>'),
           "Invalid value 'foo' for attribute usageType of MiningField at PMML/TreeModel/MiningSchema/MiningField")


def test_mining_field_optype():
    assert _mf('optype="categorical"').op_type == OpType.CATEGORICAL


@pytest.mark.parametrize("outliers", ["asIs", "asMissingValues", "asExtremeValues"])
def test_mining_field_outliers(outliers):
    assert _mf(f'outliers="{outliers}"').outliers == outliers


def test_mining_field_low_and_high_value():
    f = _mf('lowValue="-1" highValue="2.5"')
    assert (f.low_value, f.high_value) == (-1.0, 2.5)


def test_mining_field_non_numeric_low_value_is_invalid():
    raises(InvalidMarkup, tree().replace(b'<MiningField name="x"/>', b'<MiningField name="x" lowValue="low"/>'),
           "Invalid value 'low' for attribute lowValue of MiningField")


def test_mining_field_missing_value_replacement():
    assert _mf('missingValueReplacement="3.5"').missing_value_replacement == "3.5"


@pytest.mark.parametrize("mvt", ["asIs", "asMean", "asMode", "asMedian", "asValue", "returnInvalid"])
def test_mining_field_missing_value_treatment(mvt):
    assert _mf(f'missingValueTreatment="{mvt}"').missing_value_treatment == mvt


@pytest.mark.parametrize("ivt", ["returnInvalid", "asIs", "asMissing", "asValue"])
def test_mining_field_invalid_value_treatment(ivt):
    assert _mf(f'invalidValueTreatment="{ivt}"').invalid_value_treatment == ivt


def test_mining_field_invalid_value_replacement():
    assert _mf('invalidValueTreatment="asValue" invalidValueReplacement="0"').invalid_value_replacement == "0"


def test_mining_field_x_invalid_value_replacement_in_old_documents():  # JPMML's <= 4.3 spelling
    f = _mf('invalidValueTreatment="asIs" x-invalidValueReplacement="0"', ns="http://www.dmg.org/PMML-4_3", version="4.3")
    assert (f.invalid_value_treatment, f.invalid_value_replacement) == ("asIs", "0")


def test_mining_field_loc():
    data = tree()
    f = read(data).model.mining_schema[2]
    assert f.loc == Loc("PMML/TreeModel/MiningSchema/MiningField[3]", line_of(data, '<MiningField name="y"'))


def test_model_without_mining_schema_is_invalid():
    raises(InvalidMarkup, pmml('<TreeModel functionName="regression"><Node score="1"><True/></Node></TreeModel>'),
           "TreeModel has no MiningSchema")


# --- Targets -------------------------------------------------------------------------------------


def _target(xml: str, **kw):
    return model(tree(inside=f"<Targets>{xml}</Targets>", **kw)).targets[0]


def test_target_defaults():
    t = _target("<Target/>")
    assert (t.field, t.op_type, t.cast_integer, t.min, t.max, t.rescale_factor, t.rescale_constant) == (None, None, None, None, None, 1.0, 0.0)


def test_target_field_and_optype():
    t = _target('<Target field="y" optype="continuous"/>')
    assert (t.field, t.op_type) == ("y", OpType.CONTINUOUS)


@pytest.mark.parametrize("cast", ["round", "ceiling", "floor"])
def test_target_cast_integer(cast):
    assert _target(f'<Target castInteger="{cast}"/>').cast_integer == cast


def test_target_min_max():
    t = _target('<Target min="0" max="10"/>')
    assert (t.min, t.max) == (0.0, 10.0)


def test_target_rescale():
    t = _target('<Target rescaleFactor="0.1" rescaleConstant="-3"/>')
    assert (t.rescale_factor, t.rescale_constant) == (0.1, -3.0)


def test_target_values():
    t = _target('<Target field="y"><TargetValue value="a" displayValue="A" priorProbability="0.25"/><TargetValue defaultValue="432.21"/></Target>')
    assert (t.values[0].value, t.values[0].display_value, t.values[0].prior_probability) == ("a", "A", 0.25)
    assert t.values[1].default_value == 432.21


def test_target_value_raw_data_value_in_pmml_3_1():  # renamed displayValue in 3.2
    t = _target('<Target field="y"><TargetValue value="a" rawDataValue="A"/></Target>', ns="http://www.dmg.org/PMML-3_1", version="3.1")
    assert t.values[0].display_value == "A"


def test_target_loc():
    data = tree(inside="<Targets>\n<Target/></Targets>")
    assert model(data).targets[0].loc.line == line_of(data, "<Target/>")


# --- Output --------------------------------------------------------------------------------------


def _of(xml: str):
    return model(tree(inside=f"<Output>{xml}</Output>")).output[0]


def test_no_output_element_gives_none():
    assert model(tree()).output is None


def test_empty_output_gives_empty_tuple():
    assert model(tree(inside="<Output/>")).output == ()


def test_output_field_defaults():
    f = _of('<OutputField name="p"/>')
    assert (f.name, f.feature, f.rank, f.rank_order, f.rank_basis, f.is_multi_valued, f.is_final_result) == ("p", "predictedValue", 1, "descending", "confidence", False, True)
    assert (f.display_name, f.op_type, f.data_type, f.target_field, f.value, f.segment_id, f.expression, f.decisions) == (None,) * 7 + ((),)
    assert (f.rule_feature, f.algorithm) == ("consequent", "exclusiveRecommendation")


def test_output_field_name_display_name_optype_datatype():
    f = _of('<OutputField name="p" displayName="P" optype="continuous" dataType="float"/>')
    assert (f.display_name, f.op_type, f.data_type) == ("P", OpType.CONTINUOUS, DataType.FLOAT)


def test_output_field_target_field():
    assert _of('<OutputField name="p" targetField="y"/>').target_field == "y"


@pytest.mark.parametrize("feature", ["predictedValue", "predictedDisplayValue", "transformedValue", "decision", "probability",
                                     "affinity", "residual", "standardError", "standardDeviation", "clusterId", "clusterAffinity",
                                     "entityId", "entityAffinity", "warning", "ruleValue", "reasonCode", "confidence", "x-report"])
def test_output_field_feature(feature):
    assert _of(f'<OutputField name="p" feature="{feature}"/>').feature == feature


def test_output_field_unknown_feature_is_invalid():
    raises(InvalidMarkup, tree(inside='<Output><OutputField name="p" feature="prob"/></Output>'),
           "Invalid value 'prob' for attribute feature of OutputField at PMML/TreeModel/Output/OutputField")


def test_output_field_unknown_x_feature_is_unsupported():
    raises(UnsupportedMarkup, tree(inside='<Output><OutputField name="p" feature="x-magic"/></Output>'), "'x-magic'")


def test_output_field_value():
    assert _of('<OutputField name="p" feature="probability" value="yes"/>').value == "yes"


def test_output_field_rank_order_basis():
    f = _of('<OutputField name="p" rank="2" rankOrder="ascending" rankBasis="support"/>')
    assert (f.rank, f.rank_order, f.rank_basis) == (2, "ascending", "support")


def test_output_field_non_integer_rank_is_invalid():
    raises(InvalidMarkup, tree(inside='<Output><OutputField name="p" rank="1.5"/></Output>'), "Invalid value '1.5' for attribute rank")


def test_output_field_is_multi_valued():
    assert _of('<OutputField name="p" isMultiValued="1"/>').is_multi_valued is True


def test_output_field_segment_id():
    assert _of('<OutputField name="p" segmentId="3"/>').segment_id == "3"


def test_output_field_is_final_result():
    assert _of('<OutputField name="p" isFinalResult="false"/>').is_final_result is False


def test_output_field_rule_feature_and_algorithm():
    f = _of('<OutputField name="p" ruleFeature="ruleId" algorithm="recommendation"/>')
    assert (f.rule_feature, f.algorithm) == ("ruleId", "recommendation")


def test_output_field_expression():
    f = _of('<OutputField name="p" feature="transformedValue"><FieldRef field="x"/></OutputField>')
    assert f.expression == FieldRef(field="x")


def test_output_field_decisions():
    f = _of('<OutputField name="d" feature="decision"><FieldRef field="x"/><Decisions businessProblem="b">'
            '<Decision value="waive" displayValue="W" description="let go"/><Decision value="refer"/></Decisions></OutputField>')
    assert f.decisions == (Decision(value="waive", display_value="W", description="let go"), Decision(value="refer"))


def test_output_field_values():  # PMML 4.4: the values of a categorical output
    assert _of('<OutputField name="o" optype="categorical" dataType="integer"><Value value="-1"/><Value value="1"/></OutputField>').values == ("-1", "1")


def test_output_field_loc():
    data = tree(inside='<Output>\n<OutputField name="a"/>\n<OutputField name="b"/></Output>')
    assert model(data).output[1].loc == Loc("PMML/TreeModel/Output/OutputField[2]", line_of(data, '<OutputField name="b"'))
