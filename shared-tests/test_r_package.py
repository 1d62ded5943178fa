"""The R package's own testthat suite, run from the test command (R -> reticulate -> this Python).

Passes only if every testthat expectation passes; the R output (with its counts) is shown on failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_r_package_testthat():
    exe = shutil.which("Rscript")
    ok = exe is not None and subprocess.run(
        [exe, "-e", 'quit(status = !(requireNamespace("synthcontrol", quietly = TRUE) && '
                    'requireNamespace("testthat", quietly = TRUE)))'], capture_output=True).returncode == 0
    if not ok:
        msg = "Rscript with testthat and the installed R package synthcontrol (R CMD INSTALL r-wrapper)"
        if os.environ.get("CI"):
            pytest.fail(msg + " is required in CI")
        pytest.skip(msg + " not available")
    from cases import data_dir, reference_dir
    env = dict(os.environ, RETICULATE_PYTHON=sys.executable, SYNTHCONTROL_DATA=str(data_dir()),
               SYNTHCONTROL_REFERENCE=str(reference_dir()), NOT_CRAN="true")
    code = ('res <- as.data.frame(testthat::test_dir("testthat", package = "synthcontrol", '
            'load_package = "installed", reporter = "summary", stop_on_failure = FALSE)); '
            'cat(sprintf("\\nR testthat: %d passed, %d failed, %d skipped, %d errors\\n", '
            'sum(res$passed), sum(res$failed), sum(res$skipped), sum(res$error))); '
            'quit(status = as.integer(sum(res$failed) + sum(res$error) > 0))')
    run = subprocess.run([exe, "-e", code], cwd=REPO / "r-wrapper" / "tests", capture_output=True,
                         text=True, env=env, timeout=900)
    print(run.stdout[-3000:])
    assert run.returncode == 0, f"R testthat failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert " 0 failed" in run.stdout
    if os.environ.get("CI"):  # a skip there means the R package could not reach the Python core
        assert " 0 skipped" in run.stdout, f"R testthat skipped tests in CI:\n{run.stdout[-3000:]}"
