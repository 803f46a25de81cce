"""Malformed, truncated or hostile LightGBM text models are refused at load, clearly.

Each case edits a small valid model and expects :class:`quickscore.NativeFormat` whose
message names the place (line, tree, key) and the bad value. Nothing crashes or hangs.
"""

from __future__ import annotations

import re

import pytest

import quickscore
from quickscore.errors import NativeFormat

# A two-tree binary model as LightGBM 4 writes it (trimmed of importances and parameters).
MODEL = """tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:1
feature_names=a b
feature_infos=[-2:2] -1:0:1:2
tree_sizes=400 400

Tree=0
num_leaves=3
num_cat=1
split_feature=0 1
split_gain=10 5
threshold=0.25 0
decision_type=10 1
left_child=1 -1
right_child=-2 -3
leaf_value=-0.5 0.25 0.75
leaf_weight=1 1 1
leaf_count=10 10 10
internal_value=0 0
internal_weight=2 1
internal_count=30 20
cat_boundaries=0 1
cat_threshold=5
is_linear=0
shrinkage=1


Tree=1
num_leaves=2
num_cat=0
split_feature=1
split_gain=3
threshold=1.5
decision_type=2
left_child=-1
right_child=-2
leaf_value=0.125 -0.125
leaf_weight=1 1
leaf_count=15 15
internal_value=0
internal_weight=2
internal_count=30
is_linear=0
shrinkage=0.1


end of trees

pandas_categorical:null
"""


def _edit(pattern: str, replacement: str, count: int = 1) -> bytes:
    text, n = re.subn(pattern, replacement, MODEL, count=count, flags=re.MULTILINE)
    assert n, pattern
    return text.encode()


def test_the_base_model_loads_and_scores() -> None:
    model = quickscore.load(MODEL.encode())
    assert model.predict({"a": 0.0, "b": 0.0})["margin"] == pytest.approx(-0.5 + 0.125)
    # a = NaN goes left (missing type NaN, default left); b = 2 is in the bitset {0, 2}
    assert model.predict({"a": None, "b": 2.0})["margin"] == pytest.approx(-0.5 - 0.125)


REFUSALS = [
    ("truncated", MODEL[: MODEL.index("Tree=1") + 40].encode(), r"Tree=1: the file ends inside the tree, at 'split_feat' \(truncated\?\)"),
    ("truncated-before-end", MODEL[: MODEL.index("end of trees")].encode(), r"without 'end of trees' \(truncated\?\)"),
    ("child-out-of-range", _edit(r"^left_child=1 -1$", "left_child=7 -1"), r"Tree=0: left_child\[0\] = 7 is out of range"),
    ("leaf-out-of-range", _edit(r"^right_child=-2 -3$", "right_child=-2 -9"), r"Tree=0: right_child\[1\] = -9 is out of range"),
    ("cycle", _edit(r"^left_child=1 -1$", "left_child=1 0"), r"Tree=0: node 0 is reached twice \(a cycle"),
    ("self-loop", _edit(r"^right_child=-2 -3$", "right_child=-2 1"), r"Tree=0: node 1 is reached twice"),
    ("unknown-objective", _edit(r"^objective=.*$", "objective=telepathy"), r"objective: 'telepathy' is not a LightGBM objective"),
    ("future-version", _edit(r"^version=v4$", "version=v5"), r"version: 'v5' is not a supported format version \(supported: v2, v3, v4\)"),
    ("wrong-type-int", _edit(r"^num_leaves=3$", "num_leaves=three"), r"Tree=0: num_leaves: 'three' is not an integer"),
    ("wrong-type-float", _edit(r"^threshold=0.25 0$", "threshold=0.25x 0"), r"Tree=0: threshold: '0.25x' is not a number"),
    ("wrong-length", _edit(r"^leaf_value=-0.5 0.25 0.75$", "leaf_value=-0.5 0.25"), r"Tree=0: leaf_value has 2 values, 3 expected for num_leaves=3"),
    ("huge-num-leaves", _edit(r"^num_leaves=3$", "num_leaves=99999999999"), r"num_leaves: 99999999999 is out of range"),
    ("feature-out-of-range", _edit(r"^split_feature=0 1$", "split_feature=0 5"), r"split_feature\[1\] = 5 is not a feature index"),
    ("bad-decision-type", _edit(r"^decision_type=10 1$", "decision_type=14 1"), r"decision_type\[0\] = 14 is not a LightGBM decision type"),
    ("bad-cat-index", _edit(r"^threshold=0.25 0$", "threshold=0.25 4"), r"threshold\[1\] = 4.0 of a categorical split"),
    ("missing-version", _edit(r"^version=v4\n", ""), r"the header has no 'version' line"),
    ("tree-order", _edit(r"^Tree=1$", "Tree=7"), r"Tree=7 where Tree=1 was expected"),
    ("names-count", _edit(r"^feature_names=a b$", "feature_names=a"), r"feature_names: 1 names for max_feature_idx=1"),
    ("bad-pandas-json", _edit(r"^pandas_categorical:null$", "pandas_categorical:[[\"x\", "), r"pandas_categorical: .* is not JSON"),
    ("sigmoid", _edit(r"^objective=.*$", "objective=binary sigmoid:-1"), r"sigmoid:-1 must be a positive number"),
    ("not-utf8", b"tree\nversion=v4\n\xff\xfe", r"not UTF-8 text"),
    ("binary-garbage", b"tree\nversion=v4\n\x00\x01\x02", r"NUL byte"),
    ("no-trees", MODEL[: MODEL.index("Tree=0")].encode() + b"end of trees\n", r"the model has no trees"),
]


@pytest.mark.parametrize("data, message", [pytest.param(d, m, id=i) for i, d, m in REFUSALS])
def test_refused(data: bytes, message: str) -> None:
    with pytest.raises(NativeFormat, match=message):
        quickscore.load(data, format="lightgbm")


def test_messages_say_where() -> None:
    with pytest.raises(NativeFormat, match=r"^LightGBM model at line 19: Tree=0: left_child\[0\] = 7"):
        quickscore.load(_edit(r"^left_child=1 -1$", "left_child=7 -1"))


def test_too_deep_a_tree_is_refused_not_a_recursion_error() -> None:
    n = 2000  # a chain: node i -> left leaf i, right node i + 1
    left = " ".join(str(~i) for i in range(n))
    right = " ".join(str(i + 1) for i in range(n - 1)) + f" {~n}"
    tree = (
        f"Tree=0\nnum_leaves={n + 1}\nnum_cat=0\nsplit_feature={' '.join(['0'] * n)}\n"
        f"threshold={' '.join(str(float(i)) for i in range(n))}\ndecision_type={' '.join(['2'] * n)}\n"
        f"left_child={left}\nright_child={right}\nleaf_value={' '.join(['0.5'] * (n + 1))}\nshrinkage=1\n\n"
    )
    text = MODEL[: MODEL.index("Tree=0")] + tree + "end of trees\n"
    with pytest.raises(NativeFormat, match=r"Tree=0: the tree is deeper than 500 levels"):
        quickscore.load(text.encode())


def test_sniffed_without_format() -> None:
    from quickscore.io import read_document

    assert read_document(MODEL.encode()).format == "lightgbm"
    assert read_document(("\ufeff\n" + MODEL).encode()).format == "lightgbm"


def test_unknown_reader_option_is_refused() -> None:
    from quickscore.io import read_document

    with pytest.raises(ValueError, match="feature_map"):
        read_document(MODEL.encode(), feature_map="x.fmap")


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_older_format_versions_load(version: str) -> None:
    """v2 (LightGBM 2.x) and v3 (3.x) files: the same blocks, without the linear-tree keys."""
    text = re.sub(r"^version=v4$", f"version={version}", MODEL, flags=re.MULTILINE)
    text = re.sub(r"^is_linear=0\n", "", text, flags=re.MULTILINE)
    model = quickscore.load(text.encode())
    assert model.info["version"] == version
    assert model.predict({"a": 0.0, "b": 0.0})["margin"] == pytest.approx(-0.5 + 0.125)


def test_objective_aliases_of_older_files() -> None:
    """LightGBM 2.x wrote xentropy / xentlambda for cross_entropy / cross_entropy_lambda."""
    model = quickscore.load(_edit(r"^objective=.*$", "objective=xentropy"))
    assert model.output_names[:3] == ["_target", "probability(0)", "probability(1)"]
    model = quickscore.load(_edit(r"^objective=.*$", "objective=xentlambda"))
    assert model.output_names == ["_target", "margin"]


def test_mutated_files_never_crash_or_hang() -> None:
    """Seeded truncations, byte flips, digit edits and dropped/duplicated lines of a model:
    each loads (and scores) or is refused with a quickscore error, quickly."""
    import random
    import time

    from quickscore.errors import QuickscoreError

    rng = random.Random(20261124)
    base = MODEL.encode()
    for _ in range(400):
        b = bytearray(base)
        kind = rng.randrange(5)
        if kind == 0:
            b = b[: rng.randrange(len(b))]
        elif kind == 1:
            for _ in range(rng.randrange(1, 5)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            for _ in range(rng.randrange(1, 5)):
                b[rng.randrange(len(b))] = ord(rng.choice("0123456789-. =\n"))
        else:
            lines = bytes(b).split(b"\n")
            j = rng.randrange(len(lines))
            if kind == 3:
                del lines[j]
            else:
                lines.insert(rng.randrange(len(lines)), lines[j])
            b = bytearray(b"\n".join(lines))
        start = time.perf_counter()
        try:
            quickscore.load(bytes(b), format="lightgbm").predict({"a": 0.1, "b": 1.0})
        except QuickscoreError:
            pass
        assert time.perf_counter() - start < 5.0


def test_windows_line_endings() -> None:
    model = quickscore.load(MODEL.replace("\n", "\r\n").encode())
    assert model.predict({"a": 0.0, "b": 0.0})["margin"] == pytest.approx(-0.5 + 0.125)


def test_a_single_leaf_tree() -> None:
    """A tree without splits (num_leaves=1) adds its one leaf value to every row."""
    lone = "Tree=2\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\nleft_child=\nright_child=\nleaf_value=0.0625\nleaf_weight=\nleaf_count=\ninternal_value=\ninternal_weight=\ninternal_count=\nis_linear=0\nshrinkage=1\n\n\n"
    text = MODEL.replace("end of trees", lone + "end of trees")
    model = quickscore.load(text.encode())
    assert model.engine in ("numba", "mixed")
    assert model.predict({"a": 0.0, "b": 0.0})["margin"] == pytest.approx(-0.5 + 0.125 + 0.0625)
    # a missing: left (NaN type, default left); b missing: right at the categorical split
    # (0.75), and 0 <= 1.5 at tree 1's split (missing type None: NaN is 0) -> 0.125
    assert model.predict({"a": None, "b": None})["margin"] == pytest.approx(0.75 + 0.125 + 0.0625)
