"""Every Python example in docs/*.md runs, from a clean folder, on the packaged data, without
writing into docs/ (docs/_check_examples.py, one fresh interpreter per page)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_check_examples", REPO / "docs" / "_check_examples.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)

PAGES = sorted(p for p in (REPO / "docs").glob("*.md") if checker.extract_blocks(p))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_page_examples_run(page):
    result = checker.run_page(page, sys.executable, timeout=900.0)
    assert result["status"] == "pass", {k: v for k, v in result.items() if k != "blocks"}
