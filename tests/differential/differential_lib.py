"""Differential testing of quickscore against JPMML-Evaluator: case selection, synthetic inputs, comparison.

Cases
-----
(a) corpus PMML files with NO expected CSV whose model types are all within {TreeModel,
    RegressionModel, MiningModel}, not a ``duplicate_of`` another row (pmml4s DMG examples, gopmml,
    goscore, sklearn-pmml-model fixtures, JPMML's hand-written unit-test PMMLs ...). They are scored
    on synthetic inputs built from each model's DataDictionary (``synthetic_inputs``).
(b) every ``tests/data/*.pmml`` fixture, scored on its ``<Name>.input.csv`` (strings; NA, N/A and
    empty cells are missing).

Synthetic inputs (fixed seed per file: crc32 of its path)
--------------------------------------------------------
For every DataField (targets included: residual outputs need them, and real inputs carry them):
* categorical/ordinal with valid ``<Value>`` s: one of them; string fields without declared values:
  one of the values the PMML tests the field against (SimplePredicate, SimpleSetPredicate,
  CategoricalPredictor, ...) or ``"zz_other"``;
* boolean: ``"true"`` / ``"false"``;
* continuous numbers: a fifth exactly on a split threshold of that field (boundary semantics:
  ``lessThan`` vs ``lessOrEqual``), the rest uniform within the declared ``<Interval>`` s, else within
  the range of its thresholds widened by half its width, else N(0, 10); integers rounded;
* 30% of the records get one or two missing values (None) in random fields (so that most records
  are complete even for wide models).
Values are Python numbers/strings; both engines get the very same DataFrame.

Comparison
----------
Every column JPMML reports (target fields, OutputFields; not the ``isFinalResult="false"`` OutputFields,
which JPMML's Python API reports and quickscore leaves out by design) must exist in quickscore's output and agree
within ``rtol = 1e-12`` (1e-6 where the PMML declares ``mathContext="float"``), ``atol = rtol``,
categories compared as normalised strings (see conformance_lib.values_match). A record must fail in
both engines or in neither, except where JPMML fails it for a reason listed in ``JPMML_ONLY_FAILURES``
(those records are left out of the comparison and counted in the report).
"""

from __future__ import annotations

import math
import random
import sys
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CONF = Path(__file__).resolve().parents[1] / "conformance"
if str(_CONF) not in sys.path:
    sys.path.insert(0, str(_CONF))

import conformance_lib as cl  # noqa: E402

REPO_ROOT = cl.REPO_ROOT
CORPUS_DIR = cl.CORPUS_DIR
TEST_DATA_DIR = REPO_ROOT / "tests" / "data"

RTOL = 1e-12
FLOAT_RTOL = 1e-6
N_ROWS = 200

# (case id, model kind, outcome, one-line detail), appended by test_vs_jpmml.py, printed by conftest.py.
SESSION_RESULTS: list[tuple[str, str, str, str]] = []
MISSING_ROWS = 0.3  # share of records with one or two missing values


@dataclass
class DiffCase:
    id: str
    pmml: Path
    source: str  # "corpus" | "fixture"
    producer: str
    kind: str
    input_csv: Path | None = None
    note: str = ""


def corpus_cases(corpus_dir: Path = CORPUS_DIR) -> list[DiffCase]:
    cases = []
    for row in cl.read_manifest(corpus_dir):
        if row["expected_csv"] or row["duplicate_of"]:
            continue
        types = cl._types(row)
        if not types or not types <= cl.IN_SCOPE_TYPES:
            continue
        kind = cl.Case(row["path"], row["producer"], "", row["top_models"], row["nested_models"], "", "", "in", types).kind
        owner, _, rest = row["path"].partition("__")
        cases.append(DiffCase(rest, corpus_dir / row["path"], "corpus", row["producer"], kind, None, row["note"]))
    return cases


def fixture_cases(data_dir: Path = TEST_DATA_DIR) -> list[DiffCase]:
    cases = []
    for pmml in sorted(data_dir.glob("*.pmml")):
        csv_path = pmml.with_name(pmml.stem + ".input.csv")
        cases.append(DiffCase(f"tests/data/{pmml.name}", pmml, "fixture", "quickscore fixtures", _kind(pmml), csv_path if csv_path.is_file() else None))
    return cases


def _kind(pmml: Path) -> str:
    try:
        root = ET.parse(pmml).getroot()
    except ET.ParseError:
        return "?"
    top = next((c for c in root if cl._local(c.tag) in cl._MODEL_TAGS), None)
    if top is None:
        return "?"
    name = cl._local(top.tag)
    if name == "MiningModel":
        nested = sorted({cl._local(e.tag) for e in top.iter() if e is not top and cl._local(e.tag) in cl._MODEL_TAGS} - {"MiningModel"})
        if nested:
            return f"MiningModel({'+'.join(nested)})"
    return name


# --------------------------------------------------------------------------------------------
# Synthetic inputs


@dataclass
class FieldSpec:
    name: str
    optype: str
    data_type: str
    values: list[str]
    intervals: list[tuple[float | None, float | None]]


def _data_fields(root) -> list[FieldSpec]:
    dd = next((c for c in root if cl._local(c.tag) == "DataDictionary"), None)
    specs = []
    if dd is None:
        return specs
    for f in dd:
        if cl._local(f.tag) != "DataField":
            continue
        values, intervals = [], []
        for c in f:
            t = cl._local(c.tag)
            if t == "Value" and c.get("property", "valid") == "valid" and c.get("value") is not None:
                values.append(c.get("value"))
            elif t == "Interval":
                lo, hi = c.get("leftMargin"), c.get("rightMargin")
                intervals.append((float(lo) if lo is not None else None, float(hi) if hi is not None else None))
        specs.append(FieldSpec(f.get("name"), f.get("optype", ""), f.get("dataType", "string"), values, intervals))
    return specs


def _tested_values(root) -> dict[str, list[str]]:
    """Values the document compares each field with (predicates, categorical predictors, ...)."""
    out: dict[str, list[str]] = {}
    for el in root.iter():
        t = cl._local(el.tag)
        if t == "SimplePredicate" and el.get("value") is not None:
            out.setdefault(el.get("field"), []).append(el.get("value"))
        elif t == "SimpleSetPredicate":
            arr = next((c for c in el if cl._local(c.tag) == "Array"), None)
            if arr is not None and arr.text:
                out.setdefault(el.get("field"), []).extend(_split_array(arr.text))
        elif t == "CategoricalPredictor" and el.get("value") is not None:
            out.setdefault(el.get("name"), []).append(el.get("value"))
        elif t == "NormDiscrete" and el.get("value") is not None:
            out.setdefault(el.get("field"), []).append(el.get("value"))
    return out


def _split_array(text: str) -> list[str]:
    """PMML Array content: whitespace separated, double quotes group, backslash escapes a quote."""
    items, cur, quoted, had = [], [], False, False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text) and text[i + 1] == '"':
                cur.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted, had = True, True
        elif ch.isspace():
            if cur or had:
                items.append("".join(cur))
            cur, had = [], False
        else:
            cur.append(ch)
        i += 1
    if cur or had:
        items.append("".join(cur))
    return items


def _targets(root) -> set[str]:
    top = next((c for c in root if cl._local(c.tag) in cl._MODEL_TAGS), None)
    if top is None:
        return set()
    ms = next((c for c in top if cl._local(c.tag) == "MiningSchema"), None)
    if ms is None:
        return set()
    return {f.get("name") for f in ms if f.get("usageType") in ("target", "predicted")}


_NUMERIC = {"double", "float", "integer"}


def _floats(xs) -> list[float]:
    out = []
    for x in xs:
        try:
            v = float(x)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            out.append(v)
    return out


def synthetic_inputs(pmml: Path, n_rows: int = N_ROWS, seed: int | None = None):
    """A DataFrame (object columns) of synthetic records for the document's DataFields."""
    import pandas as pd

    root = ET.parse(pmml).getroot()
    rng = random.Random(zlib.crc32(str(pmml.name).encode()) if seed is None else seed)
    tested = _tested_values(root)
    columns: dict[str, list[Any]] = {}
    for spec in _data_fields(root):
        columns[spec.name] = [_draw(spec, tested.get(spec.name, []), rng) for _ in range(n_rows)]
    names = list(columns)
    if names:
        for i in range(n_rows):
            if rng.random() < MISSING_ROWS:
                for name in rng.sample(names, min(len(names), rng.choice((1, 1, 2)))):
                    columns[name][i] = None
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})


def _draw(spec: FieldSpec, tested: list[str], rng: random.Random) -> Any:
    dt = spec.data_type
    if dt == "boolean":
        return rng.choice(["true", "false"])
    if spec.optype in ("categorical", "ordinal") or dt not in _NUMERIC:
        pool = spec.values or sorted(set(tested)) or ["zz_other"]
        if dt in _NUMERIC:
            v = rng.choice(pool)
            x = _floats([v])
            return (int(x[0]) if dt == "integer" and x and x[0] == int(x[0]) else x[0]) if x else v
        return rng.choice(pool)
    # continuous numbers
    thresholds = _floats(tested)
    r = rng.random()
    if thresholds and r < 0.2:
        x = rng.choice(thresholds)
    else:
        bounded = [(lo, hi) for lo, hi in spec.intervals if lo is not None and hi is not None]
        if bounded:
            lo, hi = rng.choice(bounded)
            x = rng.uniform(lo, hi)
        elif thresholds:
            lo, hi = min(thresholds), max(thresholds)
            pad = (hi - lo) / 2 or max(1.0, abs(lo))
            x = rng.uniform(lo - pad, hi + pad)
        elif spec.intervals:
            lo, hi = spec.intervals[0]
            x = (lo if lo is not None else hi) + rng.expovariate(0.1) * (1 if lo is not None else -1)
        else:
            x = rng.gauss(0.0, 10.0)
        if dt == "float":
            x = float(f"{x:.6g}")
    if dt == "integer":
        return int(round(x))
    return x


def read_fixture_inputs(csv_path: Path):
    header, rows = cl.read_csv_strings(csv_path)
    return cl.input_frame(header, rows)


# --------------------------------------------------------------------------------------------
# Comparison


def rtol_for(pmml: Path) -> float:
    try:
        return FLOAT_RTOL if cl.pmml_facts(pmml).math_float else RTOL
    except ET.ParseError:
        return RTOL


# Records JPMML fails where quickscore may legitimately score (left out of the comparison):
JPMML_ONLY_FAILURES = {
    # JPMML-Evaluator without its vendor fix-ups refuses a double result for an integer target; the
    # reference test harness retypes such targets to double (corpus README, KNIME quirk).
    "Expected integer value, got double value": "integer target (retype fix-up)",
    # Attribute values JPMML does not implement (e.g. missingValueStrategy=aggregateNodes,
    # weightedConfidence); it only fails the records that reach them.
    "UnsupportedAttributeException": "unsupported in JPMML",
    "UnsupportedElementException": "unsupported in JPMML",
    # A missing value that reaches a segment, an output field or a classification that no
    # segment voted for: JPMML raises; quickscore follows the spec's "missing in, missing out"
    # and returns the record with missing outputs (a null prediction), not an error.
    "MissingFieldValueException": "missing value propagates (null prediction in quickscore)",
    "MissingFieldException: Field": "output of a null prediction (missing in quickscore)",
    "Empty classification": "no segment voted (null prediction in quickscore)",
    # An OutputField without targetField in a model with several targets: JPMML refuses it;
    # quickscore reads it as the primary target (documented in models/base.py).
    "Expected 1 target field": "ambiguous target of a multi-target model (primary target in quickscore)",
}


def jpmml_only_reason(message: Any) -> str | None:
    if cl.is_missing(message):
        return None
    return next((why for key, why in JPMML_ONLY_FAILURES.items() if key in str(message)), None)


def non_final_outputs(pmml: Path) -> set[str]:
    """OutputFields with isFinalResult="false": JPMML's Python API reports them, quickscore does not (by design)."""
    try:
        root = ET.parse(pmml).getroot()
    except ET.ParseError:
        return set()
    return {el.get("name") for el in root.iter() if cl._local(el.tag) == "OutputField" and el.get("isFinalResult") == "false"}


def compare_frames(ref, ours, rtol: float, inputs=None, n_examples: int = 5, notes: list | None = None, skip_columns=()) -> list[str]:
    """Problems found comparing quickscore (ours) with JPMML (ref); empty when they agree."""
    problems = []
    ref = ref[[c for c in ref.columns if c not in set(skip_columns)]]
    if len(ref) != len(ours):
        return [f"row count: JPMML {len(ref)}, quickscore {len(ours)}"]
    atol = max(cl.ATOL, rtol)
    ref_err = ref["_error"].tolist() if "_error" in ref.columns else [None] * len(ref)
    our_err = ours["_error"].tolist() if "_error" in ours.columns else [None] * len(ours)
    ref_failed = [not cl.is_missing(e) for e in ref_err]
    our_failed = [not cl.is_missing(e) for e in our_err]
    tolerated = [i for i in range(len(ref)) if ref_failed[i] and jpmml_only_reason(ref_err[i])]
    if tolerated and notes is not None:
        from collections import Counter

        why = Counter(jpmml_only_reason(ref_err[i]) for i in tolerated)
        notes.append(f"{len(tolerated)} record(s) failed by JPMML left out: " + ", ".join(f"{k} x{n}" for k, n in why.items()))
    for i in tolerated:
        our_failed[i] = True  # excluded from the value comparison below
    only_ref = [i for i in range(len(ref)) if ref_failed[i] and not our_failed[i]]
    only_ours = [i for i in range(len(ref)) if our_failed[i] and not ref_failed[i]]
    if only_ref:
        # Split: quickscore returns only missing values (JPMML raises instead: a policy difference)
        # vs quickscore returns real values.
        value_cols = [c for c in ref.columns if c != "_error" and c in ours.columns]
        all_missing = [i for i in only_ref if all(cl.is_missing(ours[c].iloc[i]) for c in value_cols)]
        with_values = [i for i in only_ref if i not in set(all_missing)]
        if all_missing:
            i = all_missing[0]
            problems.append(f"{len(all_missing)} record(s): JPMML raises, quickscore returns missing outputs and no _error; row {i}: JPMML {ref_err[i]!s}" + _row(inputs, i))
        if with_values:
            i = with_values[0]
            got = {c: ours[c].iloc[i] for c in value_cols}
            problems.append(f"{len(with_values)} record(s) fail in JPMML but score in quickscore; row {i}: JPMML {ref_err[i]!s}; quickscore {got}" + _row(inputs, i))
    if only_ours:
        i = only_ours[0]
        problems.append(f"{len(only_ours)} record(s) fail in quickscore but score in JPMML; row {i}: quickscore {our_err[i]!s}" + _row(inputs, i))
    for col in ref.columns:
        if col == "_error":
            continue
        if col not in ours.columns:
            problems.append(f"column {col!r} missing from quickscore output; quickscore columns: {list(ours.columns)}")
            continue
        exp, got = ref[col].tolist(), ours[col].tolist()
        bad = [i for i in range(len(ref)) if not (ref_failed[i] or our_failed[i]) and not cl.values_match(exp[i], got[i], rtol, atol)]
        if bad:
            lines = [f"column {col!r}: {len(bad)}/{len(ref)} rows differ (rtol={rtol:g}, atol={atol:g})"]
            for i in bad[:n_examples]:
                lines.append(f"    row {i}: JPMML {cl._fmt(exp[i])}, quickscore {cl._fmt(got[i])}" + _row(inputs, i))
            problems.append("\n".join(lines))
    return problems


def _row(inputs, i: int) -> str:
    if inputs is None:
        return ""
    rec = {k: v for k, v in inputs.iloc[i].items()}
    s = ", ".join(f"{k}={cl._fmt(v)}" for k, v in rec.items())
    return f"\n        input: {s[:400]}"
