"""Peer adapters: one small class per scoring engine.

Every adapter scores P(y=1) for the binary workloads W1..W4 and exposes the same
five steps, so ``peer_runner.py`` can time them identically:

    setup()                 import the library, start its runtime (a JVM, ...)
    load(workload_dir)      load the model file (this is what "load time" measures)
    set_threads(n)          use n threads for batch scoring (library param / env)
    predict_batch(X, df)    P(y=1) for a float64 ndarray ``X`` (or its DataFrame ``df``)
    predict_one(d)          P(y=1) for a single row given as ``{"x1": .., ...}``

and, where the engine takes a thread count per call (``per_call_threads``, quickscore's
``Model.predict(n_threads=)``), ``predict_batch_threads(X, df, n)``: one batch on n threads
without a switch, for the paired thread-scaling repetitions (bench/run.py).

This module must stay importable with only numpy installed (the lleaves peer runs
it from a separate virtualenv), so every library import is inside a method.
"""

from __future__ import annotations

import inspect
import math
import os
from pathlib import Path

import numpy as np

JVM_HEAP = os.environ.get("QS_BENCH_JVM_HEAP", "-Xmx2g")  # PITFALLS: cap the JVM heap


class NotApplicable(Exception):
    """This peer does not handle this workload (not a failure)."""


class Peer:
    name = "?"
    #: batch scoring can use more than one thread
    threaded = True
    #: wants a pandas DataFrame for predict_batch
    wants_df = False
    #: which workloads this peer can score (None = all)
    workloads: tuple[str, ...] | None = None
    #: native model file (relative to the workload dir) or "model.pmml" etc.
    model_file = "model.pmml"
    #: predict_batch_threads(X, df, n) scores one batch on n threads (no switch, no reload)
    per_call_threads = False

    def __init__(self, workload: str, meta: dict):
        self.workload = workload
        self.meta = meta
        self.names = meta["feature_names"]
        self.notes: list[str] = []

    def versions(self) -> dict:
        return {}

    def setup(self) -> None:
        pass

    def load(self, d: Path) -> None:
        raise NotImplementedError

    def set_threads(self, n: int) -> None:
        pass

    def predict_batch(self, X: np.ndarray, df=None) -> np.ndarray:
        raise NotImplementedError

    def predict_one(self, d: dict) -> float:
        raise NotImplementedError

    def predict_batch_threads(self, X: np.ndarray, df, n: int) -> np.ndarray:
        raise NotImplementedError(f"{self.name} takes no thread count per call")

    # helpers
    def row(self, d: dict, dtype=np.float64) -> np.ndarray:
        return np.array([[d[k] for k in self.names]], dtype=dtype)


def _ver(mod: str) -> str:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:  # noqa: BLE001
        return "?"


def _p1_from_2d(out) -> np.ndarray:
    out = np.asarray(out)
    if out.ndim == 3:  # treelite: (n, targets, classes)
        out = out[:, 0, :]
    if out.ndim == 2:
        return out[:, -1] if out.shape[1] > 1 else out[:, 0]
    return out


# --------------------------------------------------------------------------- training libraries
class Native(Peer):
    """The training library's own predict (sklearn / LightGBM / XGBoost)."""

    name = "native"

    def versions(self):
        kind = self.meta["kind"]
        return {kind: _ver({"sklearn": "scikit-learn"}.get(kind, kind))}

    def setup(self):
        kind = self.meta["kind"]
        if kind == "sklearn":
            import joblib  # noqa: F401
            import sklearn  # noqa: F401
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits
        elif kind == "lightgbm":
            import lightgbm  # noqa: F401
        elif kind == "xgboost":
            import xgboost  # noqa: F401
        self.threads = 1

    def load(self, d):
        kind = self.meta["kind"]
        if kind == "sklearn":
            import joblib

            self.model_file = "model.joblib"
            self.m = joblib.load(d / "model.joblib")
            self.threaded = hasattr(self.m, "n_jobs") and hasattr(self.m, "estimators_")
        elif kind == "lightgbm":
            import lightgbm as lgb

            self.model_file = "model.txt"
            self.m = lgb.Booster(model_file=str(d / "model.txt"))
        else:
            import xgboost as xgb

            self.model_file = "model.json"
            self.m = xgb.Booster()
            self.m.load_model(str(d / "model.json"))

    def set_threads(self, n):
        self.threads = n
        kind = self.meta["kind"]
        if kind == "sklearn":
            if hasattr(self.m, "n_jobs"):
                self.m.n_jobs = n
            self._lim = self._limits(n)  # BLAS / OpenMP pools
        elif kind == "xgboost":
            self.m.set_param({"nthread": n})

    def predict_batch(self, X, df=None):
        kind = self.meta["kind"]
        if kind == "sklearn":
            return self.m.predict_proba(X)[:, 1]
        if kind == "lightgbm":
            return self.m.predict(X, num_threads=self.threads)
        return self.m.inplace_predict(X)

    def predict_one(self, d):
        return float(self.predict_batch(self.row(d))[0])


# --------------------------------------------------------------------------- quickscore
def _extract_p1(res) -> np.ndarray:
    """Pull P(y=1) out of whatever quickscore.predict returns."""
    keys = ("probability(1)", "probability_1", "proba_1", "p1", "probability")
    try:
        import pandas as pd

        if isinstance(res, pd.DataFrame):
            for k in keys:
                if k in res.columns:
                    return res[k].to_numpy(dtype=np.float64)
            cols = [c for c in res.columns if "prob" in str(c).lower()]
            if cols:
                return res[cols[-1]].to_numpy(dtype=np.float64)
            raise KeyError(f"no probability column in {list(res.columns)}")
        if isinstance(res, pd.Series):
            return res.to_numpy(dtype=np.float64)
    except ImportError:
        pass
    if isinstance(res, dict):
        for k in keys:
            if k in res:
                return np.atleast_1d(np.asarray(res[k], dtype=np.float64))
        cols = [c for c in res if "prob" in str(c).lower()]
        if cols:
            return np.atleast_1d(np.asarray(res[cols[-1]], dtype=np.float64))
        raise KeyError(f"no probability key in {list(res)}")
    for attr in ("probabilities", "proba", "probability"):
        if hasattr(res, attr):
            return _p1_from_2d(getattr(res, attr))
    if hasattr(res, "to_pandas"):
        return _extract_p1(res.to_pandas())
    return np.atleast_1d(_p1_from_2d(res)).astype(np.float64)


class Quickscore(Peer):
    name = "quickscore"
    wants_df = True

    def versions(self):
        import quickscore

        v = {"quickscore": getattr(quickscore, "__version__", "?")}
        try:
            import numba

            v["numba"] = numba.__version__
        except Exception:  # noqa: BLE001
            pass
        return v

    def setup(self):
        import quickscore
        import quickscore.kernels  # noqa: F401 - numba and the kernels: runtime start-up, like a JVM launch

        self.qs = quickscore
        self.load_kw: dict = {}
        self.predict_kw: dict = {}
        self._load_takes_threads = _accepts(quickscore.load, "n_threads")
        self.threads = None

    def _path(self, d: Path) -> Path:
        return d / "model.pmml"

    def load(self, d):
        self.d = d
        self.model_file = self._path(d).name
        self.m = self.qs.load(str(self._path(d)))
        self._predict_takes_threads = self.per_call_threads = _accepts(self.m.predict, "n_threads")
        if not (self._predict_takes_threads or self._load_takes_threads):
            self.notes.append("no n_threads= yet: threads via NUMBA_NUM_THREADS/numba.set_num_threads")

    def set_threads(self, n):
        self.threads = n
        try:
            import numba

            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        except Exception:  # noqa: BLE001
            pass
        if self._predict_takes_threads:
            # Model.predict(n_threads=): the thread count of each batch call (no reload)
            self.predict_kw = {"n_threads": n}
        elif self._load_takes_threads:
            # Only load takes it: reload (not timed) with the wanted thread count.
            self.m = self.qs.load(str(self._path(self.d)), n_threads=n)

    def predict_batch(self, X, df=None):
        return _extract_p1(self.m.predict(df if df is not None else X, **self.predict_kw))

    def predict_batch_threads(self, X, df, n):
        return _extract_p1(self.m.predict(df if df is not None else X, n_threads=n))

    def predict_one(self, d):
        # P(y=1) straight from the result dict (its key found once): the timing is the call.
        # No n_threads=: one record is scored on the calling thread anyway, and the call is
        # timed as users make it.
        key = self.__dict__.get("_p1_key")
        if key is None:
            res = self.m.predict(d)
            key = self._p1_key = next((k for k in ("probability(1)", "probability(1.0)") if k in res), None) or False
            return float(_extract_p1(res)[0])
        res = self.m.predict(d)
        if not key:
            return float(_extract_p1(res)[0])
        v = res[key]
        return math.nan if v is None else v


class QuickscoreNative(Quickscore):
    """quickscore on the native LightGBM text / XGBoost JSON model file."""

    name = "quickscore-native"
    workloads = ("W3", "W4")

    def _path(self, d):
        return d / ("model.txt" if self.workload == "W3" else "model.json")


class QuickscoreQsm(Quickscore):
    """quickscore on the ``quickscore compile`` output of the PMML (``model.qsm``: the lowered
    arrays, written by bench/run.py before the measurements, so never stale)."""

    name = "quickscore-qsm"

    def _path(self, d):
        return d / "model.qsm"


def _accepts(fn, kw: str) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return kw in sig.parameters  # only an explicit keyword (not **kwargs)


# --------------------------------------------------------------------------- JVM peers
class JPMML(Peer):
    """JPMML-Evaluator through the ``jpmml_evaluator`` package (JPype, in-process JVM)."""

    name = "jpmml"
    wants_df = True

    def versions(self):
        v = {"jpmml_evaluator": _ver("jpmml_evaluator"), "jpype1": _ver("jpype1")}
        try:
            import jpmml_evaluator

            jars = [Path(p).name for p in jpmml_evaluator._classpath(user_classpath=[])]
            v["jpmml-evaluator jar"] = next(
                (j[len("pmml-evaluator-"):-4] for j in jars if j.startswith("pmml-evaluator-") and j[15:16].isdigit()),
                "?",
            )
        except Exception:  # noqa: BLE001
            pass
        return v

    def setup(self):
        import jpmml_evaluator
        import jpype

        if not jpype.isJVMStarted():
            jpype.startJVM(JVM_HEAP, classpath=jpmml_evaluator._classpath(user_classpath=[]))
        from jpmml_evaluator import make_evaluator

        self._make = make_evaluator
        self.parallelism = 1
        self.notes.append(f"JVM {JVM_HEAP}, evaluateAll in 20k-row chunks")

    def load(self, d):
        self.ev = self._make(str(d / "model.pmml"), backend="jpype", lax=True).verify()
        self.out = "probability(1)"

    def set_threads(self, n):
        self.parallelism = n

    #: rows per evaluateAll call: one 100k-row call runs out of a 2 GB heap on W3
    chunk = 20_000

    def predict_batch(self, X, df=None):
        parts = [
            self.ev.evaluateAll(df.iloc[i : i + self.chunk], parallelism=self.parallelism)[self.out]
            for i in range(0, len(df), self.chunk)
        ]
        return np.concatenate([p.to_numpy(dtype=np.float64) for p in parts])

    def predict_one(self, d):
        return float(self.ev.evaluate(d)[self.out])


class PyPMML(Peer):
    """PyPMML (Py4J bridge to a separate Java process)."""

    name = "pypmml"
    wants_df = True
    threaded = False

    def versions(self):
        return {"pypmml": _ver("pypmml")}

    def setup(self):
        from pypmml import Model
        from pypmml.base import PMMLContext

        PMMLContext.getOrCreate(java_opts=[JVM_HEAP])
        self._Model = Model
        self.notes.append(f"JVM {JVM_HEAP} (child process)")

    def load(self, d):
        self.m = self._Model.load(str(d / "model.pmml"))

    def predict_batch(self, X, df=None):
        res = self.m.predict(df)
        return res["probability(1)"].to_numpy(dtype=np.float64)

    def predict_one(self, d):
        return float(self.m.predict(d)["probability(1)"])


# --------------------------------------------------------------------------- pure Python PMML
class SklearnPMMLModel(Peer):
    """sklearn-pmml-model: parses PMML into scikit-learn estimators."""

    name = "sklearn-pmml-model"

    def versions(self):
        return {"sklearn-pmml-model": _ver("sklearn-pmml-model")}

    def setup(self):
        from sklearn_pmml_model.auto_detect import auto_detect_estimator
        from threadpoolctl import threadpool_limits

        self._auto = auto_detect_estimator
        self._limits = threadpool_limits

    def load(self, d):
        self.m = self._auto(pmml=str(d / "model.pmml"))
        self.threaded = hasattr(self.m, "n_jobs") and hasattr(self.m, "estimators_")
        self.cols = None

    def set_threads(self, n):
        if hasattr(self.m, "n_jobs"):
            self.m.n_jobs = n
        self._lim = self._limits(n)

    def _proba(self, X):
        import pandas as pd

        return self.m.predict_proba(pd.DataFrame(X, columns=self.names))[:, 1]

    def predict_batch(self, X, df=None):
        return self._proba(X)

    def predict_one(self, d):
        return float(self._proba(self.row(d))[0])


# --------------------------------------------------------------------------- ONNX Runtime
class ONNXRuntime(Peer):
    name = "onnxruntime"
    model_file = "model.onnx"

    def versions(self):
        return {
            "onnxruntime": _ver("onnxruntime"),
            "skl2onnx": _ver("skl2onnx"),
            "onnxmltools": _ver("onnxmltools"),
        }

    def setup(self):
        import onnxruntime as ort

        self.ort = ort

    def _session(self, n):
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = n
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        return self.ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])

    def load(self, d):
        self.path = d / "model.onnx"
        if not self.path.exists():
            raise FileNotFoundError("model.onnx missing (conversion failed at build time, see manifest errors)")
        self.sess = self._session(os.cpu_count() or 1)
        self.iname = self.sess.get_inputs()[0].name
        outs = [o.name for o in self.sess.get_outputs()]
        self.oname = next((o for o in outs if "prob" in o.lower()), outs[-1])
        self.notes.append("float32 inputs")

    def set_threads(self, n):
        self.sess = self._session(n)

    def _run(self, X32):
        out = self.sess.run([self.oname], {self.iname: X32})[0]
        if isinstance(out, list):  # ZipMap
            return np.array([o[1] for o in out])
        return _p1_from_2d(out)

    def predict_batch(self, X, df=None):
        return self._run(X.astype(np.float32))

    def predict_one(self, d):
        return float(self._run(self.row(d, np.float32))[0])


# --------------------------------------------------------------------------- compiled C
class TL2cgen(Peer):
    """Treelite model compiled to a shared library by TL2cgen (compiled at build time)."""

    name = "tl2cgen"
    workloads = ("W1", "W3", "W4")
    model_file = "tl2cgen.so"

    def versions(self):
        return {"tl2cgen": _ver("tl2cgen"), "treelite": _ver("treelite")}

    def setup(self):
        import tl2cgen

        self.tl = tl2cgen

    def load(self, d):
        self.lib = d / "tl2cgen.so"
        if not self.lib.exists():
            raise FileNotFoundError("tl2cgen.so not compiled (run without --quick once, or see compile log)")
        self.p = self.tl.Predictor(str(self.lib), nthread=os.cpu_count() or 1)
        self.notes.append("float32 inputs")

    def set_threads(self, n):
        self.p = self.tl.Predictor(str(self.lib), nthread=n)

    def predict_batch(self, X, df=None):
        return _p1_from_2d(self.p.predict(self.tl.DMatrix(X.astype(np.float32))))

    def predict_one(self, d):
        return float(_p1_from_2d(self.p.predict(self.tl.DMatrix(self.row(d, np.float32))))[0])


class Lleaves(Peer):
    """lleaves (LLVM-compiled LightGBM); runs from bench/.cache/venv-lleaves."""

    name = "lleaves"
    workloads = ("W3",)
    model_file = "model.txt"

    def versions(self):
        return {"lleaves": _ver("lleaves"), "llvmlite": _ver("llvmlite")}

    def setup(self):
        import lleaves

        self.ll = lleaves
        self.threads = 1

    def load(self, d):
        so = d / "lleaves.so"
        if not so.exists():
            raise FileNotFoundError("lleaves.so not compiled (see compile log)")
        self.m = self.ll.Model(model_file=str(d / "model.txt"))
        self.m.compile(cache=str(so))  # loads the cached object; compiling is a build step
        self.notes.append("load = parse model.txt + load cached .so")

    def set_threads(self, n):
        self.threads = n

    def predict_batch(self, X, df=None):
        return self.m.predict(X, n_jobs=self.threads)

    def predict_one(self, d):
        return float(self.m.predict(self.row(d), n_jobs=1)[0])


PEERS: dict[str, type[Peer]] = {
    p.name: p
    for p in (
        Native,
        Quickscore,
        QuickscoreNative,
        QuickscoreQsm,
        JPMML,
        PyPMML,
        SklearnPMMLModel,
        ONNXRuntime,
        TL2cgen,
        Lleaves,
    )
}
