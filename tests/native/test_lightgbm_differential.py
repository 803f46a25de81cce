"""quickscore against the lightgbm package, on models trained here with fixed seeds.

Every objective LightGBM's text format can name, with missing values (NaN, exact zeros for
``zero_as_missing``), a pandas categorical column (unseen categories at scoring time), an
integer-coded categorical column (negative, fractional and out-of-range codes at scoring
time), linear trees, random-forest mode (average_output), dart, ``reg_sqrt`` and an
iteration range. Agreement: 1e-12 relative (LightGBM computes in double).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quickscore

lgb = pytest.importorskip("lightgbm")

RTOL = 1e-12
ATOL = 1e-15
N_TRAIN = 400
N_SCORE = 300


def _frame(rng: np.random.Generator, n: int, scoring: bool) -> pd.DataFrame:
    x = rng.normal(size=(n, 4))
    x[rng.random((n, 4)) < 0.12] = np.nan
    x[rng.random(n) < 0.1, 2] = 0.0  # exact zeros (missing under zero_as_missing)
    levels = ["red", "green", "blue", "cyan", "plum"]
    cat = rng.choice(levels + (["mauve"] if scoring else []), size=n).astype(object)
    cat[rng.random(n) < 0.08] = None
    code = rng.integers(0, 6, size=n).astype(float)
    code[rng.random(n) < 0.08] = np.nan
    if scoring:  # codes LightGBM truncates or sends right
        odd = rng.random(n) < 0.15
        code[odd] = rng.choice([-1.0, -0.5, 2.5, 5.9, 40.0, 1e10], size=int(odd.sum()))
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "x3": x[:, 3], "colour": cat, "code": code})
    return frame


def _lgb_frame(frame: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    out = frame.copy()
    # As lightgbm does with the categories of a scoring frame: unseen ones are missing.
    out["colour"] = pd.Categorical(out["colour"].where(out["colour"].isin(levels)), categories=levels)
    return out


LEVELS = ["red", "green", "blue", "cyan", "plum"]


def _signal(frame: pd.DataFrame) -> np.ndarray:
    x0 = frame["x0"].fillna(0.5).to_numpy()
    x1 = frame["x1"].fillna(-0.3).to_numpy()
    c = frame["colour"].map({"red": 1.0, "green": -0.5, "blue": 0.3}).fillna(0.0).to_numpy(dtype=float)
    k = np.nan_to_num(frame["code"].to_numpy(), nan=2.0)
    return x0 + 0.7 * x1 + c + 0.2 * (k % 3)


def _labels(objective: str, frame: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, list | None]:
    s = _signal(frame) + 0.3 * rng.normal(size=len(frame))
    if objective in ("binary", "cross_entropy"):
        return (s > 0.4).astype(float), None
    if objective == "cross_entropy_lambda":
        return 1.0 / (1.0 + np.exp(-s)), None
    if objective in ("multiclass", "multiclassova"):
        return np.digitize(s, [0.0, 1.0]).astype(float), None
    if objective in ("poisson", "tweedie"):
        return rng.poisson(np.exp(0.4 * s)).astype(float), None
    if objective == "gamma":
        return np.exp(0.4 * s) * rng.gamma(2.0, 0.5, size=len(frame)), None
    if objective in ("lambdarank", "rank_xendcg"):
        return np.clip(np.digitize(s, [-0.5, 0.5, 1.5]), 0, 3).astype(float), [20] * (len(frame) // 20)
    if objective == "mape":
        return 3.0 + s, None
    return 2.0 * s + 1.0, None


OBJECTIVES = [
    "regression", "regression_l1", "huber", "fair", "quantile", "mape",
    "poisson", "gamma", "tweedie",
    "binary", "multiclass", "multiclassova",
    "lambdarank", "rank_xendcg",
    "cross_entropy", "cross_entropy_lambda",
]

# (case id, objective, extra parameters)
CASES = [(o, o, {}) for o in OBJECTIVES] + [
    ("binary-sigmoid0.7", "binary", {"sigmoid": 0.7}),
    ("multiclassova-sigmoid1.5", "multiclassova", {"sigmoid": 1.5}),
    ("regression-sqrt", "regression", {"reg_sqrt": True}),
    ("zero-as-missing", "regression", {"zero_as_missing": True}),
    ("no-missing", "binary", {"use_missing": False}),
    ("linear-tree", "regression", {"linear_tree": True}),
    ("linear-tree-binary", "binary", {"linear_tree": True}),
    ("random-forest", "binary", {"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.7}),
    ("random-forest-multiclass", "multiclass", {"boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.7}),
    ("dart", "regression", {"boosting": "dart", "drop_rate": 0.3}),
    ("dart-multiclass", "multiclass", {"boosting": "dart", "drop_rate": 0.3}),
]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261124)
    return _frame(rng, N_TRAIN, False), _frame(rng, N_SCORE, True), rng


def _train(objective: str, extra: dict, data) -> lgb.Booster:
    train, _, _ = data
    y, group = _labels(objective, train, np.random.default_rng(7))
    params = {
        "objective": objective, "num_leaves": 8, "learning_rate": 0.2, "min_data_in_leaf": 5,
        "min_data_per_group": 5, "cat_smooth": 1.0, "max_cat_to_onehot": 2, "verbose": -1, "seed": 1,
        "deterministic": True, "num_threads": 1,
    }
    if objective in ("multiclass", "multiclassova"):
        params["num_class"] = 3
    params.update(extra)
    dataset = lgb.Dataset(_lgb_frame(train, LEVELS), label=y, group=group, categorical_feature=["colour", "code"], free_raw_data=False)
    return lgb.train(params, dataset, num_boost_round=12)


def _ours(model: quickscore.Model, score: pd.DataFrame) -> pd.DataFrame:
    frame = score.astype(object).where(score.notna(), None)
    out = model.predict(frame)
    assert out["_error"].isna().all(), out["_error"].dropna().iloc[:3].tolist()
    return out


def _check(ours, theirs, what: str) -> None:
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("objective, extra", [pytest.param(o, e, id=i) for i, o, e in CASES])
def test_against_lightgbm(objective: str, extra: dict, data) -> None:
    booster = _train(objective, extra, data)
    _, score, _ = data
    model = quickscore.load(booster.model_to_string().encode())
    ours = _ours(model, score)
    lgb_score = _lgb_frame(score, LEVELS)
    theirs = booster.predict(lgb_score)
    raw = booster.predict(lgb_score, raw_score=True)
    if objective in ("binary", "cross_entropy"):
        _check(ours["probability(1)"], theirs, "probability(1)")
        _check(ours["probability(0)"], 1.0 - theirs, "probability(0)")
        assert (ours["_target"].astype(int).to_numpy() == (theirs > 0.5).astype(int)).all()
        _check(ours["margin"], raw, "margin")
    elif objective in ("multiclass", "multiclassova"):
        for k in range(3):
            _check(ours[f"probability({k})"], theirs[:, k], f"probability({k})")
            _check(ours[f"margin({k})"], raw[:, k], f"margin({k})")
        assert (ours["_target"].astype(int).to_numpy() == theirs.argmax(axis=1)).all()
    else:
        _check(ours["_target"], theirs, "_target")
        if "margin" in ours.columns:
            _check(ours["margin"], raw, "margin")
        else:
            _check(ours["_target"], raw, "_target (raw)")


@pytest.mark.parametrize("objective", ["regression", "multiclass", "binary"])
def test_iterations(objective: str, data) -> None:
    booster = _train(objective, {}, data)
    _, score, _ = data
    text = booster.model_to_string().encode()
    for n in (1, 5, 12):
        model = quickscore.load(text, iterations=n)
        ours = _ours(model, score)
        theirs = booster.predict(_lgb_frame(score, LEVELS), num_iteration=n)
        column = {"regression": "_target", "binary": "probability(1)"}.get(objective)
        if column:
            _check(ours[column], theirs, f"{column} @{n}")
        else:
            _check(ours[[f"probability({k})" for k in range(3)]].to_numpy(), theirs, f"probabilities @{n}")


def test_iterations_beyond_the_model(data) -> None:
    booster = _train("regression", {}, data)
    with pytest.raises(ValueError, match="12 iterations"):
        quickscore.load(booster.model_to_string().encode(), iterations=13)
    with pytest.raises(ValueError, match="positive integer"):
        quickscore.load(booster.model_to_string().encode(), iterations=0)


def test_fast_engine_and_schema(data) -> None:
    """Constant-leaf models run on the numba kernels; the schema names LightGBM's features."""
    booster = _train("regression", {}, data)
    model = quickscore.load(booster.model_to_string().encode())
    assert model.engine == "numba"
    inputs = {f.name: f for f in model.schema.inputs}
    assert list(inputs) == ["x0", "x1", "x2", "x3", "colour", "code"]
    assert inputs["colour"].op_type == "categorical" and inputs["colour"].values == tuple(LEVELS)
    assert inputs["x0"].data_type == "double"
    assert model.info["format"] == "lightgbm"


def test_ordered_and_unordered_pandas_categoricals() -> None:
    """With categorical_feature="auto" an ordered category column is a number (its codes) to
    LightGBM, yet its categories are in pandas_categorical: its splits are thresholds on codes."""
    rng = np.random.default_rng(5)
    n = 400
    sizes = ["S", "M", "L", "XL"]
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "size": pd.Categorical(rng.choice(sizes, n), categories=sizes, ordered=True),
            "colour": pd.Categorical(rng.choice(LEVELS, n), categories=LEVELS),
        }
    )
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    y = frame["x"].to_numpy() + frame["size"].cat.codes.to_numpy() * 0.8 + (frame["colour"] == "red") * 1.5 + rng.normal(size=n) * 0.2
    params = {"objective": "regression", "num_leaves": 8, "min_data_in_leaf": 5, "min_data_per_group": 5, "verbose": -1, "seed": 1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(frame, label=y), num_boost_round=10)
    text = booster.model_to_string()
    assert "pandas_categorical:[[" in text
    model = quickscore.load(text.encode())
    assert {f.name: f.op_type for f in model.schema.inputs} == {"x": "continuous", "size": "categorical", "colour": "categorical"}
    score = frame.copy()
    ours = _ours(model, score.astype(object).where(score.notna(), None))
    _check(ours["_target"], booster.predict(score), "_target")


@pytest.mark.parametrize("objective", ["regression", "binary"])
def test_linear_trees_in_the_flat_form(objective: str, data, monkeypatch) -> None:
    """Linear trees deeper than NESTED_LINEAR_DEPTH become one segment per leaf path: the
    same predictions (forced here for shallow trees)."""
    from quickscore.io.native import lightgbm as reader

    monkeypatch.setattr(reader, "NESTED_LINEAR_DEPTH", 0)
    booster = _train(objective, {"linear_tree": True}, data)
    _, score, _ = data
    ours = _ours(quickscore.load(booster.model_to_string().encode()), score)
    column = "_target" if objective == "regression" else "probability(1)"
    _check(ours[column], booster.predict(_lgb_frame(score, LEVELS)), column)
