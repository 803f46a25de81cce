"""What the native corpus suites share: the manifest, the CSV reader and the comparison."""

from __future__ import annotations

import csv
import math
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
MANIFEST = CORPUS / "NATIVE_MANIFEST.tsv"
NA = {"NA", "N/A", ""}


def manifest_rows(format_prefix: str) -> list[dict]:
    """The NATIVE_MANIFEST.tsv rows whose format starts with ``format_prefix`` ([] without the corpus)."""
    if not MANIFEST.exists():
        return []
    with open(MANIFEST, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["format"].startswith(format_prefix)]


def truncation(row: dict) -> tuple[str, int] | None:
    """The row's ``@N`` variant: (its expected CSV, N), or None."""
    truncated = row.get("expected_csv_truncated_iterations(@N)") or ""
    if not truncated:
        return None
    return truncated, int(Path(truncated).stem.rsplit("@", 1)[1])


def read_table(path: Path) -> tuple[list[str], list[list[str | None]]]:
    """A CSV as its header and rows of text cells (NA, N/A and empty cells None)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [[None if v in NA else v for v in row] for row in reader if row]


def close(expected: str | None, got, rtol: float, atol: float) -> bool:
    """Does ``got`` match the expected cell: missing both, the same text, or numbers within
    ``atol + rtol * |expected|``?"""
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    try:
        e = float(expected)
    except ValueError:
        return str(got) == expected
    try:
        g = float(got)
    except (TypeError, ValueError):
        return False
    return abs(g - e) <= atol + rtol * abs(e)


def assert_matches(got, exp_header: list[str], exp_rows: list[list[str | None]], rtol: float, atol: float) -> None:
    """Every record scored, and every expected column present and within tolerance."""
    assert got["_error"].isna().all(), got["_error"].dropna().iloc[:3].tolist()
    problems = []
    for j, column in enumerate(exp_header):
        assert column in got.columns, f"no output column {column!r} (have {list(got.columns)})"
        values = got[column].tolist()
        bad = [(i, r[j], values[i]) for i, r in enumerate(exp_rows) if not close(r[j], values[i], rtol, atol)]
        if bad:
            problems.append(f"{column}: {len(bad)}/{len(exp_rows)} rows differ, e.g. {bad[:3]}")
    assert not problems, "\n".join(problems)
