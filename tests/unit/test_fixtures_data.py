"""The fixtures in tests/data are complete, consistent, small, and right under JPMML-Evaluator.

These tests check the test data itself (not quickscore): every model has its input and expected CSVs,
the expected columns are exactly the outputs the PMML declares, the bundled example is the fixture
of the same name, and the reference evaluator reproduces the training library's predictions.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
from lxml import etree

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "src" / "quickscore" / "examples"

_spec = importlib.util.spec_from_file_location("make_fixtures", DATA_DIR / "make_fixtures.py")
make_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = make_fixtures  # its dataclasses look their module up there
_spec.loader.exec_module(make_fixtures)
NAMES = list(make_fixtures.FIXTURES)


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def test_tests_data_holds_the_fixtures_and_nothing_else():
    expected = {"make_fixtures.py", "README.md"}
    expected |= {f"{n}{suffix}" for n in NAMES for suffix in (".pmml", ".input.csv", ".expected.csv")}
    present = {p.name for p in DATA_DIR.iterdir() if p.name != "__pycache__"}
    assert present == expected


def test_readme_lists_every_fixture():
    assert (DATA_DIR / "README.md").read_text(encoding="utf-8") == make_fixtures.readme_text()


def test_fixtures_stay_small():
    sizes = {p.name: p.stat().st_size for p in DATA_DIR.iterdir() if p.is_file()}
    assert sum(sizes.values()) < 10 * 2**20
    assert max(sizes.values()) < 2 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_expected_columns_are_the_declared_outputs(name):
    target, outputs = make_fixtures.output_columns(DATA_DIR / f"{name}.pmml")
    header, rows = _read(DATA_DIR / f"{name}.expected.csv")
    assert header == [target] + [output_name for output_name, _, _ in outputs]
    assert all(cell != "" for row in rows for cell in row), "a prediction is missing"


@pytest.mark.parametrize("name", NAMES)
def test_inputs_cover_the_active_fields(name):
    root = etree.parse(str(DATA_DIR / f"{name}.pmml")).getroot()
    ns = {"p": root.nsmap[None]}
    active = root.xpath("/p:PMML/*/p:MiningSchema/p:MiningField[not(@usageType) or @usageType='active']/@name",
                        namespaces=ns)
    header, rows = _read(DATA_DIR / f"{name}.input.csv")
    _, expected_rows = _read(DATA_DIR / f"{name}.expected.csv")
    assert active and set(active) <= set(header)
    assert 0 < len(rows) == len(expected_rows) <= 500


def test_bundled_example_is_the_fixture():
    name = make_fixtures.EXAMPLE
    assert sorted(p.name for p in EXAMPLES_DIR.iterdir()) == [f"{name}.input.csv", f"{name}.pmml"]
    for suffix in (".pmml", ".input.csv"):
        assert (EXAMPLES_DIR / f"{name}{suffix}").read_bytes() == (DATA_DIR / f"{name}{suffix}").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_jpmml_reproduces_the_expected_outputs(name):
    problems, _, rtol = make_fixtures.jpmml_differences(name)
    assert not problems, f"JPMML-Evaluator disagrees with {name}.expected.csv beyond {rtol:g}: {problems}"
