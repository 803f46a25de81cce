"""Shared test fixtures. Keep this file small: suite-specific helpers live next to their tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The conformance corpus lives next to the repository (never inside it: some files carry licences
# that must not travel into the project). QUICKSCORE_CORPUS overrides the location.
CORPUS_DIR = Path(os.environ.get("QUICKSCORE_CORPUS", REPO_ROOT.parent / "shared" / "corpus")).resolve()

# Fixtures written by the project itself (PMML + <Name>.input.csv).
TEST_DATA_DIR = REPO_ROOT / "tests" / "data"


def corpus_available() -> bool:
    return (CORPUS_DIR / "MANIFEST.tsv").is_file()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus directory; skips the test when the corpus is not checked out."""
    if not corpus_available():
        pytest.skip(f"conformance corpus not found at {CORPUS_DIR} (set QUICKSCORE_CORPUS to its location)")
    return CORPUS_DIR
