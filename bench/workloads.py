"""Build (and cache) the benchmark workloads W1..W4.

Everything is deterministic (fixed seeds) and written to ``bench/.cache/``:

    bench/.cache/
      manifest.json            build version + per-artifact build times
      data/X_test.npy          last 100,000 rows of make_classification (float64)
      data/feature_names.json  ["x1", ..., "x20"]
      w1/ model.pmml  model.joblib  model.onnx  ref_proba.npy  [tl2cgen.so]
      w2/ model.pmml  model.joblib  model.onnx  ref_proba.npy
      w3/ model.pmml  model.txt     model.onnx  ref_proba.npy  [tl2cgen.so  lleaves.so]
      w4/ model.pmml  model.json    model.onnx  ref_proba.npy  [tl2cgen.so]

``ref_proba.npy`` is P(y=1) from the training library's own in-memory model on
the first 1,000 test rows: the reference every peer is compared against.

Run directly (``python bench/workloads.py``) to build only the cache.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
# QS_BENCH_CACHE: build into another directory (e.g. to time a cold build)
CACHE = Path(os.environ.get("QS_BENCH_CACHE") or BENCH_DIR / ".cache").resolve()
DATA = CACHE / "data"

# Bump when a workload definition changes: everything is rebuilt.
BUILD_VERSION = "1"

N_SAMPLES = 500_000
N_FEATURES = 20
N_TRAIN = 38_500
N_TEST = 100_000
N_REF = 1_000
SEED = 42
FEATURE_NAMES = [f"x{i + 1}" for i in range(N_FEATURES)]
TARGET = "y"

WORKLOADS = {
    "W1": dict(dir="w1", title="RandomForest 100 trees (sklearn)", kind="sklearn", native="model.joblib"),
    "W2": dict(dir="w2", title="LogisticRegression (sklearn)", kind="sklearn", native="model.joblib"),
    "W3": dict(dir="w3", title="LightGBM 500 trees, 63 leaves", kind="lightgbm", native="model.txt"),
    "W4": dict(dir="w4", title="XGBoost 300 trees, depth 8", kind="xgboost", native="model.json"),
}


def wdir(w: str) -> Path:
    return CACHE / WORKLOADS[w]["dir"]


def log(msg: str) -> None:
    print(f"[build] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- manifest
def _manifest_path() -> Path:
    return CACHE / "manifest.json"


def load_manifest() -> dict:
    p = _manifest_path()
    if p.exists():
        try:
            m = json.loads(p.read_text())
            if m.get("build_version") == BUILD_VERSION:
                return m
            log(f"cache build_version {m.get('build_version')} != {BUILD_VERSION}: rebuilding")
        except Exception:  # noqa: BLE001
            pass
    return {"build_version": BUILD_VERSION, "artifacts": {}}


def save_manifest(m: dict) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = _manifest_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(m, indent=2, sort_keys=True))
    os.replace(tmp, _manifest_path())


def have(m: dict, key: str, *paths: Path) -> bool:
    return key in m["artifacts"] and all(p.exists() for p in paths)


def record(m: dict, key: str, seconds: float, **extra) -> None:
    m["artifacts"][key] = {"seconds": round(seconds, 2), **extra}
    save_manifest(m)


def _atomic(path: Path) -> Path:
    """Temporary sibling path; caller renames it onto ``path`` when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".part")


# --------------------------------------------------------------------------- data
def make_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_informative=12,
        n_redundant=4,
        flip_y=0.05,
        random_state=SEED,
    )
    return X[:N_TRAIN], y[:N_TRAIN], X[-N_TEST:]


_DATA_CACHE: dict = {}


def train_data():
    if "train" not in _DATA_CACHE:
        Xtr, ytr, Xte = make_data()
        _DATA_CACHE["train"] = (Xtr, ytr, Xte)
    return _DATA_CACHE["train"]


def build_data(m: dict) -> None:
    xt = DATA / "X_test.npy"
    if have(m, "data", xt, DATA / "feature_names.json"):
        return
    t = time.perf_counter()
    _, _, Xte = train_data()
    DATA.mkdir(parents=True, exist_ok=True)
    np.save(DATA / "X_test.npy", np.ascontiguousarray(Xte))
    (DATA / "feature_names.json").write_text(json.dumps(FEATURE_NAMES))
    record(m, "data", time.perf_counter() - t, shape=list(Xte.shape))
    log(f"data: {Xte.shape} test rows")


# --------------------------------------------------------------------------- training
def _pmml_pipeline(est):
    from sklearn2pmml.pipeline import PMMLPipeline

    return PMMLPipeline([("classifier", est)])


def _finish_pipeline(pipe):
    # We fit on plain numpy (so predicting later from numpy emits no feature-name
    # warnings), and name the PMML fields explicitly.
    pipe.active_fields = np.asarray(FEATURE_NAMES)
    pipe.target_fields = np.asarray([TARGET])
    return pipe


def _export_pmml(pipe, path: Path) -> float:
    from sklearn2pmml import sklearn2pmml

    t = time.perf_counter()
    tmp = _atomic(path)
    sklearn2pmml(pipe, str(tmp), java_opts=["-Xmx8g"])
    os.replace(tmp, path)
    return time.perf_counter() - t


def _save_ref(d: Path, p1: np.ndarray) -> None:
    np.save(d / "ref_proba.npy", np.asarray(p1, dtype=np.float64))


def build_sklearn(m: dict, w: str) -> None:
    import joblib

    d = wdir(w)
    d.mkdir(parents=True, exist_ok=True)
    key = f"{w}.train"
    if not have(m, key, d / "model.joblib", d / "ref_proba.npy"):
        Xtr, ytr, Xte = train_data()
        t = time.perf_counter()
        if w == "W1":
            from sklearn.ensemble import RandomForestClassifier

            est = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=-1)
        else:
            from sklearn.linear_model import LogisticRegression

            est = LogisticRegression(max_iter=1000, random_state=SEED)
        pipe = _finish_pipeline(_pmml_pipeline(est))
        with warnings.catch_warnings():  # "X is missing feature names": set by _finish_pipeline
            warnings.simplefilter("ignore")
            pipe.fit(Xtr, ytr)
        if w == "W1":
            est.n_jobs = None  # peers choose their own thread count
        tmp = _atomic(d / "model.joblib")
        joblib.dump(est, tmp)
        os.replace(tmp, d / "model.joblib")
        joblib.dump(pipe, d / "pipeline.joblib")
        _save_ref(d, est.predict_proba(Xte[:N_REF])[:, 1])
        record(m, key, time.perf_counter() - t)
        log(f"{w}: trained in {time.perf_counter() - t:.1f}s")
    pipe = None
    if not have(m, f"{w}.pmml", d / "model.pmml"):
        pipe = joblib.load(d / "pipeline.joblib")
        log(f"{w}: exporting PMML (sklearn2pmml) ...")
        s = _export_pmml(pipe, d / "model.pmml")
        record(m, f"{w}.pmml", s, mb=round((d / "model.pmml").stat().st_size / 1e6, 1))
        log(f"{w}: PMML {(d / 'model.pmml').stat().st_size / 1e6:.1f} MB in {s:.1f}s")
    if not have(m, f"{w}.onnx", d / "model.onnx"):
        _try_onnx(m, w, lambda: _onnx_sklearn(joblib.load(d / "model.joblib")))


def build_lightgbm(m: dict, w: str = "W3") -> None:
    import joblib

    d = wdir(w)
    d.mkdir(parents=True, exist_ok=True)
    key = f"{w}.train"
    if not have(m, key, d / "model.txt", d / "ref_proba.npy", d / "pipeline.joblib"):
        Xtr, ytr, Xte = train_data()
        from lightgbm import LGBMClassifier

        t = time.perf_counter()
        est = LGBMClassifier(n_estimators=500, num_leaves=63, random_state=SEED, verbose=-1)
        pipe = _finish_pipeline(_pmml_pipeline(est))
        with warnings.catch_warnings():  # "X is missing feature names": set by _finish_pipeline
            warnings.simplefilter("ignore")
            pipe.fit(Xtr, ytr, classifier__feature_name=FEATURE_NAMES)
        tmp = _atomic(d / "model.txt")
        est.booster_.save_model(str(tmp))
        os.replace(tmp, d / "model.txt")
        joblib.dump(pipe, d / "pipeline.joblib")
        _save_ref(d, est.predict_proba(Xte[:N_REF])[:, 1])
        record(m, key, time.perf_counter() - t)
        log(f"{w}: trained in {time.perf_counter() - t:.1f}s")
    if not have(m, f"{w}.pmml", d / "model.pmml"):
        pipe = joblib.load(d / "pipeline.joblib")
        log(f"{w}: exporting PMML (sklearn2pmml) ...")
        s = _export_pmml(pipe, d / "model.pmml")
        record(m, f"{w}.pmml", s, mb=round((d / "model.pmml").stat().st_size / 1e6, 1))
        log(f"{w}: PMML {(d / 'model.pmml').stat().st_size / 1e6:.1f} MB in {s:.1f}s")
    if not have(m, f"{w}.onnx", d / "model.onnx"):
        _try_onnx(m, w, lambda: _onnx_lightgbm(d / "model.txt"))


def build_xgboost(m: dict, w: str = "W4") -> None:
    import joblib

    d = wdir(w)
    d.mkdir(parents=True, exist_ok=True)
    key = f"{w}.train"
    if not have(m, key, d / "model.json", d / "ref_proba.npy", d / "pipeline.joblib"):
        Xtr, ytr, Xte = train_data()
        from xgboost import XGBClassifier

        t = time.perf_counter()
        est = XGBClassifier(
            n_estimators=300, max_depth=8, random_state=SEED, n_jobs=os.cpu_count(), tree_method="hist"
        )
        pipe = _finish_pipeline(_pmml_pipeline(est))
        with warnings.catch_warnings():  # "X is missing feature names": set by _finish_pipeline
            warnings.simplefilter("ignore")
            pipe.fit(Xtr, ytr)
        joblib.dump(pipe, d / "pipeline.joblib")
        _save_ref(d, est.predict_proba(Xte[:N_REF])[:, 1])
        # Native JSON carries the real feature names (x1..x20).
        bst = est.get_booster().copy()
        bst.feature_names = list(FEATURE_NAMES)
        tmp = d / "model.part.json"
        bst.save_model(str(tmp))
        os.replace(tmp, d / "model.json")
        record(m, key, time.perf_counter() - t)
        log(f"{w}: trained in {time.perf_counter() - t:.1f}s")
    if not have(m, f"{w}.pmml", d / "model.pmml"):
        pipe = joblib.load(d / "pipeline.joblib")
        log(f"{w}: exporting PMML (sklearn2pmml) ...")
        s = _export_pmml(pipe, d / "model.pmml")
        record(m, f"{w}.pmml", s, mb=round((d / "model.pmml").stat().st_size / 1e6, 1))
        log(f"{w}: PMML {(d / 'model.pmml').stat().st_size / 1e6:.1f} MB in {s:.1f}s")
    if not have(m, f"{w}.onnx", d / "model.onnx"):
        _try_onnx(m, w, lambda: _onnx_xgboost(d / "model.json"))


# --------------------------------------------------------------------------- ONNX
ONNX_OPSET = 15  # onnxmltools wants target_opset <= 15 (PITFALLS.md)


def _try_onnx(m: dict, w: str, make) -> None:
    d = wdir(w)
    t = time.perf_counter()
    try:
        onx = make()
        tmp = _atomic(d / "model.onnx")
        tmp.write_bytes(onx.SerializeToString())
        os.replace(tmp, d / "model.onnx")
        record(m, f"{w}.onnx", time.perf_counter() - t)
        log(f"{w}: ONNX written in {time.perf_counter() - t:.1f}s")
    except Exception as e:  # noqa: BLE001 - a failed conversion is reported, not fatal
        m["artifacts"].pop(f"{w}.onnx", None)
        m.setdefault("errors", {})[f"{w}.onnx"] = f"{type(e).__name__}: {e}"[:500]
        save_manifest(m)
        log(f"{w}: ONNX conversion failed: {type(e).__name__}: {e}")


def _onnx_sklearn(est):
    from skl2onnx import to_onnx

    X = np.zeros((1, N_FEATURES), dtype=np.float32)
    return to_onnx(est, X, options={id(est): {"zipmap": False}}, target_opset={"": ONNX_OPSET, "ai.onnx.ml": 3})


def _onnx_lightgbm(path: Path):
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    bst = lgb.Booster(model_file=str(path))
    return convert_lightgbm(
        bst, initial_types=[("input", FloatTensorType([None, N_FEATURES]))], zipmap=False, target_opset=ONNX_OPSET
    )


def _onnx_xgboost(path: Path):
    import xgboost as xgb
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    clf = xgb.XGBClassifier()
    clf.load_model(str(path))
    # onnxmltools parses the tree dump and wants features named f0..fN (PITFALLS.md).
    clf.get_booster().feature_names = None
    return convert_xgboost(
        clf, initial_types=[("input", FloatTensorType([None, N_FEATURES]))], target_opset=ONNX_OPSET
    )


# --------------------------------------------------------------------------- compiled peers
def compile_tl2cgen(w: str) -> float:
    """Compile the tree model of ``w`` to ``tl2cgen.so`` with TL2cgen (gcc). Returns seconds."""
    import tl2cgen
    import treelite

    d = wdir(w)
    kind = WORKLOADS[w]["kind"]
    if kind == "sklearn":
        import joblib

        model = treelite.sklearn.import_model(joblib.load(d / "model.joblib"))
    elif kind == "lightgbm":
        model = treelite.frontend.load_lightgbm_model(str(d / "model.txt"))
    else:
        model = treelite.frontend.load_xgboost_model(str(d / "model.json"))
    ncpu = os.cpu_count() or 1
    t = time.perf_counter()
    tmp = d / "tl2cgen.part.so"
    # parallel_comp splits the trees over many translation units (compiled ncpu at a time)
    tl2cgen.export_lib(model, toolchain="gcc", libpath=str(tmp), params={"parallel_comp": 4 * ncpu * 8}, nthread=ncpu)
    os.replace(tmp, d / "tl2cgen.so")
    return time.perf_counter() - t


LLEAVES_COMPILE = """
import sys, time, lleaves
t = time.perf_counter()
m = lleaves.Model(model_file=sys.argv[1])
m.compile(cache=sys.argv[2])
print(time.perf_counter() - t)
"""


def write_meta() -> None:
    meta = {
        "feature_names": FEATURE_NAMES,
        "target": TARGET,
        "n_test": N_TEST,
        "n_ref": N_REF,
        "workloads": WORKLOADS,
    }
    (CACHE / "meta.json").write_text(json.dumps(meta, indent=1))


# --------------------------------------------------------------------------- driver
def build_all(only: list[str] | None = None) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    m = load_manifest()
    if m["artifacts"] == {} and _manifest_path().exists():
        save_manifest(m)
    write_meta()
    build_data(m)
    ws = only or list(WORKLOADS)
    for w in ws:
        kind = WORKLOADS[w]["kind"]
        if kind == "sklearn":
            build_sklearn(m, w)
        elif kind == "lightgbm":
            build_lightgbm(m, w)
        elif kind == "xgboost":
            build_xgboost(m, w)
    return m


if __name__ == "__main__":
    t0 = time.perf_counter()
    if len(sys.argv) == 3 and sys.argv[1] == "--compile-tl2cgen":
        secs = compile_tl2cgen(sys.argv[2])
        print(json.dumps({"seconds": secs}))
    else:
        build_all(sys.argv[1:] or None)
        log(f"done in {time.perf_counter() - t0:.1f}s")
