"""Batch speed of a LightGBM text model, native route, against lightgbm's own predict.

Not a test (pytest does not collect it): ``python tests/native/bench_lightgbm_native.py``.
The model is the benchmark suite's W3 (500 trees, 63 leaves, binary, 20 features) from
``bench/.cache/w3/model.txt`` when it exists, else one trained here the same way; 100,000
rows from the same make_classification draw. Both on one thread; medians of 3 interleaved
pairs, each after a warm-up. Prints rows/s, the ratio, and the largest probability difference (and the PMML
route's rows/s when the suite's W3 PMML is cached).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=500_000, n_features=20, n_informative=12, n_redundant=4, flip_y=0.05, random_state=42)
    return X[:38_500], y[:38_500], X[-100_000:]


def model_text(X: np.ndarray, y: np.ndarray) -> str:
    cached = REPO / "bench" / ".cache" / "w3" / "model.txt"
    if cached.exists():
        return cached.read_text()
    import lightgbm as lgb

    names = [f"x{i + 1}" for i in range(20)]
    clf = lgb.LGBMClassifier(n_estimators=500, num_leaves=63, random_state=42, verbose=-1)
    clf.fit(pd.DataFrame(X, columns=names), y)
    return clf.booster_.model_to_string()


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import lightgbm as lgb

    import quickscore

    X_train, y_train, X = data()
    X = X[: args.rows]
    text = model_text(X_train, y_train)
    booster = lgb.Booster(model_str=text)
    names = booster.feature_name()
    frame = pd.DataFrame(X, columns=names)
    t = time.perf_counter()
    model = quickscore.load(text.encode(), n_threads=1)
    load_s = time.perf_counter() - t
    theirs = booster.predict(X, num_threads=1)
    ours = model.predict(frame)["probability(1)"].to_numpy(dtype=float)
    # Interleaved, so that both see the same machine load (it is shared).
    pairs = [(timed(lambda: booster.predict(X, num_threads=1), 1), timed(lambda: model.predict(frame), 1)) for _ in range(args.repeats)]
    lgb_s = statistics.median(p[0] for p in pairs)
    qs_s = statistics.median(p[1] for p in pairs)
    ratios = sorted(a / b for a, b in pairs)
    n = len(X)
    print(f"model: {booster.num_trees()} trees, engine {model.engine}, load {load_s:.2f} s")
    print(f"lightgbm predict (1 thread): {n / lgb_s:,.0f} rows/s ({lgb_s:.3f} s)")
    print(f"quickscore native   (1 thread): {n / qs_s:,.0f} rows/s ({qs_s:.3f} s)")
    print(f"ratio quickscore / lightgbm: {lgb_s / qs_s:.2f} (per pair: {', '.join(f'{r:.2f}' for r in ratios)})")
    pmml = REPO / "bench" / ".cache" / "w3" / "model.pmml"
    if pmml.exists():  # the same model through sklearn2pmml, for comparison
        pmml_model = quickscore.load(pmml, n_threads=1)
        pmml_s = timed(lambda: pmml_model.predict(frame), args.repeats)
        print(f"quickscore PMML route (1 thread): {n / pmml_s:,.0f} rows/s ({pmml_s:.3f} s)")
    print(f"max |delta p|: {np.max(np.abs(ours - theirs)):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
