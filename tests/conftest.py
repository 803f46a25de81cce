"""Shared test fixtures. Keep this file small: suite-specific helpers live next to their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus_cases import CORPUS_DIR, REPO_ROOT, TEST_DATA_DIR  # noqa: F401 (re-exported)


def corpus_available() -> bool:
    return (CORPUS_DIR / "MANIFEST.tsv").is_file()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus directory; skips the test when the corpus is not checked out."""
    if not corpus_available():
        pytest.skip(f"conformance corpus not found at {CORPUS_DIR} (set QUICKSCORE_CORPUS to its location)")
    return CORPUS_DIR
