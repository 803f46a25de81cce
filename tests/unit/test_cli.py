"""The quickscore command: score (CSV/Parquet in and out, chunks, missing values, errors) and inspect."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import quickscore
from quickscore.cli import EXAMPLE_INPUT, EXAMPLE_MODEL, cli

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
IRIS = DATA_DIR / "DecisionTreeIris"  # the bundled example, also a fixture (with expected outputs)
LOGISTIC = DATA_DIR / "LogisticRegressionIris"
AUDIT_NA = DATA_DIR / "LogisticRegressionAuditNA"  # inputs with missing values
FOREST = DATA_DIR / "RandomForestClassifierWine"


def run(*args: str, input: str | None = None):
    """Invoke the command in-process; return the click Result."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def expected(stem: Path) -> pd.DataFrame:
    return pd.read_csv(f"{stem}.expected.csv", dtype=str, keep_default_na=False)


def assert_scores(actual: pd.DataFrame, stem: Path, rtol: float = 1e-13) -> None:
    """Every expected column agrees (labels exactly, numbers within rtol), and no record failed."""
    want = expected(stem)
    assert len(actual) == len(want)
    for column in want.columns:
        try:
            w, g = want[column].astype(float), actual[column].astype(float)
        except ValueError:
            assert actual[column].astype(str).tolist() == want[column].tolist(), column
        else:
            assert ((g - w).abs() <= rtol * (1 + w.abs())).all(), column
    assert (actual["_error"].isna() | (actual["_error"] == "")).all()


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quickscore: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# --------------------------------------------------------------------------- score


def test_score_without_arguments_scores_the_bundled_example():
    result = run("score")
    assert result.exit_code == 0, result.stderr
    scores = read_csv(result.stdout)
    model = quickscore.load(str(EXAMPLE_MODEL))
    assert list(scores.columns) == model.output_names + ["_error"]
    assert_scores(scores, IRIS, rtol=0)


def test_bundled_example_is_packaged():
    assert EXAMPLE_MODEL.is_file() and EXAMPLE_INPUT.is_file()


def test_score_to_stdout(tmp_path):
    result = run("score", f"{LOGISTIC}.pmml", f"{LOGISTIC}.input.csv")
    assert result.exit_code == 0, result.stderr
    assert_scores(read_csv(result.stdout), LOGISTIC)


def test_score_to_csv_file_writes_what_stdout_gets(tmp_path):
    out = tmp_path / "scores.csv"
    result = run("score", f"{FOREST}.pmml", f"{FOREST}.input.csv", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == run("score", f"{FOREST}.pmml", f"{FOREST}.input.csv").stdout
    assert_scores(read_csv(out.read_text(encoding="utf-8")), FOREST)
    assert list(tmp_path.iterdir()) == [out]  # no partial file left behind


def test_score_to_parquet(tmp_path):
    out = tmp_path / "scores.parquet"
    result = run("score", f"{LOGISTIC}.pmml", f"{LOGISTIC}.input.csv", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out).to_pandas()
    assert list(table.columns) == quickscore.load(f"{LOGISTIC}.pmml").output_names + ["_error"]
    assert table["probability(setosa)"].dtype == "float64"
    assert_scores(table, LOGISTIC)


def test_score_parquet_input(tmp_path):
    source = tmp_path / "records.parquet"
    pd.read_csv(f"{LOGISTIC}.input.csv").to_parquet(source)  # typed columns (doubles)
    result = run("score", f"{LOGISTIC}.pmml", str(source))
    assert result.exit_code == 0, result.stderr
    assert_scores(read_csv(result.stdout), LOGISTIC)


def test_score_reads_stdin():
    records = Path(f"{LOGISTIC}.input.csv").read_text(encoding="utf-8")
    result = run("score", f"{LOGISTIC}.pmml", "-", input=records)
    assert result.exit_code == 0, result.stderr
    assert_scores(read_csv(result.stdout), LOGISTIC)


def test_score_in_chunks_gives_the_same_output():
    whole = run("score", f"{AUDIT_NA}.pmml", f"{AUDIT_NA}.input.csv")
    chunked = run("score", f"{AUDIT_NA}.pmml", f"{AUDIT_NA}.input.csv", "--chunk-size", "7")
    assert whole.exit_code == chunked.exit_code == 0
    assert chunked.stdout == whole.stdout
    assert_scores(read_csv(whole.stdout), AUDIT_NA)


def test_every_missing_spelling_is_a_missing_value(tmp_path):
    text = Path(f"{AUDIT_NA}.input.csv").read_text(encoding="utf-8")
    spellings = ["NA", "N/A", "NaN", "null"]
    lines = text.splitlines()
    rewritten = [lines[0]] + [",".join(cell or spellings[(i + j) % 4] for j, cell in enumerate(line.split(",")))
                              for i, line in enumerate(lines[1:])]
    assert rewritten != lines  # the fixture has missing values to respell
    source = tmp_path / "respelled.csv"
    source.write_text("\n".join(rewritten) + "\n", encoding="utf-8")
    result = run("score", f"{AUDIT_NA}.pmml", str(source))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == run("score", f"{AUDIT_NA}.pmml", f"{AUDIT_NA}.input.csv").stdout


def test_header_only_input_gives_header_only_output(tmp_path):
    source = tmp_path / "empty.csv"
    source.write_text("sepal_length,sepal_width,petal_length,petal_width\n", encoding="utf-8")
    result = run("score", f"{IRIS}.pmml", str(source))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [",".join(quickscore.load(f"{IRIS}.pmml").output_names + ["_error"])]


def test_errors_column_reports_bad_records_and_scores_the_rest(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("petal_length,petal_width\n4.1,1.3\nfour,1.3\n", encoding="utf-8")
    result = run("score", f"{IRIS}.pmml", str(source))
    assert result.exit_code == 0, result.stderr
    scores = read_csv(result.stdout)
    assert scores["species"].tolist() == ["versicolor", ""]
    assert scores["_error"][0] == "" and "four" in scores["_error"][1]


def test_errors_raise_stops_with_one_line(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("petal_length,petal_width\n4.1,1.3\nfour,1.3\n", encoding="utf-8")
    result = run("score", f"{IRIS}.pmml", str(source), "--errors", "raise", "-o", str(tmp_path / "out.csv"))
    assert_one_line_error(result, "four")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.part").exists()


def test_model_without_input_is_a_usage_error():
    result = run("score", f"{IRIS}.pmml")
    assert result.exit_code == 2
    assert "INPUT" in result.stderr


# --------------------------------------------------------------------------- failures


def test_missing_model_file(tmp_path):
    missing = tmp_path / "nowhere.pmml"
    assert_one_line_error(run("score", str(missing), f"{IRIS}.input.csv"), "nowhere.pmml")
    assert_one_line_error(run("inspect", str(missing)), "nowhere.pmml")


def test_missing_input_file(tmp_path):
    assert_one_line_error(run("score", f"{IRIS}.pmml", str(tmp_path / "nothing.csv")), "nothing.csv")


@pytest.mark.parametrize("content", [b"this is not a model\n", b"<PMML><Header/>", b"\x00\xff\xfe garbage"])
def test_bad_model_file(tmp_path, content):
    bad = tmp_path / "bad.pmml"
    bad.write_bytes(content)
    assert_one_line_error(run("score", str(bad), f"{IRIS}.input.csv"), "bad.pmml")
    assert_one_line_error(run("inspect", str(bad)), "bad.pmml")


def test_bad_parquet_input(tmp_path):
    bad = tmp_path / "records.parquet"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert_one_line_error(run("score", f"{IRIS}.pmml", str(bad)))


def test_unwritable_output(tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "scores.csv"
    assert_one_line_error(run("score", f"{IRIS}.pmml", f"{IRIS}.input.csv", "-o", str(out)), "scores.csv")


def test_console_script_reports_errors_without_traceback(tmp_path):
    """The real entry point, in a subprocess: one line on stderr, no traceback."""
    bad = tmp_path / "bad.pmml"
    bad.write_text("not xml", encoding="utf-8")
    command = [sys.executable, "-c", "from quickscore.cli import main; main()", "score", str(bad), f"{IRIS}.input.csv"]
    proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("quickscore: error: ") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_console_script_scores_the_bundled_example():
    command = [sys.executable, "-c", "from quickscore.cli import main; main()", "score"]
    proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    assert_scores(read_csv(proc.stdout), IRIS, rtol=0)


def test_python_dash_m_quickscore_is_the_command():
    command = [sys.executable, "-m", "quickscore", "score"]
    proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert_scores(read_csv(proc.stdout), IRIS, rtol=0)


# --------------------------------------------------------------------------- inspect


def test_inspect_text():
    result = run("inspect")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for fragment in ("TreeModel", "SkLearn2PMML package 0.133.1", "4.4", "petal_width", "petal_length",
                     "species", "setosa, versicolor, virginica", "probability(virginica)"):
        assert fragment in text, fragment


def test_inspect_json_describes_the_model():
    result = run("inspect", f"{FOREST}.pmml", "--json")
    assert result.exit_code == 0, result.stderr
    description = json.loads(result.stdout)
    model = quickscore.load(f"{FOREST}.pmml")
    assert description["info"]["model_type"] == "MiningModel"
    assert description["info"]["n_trees"] == 100
    assert description["info"]["n_nodes"] == model.info["n_nodes"] > 100
    assert description["output_columns"] == model.output_names
    assert [f["name"] for f in description["inputs"]] == [f.name for f in model.schema.inputs]
    target = description["targets"][0]
    assert target["name"] == "cultivar" and target["op_type"] == "categorical"
    assert sorted(target["values"]) == ["barbera", "barolo", "grignolino"]
    assert {"name", "data_type", "op_type", "values", "intervals"} <= set(description["inputs"][0])


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert quickscore.__version__ in result.stdout


def test_inspect_shows_valid_values_and_intervals():
    audit = DATA_DIR / "DecisionTreeClassifierAudit.pmml"
    description = json.loads(run("inspect", str(audit), "--json").stdout)
    inputs = {f["name"]: f for f in description["inputs"]}
    assert inputs["Age"]["intervals"] == ["[17, 84]"]
    assert inputs["Age"]["data_type"] == "integer" and inputs["Age"]["op_type"] == "continuous"
    assert len(inputs["Occupation"]["values"]) == 14 and "Military" in inputs["Occupation"]["values"]
    assert description["targets"][0]["values"] == [0, 1]  # an integer field's values print as integers
    text = run("inspect", str(audit)).stdout
    assert "intervals: [17, 84]" in text
    assert "values: Absent, Divorced, Married, Unmarried, Widowed" in text
    assert "... (14 values)" in text
    assert "values: 0, 1" in text
