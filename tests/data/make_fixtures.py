#!/usr/bin/env python
"""Regenerate the model fixtures in tests/data/ and the bundled example in src/quickscore/examples/.

Every fixture is a model trained here with fixed seeds, exported to PMML with sklearn2pmml, and
stored as three files:

* ``<Name>.pmml``: the model, as sklearn2pmml (JPMML-SkLearn) wrote it; only the Header/Timestamp
  is pinned to a constant so that a rerun produces byte-identical files;
* ``<Name>.input.csv``: the input records (every feature column of the data set, also those the
  model does not use; an empty cell is a missing value);
* ``<Name>.expected.csv``: what the training library itself (scikit-learn, XGBoost, LightGBM)
  predicted for those records, one column per output the PMML declares: the target field name
  for the predicted value and the exact OutputField names (``probability(<class>)``).

Floats are written with ``repr`` (shortest round-trip, i.e. full precision).

Usage (needs Java 17 on PATH)::

    pip install -e ".[fixtures,test]"     # scikit-learn<1.9.1, sklearn2pmml, xgboost, lightgbm; jpmml_evaluator
    python tests/data/make_fixtures.py            # rebuild everything
    python tests/data/make_fixtures.py --check    # also score every fixture with JPMML-Evaluator
    python tests/data/make_fixtures.py LogisticRegressionIris   # rebuild some
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from lxml import etree

DATA_DIR = Path(__file__).resolve().parent
REPO_ROOT = DATA_DIR.parent.parent
EXAMPLES_DIR = REPO_ROOT / "src" / "quickscore" / "examples"
EXAMPLE = "DecisionTreeIris"  # also copied (PMML + input) into src/quickscore/examples/
PINNED_TIMESTAMP = "2026-01-01T00:00:00Z"


# --------------------------------------------------------------------------- data sets


def iris() -> tuple[pd.DataFrame, pd.Series]:
    """Fisher's iris (150 rows, 4 continuous features, 3 string classes)."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    X = data.data.copy()
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    y = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    return X, y


def wine() -> tuple[pd.DataFrame, pd.Series]:
    """UCI wine (178 rows, 13 continuous features, 3 string classes: the three cultivars)."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    X = data.data.copy()
    X.columns = [re.sub(r"\W+", "_", c) for c in X.columns]
    cultivars = np.array(["barolo", "grignolino", "barbera"])
    y = pd.Series(cultivars[data.target], name="cultivar")
    return X, y


def breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    """Wisconsin diagnostic breast cancer (569 rows, 30 continuous features, integer classes 0/1)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X = data.data.copy()
    X.columns = [re.sub(r"\W+", "_", c) for c in X.columns]
    y = pd.Series(data.target.to_numpy(), name="benign")
    return X, y


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    """Diabetes progression, unscaled (442 rows, 10 features, continuous target)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    X = data.data.copy()
    y = pd.Series(data.target.to_numpy(dtype=float), name="progression")
    return X, y


EMPLOYMENT = ["Private", "Consultant", "SelfEmp", "PSLocal", "PSState", "PSFederal", "Volunteer"]
EDUCATION = ["HSgrad", "Bachelor", "College", "Vocational", "Master", "Associate", "Yr11", "Professional", "Doctorate"]
MARITAL = ["Married", "Absent", "Divorced", "Unmarried", "Widowed"]
OCCUPATION = ["Executive", "Professional", "Clerical", "Sales", "Repair", "Service", "Machinist",
              "Transport", "Cleaner", "Support", "Farming", "Protective", "Home", "Military"]


def audit(n: int = 1500, missing: float = 0.0, seed: int = 20261124) -> tuple[pd.DataFrame, pd.Series]:
    """A synthetic audit-like data set: mixed string categorical, integer and float features.

    ``missing`` is the share of values blanked (NaN) in Age, Income, Hours, Employment and Education.
    The target ``Adjusted`` (0/1) follows a noisy logistic rule of the features.
    """
    rng = np.random.default_rng(seed)

    def pick(values: list[str], skew: float) -> np.ndarray:
        weights = np.exp(-skew * np.arange(len(values)))
        return rng.choice(values, size=n, p=weights / weights.sum())

    age = rng.integers(17, 85, size=n)
    employment = pick(EMPLOYMENT, 0.6)
    education = pick(EDUCATION, 0.3)
    marital = pick(MARITAL, 0.5)
    occupation = pick(OCCUPATION, 0.15)
    gender = rng.choice(["Male", "Female"], size=n, p=[0.66, 0.34])
    income = np.round(rng.lognormal(mean=10.8, sigma=0.6, size=n), 2)
    deductions = np.where(rng.random(n) < 0.08, np.round(rng.uniform(500, 2500, size=n), 2), 0.0)
    hours = np.clip(np.round(rng.normal(40, 12, size=n)), 1, 99).astype(int)

    edu_effect = {e: v for e, v in zip(EDUCATION, [0.0, 0.9, 0.3, -0.2, 1.3, 0.4, -0.8, 1.6, 1.5])}
    logit = (
        -2.2
        + 0.035 * (age - 40)
        + 1.4 * (marital == "Married")
        + np.vectorize(edu_effect.get)(education)
        + 0.8 * np.log(income / 50000.0)
        + 0.03 * (hours - 40)
        + 0.5 * (gender == "Male")
        + 0.0008 * deductions
        + 0.6 * np.isin(occupation, ["Executive", "Professional"])
        + rng.normal(0, 0.7, size=n)
    )
    adjusted = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    X = pd.DataFrame({
        "Age": age,
        "Employment": employment,
        "Education": education,
        "Marital": marital,
        "Occupation": occupation,
        "Income": income,
        "Gender": gender,
        "Deductions": deductions,
        "Hours": hours,
    })
    if missing > 0:
        for column in ["Age", "Income", "Hours", "Employment", "Education"]:
            mask = rng.random(n) < missing
            if X[column].dtype.kind in "iu":
                X[column] = X[column].astype(float)
            X[column] = X[column].mask(mask)
    return X, pd.Series(adjusted, name="Adjusted")


AUDIT_LEVELS = {"Employment": EMPLOYMENT, "Education": EDUCATION, "Marital": MARITAL, "Occupation": OCCUPATION,
                "Gender": ["Male", "Female"]}
AUDIT_CATEGORICAL = list(AUDIT_LEVELS)
AUDIT_CONTINUOUS = ["Age", "Income", "Deductions", "Hours"]


def split(X: pd.DataFrame, y: pd.Series, n_test: int, seed: int = 0):
    """Hold out ``n_test`` rows (the fixture's input records); train on the rest."""
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=n_test, random_state=seed)
    return X_train, X_test.reset_index(drop=True), y_train


# --------------------------------------------------------------------------- fixtures


@dataclass
class Fixture:
    """One model to train and export: ``build()`` returns (fitted PMMLPipeline, input records)."""

    name: str
    description: str
    build: Callable[[], tuple[object, pd.DataFrame]]


FIXTURES: dict[str, Fixture] = {}


def fixture(description: str):
    """Register a builder function as a fixture named after the function."""

    def register(build):
        FIXTURES[build.__name__] = Fixture(build.__name__, description, build)
        return build

    return register


def _pipeline(steps):
    from sklearn2pmml.pipeline import PMMLPipeline

    return PMMLPipeline(steps)


def _audit_mapper(missing_replacement: bool):
    """Domain decorations, standard scaling of the numbers and one-hot encoding of the strings.

    With ``missing_replacement`` the domains declare a missingValueReplacement for every column.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn2pmml.decoration import CategoricalDomain, ContinuousDomain

    replacements = {"Age": 38.0, "Income": 49000.0, "Deductions": 0.0, "Hours": 40.0, "Employment": "Private",
                    "Education": "HSgrad", "Marital": "Married", "Occupation": "Executive", "Gender": "Male"}

    def domain(cls, column, treatment):
        if not missing_replacement:
            return cls()
        return cls(missing_value_treatment=treatment, missing_value_replacement=replacements[column])

    # One domain per column: a ContinuousDomain needs one dtype, and Age/Hours are integer, Income float.
    continuous = [(c, make_pipeline(domain(ContinuousDomain, c, "as_median"), StandardScaler()), [c])
                  for c in AUDIT_CONTINUOUS]
    categorical = [(c, make_pipeline(domain(CategoricalDomain, c, "as_mode"), OneHotEncoder(sparse_output=False)), [c])
                   for c in AUDIT_CATEGORICAL]
    return ColumnTransformer(continuous + categorical)


def _lightgbm_mapper():
    """Missing-value aware integer coding of the audit strings, for LightGBM's native categorical splits.

    Like sklearn2pmml.preprocessing.lightgbm.make_lightgbm_column_transformer, which needs the
    sklearn-pandas package just to import.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn2pmml.preprocessing import PMMLLabelEncoder

    return ColumnTransformer([(c, "passthrough", [c]) for c in AUDIT_CONTINUOUS]
                             + [(c, PMMLLabelEncoder(missing_values=-1), [c]) for c in AUDIT_CATEGORICAL])


@fixture("DecisionTreeClassifier(max_depth=3) on iris; the bundled example")
def DecisionTreeIris():
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris()
    pipeline = _pipeline([("classifier", DecisionTreeClassifier(max_depth=3, random_state=1))])
    return pipeline.fit(X, y), X


@fixture("RandomForestClassifier(100 trees, max_depth=5) on wine, 3 string classes")
def RandomForestClassifierWine():
    from sklearn.ensemble import RandomForestClassifier

    X, y = wine()
    X_train, X_test, y_train = split(X, y, n_test=60)
    model = RandomForestClassifier(n_estimators=100, max_depth=5, random_state=7)
    return _pipeline([("classifier", model)]).fit(X_train, y_train), X_test


@fixture("GradientBoostingClassifier(100 stages, max_depth=3) on breast cancer, binary 0/1")
def GradientBoostingClassifierBreastCancer():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = breast_cancer()
    X_train, X_test, y_train = split(X, y, n_test=150)
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=3)
    return _pipeline([("classifier", model)]).fit(X_train, y_train), X_test


@fixture("GradientBoostingClassifier(50 stages, max_depth=2) on iris, 3 classes (one tree per class and stage)")
def GradientBoostingClassifierIris():
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = iris()
    model = GradientBoostingClassifier(n_estimators=50, max_depth=2, random_state=3)
    return _pipeline([("classifier", model)]).fit(X, y), X


@fixture("multinomial LogisticRegression on iris, 3 classes (softmax)")
def LogisticRegressionIris():
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    model = LogisticRegression(max_iter=1000)
    return _pipeline([("classifier", model)]).fit(X, y), X


@fixture("StandardScaler + binary LogisticRegression on breast cancer, integer classes 0/1")
def LogisticRegressionBreastCancer():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer()
    X_train, X_test, y_train = split(X, y, n_test=150)
    pipeline = _pipeline([("scaler", StandardScaler()), ("classifier", LogisticRegression(max_iter=1000))])
    return pipeline.fit(X_train, y_train), X_test


@fixture("DecisionTreeRegressor(max_depth=6) on diabetes")
def DecisionTreeRegressorDiabetes():
    from sklearn.tree import DecisionTreeRegressor

    X, y = diabetes()
    X_train, X_test, y_train = split(X, y, n_test=120)
    model = DecisionTreeRegressor(max_depth=6, random_state=5)
    return _pipeline([("regressor", model)]).fit(X_train, y_train), X_test


@fixture("LinearRegression on diabetes")
def LinearRegressionDiabetes():
    from sklearn.linear_model import LinearRegression

    X, y = diabetes()
    X_train, X_test, y_train = split(X, y, n_test=120)
    return _pipeline([("regressor", LinearRegression())]).fit(X_train, y_train), X_test


@fixture("RandomForestRegressor(40 trees, max_depth=6) on diabetes")
def RandomForestRegressorDiabetes():
    from sklearn.ensemble import RandomForestRegressor

    X, y = diabetes()
    X_train, X_test, y_train = split(X, y, n_test=120)
    model = RandomForestRegressor(n_estimators=40, max_depth=6, random_state=11)
    return _pipeline([("regressor", model)]).fit(X_train, y_train), X_test


@fixture("DecisionTreeClassifier(max_depth=6) on audit-like data: scaled numbers, one-hot encoded string categories")
def DecisionTreeClassifierAudit():
    from sklearn.tree import DecisionTreeClassifier

    X, y = audit()
    X_train, X_test, y_train = split(X, y, n_test=250)
    pipeline = _pipeline([
        ("mapper", _audit_mapper(missing_replacement=False)),
        ("classifier", DecisionTreeClassifier(max_depth=6, min_samples_leaf=5, random_state=13)),
    ])
    return pipeline.fit(X_train, y_train), X_test


@fixture("binary LogisticRegression on audit-like data with missing values, replaced by the MiningSchema")
def LogisticRegressionAuditNA():
    from sklearn.linear_model import LogisticRegression

    X, y = audit(missing=0.08)
    X_train, X_test, y_train = split(X, y, n_test=250)
    pipeline = _pipeline([
        ("mapper", _audit_mapper(missing_replacement=True)),
        ("classifier", LogisticRegression(max_iter=5000)),
    ])
    return pipeline.fit(X_train, y_train), X_test


@fixture("XGBClassifier(60 trees, max_depth=4) on audit-like data with missing values and native categorical splits")
def XGBClassifierAuditNA():
    from xgboost import XGBClassifier

    from sklearn.compose import ColumnTransformer
    from sklearn2pmml.decoration import CategoricalDomain, ContinuousDomain

    X, y = audit(missing=0.08)
    X_train, X_test, y_train = split(X, y, n_test=250)
    # The domains hand XGBoost pandas columns: numbers as they are, strings as a fixed CategoricalDtype.
    mapper = ColumnTransformer(
        [(c, ContinuousDomain(), [c]) for c in AUDIT_CONTINUOUS]
        + [(c, CategoricalDomain(dtype=pd.CategoricalDtype(levels)), [c]) for c, levels in AUDIT_LEVELS.items()],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.2, random_state=17, n_jobs=1,
                          tree_method="hist", enable_categorical=True, max_cat_to_onehot=4)
    return _pipeline([("mapper", mapper), ("classifier", model)]).fit(X_train, y_train), X_test


@fixture("XGBClassifier(30 rounds, max_depth=3) on iris, 3 classes coded 0/1/2 (multi:softprob)")
def XGBClassifierIris():
    from xgboost import XGBClassifier

    X, y = iris()
    y_codes = pd.Series(pd.Categorical(y).codes.astype(int), name=y.name)  # XGBoost wants 0..k-1
    model = XGBClassifier(n_estimators=30, max_depth=3, random_state=17, n_jobs=1, tree_method="hist")
    return _pipeline([("classifier", model)]).fit(X, y_codes), X


@fixture("LGBMClassifier(60 trees, 15 leaves) on audit-like data with missing values and native categorical splits")
def LGBMClassifierAuditNA():
    from lightgbm import LGBMClassifier

    X, y = audit(missing=0.08)
    X_train, X_test, y_train = split(X, y, n_test=250)
    mapper = _lightgbm_mapper()
    categorical = [i for i, (_, _, cols) in enumerate(mapper.transformers) if cols[0] in AUDIT_CATEGORICAL]
    model = LGBMClassifier(n_estimators=60, num_leaves=15, learning_rate=0.1, random_state=19,
                           n_jobs=1, deterministic=True, verbose=-1)
    pipeline = _pipeline([("mapper", mapper), ("classifier", model)])
    return pipeline.fit(X_train, y_train, classifier__categorical_feature=categorical), X_test


@fixture("LGBMRegressor(50 trees, 10 leaves) on diabetes")
def LGBMRegressorDiabetes():
    from lightgbm import LGBMRegressor

    X, y = diabetes()
    X_train, X_test, y_train = split(X, y, n_test=120)
    model = LGBMRegressor(n_estimators=50, num_leaves=10, random_state=19, n_jobs=1, deterministic=True, verbose=-1)
    return _pipeline([("regressor", model)]).fit(X_train, y_train), X_test


# --------------------------------------------------------------------------- writing


PMML_NS = {"p": "http://www.dmg.org/PMML-4_4"}
MODEL_ELEMENTS = ("TreeModel", "MiningModel", "RegressionModel", "GeneralRegressionModel", "NeuralNetwork",
                  "SupportVectorMachineModel", "NaiveBayesModel", "Scorecard", "RuleSetModel", "NearestNeighborModel")


def output_columns(pmml_path: Path) -> tuple[str, list[tuple[str, str, str | None]]]:
    """Return the target field name and the (name, feature, value) of every OutputField the model exposes.

    Those are the top model's own OutputFields and, when it is a modelChain (as sklearn2pmml writes
    XGBoost and LightGBM classifiers), the final OutputFields of its last segment, as JPMML exposes them.
    """
    root = etree.parse(str(pmml_path)).getroot()
    ns = {"p": root.nsmap[None]}
    model = next(el for el in root if etree.QName(el).localname in MODEL_ELEMENTS)
    targets = model.xpath("p:MiningSchema/p:MiningField[@usageType='target' or @usageType='predicted']/@name",
                          namespaces=ns)
    if len(targets) != 1:
        raise SystemExit(f"{pmml_path.name}: expected one target field, found {targets}")
    outputs = []
    while model is not None:
        outputs += [(f.get("name"), f.get("feature", "predictedValue"), f.get("value"))
                    for f in model.xpath("p:Output/p:OutputField[not(@isFinalResult='false')]", namespaces=ns)]
        chain = model.xpath("p:Segmentation[@multipleModelMethod='modelChain']/p:Segment[last()]/*", namespaces=ns)
        model = next((el for el in chain if etree.QName(el).localname in MODEL_ELEMENTS), None)
    return targets[0], outputs


def expected_frame(pipeline, X: pd.DataFrame, pmml_path: Path) -> pd.DataFrame:
    """The training library's predictions for X, in columns named as the PMML names its outputs."""
    target, outputs = output_columns(pmml_path)
    predicted = pipeline.predict(X)
    columns = {target: list(predicted)}
    probabilities = None
    for name, feature, value in outputs:
        if feature == "predictedValue":
            columns[name] = list(predicted)
        elif feature == "probability":
            if probabilities is None:
                probabilities = pipeline.predict_proba(X)
            labels = [str(c) for c in pipeline.classes_]
            columns[name] = list(probabilities[:, labels.index(value)])
        else:
            raise SystemExit(f"{pmml_path.name}: OutputField {name!r} has feature={feature!r}, not handled here")
    return pd.DataFrame(columns)


def _cell(value) -> str:
    """Format one CSV cell: floats with full precision, NaN/None as an empty (missing) cell."""
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV with '\\n' line ends, full-precision floats and empty missing cells."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(frame.columns)
        for row in frame.itertuples(index=False):
            writer.writerow([_cell(v) for v in row])


def export_pmml(pipeline, path: Path) -> None:
    """Convert with sklearn2pmml, then pin the Header/Timestamp so reruns are byte-identical."""
    from sklearn2pmml import sklearn2pmml

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.pmml"
        sklearn2pmml(pipeline, str(raw))
        text = raw.read_text(encoding="utf-8")
    text, count = re.subn(r"<Timestamp>[^<]*</Timestamp>", f"<Timestamp>{PINNED_TIMESTAMP}</Timestamp>", text)
    if count != 1:
        raise SystemExit(f"{path.name}: expected one Header/Timestamp, found {count}")
    path.write_text(text, encoding="utf-8")


def build(fx: Fixture) -> None:
    """Train, export and write the three files of one fixture."""
    pipeline, X = fx.build()
    pmml = DATA_DIR / f"{fx.name}.pmml"
    export_pmml(pipeline, pmml)
    write_csv(X, DATA_DIR / f"{fx.name}.input.csv")
    write_csv(expected_frame(pipeline, X, pmml), DATA_DIR / f"{fx.name}.expected.csv")
    if fx.name == EXAMPLE:
        EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pmml, EXAMPLES_DIR / f"{fx.name}.pmml")
        shutil.copyfile(DATA_DIR / f"{fx.name}.input.csv", EXAMPLES_DIR / f"{fx.name}.input.csv")
    size = pmml.stat().st_size
    print(f"{fx.name}: {len(X)} records, {size / 1024:.0f} KiB PMML", flush=True)


# --------------------------------------------------------------------------- checking against JPMML


def jpmml_differences(name: str) -> tuple[list[str], float, float]:
    """Score one fixture with JPMML-Evaluator and compare with its expected CSV.

    Returns (one message per differing column, the largest difference as a share of what the
    tolerance allows, the tolerance).
    This checks the fixture, not quickscore: that the PMML sklearn2pmml wrote reproduces the training
    library's predictions under the reference evaluator. Tolerance: 1e-13 relative, or 1e-6 where
    the PMML computes in float32 (mathContext="float", as for XGBoost), whose last bits depend on
    the order of operations. The JVM is started once per process, with its heap capped.
    """
    import jpype
    from jpmml_evaluator import _classpath, make_evaluator

    if not jpype.isJVMStarted():
        jpype.startJVM("-Xmx1g", classpath=_classpath(user_classpath=[]))
    pmml = DATA_DIR / f"{name}.pmml"
    rtol = 1e-6 if 'mathContext="float"' in pmml.read_text(encoding="utf-8") else 1e-13
    evaluator = make_evaluator(str(pmml)).verify()
    inputs = pd.read_csv(DATA_DIR / f"{name}.input.csv", keep_default_na=False, na_values=[""])
    expected = pd.read_csv(DATA_DIR / f"{name}.expected.csv", dtype=str, keep_default_na=False)
    actual = evaluator.evaluateAll(inputs)
    problems, worst = [], 0.0
    for column in expected.columns:
        want, got = expected[column], actual[column]
        try:
            w = want.astype(float).to_numpy()
            g = got.astype(float).to_numpy()
        except ValueError:
            bad = int((want != got.astype(str)).sum())
        else:
            bad = int((~np.isclose(g, w, rtol=rtol, atol=rtol)).sum())
            worst = max(worst, float(np.max(np.abs(g - w) / (rtol + rtol * np.abs(w)))))
        if bad:
            problems.append(f"{column}: {bad} rows differ")
    return problems, worst, rtol


def check(names: list[str]) -> int:
    """Print how each fixture fares under JPMML-Evaluator; return the number that disagree."""
    failures = 0
    for name in names:
        problems, worst, rtol = jpmml_differences(name)
        failures += bool(problems)
        verdict = "; ".join(problems) or f"OK (tolerance {rtol:g}; largest difference {worst:.2g} of it)"
        print(f"{name}: {verdict}", flush=True)
    return failures


README_HEAD = """# Test fixtures

Regenerate with `pip install -e ".[fixtures]" && python tests/data/make_fixtures.py` (needs Java 17 on PATH);
add `--check` (and the `test` extra, for jpmml_evaluator) to score every fixture with JPMML-Evaluator
against its expected CSV.
This file is written by that script.

Each model `<Name>` has `<Name>.pmml` (exported by sklearn2pmml; only Header/Timestamp pinned),
`<Name>.input.csv` (input records; an empty cell is a missing value) and `<Name>.expected.csv`
(the training library's own predictions: the target field for the predicted value, then the
PMML's OutputField names such as `probability(<class>)`; floats in full precision).
XGBoost models compute in float32 (`mathContext="float"`), so their expected values are float32
numbers and other float32 evaluation orders may differ from them in the last bits.

| Fixture | Model | Records |
|---|---|---|
"""


def readme_text() -> str:
    """tests/data/README.md: how to regenerate, and one table row per fixture."""
    rows = []
    for fx in FIXTURES.values():
        with open(DATA_DIR / f"{fx.name}.input.csv", encoding="utf-8") as fh:
            records = sum(1 for _ in fh) - 1
        rows.append(f"| {fx.name} | {fx.description} | {records} |\n")
    return README_HEAD + "".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="fixtures to rebuild (default: all)")
    parser.add_argument("--check", action="store_true", help="score the fixtures with JPMML-Evaluator afterwards")
    parser.add_argument("--check-only", action="store_true", help="only score the existing fixtures with JPMML")
    parser.add_argument("--list", action="store_true", help="list the fixtures and exit")
    args = parser.parse_args(argv)
    if args.list:
        for fx in FIXTURES.values():
            print(f"{fx.name}: {fx.description}")
        return 0
    unknown = sorted(set(args.names) - set(FIXTURES))
    if unknown:
        parser.error(f"unknown fixtures: {', '.join(unknown)}")
    names = args.names or list(FIXTURES)
    if not args.check_only:
        for name in names:
            build(FIXTURES[name])
        (DATA_DIR / "README.md").write_text(readme_text(), encoding="utf-8")
    if args.check or args.check_only:
        return 1 if check(names) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
