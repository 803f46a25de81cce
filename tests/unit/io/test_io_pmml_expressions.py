"""PMML reader: TransformationDictionary, LocalTransformations and expressions."""

from __future__ import annotations

import pytest
from io_testlib import line_of, model, raises, read, tree

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import (
    Apply,
    Constant,
    DataType,
    DiscretizeBin,
    FieldColumnPair,
    FieldRef,
    Interval,
    LinearNorm,
    Loc,
    TextIndex,
    OpType,
    ParameterField,
)

TD = "<TransformationDictionary>{}</TransformationDictionary>"


def derived(expr: str, *, attrs: str = 'name="d" optype="continuous" dataType="double"', **kw):
    """The DerivedField of a TransformationDictionary holding ``expr``."""
    doc = read(tree(before=TD.format(f"<DerivedField {attrs}>{expr}</DerivedField>"), **kw))
    return doc.transformations.derived_fields[0]


def expr(xml: str, **kw):
    return derived(xml, **kw).expression


# --- dictionaries --------------------------------------------------------------------------------


def test_derived_field_attributes():
    d = derived('<FieldRef field="x"/>', attrs='name="d" displayName="D" optype="categorical" dataType="string"')
    assert (d.name, d.display_name, d.op_type, d.data_type) == ("d", "D", OpType.CATEGORICAL, DataType.STRING)


def test_derived_field_values():
    d = derived('<FieldRef field="c"/><Value value="a"/><Value value="b"/>', attrs='name="d" optype="ordinal" dataType="string"')
    assert d.values == ("a", "b")


def test_derived_field_without_expression_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"/>')),
           "DerivedField has no expression at PMML/TransformationDictionary/DerivedField")


def test_derived_field_with_two_expressions_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="x"/><FieldRef field="y"/></DerivedField>')),
           "DerivedField has 2 expression elements")


def test_derived_field_loc():
    data = tree(before=TD.format('\n<DerivedField name="a" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField>'
                                 '\n<DerivedField name="b" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField>'))
    d = read(data).transformations.derived_fields[1]
    assert d.loc == Loc("PMML/TransformationDictionary/DerivedField[2]", line_of(data, '<DerivedField name="b"'))


def test_define_function():
    f = read(tree(before=TD.format(
        '<DefineFunction name="f" optype="continuous" dataType="double">'
        '<ParameterField name="a" optype="continuous" dataType="double"/><ParameterField name="b"/>'
        '<Apply function="+"><FieldRef field="a"/><FieldRef field="b"/></Apply></DefineFunction>'))).define_functions[0]
    assert (f.name, f.op_type, f.data_type) == ("f", OpType.CONTINUOUS, DataType.DOUBLE)
    assert f.parameters == (ParameterField(name="a", op_type=OpType.CONTINUOUS, data_type=DataType.DOUBLE), ParameterField(name="b"))
    assert f.expression == Apply(function="+", args=(FieldRef(field="a"), FieldRef(field="b")))


def test_define_function_without_data_type():
    f = read(tree(before=TD.format('<DefineFunction name="f" optype="categorical"><ParameterField name="a"/><FieldRef field="a"/></DefineFunction>'))).define_functions[0]
    assert f.data_type is None


def test_define_function_with_derived_field_is_unsupported():  # a JPMML-only construct
    raises(UnsupportedMarkup, tree(before=TD.format(
        '<DefineFunction name="f" optype="continuous"><ParameterField name="a"/>'
        '<DerivedField name="t" optype="continuous" dataType="double"><FieldRef field="a"/></DerivedField><FieldRef field="a"/></DefineFunction>')),
        "Unsupported element DerivedField at PMML/TransformationDictionary/DefineFunction/DerivedField")


def test_local_transformations_of_a_model():
    lt = '<LocalTransformations><DerivedField name="l" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></LocalTransformations>'
    (d,) = model(tree(inside=lt)).local_transformations
    assert (d.name, d.expression) == ("l", FieldRef(field="x"))


# --- Constant ------------------------------------------------------------------------------------


def test_constant_value_and_data_type():
    c = expr('<Constant dataType="integer">7</Constant>')
    assert (c.value, c.data_type, c.missing) == ("7", DataType.INTEGER, False)


def test_constant_without_data_type():
    assert expr("<Constant>1.5</Constant>") == Constant(value="1.5")


def test_constant_text_is_kept_as_written():
    assert expr('<Constant dataType="string"> a b </Constant>').value == " a b "


def test_constant_empty_element_has_no_value():
    assert expr('<Constant dataType="string"/>').value is None


def test_constant_missing():
    c = expr('<Constant dataType="double" missing="true"/>')
    assert (c.value, c.missing) == (None, True)


def test_constant_bad_missing_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><Constant missing="yes"/></DerivedField>')),
           "Invalid value 'yes' for attribute missing of Constant")


def test_constant_sas_field_name_is_read_faithfully():  # SAS means a field reference; evaluation fixes it
    assert expr("<Constant>FMTWIDTH</Constant>") == Constant(value="FMTWIDTH")


def test_constant_character_references_and_cdata():
    assert expr("<Constant>&lt;a&gt;<![CDATA[&b]]></Constant>").value == "<a>&b"


# --- FieldRef ------------------------------------------------------------------------------------


def test_field_ref():
    assert expr('<FieldRef field="x"/>') == FieldRef(field="x")


def test_field_ref_map_missing_to():
    assert expr('<FieldRef field="x" mapMissingTo="0"/>').map_missing_to == "0"


def test_field_ref_without_field_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><FieldRef/></DerivedField>')),
           "Missing required attribute field of FieldRef at PMML/TransformationDictionary/DerivedField/FieldRef")


# --- NormContinuous / NormDiscrete ----------------------------------------------------------------


def test_norm_continuous():
    n = expr('<NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>')
    assert (n.field, n.norms, n.outliers, n.map_missing_to) == ("x", (LinearNorm(orig=0.0, norm=0.0), LinearNorm(orig=10.0, norm=1.0)), "asIs", None)


@pytest.mark.parametrize("outliers", ["asIs", "asMissingValues", "asExtremeValues"])
def test_norm_continuous_outliers(outliers):
    n = expr(f'<NormContinuous field="x" outliers="{outliers}"><LinearNorm orig="0" norm="0"/><LinearNorm orig="1" norm="1"/></NormContinuous>')
    assert n.outliers == outliers


def test_norm_continuous_map_missing_to():
    n = expr('<NormContinuous field="x" mapMissingTo="0.5"><LinearNorm orig="0" norm="0"/><LinearNorm orig="1" norm="1"/></NormContinuous>')
    assert n.map_missing_to == 0.5


def test_norm_continuous_with_one_linear_norm_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><NormContinuous field="x"><LinearNorm orig="0" norm="0"/></NormContinuous></DerivedField>')),
           "NormContinuous has 1 LinearNorm elements, expected at least 2")


def test_linear_norm_bad_number_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="ten" norm="1"/></NormContinuous></DerivedField>')),
           "Invalid value 'ten' for attribute orig of LinearNorm at PMML/TransformationDictionary/DerivedField/NormContinuous/LinearNorm[2]")


def test_norm_discrete():
    n = expr('<NormDiscrete field="c" value="a"/>')
    assert (n.field, n.value, n.map_missing_to) == ("c", "a", None)


def test_norm_discrete_map_missing_to():
    assert expr('<NormDiscrete field="c" value="a" mapMissingTo="0"/>').map_missing_to == 0.0


def test_norm_discrete_old_method_attribute_is_ignored():
    assert expr('<NormDiscrete field="c" value="a" method="indicator"/>').value == "a"


# --- Discretize ------------------------------------------------------------------------------------


def test_discretize():
    d = expr('<Discretize field="x"><DiscretizeBin binValue="lo"><Interval closure="openClosed" rightMargin="0"/></DiscretizeBin>'
             '<DiscretizeBin binValue="hi"><Interval closure="openOpen" leftMargin="0"/></DiscretizeBin></Discretize>')
    assert d.field == "x"
    assert d.bins == (DiscretizeBin(bin_value="lo", interval=Interval("openClosed", None, 0.0)),
                      DiscretizeBin(bin_value="hi", interval=Interval("openOpen", 0.0, None)))


def test_discretize_map_missing_to():
    assert expr('<Discretize field="x" mapMissingTo="Missing"/>').map_missing_to == "Missing"


def test_discretize_default_value():
    assert expr('<Discretize field="x" defaultValue="other"/>').default_value == "other"


def test_discretize_data_type():
    assert expr('<Discretize field="x" dataType="integer"/>').data_type == DataType.INTEGER


def test_discretize_bin_without_interval_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="categorical" dataType="string"><Discretize field="x"><DiscretizeBin binValue="a"/></Discretize></DerivedField>')),
           "DiscretizeBin has no Interval")


# --- MapValues / InlineTable ------------------------------------------------------------------------

MV = ('<MapValues outputColumn="out" {attrs}><FieldColumnPair field="c" column="in"/>'
      "<InlineTable><row><in>a</in><out>1</out></row><row><in>b</in><out>2</out></row></InlineTable></MapValues>")


def test_map_values():
    m = expr(MV.format(attrs=""))
    assert m.output_column == "out"
    assert m.field_column_pairs == (FieldColumnPair(field="c", column="in"),)
    assert m.table.dict_rows() == [{"in": "a", "out": "1"}, {"in": "b", "out": "2"}]
    assert (m.map_missing_to, m.default_value, m.data_type) == (None, None, None)


def test_map_values_map_missing_to():
    assert expr(MV.format(attrs='mapMissingTo="-1"')).map_missing_to == "-1"


def test_map_values_default_value():
    assert expr(MV.format(attrs='defaultValue="0"')).default_value == "0"


def test_map_values_data_type():
    assert expr(MV.format(attrs='dataType="integer"')).data_type == DataType.INTEGER


def test_inline_table_prefixed_columns_are_read_by_local_name():  # JPMML-SkLearn writes data:input
    m = expr('<MapValues outputColumn="data:output"><FieldColumnPair field="c" column="data:input"/><InlineTable>'
             '<row><data:input xmlns:data="http://jpmml.org/jpmml-model/InlineTable">a</data:input>'
             '<data:output xmlns:data="http://jpmml.org/jpmml-model/InlineTable">1</data:output></row></InlineTable></MapValues>')
    assert m.table.dict_rows() == [{"input": "a", "output": "1"}]
    assert (m.output_column, m.field_column_pairs[0].column) == ("output", "input")


def test_inline_table_pmml_namespace_columns():
    assert expr(MV.format(attrs="")).table.rows[0] == (("in", "a"), ("out", "1"))


def test_inline_table_column_named_like_a_pmml_element():
    m = expr('<MapValues outputColumn="Value"><FieldColumnPair field="c" column="Constant"/><InlineTable>'
             "<row><Constant>a</Constant><Value>1</Value></row></InlineTable></MapValues>")
    assert m.table.dict_rows() == [{"Constant": "a", "Value": "1"}]


def test_inline_table_extension_in_a_row_is_ignored():  # as JPMML does
    m = expr('<MapValues outputColumn="out"><FieldColumnPair field="c" column="in"/><InlineTable><Extension name="x"/>'
             '<row><Extension name="id" value="1"/><in>a</in><out>1</out></row></InlineTable></MapValues>')
    assert m.table.dict_rows() == [{"in": "a", "out": "1"}]


def test_inline_table_empty_cell():
    assert expr('<MapValues outputColumn="out"><FieldColumnPair field="c" column="in"/><InlineTable><row><in/><out>1</out></row></InlineTable></MapValues>').table.rows[0][0] == ("in", "")


def test_map_values_table_locator_is_unsupported():
    raises(UnsupportedMarkup, tree(before=TD.format('<DerivedField name="d" optype="categorical" dataType="string"><MapValues outputColumn="o"><TableLocator/></MapValues></DerivedField>')),
           "Unsupported element TableLocator: a table held outside the document (TableLocator) cannot be read; put the rows in an InlineTable"
           " at PMML/TransformationDictionary/DerivedField/MapValues/TableLocator")


# --- Apply -----------------------------------------------------------------------------------------


def test_apply_function_and_arguments():
    a = expr('<Apply function="if"><FieldRef field="x"/><Constant>1</Constant><Apply function="log10"><FieldRef field="y"/></Apply></Apply>')
    assert a == Apply(function="if", args=(FieldRef(field="x"), Constant(value="1"), Apply(function="log10", args=(FieldRef(field="y"),))))


def test_apply_defaults():
    a = expr('<Apply function="isMissing"><FieldRef field="x"/></Apply>')
    assert (a.map_missing_to, a.default_value, a.invalid_value_treatment) == (None, None, "returnInvalid")


def test_apply_map_missing_to():
    assert expr('<Apply function="+" mapMissingTo="0"><FieldRef field="x"/></Apply>').map_missing_to == "0"


def test_apply_default_value():
    assert expr('<Apply function="+" defaultValue="0"><FieldRef field="x"/></Apply>').default_value == "0"


@pytest.mark.parametrize("ivt", ["returnInvalid", "asIs", "asMissing"])
def test_apply_invalid_value_treatment(ivt):
    assert expr(f'<Apply function="+" invalidValueTreatment="{ivt}"><FieldRef field="x"/></Apply>').invalid_value_treatment == ivt


def test_apply_unknown_invalid_value_treatment_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><Apply function="+" invalidValueTreatment="ignore"/></DerivedField>')),
           "Invalid value 'ignore' for attribute invalidValueTreatment of Apply")


def test_apply_map_missing_to_in_pmml_4_1_means_default_value():  # renamed in 4.2 (JPMML ImportFilter)
    a = expr('<Apply function="+" mapMissingTo="0"><FieldRef field="x"/></Apply>', ns="http://www.dmg.org/PMML-4_1", version="4.1")
    assert (a.map_missing_to, a.default_value) == (None, "0")


def test_apply_map_missing_to_in_pmml_4_2_is_kept():
    a = expr('<Apply function="+" mapMissingTo="0"><FieldRef field="x"/></Apply>', ns="http://www.dmg.org/PMML-4_2", version="4.2")
    assert (a.map_missing_to, a.default_value) == ("0", None)


def test_apply_x_function_is_renamed_up_to_pmml_4_3():
    assert expr('<Apply function="x-sinh"><FieldRef field="x"/></Apply>', ns="http://www.dmg.org/PMML-4_3", version="4.3").function == "sinh"


def test_apply_x_function_is_kept_in_pmml_4_4():
    assert expr('<Apply function="x-sinh"><FieldRef field="x"/></Apply>').function == "x-sinh"


def test_apply_without_function_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><Apply/></DerivedField>')),
           "Missing required attribute function of Apply")


def test_apply_loc():
    data = tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double">\n<Apply function="+"><FieldRef field="x"/>\n<FieldRef field="y"/></Apply></DerivedField>'))
    a = read(data).transformations.derived_fields[0].expression
    assert a.loc == Loc("PMML/TransformationDictionary/DerivedField/Apply", line_of(data, "<Apply"))
    assert a.args[1].loc == Loc("PMML/TransformationDictionary/DerivedField/Apply/FieldRef[2]", line_of(data, '<FieldRef field="y"'))


def test_lag_and_aggregate_are_read():
    from quickscore.ir.expressions import Aggregate, Lag

    lag = expr('<Lag field="x" n="2" aggregate="sum" m="3"><BlockIndicator field="c"/><BlockIndicator field="y"/></Lag>')
    assert lag == Lag(field="x", n=2, aggregate="sum", m=3, block_indicators=("c", "y"))
    assert expr('<Aggregate field="x" function="average" groupField="c"/>') == Aggregate(field="x", function="average", group_field="c")
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><Aggregate field="x"/></DerivedField>')),
           "Missing required attribute function of Aggregate")


def test_unknown_expression_element_is_unsupported():
    raises(UnsupportedMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><Magic field="x"/></DerivedField>')),
           "Unsupported element Magic")


def test_pmml_element_in_the_wrong_place_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><MiningField name="x"/></DerivedField>')),
           "Unexpected element MiningField in DerivedField at PMML/TransformationDictionary/DerivedField/MiningField")


# --- TextIndex -------------------------------------------------------------------------------------


def test_text_index_defaults():
    t = expr('<TextIndex textField="doc"><FieldRef field="term"/></TextIndex>')
    assert t == TextIndex(text_field="doc", term=FieldRef(field="term"))
    assert (t.local_term_weights, t.is_case_sensitive, t.max_levenshtein_distance, t.count_hits, t.word_separator_character_re, t.tokenize, t.word_re) == (
        "termFrequency", False, 0, "allHits", r"\s+", True, None)


@pytest.mark.parametrize("ltw", ["termFrequency", "binary", "logarithmic", "augmentedNormalizedTermFrequency"])
def test_text_index_local_term_weights(ltw):
    assert expr(f'<TextIndex textField="doc" localTermWeights="{ltw}"><Constant>a</Constant></TextIndex>').local_term_weights == ltw


def test_text_index_case_sensitivity_and_levenshtein():
    t = expr('<TextIndex textField="doc" isCaseSensitive="true" maxLevenshteinDistance="2"><Constant>a</Constant></TextIndex>')
    assert (t.is_case_sensitive, t.max_levenshtein_distance) == (True, 2)


def test_text_index_count_hits():
    assert expr('<TextIndex textField="doc" countHits="bestHits"><Constant>a</Constant></TextIndex>').count_hits == "bestHits"


def test_text_index_tokenizing():
    t = expr('<TextIndex textField="doc" wordSeparatorCharacterRE="[ ,]" tokenize="false"><Constant>a</Constant></TextIndex>')
    assert (t.word_separator_character_re, t.tokenize) == ("[ ,]", False)


def test_text_index_x_word_re():  # JPMML-SkLearn's extension attribute
    assert expr('<TextIndex textField="doc" x-wordRE="(?u)\\b\\w\\w+\\b"><Constant>a</Constant></TextIndex>').word_re == r"(?u)\b\w\w+\b"


def test_text_index_without_term_is_invalid():
    raises(InvalidMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><TextIndex textField="doc"/></DerivedField>')),
           "TextIndex has no expression at PMML/TransformationDictionary/DerivedField/TextIndex")


def test_text_index_normalization():
    t = expr('<TextIndex textField="doc"><TextIndexNormalization inField="data:from" outField="data:to" regexField="re" recursive="true">'
             '<InlineTable><row><data:from xmlns:data="urn:d">a+</data:from><data:to xmlns:data="urn:d">a</data:to><re>true</re></row></InlineTable>'
             '</TextIndexNormalization><FieldRef field="term"/></TextIndex>')
    (n,) = t.normalizations
    assert (n.in_field, n.out_field, n.regex_field, n.recursive) == ("from", "to", "re", True)
    assert n.table.dict_rows() == [{"from": "a+", "to": "a", "re": "true"}]
    assert (n.is_case_sensitive, n.max_levenshtein_distance, n.word_separator_character_re, n.tokenize, n.word_re) == (None,) * 5


def test_text_index_normalization_tokenizing_overrides():
    t = expr('<TextIndex textField="doc"><TextIndexNormalization isCaseSensitive="true" maxLevenshteinDistance="1" '
             'wordSeparatorCharacterRE="," tokenize="false" x-wordRE="\\w+"><InlineTable/></TextIndexNormalization><Constant>a</Constant></TextIndex>')
    n = t.normalizations[0]
    assert (n.in_field, n.is_case_sensitive, n.max_levenshtein_distance, n.word_separator_character_re, n.tokenize, n.word_re) == (
        "string", True, 1, ",", False, r"\w+")


def test_text_index_normalization_table_locator_is_unsupported():
    raises(UnsupportedMarkup, tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double"><TextIndex textField="doc">'
                                                    '<TextIndexNormalization><TableLocator/></TextIndexNormalization><Constant>a</Constant></TextIndex></DerivedField>')),
           "Unsupported element TableLocator")


def test_text_index_loc():
    data = tree(before=TD.format('<DerivedField name="d" optype="continuous" dataType="double">\n<TextIndex textField="doc"><Constant>a</Constant></TextIndex></DerivedField>'))
    t = read(data).transformations.derived_fields[0].expression
    assert t.loc == Loc("PMML/TransformationDictionary/DerivedField/TextIndex", line_of(data, "<TextIndex"))
