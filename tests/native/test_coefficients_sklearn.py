"""Round trip from scikit-learn: export the JSON coefficients, load them, compare with the
estimator's own predict / predict_proba (1e-12 relative)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import quickscore
import quickscore.export

sklearn = pytest.importorskip("sklearn")
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

RTOL = 1e-12
ATOL = 1e-14


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n) / 1e4,
            "colour": rng.choice(["red", "green", "blue"], n),
            "size": rng.choice([1, 2, 3, 4], n),
        }
    )
    s = 0.05 * (frame["age"] - 40) + 0.3 * frame["income"] + frame["colour"].map({"red": 0.8, "green": -0.4, "blue": 0.0}) + 0.2 * frame["size"]
    y_reg = 2.0 * s + rng.normal(0, 0.3, n)
    y_bin = np.where(s + rng.logistic(size=n) * 0.5 > 0.5, "yes", "no")
    y_multi = np.digitize(s + rng.normal(0, 0.3, n), [0.2, 1.0])
    return frame, y_reg, y_bin, y_multi


def _load(doc: dict) -> quickscore.Model:
    return quickscore.load(json.dumps(doc).encode())


def _score(model: quickscore.Model, frame: pd.DataFrame) -> pd.DataFrame:
    out = model.predict(frame.astype(object))
    assert out["_error"].isna().all(), out["_error"].dropna().iloc[:3].tolist()
    return out


NUMERIC = ["age", "income"]


@pytest.mark.parametrize("estimator", [LinearRegression(), Ridge(alpha=0.5), ElasticNet(alpha=0.01)], ids=lambda e: type(e).__name__)
def test_regressors(estimator, data) -> None:
    frame, y, _, _ = data
    estimator.fit(frame[NUMERIC].to_numpy(), y)
    doc = quickscore.export.coefficients(estimator, NUMERIC, target="y")
    assert list(doc)[:2] == ["format", "version"]
    ours = _score(_load(doc), frame[NUMERIC])
    np.testing.assert_allclose(ours["y"].astype(float), estimator.predict(frame[NUMERIC].to_numpy()), rtol=RTOL, atol=ATOL)


def test_binary_logistic(data, tmp_path) -> None:
    frame, _, y, _ = data
    est = LogisticRegression(max_iter=1000).fit(frame[NUMERIC], y)  # feature names from the frame
    path = tmp_path / "model.json"
    doc = quickscore.export.coefficients(est, path=path, target="outcome")
    assert doc["link"] == "logit" and doc["equations"][0]["class"] == "yes"
    model = quickscore.load(path)
    ours = _score(model, frame[NUMERIC])
    proba = est.predict_proba(frame[NUMERIC])
    np.testing.assert_allclose(ours["probability(no)"].astype(float), proba[:, 0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours["probability(yes)"].astype(float), proba[:, 1], rtol=RTOL, atol=ATOL)
    assert (ours["outcome"].to_numpy() == est.predict(frame[NUMERIC])).all()


def test_multinomial_logistic_with_one_hot_pipeline(data) -> None:
    frame, _, _, y = data
    pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["colour", "size"])], remainder="passthrough")
    pipe = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=2000))]).fit(frame, y)
    doc = quickscore.export.coefficients(pipe, list(frame.columns))
    assert doc["link"] == "softmax" and len(doc["equations"]) == 3
    kinds = {f["name"]: (f["type"], f.get("levels")) for f in doc["features"]}
    assert kinds["colour"] == ("categorical", ["blue", "green", "red"]) and kinds["size"] == ("categorical", [1, 2, 3, 4])
    model = _load(doc)
    ours = _score(model, frame)
    proba = pipe.predict_proba(frame)
    for k, c in enumerate(pipe.classes_):
        np.testing.assert_allclose(ours[f"probability({c})"].astype(float), proba[:, k], rtol=RTOL, atol=ATOL)
    assert (ours["_target"].astype(int).to_numpy() == pipe.predict(frame)).all()
    # handle_unknown="ignore": an unseen level contributes nothing, as in scikit-learn
    odd = frame.head(5).copy()
    odd["colour"] = "mauve"
    np.testing.assert_allclose(_score(model, odd)["probability(0)"].astype(float), pipe.predict_proba(odd)[:, 0], rtol=RTOL, atol=ATOL)


def test_binary_logistic_with_drop_first_encoder(data) -> None:
    frame, _, y, _ = data
    cols = ["colour", "age"]
    pre = ColumnTransformer([("num", "passthrough", ["age"]), ("cat", OneHotEncoder(drop="first"), ["colour"])])
    pipe = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=1000))]).fit(frame[cols], y)
    doc = quickscore.export.coefficients(pipe, cols)
    assert "blue" not in doc["equations"][0]["categorical"]["colour"]  # the dropped level
    ours = _score(_load(doc), frame[cols])
    np.testing.assert_allclose(ours["probability(yes)"].astype(float), pipe.predict_proba(frame[cols])[:, 1], rtol=RTOL, atol=ATOL)
    with pytest.raises(quickscore.EvaluationError, match="colour"):  # handle_unknown="error": an unseen level is an error
        _load(doc).predict({"colour": "mauve", "age": 30.0})


def test_one_hot_encoder_alone(data) -> None:
    frame, y, _, _ = data
    pipe = Pipeline([("oh", OneHotEncoder()), ("model", LinearRegression())]).fit(frame[["colour", "size"]], y)
    doc = quickscore.export.coefficients(pipe, ["colour", "size"])
    ours = _score(_load(doc), frame[["colour", "size"]])
    np.testing.assert_allclose(ours["_target"].astype(float), pipe.predict(frame[["colour", "size"]]), rtol=RTOL, atol=ATOL)


def test_unsupported_estimators_are_refused(data) -> None:
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    frame, y, _, _ = data
    with pytest.raises(ValueError, match="no coef_"):
        quickscore.export.coefficients(DecisionTreeRegressor().fit(frame[NUMERIC], y))
    scaled = Pipeline([("s", StandardScaler()), ("m", LinearRegression())]).fit(frame[NUMERIC], y)
    with pytest.raises(ValueError, match="StandardScaler is not supported"):
        quickscore.export.coefficients(scaled)
    with pytest.raises(ValueError, match="give feature_names"):
        quickscore.export.coefficients(LinearRegression().fit(frame[NUMERIC].to_numpy(), y))
    with pytest.raises(ValueError, match="3 feature names for an estimator fitted on 2 columns"):
        quickscore.export.coefficients(LinearRegression().fit(frame[NUMERIC].to_numpy(), y), ["a", "b", "c"])
