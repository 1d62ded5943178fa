"""Every Python example in docs/*.md and README.md runs, from a clean folder, on the packaged data, without
writing into docs/ (docs/_check_examples.py, one fresh interpreter per page).  The replication pages
(docs/replications/*.md) are not collected here: their code is run, and their numbers compared, by
python/tests/test_replication_pages.py (docs/make_replications.py --check)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_check_examples", REPO / "docs" / "_check_examples.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)

# the docs pages and the README: every Python example a reader meets
PAGES = sorted(p for p in [*(REPO / "docs").glob("*.md"), REPO / "README.md"] if checker.extract_blocks(p))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_page_examples_run(page, monkeypatch):
    # rpy2 (imported by the cross-language tests in this process) prepends R's and the system's
    # library folders to LD_LIBRARY_PATH; a Python started with it can load the system's
    # libpython instead of its own (seen here: a 3.11.7 stdlib on 3.11.2's libpython, whose RLock
    # lacks _recursion_count, failing in joblib's worker start-up). The examples run as a reader's
    # would: without those additions.
    for var in ("LD_LIBRARY_PATH", "R_HOME"):
        monkeypatch.delenv(var, raising=False)
    result = checker.run_page(page, sys.executable, timeout=900.0)
    assert result["status"] == "pass", {k: v for k, v in result.items() if k != "blocks"}
