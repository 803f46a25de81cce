"""A forest whose walk can end on a node without probabilities: the fused kernels are not used,
so such rows fail with UndefinedResult as in the reference evaluator (and JPMML-Evaluator),
while forests whose only such nodes are internal ones (sklearn2pmml's shape) stay fused."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pandas as pd
import pytest

import quickscore
from quickscore.io import qsm
from quickscore.models import fast

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
"""


def _tree(leaf_low: str, strategy: str = "nullPrediction") -> str:
    return f"""<Segment><True/><TreeModel functionName="classification" missingValueStrategy="{strategy}">
  <MiningSchema><MiningField name="x"/><MiningField name="y" usageType="predicted"/></MiningSchema>
  <Node><True/>
    <Node><SimplePredicate field="x" operator="lessOrEqual" value="0"/>{leaf_low}</Node>
    <Node><SimplePredicate field="x" operator="greaterThan" value="0"/>
      <ScoreDistribution value="a" recordCount="1"/><ScoreDistribution value="b" recordCount="3"/></Node>
  </Node></TreeModel></Segment>"""


GOOD = '<ScoreDistribution value="a" recordCount="2"/><ScoreDistribution value="b" recordCount="2"/>'
ZERO = '<ScoreDistribution value="a" recordCount="0"/><ScoreDistribution value="b" recordCount="0"/>'


def _forest(*trees: str) -> bytes:
    return _document(f"""<MiningModel functionName="classification">
  <MiningSchema><MiningField name="x"/><MiningField name="y" usageType="predicted"/></MiningSchema>
  <Segmentation multipleModelMethod="average">{"".join(trees)}</Segmentation></MiningModel>""")


def _document(model: str) -> bytes:
    return f"""<?xml version="1.0"?>
<PMML version="4.4" xmlns="http://www.dmg.org/PMML-4_4"><Header/>
  <DataDictionary>{FIELDS}</DataDictionary>{model}</PMML>""".encode()


def _both(document: bytes) -> tuple[quickscore.Model, quickscore.Model]:
    return quickscore.load(document), quickscore.load(document, engine="reference")


def _fused(model: quickscore.Model) -> bool:
    return getattr(model._compiled.core, "fused", None) is not None


def test_internal_nodes_without_probabilities_stay_fused():
    fast, reference = _both(_forest(_tree(GOOD), _tree(GOOD)))
    assert _fused(fast)
    frame = pd.DataFrame({"x": [-1.0, 1.0]})
    assert fast.predict(frame).equals(reference.predict(frame))


@pytest.mark.parametrize("leaf, strategy", [(ZERO, "nullPrediction"), ("", "nullPrediction"), (GOOD, "lastPrediction")])
def test_a_walk_ending_without_probabilities_fails_as_in_the_reference(leaf, strategy):
    # ZERO: record counts summing to zero; "": a leaf with neither score nor distribution;
    # lastPrediction: a missing x ends the walk on the root, which has no distribution.
    fast, reference = _both(_forest(_tree(GOOD), _tree(leaf, strategy)))
    assert not _fused(fast)
    frame = pd.DataFrame({"x": [-1.0, 1.0, None]})
    got, expected = fast.predict(frame), reference.predict(frame)
    assert got.equals(expected)
    assert got["_error"].notna().any()
    record = {"x": None if strategy == "lastPrediction" else -1.0}
    with pytest.raises(quickscore.errors.UndefinedResult):
        fast.predict(record)
    with pytest.raises(quickscore.errors.UndefinedResult):
        reference.predict(record)


# --- the verdict stored in a .qsm file (io/qsm: lowered["/"]["ends_undefined"]) -------------------

# (leaf, strategy, whether a walk can end without probabilities, the verdict the file stores:
# None where the check is not reached - ZERO's tree has a distribution summing to zero, which
# keeps the per-tree path before any lowering)
CASES = [
    (GOOD, "nullPrediction", False, False),
    (ZERO, "nullPrediction", True, None),
    ("", "nullPrediction", True, True),
    (GOOD, "lastPrediction", True, True),
]
STORED = [c for c in CASES if c[3] is not None]
FRAME = {"x": [-1.0, 1.0, None, 0.0, 2.5]}


def _split(data: bytes) -> tuple[dict, bytes]:
    _, size, _, _ = qsm._PREFIX.unpack_from(data, 0)
    start = qsm._PREFIX.size + size
    return json.loads(data[qsm._PREFIX.size : start]), data[start + (-start % 64) :]


def _join(header: dict, payload: bytes) -> bytes:
    head = json.dumps(header).encode()
    prefix = qsm._PREFIX.pack(qsm.MAGIC, len(head), zlib.crc32(head), 0)
    return prefix + head + b"\0" * (-(len(prefix) + len(head)) % 64) + payload


def _compiled(leaf: str, strategy: str, tmp_path) -> tuple[bytes, Path]:
    document = _forest(_tree(GOOD), _tree(leaf, strategy))
    path = tmp_path / "forest.qsm"
    qsm.write_qsm(document, path)
    return document, path


def _same_behaviour(loaded: quickscore.Model, document: bytes, ends_undefined: bool) -> None:
    """``loaded`` scores as the PMML does, with either engine, frame and record alike."""
    frame = pd.DataFrame(FRAME)
    expected = quickscore.load(document).predict(frame)
    assert expected.equals(quickscore.load(document, engine="reference").predict(frame))
    got = loaded.predict(frame)
    assert got.equals(expected)  # scores bit for bit, and the same _error messages
    assert got["_error"].notna().any() == ends_undefined
    for x in FRAME["x"]:
        record = {"x": x}
        try:
            want = quickscore.load(document).predict(record)
        except quickscore.errors.UndefinedResult as e:
            with pytest.raises(quickscore.errors.UndefinedResult) as raised:
                loaded.predict(record)
            assert str(raised.value) == str(e)
        else:
            assert loaded.predict(record) == want


@pytest.mark.parametrize("leaf, strategy, ends_undefined, stored", CASES)
def test_the_verdict_is_stored_and_used_without_checking_again(leaf, strategy, ends_undefined, stored, tmp_path, monkeypatch):
    document, path = _compiled(leaf, strategy, tmp_path)
    header, _ = _split(path.read_bytes())
    assert header["format_version"] == qsm.FORMAT_VERSION == 2
    entry = header["lowered"].get("/", {})
    assert entry.get("ends_undefined") is stored
    assert ("fused" in entry) is not ends_undefined

    def no(*args, **kwargs):
        raise AssertionError("the stored verdict should have been used")

    with monkeypatch.context() as m:
        m.setattr(fast, "_ends_undefined", no)
        if ends_undefined:
            m.setattr(fast, "lower", no)  # not fused: nothing to lower for the ensemble either
        loaded = quickscore.load(path)
    assert _fused(loaded) is not ends_undefined
    assert loaded._compiled.core.ends_undefined is stored
    _same_behaviour(loaded, document, ends_undefined)


@pytest.mark.parametrize("flag", ["absent", None, 1, "false"])
@pytest.mark.parametrize("leaf, strategy, ends_undefined, stored", STORED)
def test_a_file_without_the_verdict_checks_at_load(leaf, strategy, ends_undefined, stored, flag, tmp_path, monkeypatch):
    # "absent": a format-2 file written before the verdict was stored; the others: values
    # that are not a verdict, ignored (checked at load) rather than refused.
    document, path = _compiled(leaf, strategy, tmp_path)
    header, payload = _split(path.read_bytes())
    if flag == "absent":
        del header["lowered"]["/"]["ends_undefined"]
    else:
        header["lowered"]["/"]["ends_undefined"] = flag
    path.write_bytes(_join(header, payload))
    calls = []
    check = fast._ends_undefined
    monkeypatch.setattr(fast, "_ends_undefined", lambda *a: calls.append(1) or check(*a))
    loaded = quickscore.load(path)
    assert calls == [1]
    assert _fused(loaded) is not ends_undefined
    _same_behaviour(loaded, document, ends_undefined)


def test_a_stored_false_is_not_trusted_for_arrays_lowered_again(tmp_path, monkeypatch):
    # A file whose fused arrays are not used (here: none) lowers the trees again and checks
    # them again, whatever the file says.
    document, path = _compiled("", "nullPrediction", tmp_path)
    header, payload = _split(path.read_bytes())
    assert "fused" not in header["lowered"]["/"]
    header["lowered"]["/"]["ends_undefined"] = False
    path.write_bytes(_join(header, payload))
    loaded = quickscore.load(path)
    assert not _fused(loaded) and loaded._compiled.core.ends_undefined is True
    _same_behaviour(loaded, document, True)
