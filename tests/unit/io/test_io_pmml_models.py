"""PMML reader: TreeModel (Nodes, predicates), RegressionModel, MiningModel."""

from __future__ import annotations

import copy
import pickle

import pytest
from io_testlib import SCHEMA, child, line_of, mining, model, node_with, pmml, raises, regression, segment, tree

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import (
    CategoricalPredictor,
    CompoundPredicate,
    FalsePredicate,
    FieldRef,
    Loc,
    MiningModel,
    Node,
    NumericPredictor,
    PredictorTerm,
    RegressionModel,
    ScoreDistribution,
    SimplePredicate,
    SimpleSetPredicate,
    TreeModel,
    TruePredicate,
)

# --- model attributes (common) -------------------------------------------------------------------


@pytest.mark.parametrize("function", ["classification", "regression", "mixed", "clustering"])
def test_model_function_name(function):
    assert model(tree(attrs=f'functionName="{function}"')).function_name == function


def test_model_without_function_name_is_invalid():
    raises(InvalidMarkup, tree(attrs=""), "Missing required attribute functionName of TreeModel at PMML/TreeModel")


def test_model_unknown_function_name_is_invalid():
    raises(InvalidMarkup, tree(attrs='functionName="prediction"'), "Invalid value 'prediction' for attribute functionName of TreeModel")


def test_model_name_and_algorithm_name():
    m = model(tree(attrs='functionName="regression" modelName="m" algorithmName="rpart"'))
    assert (m.model_name, m.algorithm_name) == ("m", "rpart")


def test_model_is_scorable():
    assert model(tree()).is_scorable is True
    assert model(tree(attrs='functionName="regression" isScorable="false"')).is_scorable is False


def test_model_math_context_default_is_double():
    assert model(tree()).math_context == "double"


def test_model_math_context():
    assert model(tree(attrs='functionName="regression" mathContext="float"')).math_context == "float"


def test_model_x_math_context():  # JPMML converters' spelling
    assert model(regression(attrs='functionName="regression" x-mathContext="float"')).math_context == "float"


def test_model_bad_math_context_is_invalid():
    raises(InvalidMarkup, tree(attrs='functionName="regression" mathContext="half"'), "Invalid value 'half' for attribute mathContext")


def test_model_loc():
    data = tree()
    assert model(data).loc == Loc("PMML/TreeModel", line_of(data, "<TreeModel"))


def test_model_extension_and_statistics_are_ignored():
    inside = ('<Extension name="a"><Node score="9"/></Extension><ModelStats><UnivariateStats field="x"/></ModelStats>'
              '<ModelExplanation/><vendor:thing xmlns:vendor="urn:vendor"><Node/></vendor:thing>')
    m = model(tree(inside=inside))
    assert m.root.score == "1"


def test_model_verification_is_ignored():
    data = tree().replace(b"</TreeModel>", b'<ModelVerification recordCount="1"><VerificationFields/><InlineTable/></ModelVerification></TreeModel>')
    assert model(data).root.score == "1"


# --- TreeModel -------------------------------------------------------------------------------------


def test_tree_model_defaults():
    m = model(tree())
    assert isinstance(m, TreeModel)
    assert (m.missing_value_strategy, m.missing_value_penalty, m.no_true_child_strategy, m.split_characteristic) == (
        "none", 1.0, "returnNullPrediction", "multiSplit")


@pytest.mark.parametrize("mvs", ["lastPrediction", "nullPrediction", "defaultChild", "weightedConfidence", "aggregateNodes", "none"])
def test_tree_missing_value_strategy(mvs):
    assert model(tree(attrs=f'functionName="regression" missingValueStrategy="{mvs}"')).missing_value_strategy == mvs


def test_tree_missing_value_penalty():
    assert model(tree(attrs='functionName="regression" missingValuePenalty="0.8"')).missing_value_penalty == 0.8


@pytest.mark.parametrize("ntc", ["returnNullPrediction", "returnLastPrediction"])
def test_tree_no_true_child_strategy(ntc):
    assert model(tree(attrs=f'functionName="regression" noTrueChildStrategy="{ntc}"')).no_true_child_strategy == ntc


@pytest.mark.parametrize("sc", ["binarySplit", "multiSplit"])
def test_tree_split_characteristic(sc):
    assert model(tree(attrs=f'functionName="regression" splitCharacteristic="{sc}"')).split_characteristic == sc


def test_tree_without_root_node_is_invalid():
    raises(InvalidMarkup, tree(nodes=""), "TreeModel has no Node")


def test_node_defaults():
    n = model(tree('<Node><True/></Node>')).root
    assert (n.id, n.score, n.record_count, n.default_child, n.children, n.distribution) == (None, None, None, None, (), ())


def test_node_id():
    assert model(tree('<Node id="n1"><True/></Node>')).root.id == "n1"


def test_node_score():
    assert model(tree('<Node score="setosa"><True/></Node>')).root.score == "setosa"


def test_node_record_count():
    assert model(tree('<Node recordCount="150"><True/></Node>')).root.record_count == 150.0


def test_node_bad_record_count_is_invalid():
    raises(InvalidMarkup, tree('<Node recordCount="many"><True/></Node>'), "Invalid value 'many' for attribute recordCount of Node at PMML/TreeModel/Node")


def test_node_default_child():
    assert model(tree('<Node defaultChild="2"><True/><Node id="2"><True/></Node></Node>')).root.default_child == "2"


def test_node_children_in_order():
    root = model(tree('<Node><True/><Node id="a"><True/></Node><Node id="b"><False/><Node id="c"><True/></Node></Node></Node>')).root
    assert [c.id for c in root.children] == ["a", "b"]
    assert root.children[1].children[0].id == "c"


def test_node_without_predicate_is_invalid():
    raises(InvalidMarkup, tree('<Node score="1"/>'), "Node has no predicate at PMML/TreeModel/Node")


def test_node_with_two_predicates_is_invalid():
    raises(InvalidMarkup, tree('<Node><True/><False/></Node>'), "Node has more than one predicate")


def test_node_partition_and_extension_are_ignored():
    n = model(tree('<Node score="1"><Extension name="mean" value="3"/><True/><Partition name="p"><PartitionFieldStats field="x"/></Partition></Node>')).root
    assert (n.score, n.predicate) == ("1", TruePredicate())


@pytest.mark.parametrize("embedded", ["Regression", "DecisionTree"])
def test_node_embedded_model_is_unsupported(embedded):
    raises(UnsupportedMarkup, tree(f'<Node><True/><{embedded} functionName="regression"/></Node>'),
           f"Unsupported element {embedded} at PMML/TreeModel/Node/{embedded}")


def test_score_distribution():
    n = model(tree('<Node score="a"><True/><ScoreDistribution value="a" recordCount="3" confidence="0.75" probability="0.7"/>'
                   '<ScoreDistribution value="b" recordCount="1"/></Node>')).root
    assert n.distribution == (ScoreDistribution(value="a", record_count=3.0, confidence=0.75, probability=0.7),
                              ScoreDistribution(value="b", record_count=1.0))


def test_score_distribution_without_value_is_invalid():
    raises(InvalidMarkup, tree('<Node><True/><ScoreDistribution recordCount="1"/></Node>'), "Missing required attribute value of ScoreDistribution")


def test_score_distribution_bad_record_count_message():
    data = tree('<Node score="a">\n<True/>\n<ScoreDistribution value="a" recordCount="1"/>\n<ScoreDistribution value="b" recordCount="abc"/>\n</Node>')
    msg = raises(InvalidMarkup, data)
    line = line_of(data, 'recordCount="abc"')
    assert msg == f"Invalid value 'abc' for attribute recordCount of ScoreDistribution at PMML/TreeModel/Node/ScoreDistribution[2] (line {line})"


@pytest.mark.parametrize("number", ["1e3", "-0.5", "INF", "-INF", "NaN", " 7 "])
def test_numbers_in_xml_schema_spellings(number):
    assert model(tree(f'<Node recordCount="{number}"><True/></Node>')).root.record_count is not None


def test_number_with_underscore_is_invalid():  # Python's float() would accept it
    raises(InvalidMarkup, tree('<Node recordCount="1_000"><True/></Node>'), "Invalid value '1_000'")


def test_node_loc_and_predicate_loc():
    data = tree('<Node>\n<True/>\n<Node id="a">\n<True/>\n</Node>\n<Node id="b">\n<SimplePredicate field="x" operator="isMissing"/>\n</Node>\n</Node>')
    b = model(data).root.children[1]
    assert b.loc == Loc("PMML/TreeModel/Node/Node[2]", line_of(data, '<Node id="b"'))
    assert b.predicate.loc == Loc("PMML/TreeModel/Node/Node[2]/SimplePredicate", line_of(data, "<SimplePredicate"))


def test_loc_behaves_like_a_plain_loc():
    loc = model(tree()).root.loc
    plain = Loc(loc.path, loc.line)
    assert loc == plain and plain == loc and hash(loc) == hash(plain) and not (loc != plain)
    assert str(loc) == str(plain) == f"PMML/TreeModel/Node (line {loc.line})"
    assert pickle.loads(pickle.dumps(loc)) == plain and type(copy.deepcopy(loc)) is Loc


def test_nodes_read_equal_nodes_built_directly():
    root = model(tree('<Node id="1" score="a" recordCount="2"><SimplePredicate field="x" operator="lessThan" value="1"/></Node>')).root
    built = Node(predicate=SimplePredicate(field="x", operator="lessThan", value="1"), id="1", score="a", record_count=2.0)
    assert root == built and hash(root) == hash(built) and repr(root).startswith("Node(predicate=SimplePredicate(")
    assert pickle.loads(pickle.dumps(root)) == built


# --- predicates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual"])
def test_simple_predicate_operators(op):
    assert child(node_with(f'<SimplePredicate field="x" operator="{op}" value="1.5"/>')).predicate == SimplePredicate(field="x", operator=op, value="1.5")


@pytest.mark.parametrize("op", ["isMissing", "isNotMissing"])
def test_simple_predicate_missing_operators_take_no_value(op):
    assert child(node_with(f'<SimplePredicate field="x" operator="{op}"/>')).predicate.value is None


def test_simple_predicate_value_is_kept_as_written():
    assert child(node_with('<SimplePredicate field="c" operator="equal" value=" a "/>')).predicate.value == " a "


def test_simple_predicate_unknown_operator_is_invalid():
    raises(InvalidMarkup, node_with('<SimplePredicate field="x" operator="lt" value="1"/>'),
           "Invalid value 'lt' for attribute operator of SimplePredicate at PMML/TreeModel/Node/Node/SimplePredicate")


def test_simple_predicate_without_field_is_invalid():
    raises(InvalidMarkup, node_with('<SimplePredicate operator="equal" value="1"/>'), "Missing required attribute field of SimplePredicate")


def test_simple_predicate_comparison_without_value_is_invalid():
    raises(InvalidMarkup, node_with('<SimplePredicate field="x" operator="equal"/>'), "Missing attribute value of SimplePredicate")


@pytest.mark.parametrize("op", ["and", "or", "xor", "surrogate"])
def test_compound_predicate(op):
    p = child(node_with(f'<CompoundPredicate booleanOperator="{op}"><SimplePredicate field="x" operator="isMissing"/><False/></CompoundPredicate>')).predicate
    assert p == CompoundPredicate(boolean_operator=op, predicates=(SimplePredicate(field="x", operator="isMissing"), FalsePredicate()))


def test_compound_predicate_nested():
    p = child(node_with('<CompoundPredicate booleanOperator="and"><True/><CompoundPredicate booleanOperator="or"><False/><True/></CompoundPredicate></CompoundPredicate>')).predicate
    assert p.predicates[1] == CompoundPredicate(boolean_operator="or", predicates=(FalsePredicate(), TruePredicate()))


def test_compound_predicate_without_operands_is_invalid():
    raises(InvalidMarkup, node_with('<CompoundPredicate booleanOperator="and"/>'), "CompoundPredicate has no predicates")


@pytest.mark.parametrize("op", ["isIn", "isNotIn"])
def test_simple_set_predicate(op):
    p = child(node_with(f'<SimpleSetPredicate field="c" booleanOperator="{op}"><Array n="2" type="string">a b</Array></SimpleSetPredicate>')).predicate
    assert p == SimpleSetPredicate(field="c", boolean_operator=op, values=("a", "b"), array_type="string")


@pytest.mark.parametrize("kind,content,values", [
    ("int", "1 2  -3", ("1", "2", "-3")),
    ("real", "1.5\n-2e3\tINF", ("1.5", "-2e3", "INF")),
    ("string", '"a b" c "d \\"e\\""', ("a b", "c", 'd "e"')),
])
def test_array_types(kind, content, values):
    p = child(node_with(f'<SimpleSetPredicate field="c" booleanOperator="isIn"><Array type="{kind}">{content}</Array></SimpleSetPredicate>')).predicate
    assert (p.array_type, p.values) == (kind, values)


def test_array_quoted_entries_from_xml_entities():  # &quot; as Rattle and sklearn-pmml-model write them
    p = child(node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"><Array n="2" type="string">&quot;(20,30]&quot; &quot;(60, 70]&quot;</Array></SimpleSetPredicate>')).predicate
    assert p.values == ("(20,30]", "(60, 70]")


def test_array_empty_quoted_entry():
    p = child(node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"><Array type="string">"" x</Array></SimpleSetPredicate>')).predicate
    assert p.values == ("", "x")


def test_array_n_mismatch_is_invalid():  # JPMML refuses it too
    raises(InvalidMarkup, node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"><Array n="3" type="string">a b</Array></SimpleSetPredicate>'),
           "Array has 2 entries but n=3 at PMML/TreeModel/Node/Node/SimpleSetPredicate/Array")


def test_array_bad_int_is_invalid():
    raises(InvalidMarkup, node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"><Array type="int">1 x</Array></SimpleSetPredicate>'),
           "Invalid int value 'x' in Array")


def test_array_without_type_is_invalid():
    raises(InvalidMarkup, node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"><Array>a</Array></SimpleSetPredicate>'),
           "Missing required attribute type of Array")


def test_simple_set_predicate_without_array_is_invalid():
    raises(InvalidMarkup, node_with('<SimpleSetPredicate field="c" booleanOperator="isIn"/>'), "SimpleSetPredicate has no Array")


def test_true_and_false():
    assert child(node_with("<True/>")).predicate == TruePredicate()
    assert child(node_with("<False/>")).predicate == FalsePredicate()


def test_unknown_predicate_is_unsupported():
    data = node_with('\n<FuzzyPredicate field="x"/>')
    raises(UnsupportedMarkup, data, "Unsupported element FuzzyPredicate at PMML/TreeModel/Node/Node/FuzzyPredicate",
           f"(line {line_of(data, '<FuzzyPredicate')})")


# --- RegressionModel -------------------------------------------------------------------------------


def test_regression_model_defaults():
    m = model(regression())
    assert isinstance(m, RegressionModel)
    assert (m.normalization_method, m.model_type, m.target_field_name) == ("none", None, None)
    assert m.tables[0].intercept == 1.5


@pytest.mark.parametrize("nm", ["none", "simplemax", "softmax", "logit", "probit", "cloglog", "exp", "loglog", "cauchit"])
def test_regression_normalization_method(nm):
    assert model(regression(attrs=f'functionName="classification" normalizationMethod="{nm}"')).normalization_method == nm


@pytest.mark.parametrize("mt", ["linearRegression", "stepwisePolynomialRegression", "logisticRegression"])
def test_regression_model_type(mt):
    assert model(regression(attrs=f'functionName="regression" modelType="{mt}"')).model_type == mt


def test_regression_target_field_name():  # the PMML 3.x way to name the target
    assert model(regression(attrs='functionName="regression" targetFieldName="y"')).target_field_name == "y"


def test_regression_pmml_3_2_document():
    data = regression(attrs='functionName="regression" modelName="lm" modelType="linearRegression" targetFieldName="y"',
                      tables='<RegressionTable intercept="-17.2"><NumericPredictor name="x" coefficient="0.5"/></RegressionTable>',
                      ns="http://www.dmg.org/PMML-3_2", version="3.2")
    m = model(data)
    assert (m.model_type, m.target_field_name, m.tables[0].numeric) == ("linearRegression", "y", (NumericPredictor(name="x", coefficient=0.5),))


def test_regression_table_target_category():
    m = model(regression('<RegressionTable intercept="1" targetCategory="yes"/><RegressionTable intercept="0" targetCategory="no"/>',
                         attrs='functionName="classification" normalizationMethod="softmax"'))
    assert [t.target_category for t in m.tables] == ["yes", "no"]


def test_regression_table_without_intercept_is_invalid():  # JPMML: MissingAttributeException
    raises(InvalidMarkup, regression('<RegressionTable targetCategory="no"/>'),
           "Missing required attribute intercept of RegressionTable at PMML/RegressionModel/RegressionTable")


def test_regression_without_table_is_invalid():
    raises(InvalidMarkup, regression(""), "RegressionModel has no RegressionTable")


def test_numeric_predictor():
    t = model(regression('<RegressionTable intercept="0"><NumericPredictor name="x" exponent="2" coefficient="-0.25"/></RegressionTable>')).tables[0]
    assert t.numeric == (NumericPredictor(name="x", coefficient=-0.25, exponent=2),)


def test_numeric_predictor_default_exponent():
    assert model(regression('<RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/></RegressionTable>')).tables[0].numeric[0].exponent == 1


def test_numeric_predictor_without_coefficient_is_invalid():
    raises(InvalidMarkup, regression('<RegressionTable intercept="0"><NumericPredictor name="x"/></RegressionTable>'),
           "Missing required attribute coefficient of NumericPredictor at PMML/RegressionModel/RegressionTable/NumericPredictor")


def test_categorical_predictor():
    t = model(regression('<RegressionTable intercept="0"><CategoricalPredictor name="c" value="a" coefficient="3"/></RegressionTable>')).tables[0]
    assert t.categorical == (CategoricalPredictor(name="c", value="a", coefficient=3.0),)


def test_predictor_term():
    t = model(regression('<RegressionTable intercept="0"><PredictorTerm name="xy" coefficient="1.23"><FieldRef field="x"/><FieldRef field="y"/></PredictorTerm></RegressionTable>')).tables[0]
    assert t.terms == (PredictorTerm(coefficient=1.23, fields=("x", "y"), name="xy"),)


def test_predictor_term_without_field_refs_is_invalid():
    raises(InvalidMarkup, regression('<RegressionTable intercept="0"><PredictorTerm coefficient="1"/></RegressionTable>'), "PredictorTerm has no FieldRef")


# --- MiningModel -----------------------------------------------------------------------------------


def test_mining_model():
    m = model(mining(segment() + segment(attrs='id="2" weight="0.5"')))
    assert isinstance(m, MiningModel)
    s = m.segmentation
    assert (s.multiple_model_method, s.missing_prediction_treatment, s.missing_threshold) == ("sum", "continue", 1.0)
    assert [(x.id, x.weight) for x in s.segments] == [("1", 1.0), ("2", 0.5)]


@pytest.mark.parametrize("mmm", ["majorityVote", "weightedMajorityVote", "average", "weightedAverage", "median", "weightedMedian",
                                 "max", "sum", "weightedSum", "selectFirst", "selectAll", "modelChain", "x-multiModelChain"])
def test_segmentation_multiple_model_method(mmm):
    assert model(mining(segment(), seg_attrs=f'multipleModelMethod="{mmm}"')).segmentation.multiple_model_method == mmm


@pytest.mark.parametrize("old,new", [("x-weightedSum", "weightedSum"), ("x-weightedMedian", "weightedMedian")])
def test_segmentation_x_methods(old, new):
    assert model(mining(segment(), seg_attrs=f'multipleModelMethod="{old}"')).segmentation.multiple_model_method == new


def test_segmentation_unknown_method_is_invalid():
    raises(InvalidMarkup, mining(segment(), seg_attrs='multipleModelMethod="vote"'), "Invalid value 'vote' for attribute multipleModelMethod of Segmentation")


def test_segmentation_without_method_is_invalid():
    raises(InvalidMarkup, mining(segment(), seg_attrs=""), "Missing required attribute multipleModelMethod of Segmentation")


@pytest.mark.parametrize("mpt", ["returnMissing", "skipSegment", "continue"])
def test_segmentation_missing_prediction_treatment(mpt):
    s = model(mining(segment(), seg_attrs=f'multipleModelMethod="average" missingPredictionTreatment="{mpt}"')).segmentation
    assert s.missing_prediction_treatment == mpt


def test_segmentation_missing_threshold():
    assert model(mining(segment(), seg_attrs='multipleModelMethod="average" missingThreshold="0.5"')).segmentation.missing_threshold == 0.5


def test_segmentation_x_attributes_up_to_pmml_4_3():  # JPMML's spelling before 4.4
    s = model(mining(segment(), seg_attrs='multipleModelMethod="average" x-missingPredictionTreatment="skipSegment" x-missingThreshold="0.25"',
                     ns="http://www.dmg.org/PMML-4_3", version="4.3")).segmentation
    assert (s.missing_prediction_treatment, s.missing_threshold) == ("skipSegment", 0.25)


def test_segmentation_local_transformations():
    lt = '<LocalTransformations><DerivedField name="s" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></LocalTransformations>'
    assert model(mining(segment(), seg_inside=lt)).segmentation.local_transformations[0].name == "s"


def test_segment_predicate():
    p = model(mining(segment(predicate='<SimplePredicate field="x" operator="greaterThan" value="0"/>'))).segmentation.segments[0].predicate
    assert p == SimplePredicate(field="x", operator="greaterThan", value="0")


def test_segment_nested_models_of_each_type():
    reg = f'<RegressionModel functionName="regression">{SCHEMA}<RegressionTable intercept="1"/></RegressionModel>'
    inner = f'<MiningModel functionName="regression">{SCHEMA}<Segmentation multipleModelMethod="sum">{segment()}</Segmentation></MiningModel>'
    segs = model(mining(segment() + segment(reg, attrs='id="2"') + segment(inner, attrs='id="3"'),
                        seg_attrs='multipleModelMethod="modelChain"')).segmentation.segments
    assert [type(s.model).__name__ for s in segs] == ["TreeModel", "RegressionModel", "MiningModel"]
    assert isinstance(segs[2].model.segmentation.segments[0].model, TreeModel)


def test_segment_loc():
    data = mining(segment() + "\n" + segment(attrs='id="2"'))
    s = model(data).segmentation.segments[1]
    assert s.loc == Loc("PMML/MiningModel/Segmentation/Segment[2]", line_of(data, '<Segment id="2"'))
    assert s.model.root.loc.path == "PMML/MiningModel/Segmentation/Segment[2]/TreeModel/Node"


def test_segment_other_model_type_is_unsupported():
    raises(UnsupportedMarkup, mining(segment('<NeuralNetwork functionName="regression"/>')),
           "Unsupported element NeuralNetwork at PMML/MiningModel/Segmentation/Segment/NeuralNetwork")


def test_segment_variable_weight_is_unsupported():
    raises(UnsupportedMarkup, mining(segment().replace("</Segment>", '<VariableWeight field="w"/></Segment>')),
           "Unsupported element VariableWeight at PMML/MiningModel/Segmentation/Segment/VariableWeight")


def test_segment_without_model_is_invalid():
    raises(InvalidMarkup, mining("<Segment><True/></Segment>"), "Segment has no model at PMML/MiningModel/Segmentation/Segment")


def test_segment_without_predicate_is_invalid():
    raises(InvalidMarkup, mining(segment(predicate="")), "Segment has no predicate")


@pytest.mark.parametrize("embedded", ["Regression", "DecisionTree"])
def test_mining_model_embedded_models_are_unsupported(embedded):  # PMML 3.x-4.x model composition
    data = pmml(f'<MiningModel functionName="regression">{SCHEMA}<{embedded} functionName="regression"/></MiningModel>')
    raises(UnsupportedMarkup, data, f"Unsupported element {embedded} at PMML/MiningModel/{embedded}")


def test_mining_model_without_segmentation_is_invalid():
    raises(InvalidMarkup, pmml(f'<MiningModel functionName="regression">{SCHEMA}</MiningModel>'), "MiningModel has no Segmentation")


def test_mining_model_output_targets_and_field_ref_in_output():
    data = mining(segment()).replace(b"<Segmentation", b'<Output><OutputField name="o" feature="transformedValue"><FieldRef field="y"/></OutputField></Output><Segmentation')
    assert model(data).output[0].expression == FieldRef(field="y")


def test_fast_constructor_falls_back_for_classes_it_cannot_build():
    import dataclasses

    from quickscore.io.pmml._reader import fast_constructor

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class NeedsFactory:
        a: int
        b: list = dataclasses.field(default_factory=list)

    make = fast_constructor(NeedsFactory, ("a",))
    assert not make.fast and make(1) == NeedsFactory(a=1)
    fast = fast_constructor(Node, ("predicate", "children", "distribution", "loc"))
    assert fast.fast and fast(TruePredicate(), (), (), None) == Node(predicate=TruePredicate())
