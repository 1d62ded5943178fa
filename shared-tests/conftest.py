"""Cross-language checks: our Python core against R packages run live.

Tests marked ``against_r`` need ``Rscript`` with the packages they name.  Outside
CI they skip when R is absent; under CI (``CI`` set) a missing R is a failure,
since ``.ci/run`` installs it.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _rscript_with(pkg: str) -> str | None:
    exe = shutil.which("Rscript")
    if exe is None:
        return None
    ok = subprocess.run([exe, "-e", f'quit(status = !requireNamespace("{pkg}", quietly = TRUE))'],
                        capture_output=True)
    return exe if ok.returncode == 0 else None


@pytest.fixture(scope="session")
def rscript_quadprog():
    exe = _rscript_with("quadprog") and _rscript_with("jsonlite")
    if exe is None:
        msg = "Rscript with quadprog + jsonlite not found (apt-get install r-base-core r-cran-quadprog r-cran-jsonlite)"
        if os.environ.get("CI"):
            pytest.fail(msg + " -- CI must install it (.ci/run)")
        pytest.skip(msg)
    return exe
