"""The kernels on the project's PMML fixtures (sklearn, XGBoost, LightGBM ensembles).

For every MiningModel whose segments are all TreeModels with True predicates: leaf indices
must equal each segment's ``TreeCore.leaves`` and the fused aggregations must be
bit-identical to ``MiningCore.predict`` on the same frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quickscore
from quickscore.ir import TreeModel
from quickscore.kernels import ensemble as E
from quickscore.kernels.trees import FieldEncoding, lower_trees, predicate_fields
from quickscore.models.mining import MiningCore
from quickscore.models.tree import TreeCore
from quickscore.runtime.model import _columns

DATA = Path(__file__).resolve().parents[2] / "data"
FIXTURES = [
    "RandomForestClassifierWine",
    "RandomForestRegressorDiabetes",
    "DecisionTreeClassifierAudit",
    "GradientBoostingClassifierIris",
    "GradientBoostingClassifierBreastCancer",
    "XGBClassifierIris",
    "XGBClassifierAuditNA",
    "LGBMRegressorDiabetes",
    "LGBMClassifierAuditNA",
]


def _tree_ensembles(compiled, frame):
    """(MiningCore, frame with its fields) depth first, for MiningCores whose segments are all
    TreeModels. Local transformations are defined on the way down, as CompiledModel.run does."""
    frame = frame.child()
    for name, compute in compiled.local:
        frame.define(name, compute)
    core = compiled.core
    if isinstance(core, MiningCore):
        for name, compute in core.local:
            frame.define(name, compute)
        segs = core.segments
        if all(isinstance(s.model.model, TreeModel) for s in segs):
            yield core, frame
        for s in segs:
            yield from _tree_ensembles(s.model, frame)


def _encodings(models, scope) -> dict[str, FieldEncoding]:
    out = {}
    for name in predicate_fields(models):
        decl = scope.find(name)
        out[name] = FieldEncoding(len(out), decl.data_type, tuple(decl.valid) if not decl.data_type.is_numeric else ())
    return out


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture(name):
    model = quickscore.load(DATA / f"{name}.pmml", engine="reference")  # not these kernels
    assert model.engine == "reference"
    df = pd.read_csv(DATA / f"{name}.input.csv")
    columns, n = _columns(df)
    frame, _ = model._score(columns, n)
    checked = 0
    top = model._compiled.core
    if isinstance(top, TreeCore):
        tm = model._compiled.model
        arrays = lower_trees([tm], _encodings([tm], model._compiled.ctx.scope))
        X = arrays.encode({f: frame.get(f).values for f in arrays.used}, n)
        ref, ref_levels = top.leaves(frame)
        np.testing.assert_array_equal(E.leaf_indices(X, arrays)[:, 0], ref)
        checked += 1
    for mining, frame in _tree_ensembles(model._compiled, frame):
        segs = mining.segments
        # The fused aggregations assume every segment scores every row.
        assert all(s.predicate(frame, None)[0].all() for s in segs)
        trees = [s.model.model for s in segs]
        cores: list[TreeCore] = [s.model.core for s in segs]
        scope = segs[0].model.ctx.scope
        fields = _encodings(trees, scope)
        arrays = lower_trees(trees, fields)
        assert arrays is not None, name
        X = arrays.encode({f: frame.get(f).values for f in arrays.used}, n)

        got, levels = E.leaf_indices(X, arrays, levels=True)
        for t, core in enumerate(cores):
            ref, ref_levels = core.leaves(frame)
            np.testing.assert_array_equal(got[:, t], ref)
            np.testing.assert_array_equal(levels[:, t], ref_levels)
        for r in range(min(n, 50)):
            np.testing.assert_array_equal(E.leaf_indices_row(np.ascontiguousarray(X[r]), arrays), got[r])

        expected = mining.predict(frame)
        weights = np.array([s.weight for s in segs])
        if mining.ctx.classification:
            classes = mining.classes
            probs = np.concatenate([_probs(core, classes) for core in cores])
            if mining.method in ("average", "weightedAverage"):
                weighted = mining.method == "weightedAverage"
                out = E.average_probabilities(X, arrays, probs, weights=weights, weighted=weighted, treatment=mining.treatment, threshold=mining.threshold)
                np.testing.assert_array_equal(out, expected.probabilities)
                checked += 1
            elif mining.method in ("majorityVote", "weightedMajorityVote"):
                labels = np.concatenate([[classes.index(v) if v is not None else -1 for v in core.scores] for core in cores])
                counts = E.vote_counts(X, arrays, labels, len(classes), weights=weights, weighted=mining.method.startswith("weighted"))
                probs_, winner = E.combine_votes(counts, n_trees=arrays.n_trees, weights=weights, treatment=mining.treatment, threshold=mining.threshold)
                np.testing.assert_array_equal(probs_, expected.probabilities)
                checked += 1
        elif mining.method in ("sum", "weightedSum", "average", "weightedAverage"):
            values = np.concatenate([core.scores for core in cores])
            weighted = mining.method.startswith("weighted")
            sums = E.sum_values(X, arrays, values, weights=weights, weighted=weighted, float32=mining.float32)
            out = E.combine_values(sums, mining.method, n_trees=arrays.n_trees, weights=weights, treatment=mining.treatment, threshold=mining.threshold)
            np.testing.assert_array_equal(out, expected.value)
            checked += 1
    assert checked > 0


def _probs(core: TreeCore, classes) -> np.ndarray:
    out = np.zeros((core.n_nodes, len(classes)))
    for j, c in enumerate(core.classes):
        out[:, classes.index(c)] = core.probabilities[:, j]
    return out
