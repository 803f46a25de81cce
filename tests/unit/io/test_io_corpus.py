"""PMML reader over the shared corpus of real files (../shared/corpus, never copied here).

* in scope (every top-level and nested model is a TreeModel, RegressionModel or
  MiningModel): reads without error, except the files listed in REFUSED with the reason;
* out of scope (some other model type): raises UnsupportedMarkup, never anything else;
* not a PMML document (MANIFEST rows without a model: fragments, a lowercase <pmml>
  root): raises InvalidMarkup.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.io import read_document

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("QUICKSCORE_CORPUS", REPO_ROOT.parent / "shared" / "corpus")).resolve()
IN_SCOPE = {"TreeModel", "RegressionModel", "MiningModel"}

# In-scope files the reader refuses on purpose: (error, what the message must contain, why).
REFUSED = {
    "asafschers__goscore/fixtures/tree.pmml":
        (InvalidMarkup, "root element is <TreeModel>", "a fragment: the root is <TreeModel>, not <PMML>"),
    "sumatra__gopmml/evaluation/testdata/perf/cash_out_fraud_0.3.xml":
        (InvalidMarkup, "Not a PMML document", "a multipart/form-data upload saved as is; the PMML starts at byte 168"),
    "iamDecode__sklearn-pmml-model/models/tree-cat-pima.pmml":
        (InvalidMarkup, "Array has 2 entries but n=3", "an Array with n=3 and two entries; JPMML-Evaluator refuses it too"),
    "jpmml__jpmml-transpiler/pmml-transpiler/src/test/resources/pmml/ConstantPredicateTest.pmml":
        (InvalidMarkup, "Segment has no model", "a transpiler test whose Segments have no model"),
    "autodeployai__pmml4s/src/test/resources/models/mining/dmg_model_selection_mining.xml":
        (UnsupportedMarkup, "Unsupported element DecisionTree", "model composition with embedded DecisionTree/Regression (PMML 3.x-4.x)"),
    "autodeployai__pmml4s/src/test/resources/models/mining/dmg_model_sequencing_mining.xml":
        (UnsupportedMarkup, "Unsupported element Regression", "model composition with embedded Regression/DecisionTree (PMML 3.x-4.x)"),
    "autodeployai__pmml4s/src/test/resources/models/mining/dmg_weighted_majority_vote_mining.xml":
        (UnsupportedMarkup, "Unsupported element VariableWeight", "Segment/VariableWeight (per-record segment weights)"),
    "autodeployai__pmml4s/src/test/resources/models/mining/dmg_weighted_majority_vote_mining_revised.xml":
        (UnsupportedMarkup, "Unsupported element VariableWeight", "Segment/VariableWeight (per-record segment weights)"),
    "jpmml__jpmml-evaluator/pmml-evaluator/src/test/resources/pmml/regression/PriorProbabilitiesTest.pmml":
        (InvalidMarkup, "Missing required attribute intercept of RegressionTable",
         "a RegressionTable without the required intercept; JPMML-Evaluator raises MissingAttributeException for it"),
    "jpmml__jpmml-evaluator/pmml-evaluator/src/test/resources/pmml/regression/TransformationDictionaryTest.pmml":
        (InvalidMarkup, "Missing required attribute intercept of RegressionTable",
         "a <RegressionTable/> without intercept (further on, a JPMML-only DerivedField inside DefineFunction)"),
}


def _rows() -> list[dict]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with open(manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _types(row: dict) -> tuple[list[str], list[str]]:
    top = [t for t in row["top_models"].split(";") if t]
    nested = [t.split(":")[0] for t in row["nested_models"].split(";") if t]
    return top, nested


ROWS = _rows()
IN = [r["path"] for r in ROWS if _types(r)[0] and set(sum(_types(r), [])) <= IN_SCOPE]
OUT = [r["path"] for r in ROWS if _types(r)[0] and not set(sum(_types(r), [])) <= IN_SCOPE]
NOT_DOCUMENTS = [r["path"] for r in ROWS if not _types(r)[0]]
NO_CORPUS = pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS} (set QUICKSCORE_CORPUS)"))


@pytest.mark.parametrize("path", IN or [NO_CORPUS])
def test_in_scope_file_reads(path):
    if path in REFUSED:
        exc, fragment, why = REFUSED[path]
        with pytest.raises(exc, match=fragment):
            read_document(CORPUS / path)
        return
    doc = read_document(CORPUS / path)
    assert type(doc.model).__name__ in IN_SCOPE
    assert doc.source_name == str(CORPUS / path)


@pytest.mark.parametrize("path", OUT or [NO_CORPUS])
def test_out_of_scope_file_is_unsupported(path):
    with pytest.raises(UnsupportedMarkup, match="Unsupported element"):
        read_document(CORPUS / path)


@pytest.mark.parametrize("path", NOT_DOCUMENTS or [NO_CORPUS])
def test_non_document_is_invalid(path):
    with pytest.raises(InvalidMarkup, match="Not a PMML document"):
        read_document(CORPUS / path)


def test_refused_list_is_current():
    if not ROWS:
        pytest.skip(f"corpus not found at {CORPUS}")
    assert set(REFUSED) <= set(IN), "REFUSED names files that are no longer in scope"


def test_corpus_versions_are_recorded():
    if not ROWS:
        pytest.skip(f"corpus not found at {CORPUS}")
    for r in ROWS:
        if r["path"] in IN and r["path"] not in REFUSED and r["pmml_version"] and r["duplicate_of"] == "":
            assert read_document(CORPUS / r["path"]).version == r["pmml_version"], r["path"]
