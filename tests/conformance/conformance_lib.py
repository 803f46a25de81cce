"""Conformance harness: score the real-file corpus and compare with the producers' expected outputs.

Used by ``tests/conformance/test_corpus.py`` (pytest) and ``scripts/conformance_report.py`` (plain
python, Markdown table for the README). Nothing here depends on quickscore internals: the PMML facts
the harness needs (target names, OutputFields, ``mathContext``) are read with ElementTree, and the
scorer is pluggable (``quickscore_scorer`` by default, ``jpmml_scorer`` in
``tests/differential/jpmml_backend.py`` to check the harness itself against the reference).

Corpus: ``../shared/corpus`` relative to the repository root (override: ``QUICKSCORE_CORPUS``).
Never copy its files into the repository (licences).

Selection
---------
* in scope: MANIFEST rows with an ``expected_csv``, not a ``duplicate_of`` another row, whose model
  types (``top_models`` plus the types in ``nested_models``) are all in {TreeModel, RegressionModel,
  MiningModel}. 82 files today, one of which is the known-bad pair (81 targets).
* out of scope: every other non-duplicate row with an ``expected_csv`` (GeneralRegression, NN, SVM,
  ...); scored the same way but reported as "out of scope", never as failures.

Column mapping (expected CSV column -> quickscore output column)
----------------------------------------------------------------
Default: an expected column is compared with the quickscore column of the same name (the target
field name carries the predicted value; OutputFields by their PMML name, including the OutputFields
of the final/selected segment of a MiningModel that JPMML-Evaluator exposes, e.g. the
``probability(<class>)`` columns of sklearn2pmml ``modelChain`` ensembles). Per producer:

* JPMML converters (sklearn2pmml, SparkML, r2pmml): target name (``_target`` if unnamed),
  ``probability(<class>)``, ``decisionFunction``, ``outlier`` ... - all by name.
* Rattle (R pmml package): ``<target>`` is R's *predicted* value (not the truth) -> target column;
  ``Predicted_<target>``, ``Probability_<class>``, ``GaussianPrediction`` are OutputField names.
* KNIME: the target name (predicted value) and ``P (<target>=<class>)`` OutputFields, by name.
* RapidMiner: ``prediction(<target>)`` and ``confidence(<class>)`` are OutputField names; the bare
  ``<target>`` column holds the prediction too (identical to ``prediction(<target>)``) -> target.
* BigML: the target name only.
* SAS Enterprise Miner: ``EM_CLASSIFICATION`` -> the target column (predicted, unformatted category,
  e.g. ``SETOSA``; equals OutputField ``I_<target>``); ``EM_EVENTPROBABILITY`` -> the first
  ``feature="probability"`` OutputField of the top model (``P_Adjusted1``, ``P_Speciesvirginica``);
  ``U_<target>`` -> OutputField ``U_<target>`` by name. Not compared: the copied input columns
  (SAS echoes the inputs *and the true target*, so ``Adjusted``/``Species`` there is the truth),
  ``_WARN_`` (scoring warnings), ``F_<target>`` (formatted truth), ``R_<target><class>``
  (residuals against the truth), ``EM_PROBABILITY`` (probability of the predicted class, no
  OutputField) and ``EM_CLASSTARGET`` (the event level).

Expected columns that are inputs (present in the input CSV and not a target/OutputField name of the
PMML) are not compared. Every other expected column must exist in quickscore's output.

Values
------
* Input CSVs are read as strings; ``NA`` (R), ``N/A`` (pandas) and empty cells (SAS, KNIME) -> None.
* A cell where both sides parse as numbers is compared as ``|got - exp| <= atol + rtol * |exp|``
  with ``rtol`` per producer (``tolerance_for``: the precision the producer's own conformance tests
  used, 1e-6 wherever the PMML declares ``mathContext="float"``) and ``atol = max(1e-13, rtol)``:
  JPMML's tests use ``PMMLEquivalence(precision, zeroThreshold)`` with the zero threshold equal to
  the precision. This matters for tiny probabilities that the producers print with few digits (SAS
  writes ``1.33E-07`` for 1.3263e-07; R writes ``0`` for 1.8e-11).
  Otherwise cells are compared as strings after normalisation (``1``/``1.0``/``1.0e0`` -> ``1``,
  booleans -> ``true``/``false``).
* A missing expected value (NA/N/A/empty) must be missing (None/NaN) in ours.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = Path(os.environ.get("QUICKSCORE_CORPUS", REPO_ROOT.parent / "shared" / "corpus")).resolve()

IN_SCOPE_TYPES = frozenset({"TreeModel", "RegressionModel", "MiningModel"})
NA_SPELLINGS = frozenset({"NA", "N/A", ""})
ATOL = 1e-13  # the smallest zero threshold; the threshold used is max(ATOL, rtol)
FLOAT_RTOL = 1e-6

KNOWN_BAD = {
    "jpmml__jpmml-evaluator/pmml-rattle/src/test/resources/pmml/RegressionAudit.pmml": (
        "known-bad pair (corpus README): its expected CSV does not match the PMML's coefficients; "
        "the reference evaluator disagrees with it on 1898 of 1899 rows"
    ),
}

# Relative tolerances the producers' own conformance tests used (corpus README).
_RATTLE_RTOL = {
    "LogisticRegressionIris": 1e-11,
    "LogisticRegressionAudit": 1e-10,
    "NeuralNetworkIris": 1e-6,
    "NeuralNetworkAuto": 1e-6,
    "NeuralNetworkAudit": 1e-5,
    "GBMAuto": 1e-7,
    "LibSVMAuto": 1e-7,
}
_KNIME_RTOL = {"ModelEnsembleAuto": 1e-14, "PolynomialRegressionAuto": 1e-14}

# SAS bookkeeping columns (see module docstring); matched by regex on the expected column name.
_SAS_NOT_COMPARED = re.compile(r"^(_WARN_|F_.*|R_.*|EM_PROBABILITY|EM_CLASSTARGET)$")


# --------------------------------------------------------------------------------------------
# Manifest and selection


@dataclass
class Case:
    path: str  # relative to the corpus dir
    producer: str
    application: str
    top_models: str
    nested_models: str
    expected_csv: str
    input_csv: str
    scope: str  # "in" | "out"
    model_types: frozenset
    known_bad: str | None = None

    @property
    def id(self) -> str:
        p = self.path
        owner, _, rest = p.partition("__")
        rest = rest.replace("/src/test/resources/", "/").replace("/pmml/", "/")
        return rest

    @property
    def stem(self) -> str:
        return Path(self.path).stem

    @property
    def kind(self) -> str:
        """Model type label for the tables: top type, plus nested types for MiningModel."""
        top = self.top_models or "?"
        nested = sorted({n.split(":")[0] for n in self.nested_models.split(";") if n} - {"MiningModel"})
        if top == "MiningModel" and nested:
            return f"MiningModel({'+'.join(nested)})"
        return top


def _types(row: dict) -> frozenset:
    t = {x for x in row["top_models"].split(";") if x}
    t |= {n.split(":")[0] for n in row["nested_models"].split(";") if n}
    return frozenset(t)


def corpus_available(corpus_dir: Path = CORPUS_DIR) -> bool:
    return (corpus_dir / "MANIFEST.tsv").is_file()


def read_manifest(corpus_dir: Path = CORPUS_DIR) -> list[dict]:
    with open(corpus_dir / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def select_cases(corpus_dir: Path = CORPUS_DIR) -> tuple[list[Case], list[Case]]:
    """(in-scope cases, out-of-scope cases): non-duplicate rows with an expected CSV."""
    ins, outs = [], []
    for row in read_manifest(corpus_dir):
        if not row["expected_csv"] or row["duplicate_of"]:
            continue
        types = _types(row)
        scope = "in" if types and types <= IN_SCOPE_TYPES else "out"
        case = Case(
            path=row["path"],
            producer=row["producer"],
            application=row["application"],
            top_models=row["top_models"],
            nested_models=row["nested_models"],
            expected_csv=row["expected_csv"],
            input_csv=row["input_csv"] or row["expected_csv"],
            scope=scope,
            model_types=types,
            known_bad=KNOWN_BAD.get(row["path"]),
        )
        (ins if scope == "in" else outs).append(case)
    return ins, outs


# --------------------------------------------------------------------------------------------
# PMML facts (read independently of quickscore)


@dataclass
class PmmlFacts:
    targets: list[str]  # target/predicted fields of the top-level model
    top_outputs: list[tuple[str, str]]  # (name, feature) of the top model's OutputFields
    all_output_names: set[str]  # every OutputField name anywhere in the document
    math_float: bool  # mathContext="float" (or the PMML 4.4 spelling x-mathContext="float") anywhere


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_MODEL_TAGS = {
    "TreeModel", "RegressionModel", "MiningModel", "GeneralRegressionModel", "NeuralNetwork",
    "SupportVectorMachineModel", "NaiveBayesModel", "ClusteringModel", "AssociationModel",
    "RuleSetModel", "Scorecard", "NearestNeighborModel", "GaussianProcessModel", "AnomalyDetectionModel",
    "BayesianNetworkModel", "TextModel", "TimeSeriesModel", "SequenceModel", "BaselineModel",
}


def pmml_facts(path: Path) -> PmmlFacts:
    root = ET.parse(path).getroot()
    top = next((c for c in root if _local(c.tag) in _MODEL_TAGS), None)
    targets, top_outputs = [], []
    if top is not None:
        for child in top:
            tag = _local(child.tag)
            if tag == "MiningSchema":
                targets = [f.get("name") for f in child if f.get("usageType") in ("target", "predicted")]
            elif tag == "Output":
                top_outputs = [(o.get("name"), o.get("feature", "predictedValue")) for o in child]
    all_outputs = {el.get("name") for el in root.iter() if _local(el.tag) == "OutputField"}
    math_float = any("float" in (el.get("mathContext"), el.get("x-mathContext")) for el in root.iter())
    return PmmlFacts(targets, top_outputs, all_outputs, math_float)


# --------------------------------------------------------------------------------------------
# Tolerances and column plan


def tolerance_for(case: Case, facts: PmmlFacts) -> tuple[float, str]:
    """(relative tolerance, how it was chosen)."""
    p = case.producer
    if "Rattle" in p:
        rtol, why = _RATTLE_RTOL.get(case.stem, 1e-13), "Rattle"
    elif p == "KNIME":
        rtol, why = _KNIME_RTOL.get(case.stem, 1e-15), "KNIME"
    elif p == "RapidMiner":
        rtol, why = 1e-13, "RapidMiner"
    elif p == "SAS":
        rtol, why = 1e-5, "SAS"
    else:
        rtol, why = 1e-13, "default (JPMML tests)"
    if facts.math_float and rtol < FLOAT_RTOL:
        rtol, why = FLOAT_RTOL, why + ', mathContext="float"'
    return rtol, why


@dataclass
class ColumnPlan:
    compare: list[tuple[str, str]]  # (expected column, our column)
    skipped: list[tuple[str, str]]  # (expected column, why)


def column_plan(case: Case, facts: PmmlFacts, expected_cols: list[str], input_cols: list[str]) -> ColumnPlan:
    declared = set(facts.targets) | facts.all_output_names
    target = facts.targets[0] if facts.targets else None
    inputs = set(input_cols)
    compare, skipped = [], []
    sas = case.producer == "SAS"
    for col in expected_cols:
        if sas:
            if col == "EM_CLASSIFICATION" and target:
                compare.append((col, target))
                continue
            if col == "EM_EVENTPROBABILITY":
                prob = next((n for n, f in facts.top_outputs if f == "probability"), None)
                if prob:
                    compare.append((col, prob))
                    continue
            if _SAS_NOT_COMPARED.match(col):
                skipped.append((col, "SAS bookkeeping"))
                continue
            if col in inputs:
                skipped.append((col, "SAS echo of an input (or of the true target)"))
                continue
        elif col in inputs and col not in declared:
            skipped.append((col, "input column"))
            continue
        compare.append((col, col))
    return ColumnPlan(compare, skipped)


# --------------------------------------------------------------------------------------------
# CSV and value handling


def read_csv_strings(path: Path) -> tuple[list[str], list[list[str | None]]]:
    """Header and rows, every cell a string, missing spellings (NA, N/A, empty) -> None."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [[None if v in NA_SPELLINGS else v for v in r] for r in reader if r]
    return header, rows


def input_frame(header: list[str], rows: list[list[str | None]]):
    import pandas as pd

    data = {name: pd.Series([r[i] if i < len(r) else None for r in rows], dtype=object) for i, name in enumerate(header)}
    return pd.DataFrame(data)


def is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(v, float) and math.isnan(v)


def as_number(v: Any) -> float | None:
    """A float for numbers and numeric strings; None for anything else (bools are not numbers)."""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iuf":  # numpy scalar
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if not s or s.lower() in ("true", "false"):
            return None
        try:
            return float(s)
        except ValueError:
            return None
    return None


def norm_text(v: Any) -> str:
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    s = str(v).strip()
    if s.lower() in ("true", "false"):
        return s.lower()
    x = as_number(s)
    if x is not None and math.isfinite(x) and x == int(x):
        return str(int(x))
    if x is not None:
        return repr(x)
    return s


def values_match(exp: Any, got: Any, rtol: float, atol: float = ATOL) -> bool:
    if is_missing(exp):
        return is_missing(got)
    if is_missing(got):
        return False
    e, g = as_number(exp), as_number(got)
    if e is not None and g is not None:
        if math.isnan(e) or math.isnan(g):
            return math.isnan(e) and math.isnan(g)
        if math.isinf(e) or math.isinf(g):
            return e == g
        return abs(g - e) <= atol + rtol * abs(e)
    return norm_text(exp) == norm_text(got)


def _fmt(v: Any) -> str:
    if is_missing(v):
        return "<missing>"
    return repr(v)


@dataclass
class ColumnDiff:
    expected_col: str
    our_col: str
    n_diff: int
    n_rows: int
    examples: list[tuple[int, Any, Any, str]]  # (row, expected, got, error message of the row)

    def describe(self, rtol: float, atol: float) -> str:
        name = self.our_col if self.our_col == self.expected_col else f"{self.our_col} (expected column {self.expected_col!r})"
        lines = [f"column {name}: {self.n_diff}/{self.n_rows} rows differ (rtol={rtol:g}, atol={atol:g})"]
        for row, e, g, err in self.examples:
            extra = ""
            en, gn = as_number(e), as_number(g)
            if en is not None and gn is not None and en != 0:
                extra = f" (rel.err {abs(gn - en) / abs(en):.3g})"
            if err:
                extra += f" [row error: {err}]"
            lines.append(f"    row {row}: expected {_fmt(e)}, got {_fmt(g)}{extra}")
        return "\n".join(lines)


def compare_columns(expected: list[Any], got: list[Any], errors: list[Any], rtol: float, atol: float, exp_col: str, our_col: str, n_examples: int = 5) -> ColumnDiff:
    n = len(expected)
    examples, n_diff = [], 0
    for i in range(n):
        if not values_match(expected[i], got[i], rtol, atol):
            n_diff += 1
            if len(examples) < n_examples:
                err = errors[i] if errors and not is_missing(errors[i]) else ""
                examples.append((i, expected[i], got[i], err))
    return ColumnDiff(exp_col, our_col, n_diff, n, examples)


# --------------------------------------------------------------------------------------------
# Scorers


class Unsupported(Exception):
    """The scorer refuses the document as unsupported (quickscore.UnsupportedMarkup)."""


class LoadError(Exception):
    """The scorer refuses the document for another reason."""


Scorer = Callable[[Path, Any], Any]  # (pmml path, input DataFrame) -> output DataFrame


def quickscore_scorer(path: Path, frame):
    import quickscore

    try:
        model = quickscore.load(str(path))
    except quickscore.UnsupportedMarkup as exc:
        raise Unsupported(f"{type(exc).__name__}: {exc}") from exc
    except quickscore.ModelError as exc:
        raise LoadError(f"{type(exc).__name__}: {exc}") from exc
    return model.predict(frame)


# --------------------------------------------------------------------------------------------
# Running one case

# The pytest session appends every CaseResult here; tests/conformance/conftest.py prints the tables.
SESSION_RESULTS: list = []


@dataclass
class CaseResult:
    case: Case
    status: str  # pass | fail | unsupported | error
    message: str = ""
    summary: str = ""  # one line
    rtol: float | None = None
    seconds: float = 0.0
    compared: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """Status as reported in the tables (known-bad and out-of-scope are their own classes)."""
        if self.case.known_bad:
            return "known-bad"
        return self.status


def run_case(case: Case, scorer: Scorer = quickscore_scorer, corpus_dir: Path = CORPUS_DIR) -> CaseResult:
    t0 = time.perf_counter()
    pmml = corpus_dir / case.path
    res = CaseResult(case, "error")
    try:
        facts = pmml_facts(pmml)
        rtol, why = tolerance_for(case, facts)
        atol = max(ATOL, rtol)
        res.rtol = rtol
        in_header, in_rows = read_csv_strings(corpus_dir / case.input_csv)
        exp_header, exp_rows = read_csv_strings(corpus_dir / case.expected_csv)
        plan = column_plan(case, facts, exp_header, in_header)
        res.skipped = plan.skipped
        if len(in_rows) != len(exp_rows):
            res.status, res.summary = "error", f"input has {len(in_rows)} rows, expected CSV {len(exp_rows)}"
            res.message = res.summary
            return res
        frame = input_frame(in_header, in_rows)
        try:
            out = scorer(pmml, frame)
        except Unsupported as exc:
            res.status, res.summary = "unsupported", _one_line(str(exc))
            res.message = f"unsupported: {exc}"
            return res
        except LoadError as exc:
            res.status, res.summary = "error", "load: " + _one_line(str(exc))
            res.message = f"load refused: {exc}"
            return res
        except Exception as exc:  # noqa: BLE001 - any crash of the scorer is a result
            res.status, res.summary = "error", f"{type(exc).__name__}: " + _one_line(str(exc))
            res.message = f"scoring raised {type(exc).__name__}: {exc}"
            return res

        if len(out) != len(exp_rows):
            res.status = "fail"
            res.summary = f"output has {len(out)} rows, expected {len(exp_rows)}"
            res.message = res.summary
            return res
        out_cols = [c for c in out.columns]
        errors = out["_error"].tolist() if "_error" in out.columns else []
        n_err = sum(1 for e in errors if not is_missing(e))
        problems, short = [], []
        for exp_col, our_col in plan.compare:
            j = exp_header.index(exp_col)
            expected = [r[j] if j < len(r) else None for r in exp_rows]
            if our_col not in out.columns:
                problems.append(f"column {our_col!r} (for expected column {exp_col!r}) missing from the output; output columns: {out_cols}")
                short.append(f"{our_col}: missing")
                continue
            res.compared.append(exp_col if exp_col == our_col else f"{exp_col}->{our_col}")
            diff = compare_columns(expected, out[our_col].tolist(), errors, rtol, atol, exp_col, our_col)
            if diff.n_diff:
                row = diff.examples[0][0]
                rec = ", ".join(f"{k}={_fmt(in_rows[row][i] if i < len(in_rows[row]) else None)}" for i, k in enumerate(in_header))
                problems.append(diff.describe(rtol, atol) + f"\n    input of row {row}: {_one_line(rec, 400)}")
                ex = diff.examples[0]
                short.append(f"{our_col}: {diff.n_diff}/{diff.n_rows} differ, row {ex[0]} exp {_fmt(ex[1])} got {_fmt(ex[2])}")
        if not plan.compare:
            problems.append("no expected column could be compared (check the column plan)")
            short.append("nothing compared")
        if problems:
            res.status = "fail"
            head = f"{case.path}: {len(problems)} column(s) differ; tolerance {rtol:g} ({why})"
            if n_err:
                first = next(e for e in errors if not is_missing(e))
                head += f"\n  {n_err} row(s) have _error, first: {first}"
            res.message = head + "\n  " + "\n  ".join(problems)
            res.summary = "; ".join(short) + (f"; {n_err} row errors" if n_err else "")
        else:
            res.status = "pass"
            res.summary = f"{len(exp_rows)} rows, columns {res.compared}"
        return res
    except Exception as exc:  # noqa: BLE001 - harness problem with this file: report, keep going
        res.status, res.summary = "error", f"harness: {type(exc).__name__}: {_one_line(str(exc))}"
        res.message = res.summary
        return res
    finally:
        res.seconds = time.perf_counter() - t0


def _one_line(s: str, n: int = 160) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


# --------------------------------------------------------------------------------------------
# Tables


def short_producer(p: str) -> str:
    return {
        "R pmml pkg (Rattle/SoftwareAG)": "Rattle (R pmml)",
        "JPMML-SkLearn / sklearn2pmml": "sklearn2pmml",
        "JPMML-R / r2pmml": "r2pmml",
    }.get(p, p)


COLUMNS = ("pass", "fail", "unsupported")


def _bucket(r: CaseResult) -> str:
    if r.case.known_bad:
        return "known-bad"
    return "fail" if r.status == "error" else r.status


def tabulate(results: list[CaseResult], key: Callable[[CaseResult], str]) -> list[tuple[str, Counter]]:
    groups: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        groups[key(r)][_bucket(r)] += 1
    total = Counter()
    for c in groups.values():
        total.update(c)
    rows = sorted(groups.items())
    rows.append(("**total**", total))
    return rows


def render_text(results: list[CaseResult], title: str) -> str:
    out = [title]
    for label, key in (("producer", lambda r: short_producer(r.case.producer)), ("model type", lambda r: r.case.kind)):
        rows = tabulate(results, key)
        has_kb = any(c["known-bad"] for _, c in rows)
        cols = COLUMNS + (("known-bad",) if has_kb else ())
        w = max(len(label), *(len(k) for k, _ in rows)) + 2
        out.append("")
        out.append(label.ljust(w) + "".join(c.rjust(12) for c in cols) + "total".rjust(8))
        for k, c in rows:
            out.append(k.replace("**", "").ljust(w) + "".join(str(c[x]).rjust(12) for x in cols) + str(sum(c.values())).rjust(8))
    bad = [r for r in results if _bucket(r) in ("fail", "unsupported")]
    if bad:
        out.append("")
        out.append("not passing:")
        for r in sorted(bad, key=lambda r: r.case.id):
            out.append(f"  [{r.status}] {r.case.id}: {r.summary}")
    return "\n".join(out)


def render_markdown(results: list[CaseResult], title: str, date: str) -> str:
    out = [f"### {title} ({date})", ""]
    for label, key in (("Producer", lambda r: short_producer(r.case.producer)), ("Model type", lambda r: r.case.kind)):
        rows = tabulate(results, key)
        has_kb = any(c["known-bad"] for _, c in rows)
        cols = COLUMNS + (("known-bad",) if has_kb else ())
        out.append(f"| {label} | " + " | ".join(cols) + " | total |")
        out.append("|---|" + "---:|" * (len(cols) + 1))
        for k, c in rows:
            out.append(f"| {k} | " + " | ".join(str(c[x]) for x in cols) + f" | {sum(c.values())} |")
        out.append("")
    return "\n".join(out)
