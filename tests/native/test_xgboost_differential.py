"""Native XGBoost models against the ``xgboost`` package, on models trained here.

One module fixture trains (fixed seeds, one thread, ~2 s) a model for every objective the
reader knows, plus dart, gblinear, random forests (num_parallel_tree), one-output-per-tree
and vector-leaf (multi_output_tree) multi-target models, on data with missing values (NaN in
three numeric columns and in the categorical one) and a native categorical feature (pandas
``category``, ``enable_categorical=True``). Each model is saved as JSON and UBJSON, loaded by
quickscore (format sniffed from the bytes), scored on the training frame, and compared with
``Booster.predict`` (and ``output_margin=True`` for the margin column).

Tolerance: XGBoost computes in float32: ``|got - exp| <= 1e-6 + 1e-6 * |exp|`` (relative 1e-6
with the zero threshold equal to the precision, as the conformance suite compares).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import quickscore

xgb = pytest.importorskip("xgboost", reason="the differential tests need xgboost (pip install -e '.[test]')")

RTOL = ATOL = 1e-6
N = 400


def _data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=N),
            "b": rng.uniform(0, 10, size=N),
            "c": rng.normal(size=N) * 100,
            "d": rng.integers(0, 5, size=N).astype(float),
        }
    )
    X["cat"] = pd.Categorical(rng.choice(["red", "green", "blue", "cyan"], size=N))
    for col in ("a", "b", "d"):
        X.loc[rng.random(N) < 0.1, col] = np.nan
    X.loc[rng.random(N) < 0.05, "cat"] = np.nan
    lin = X["a"].fillna(0) + 0.3 * X["b"].fillna(5) - 0.01 * X["c"] + X["cat"].cat.codes * 0.5
    z = (lin / lin.std()).to_numpy()
    labels = {
        "binary": (rng.random(N) < 1 / (1 + np.exp(-(lin - 1.5)))).astype(int).to_numpy(),
        "prob": (1 / (1 + np.exp(-(lin - 1.5)))).to_numpy(),
        "real": (lin + rng.normal(size=N)).to_numpy(),
        "positive": np.exp(0.3 * z) * rng.gamma(2, 1, size=N),
        "count": rng.poisson(np.exp(0.3 * z)),
        "class": np.digitize(lin, np.quantile(lin, [0.33, 0.66])),
        "censored": np.where(rng.random(N) < 0.3, -1, 1),
        "open": rng.random(N) < 0.3,
    }
    return X, labels


def _train() -> dict:
    X, y = _data()
    XN = X.drop(columns=["cat"])
    qid = np.repeat(np.arange(N // 20), 20)

    def fit(objective, label, rounds=8, data=None, params=None, **dmatrix):
        p = {"objective": objective, "eta": 0.3, "seed": 0, "nthread": 1, **(params or {})}
        if p.get("booster") != "gblinear":
            p["max_depth"] = 4
        frame = X if data is None else data
        return xgb.train(p, xgb.DMatrix(frame, label=label, enable_categorical=True, **dmatrix), rounds), frame

    two = np.stack([y["real"], y["positive"]], 1)
    models = {
        "binary:logistic": fit("binary:logistic", y["binary"]),
        "binary:logitraw": fit("binary:logitraw", y["binary"]),
        "binary:hinge": fit("binary:hinge", y["binary"]),
        "reg:squarederror": fit("reg:squarederror", y["real"]),
        "reg:squaredlogerror": fit("reg:squaredlogerror", y["positive"]),
        "reg:logistic": fit("reg:logistic", y["prob"]),
        "reg:pseudohubererror": fit("reg:pseudohubererror", y["real"]),
        "reg:absoluteerror": fit("reg:absoluteerror", y["real"]),
        "reg:quantileerror": fit("reg:quantileerror", y["real"], params={"quantile_alpha": 0.3}),
        "reg:tweedie": fit("reg:tweedie", y["positive"]),
        "reg:gamma": fit("reg:gamma", y["positive"]),
        "count:poisson": fit("count:poisson", y["count"]),
        "multi:softprob": fit("multi:softprob", y["class"], params={"num_class": 3}),
        "multi:softmax": fit("multi:softmax", y["class"], params={"num_class": 3}),
        "rank:pairwise": fit("rank:pairwise", y["class"], qid=qid),
        "rank:ndcg": fit("rank:ndcg", y["class"], qid=qid),
        "rank:map": fit("rank:map", (y["class"] > 1).astype(int), qid=qid),
        "survival:cox": fit("survival:cox", y["censored"] * y["positive"]),
        "survival:aft": fit(
            "survival:aft",
            None,
            label_lower_bound=y["positive"],
            label_upper_bound=np.where(y["open"], np.inf, y["positive"]),
        ),
        "dart": fit("binary:logistic", y["binary"], params={"booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0}),
        "gblinear": fit("reg:squarederror", y["real"], data=XN, params={"booster": "gblinear"}),
        "gblinear-multi": fit("multi:softprob", y["class"], data=XN, params={"booster": "gblinear", "num_class": 3}),
        "random-forest": fit("reg:squarederror", y["real"], rounds=2, params={"num_parallel_tree": 4, "subsample": 0.8, "colsample_bynode": 0.8}),
        "one_output_per_tree": fit("reg:squarederror", two),
        "multi_output_tree": fit("reg:squarederror", two, data=XN, params={"multi_strategy": "multi_output_tree", "tree_method": "hist"}),
        "lossguide": fit("binary:logistic", y["binary"], params={"grow_policy": "lossguide", "max_leaves": 16, "max_depth": 0, "tree_method": "hist"}),
    }
    return models


@pytest.fixture(scope="module")
def trained() -> dict:
    return _train()


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c in frame.columns:
        col = frame[c]
        out[c] = col.astype(object).where(col.notna(), None) if isinstance(col.dtype, pd.CategoricalDtype) else col
    return pd.DataFrame(out)


def _ours(name: str, booster, out: pd.DataFrame, p: np.ndarray) -> np.ndarray:
    """quickscore's column(s) comparable with ``Booster.predict``."""
    if p.ndim == 2 and name.startswith(("multi:", "gblinear-multi")):
        return np.stack([out[f"probability({k})"].astype(float) for k in range(p.shape[1])], 1)
    if p.ndim == 2:
        return np.stack([out[f"_target{k + 1}"].astype(float) for k in range(p.shape[1])], 1)
    if name in ("binary:logistic", "dart", "lossguide"):
        return out["probability(1)"].astype(float).to_numpy()
    if name == "binary:logitraw":  # predict() gives the margin
        return out["margin"].astype(float).to_numpy()
    return out["_target"].astype(float).to_numpy()


def _close(got: np.ndarray, exp: np.ndarray) -> np.ndarray:
    return np.abs(got - exp) <= ATOL + RTOL * np.abs(exp)


NAMES = [
    "binary:logistic", "binary:logitraw", "binary:hinge", "reg:squarederror", "reg:squaredlogerror",
    "reg:logistic", "reg:pseudohubererror", "reg:absoluteerror", "reg:quantileerror", "reg:tweedie",
    "reg:gamma", "count:poisson", "multi:softprob", "multi:softmax", "rank:pairwise", "rank:ndcg",
    "rank:map", "survival:cox", "survival:aft", "dart", "gblinear", "gblinear-multi", "random-forest",
    "one_output_per_tree", "multi_output_tree", "lossguide",
]


@pytest.mark.parametrize("raw_format", ["json", "ubj"])
@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_xgboost(trained, name: str, raw_format: str) -> None:
    booster, frame = trained[name]
    model = quickscore.load(bytes(booster.save_raw(raw_format)))
    assert model.info["format"] == "xgboost"
    dm = xgb.DMatrix(frame, enable_categorical=True)
    p = booster.predict(dm)
    out = model.predict(_inputs(frame))
    assert out["_error"].isna().all(), out["_error"].dropna().iloc[:3].tolist()
    got = _ours(name, booster, out, p)
    ok = _close(got, p)
    assert ok.all(), f"{(~ok).sum()} values differ, e.g. {got[~ok][:3]} vs {p[~ok][:3]}"
    if "margin" in out.columns:
        margin = booster.predict(dm, output_margin=True)
        assert _close(out["margin"].astype(float).to_numpy(), margin).all()
    if name == "multi:softmax":
        assert (out["_target"].astype(float).to_numpy() == p).all()


def test_multiclass_margins(trained) -> None:
    booster, frame = trained["multi:softprob"]
    model = quickscore.load(bytes(booster.save_raw("json")))
    out = model.predict(_inputs(frame))
    margin = booster.predict(xgb.DMatrix(frame, enable_categorical=True), output_margin=True)
    got = np.stack([out[f"margin({k})"].astype(float) for k in range(3)], 1)
    assert _close(got, margin).all()


@pytest.mark.parametrize("rounds", [1, 3, 7])
def test_iterations_match_iteration_range(trained, rounds: int) -> None:
    for name in ("binary:logistic", "multi:softprob", "random-forest", "dart"):
        booster, frame = trained[name]
        model = quickscore.load(bytes(booster.save_raw("json")), iterations=min(rounds, booster.num_boosted_rounds()))
        n = min(rounds, booster.num_boosted_rounds())
        p = booster.predict(xgb.DMatrix(frame, enable_categorical=True), iteration_range=(0, n))
        got = _ours(name, booster, model.predict(_inputs(frame)), p)
        assert _close(got, p).all(), name


def test_iterations_out_of_range(trained) -> None:
    booster, _ = trained["binary:logistic"]
    with pytest.raises(ValueError, match="iterations=9 is out of range"):
        quickscore.load(bytes(booster.save_raw("json")), iterations=9)
    with pytest.raises(TypeError, match="positive integer"):
        quickscore.load(bytes(booster.save_raw("json")), iterations="3")


def test_early_stopping_predicts_with_the_best_rounds() -> None:
    """A model with ``best_iteration`` predicts as the scikit-learn wrapper (and the R package,
    and jpmml-xgboost) do: with the rounds up to the best one; ``iterations=`` overrides."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = X[:, 0] + rng.normal(size=300)
    reg = xgb.XGBRegressor(n_estimators=50, early_stopping_rounds=3, learning_rate=0.5, n_jobs=1, random_state=0)
    reg.fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])], verbose=False)
    booster = reg.get_booster()
    assert booster.num_boosted_rounds() > reg.best_iteration + 1
    frame = pd.DataFrame(X, columns=["f0", "f1", "f2"])
    got = quickscore.load(bytes(booster.save_raw("json"))).predict(frame)["_target"].astype(float).to_numpy()
    assert _close(got, reg.predict(X)).all()
    every = quickscore.load(bytes(booster.save_raw("json")), iterations=booster.num_boosted_rounds())
    assert _close(every.predict(frame)["_target"].astype(float).to_numpy(), booster.predict(xgb.DMatrix(X))).all()


def test_feature_names_and_types(trained) -> None:
    booster, _ = trained["binary:logistic"]
    model = quickscore.load(bytes(booster.save_raw("json")))
    inputs = {f.name: f for f in model.schema.inputs}
    assert set(inputs) <= {"a", "b", "c", "d", "cat"}
    assert inputs["cat"].data_type == "string" and set(inputs["cat"].values) <= {"blue", "cyan", "green", "red"}


def test_unknown_category_is_an_invalid_value(trained) -> None:
    booster, frame = trained["binary:logistic"]
    model = quickscore.load(bytes(booster.save_raw("json")))
    row = _inputs(frame).iloc[0].to_dict()
    row["cat"] = "magenta"
    with pytest.raises(quickscore.InvalidValue, match="magenta"):
        model.predict(row)  # one record always raises


def test_single_record(trained) -> None:
    booster, frame = trained["multi:softprob"]
    model = quickscore.load(bytes(booster.save_raw("ubj")))
    row = _inputs(frame).iloc[[5]]
    p = booster.predict(xgb.DMatrix(frame.iloc[[5]], enable_categorical=True))[0]
    one = model.predict({k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.iloc[0].to_dict().items()})
    assert _close(np.array([one[f"probability({k})"] for k in range(3)]), p).all()


def test_runs_on_the_tree_kernels(trained) -> None:
    booster, _ = trained["reg:squarederror"]
    assert quickscore.load(bytes(booster.save_raw("json"))).engine == "numba"


def test_categorical_codes_without_names() -> None:
    """A categorical feature trained from integer codes (no category names in the model) reads
    codes: a code no split lists, a negative one and a missing one go where XGBoost sends them."""
    rng = np.random.default_rng(3)
    X = np.stack([rng.normal(size=300), rng.integers(0, 6, size=300).astype(float)], 1)
    X[rng.random(300) < 0.1, 1] = np.nan
    y = X[:, 0] + np.isin(X[:, 1], [1, 3]) * 2 + rng.normal(size=300) * 0.1
    dm = xgb.DMatrix(X, label=y, feature_types=["q", "c"], enable_categorical=True)
    booster = xgb.train({"max_depth": 3, "nthread": 1, "seed": 0, "max_cat_to_onehot": 1}, dm, 5)
    model = quickscore.load(bytes(booster.save_raw("ubj")))
    X[:5, 1] = [7, 0, -1, 2.0, np.nan]
    p = booster.predict(xgb.DMatrix(X, feature_types=["q", "c"], enable_categorical=True))
    out = model.predict(pd.DataFrame(X, columns=["f0", "f1"]))
    assert out["_error"].isna().all()
    assert _close(out["_target"].astype(float).to_numpy(), p).all()


def test_gblinear_with_a_feature_map(tmp_path) -> None:
    """One-hot indicators named by a feature map (``col=a``), a boolean indicator and a number,
    each sometimes missing: gblinear adds nothing for a missing feature, as XGBoost does."""
    rng = np.random.default_rng(0)
    n = 200
    col = rng.choice(["a", "b", "c"], n)
    num = rng.normal(size=n)
    flag = rng.integers(0, 2, n)
    X = np.stack([col == "a", col == "b", col == "c", num, flag], 1).astype(float)
    missing_col = rng.random(n) < 0.2
    X[missing_col, 0:3] = np.nan
    X[rng.random(n) < 0.1, 3:5] = np.nan
    y = (col == "a") * 2 + num + flag + rng.normal(size=n) * 0.1
    booster = xgb.train({"booster": "gblinear", "nthread": 1, "seed": 0}, xgb.DMatrix(X, label=y), 10)
    fmap = tmp_path / "model.fmap"
    fmap.write_text("0\tcol=a\ti\n1\tcol=b\ti\n2\tcol=c\ti\n3\tnum\tq\n4\tflag\ti\n")
    model = quickscore.load(bytes(booster.save_raw("json")), feature_map=fmap)
    flags = np.where(np.isnan(X[:, 4]), None, np.where(X[:, 4] == 1, "true", "false"))
    frame = pd.DataFrame({"col": np.where(missing_col, None, col).astype(object), "num": X[:, 3], "flag": flags.astype(object)})
    out = model.predict(frame)
    assert out["_error"].isna().all()
    assert _close(out["_target"].astype(float).to_numpy(), booster.predict(xgb.DMatrix(X))).all()
