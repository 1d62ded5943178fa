"""R CMD check --as-cran of the R package (issue #15): Status OK, every help page's examples run --
with the Python core, and without it (the examples then skip what needs Python).

The machine is offline, so three checks that need the network are pointed at an empty local
repository or turned off, and nothing else: the CRAN incoming feasibility check
(_R_CHECK_CRAN_INCOMING_=FALSE), the system clock check against a time server
(_R_CHECK_SYSTEM_CLOCK_=FALSE), and the package index used to look up the tests' and examples'
dependencies (R_REPOSITORIES and repos pointing at an empty file:// repository).  The testthat
suite itself runs in test_r_package.py, so this check uses --no-tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _offline_env(tmp: Path, python: str) -> dict:
    repo = tmp / "emptyrepo" / "src" / "contrib"
    repo.mkdir(parents=True)
    (repo / "PACKAGES").write_text("")
    url = f"file://{tmp / 'emptyrepo'}"
    rows = ["menu_name\tURL\tdefault\tsource\twin.binary\tmac.binary"]
    rows += [f"{r}\t{r}\t{url}\tTRUE\tTRUE\tFALSE\tFALSE" for r in ("CRAN", "BioCsoft", "BioCann", "BioCexp")]
    (tmp / "repositories").write_text("\n".join(rows) + "\n")
    (tmp / "Rprofile").write_text(f'options(repos = c(CRAN = "{url}"))\n')
    env = dict(os.environ, RETICULATE_PYTHON=python, _R_CHECK_CRAN_INCOMING_="FALSE",
               _R_CHECK_SYSTEM_CLOCK_="FALSE", R_REPOSITORIES=str(tmp / "repositories"),
               R_PROFILE_USER=str(tmp / "Rprofile"), OPENBLAS_NUM_THREADS="1")
    env.pop("R_LIBS_USER", None)
    return env


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    if not shutil.which("R"):
        if os.environ.get("CI"):
            pytest.fail("R is required in CI")
        pytest.skip("R is not available")
    build = tmp_path_factory.mktemp("rbuild")
    subprocess.run(["R", "CMD", "build", "--no-build-vignettes", str(REPO / "r-wrapper")], cwd=build,
                   check=True, capture_output=True, text=True)
    return next(build.glob("synthcontrol_*.tar.gz"))


@pytest.mark.parametrize("core", ["with the Python core", "without it"])
def test_r_cmd_check_as_cran_is_ok(tarball, tmp_path, core):
    python = sys.executable
    if core == "without it":  # a bare virtualenv of the base interpreter: no synthcontrol in it
        base = getattr(sys, "_base_executable", None) or shutil.which("python3")
        subprocess.run([base, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
        python = str(tmp_path / "bare" / "bin" / "python")
        has = subprocess.run([python, "-c", "import synthcontrol, sys; sys.exit(synthcontrol.__file__ is None)"],
                             capture_output=True).returncode == 0
        assert not has, f"{python} imports the Python core; the core-less check needs a Python without it"
    env = _offline_env(tmp_path, python)
    run = subprocess.run(["R", "CMD", "check", "--as-cran", "--no-manual", "--no-tests",
                          f"--output={tmp_path}", str(tarball)], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=1200)
    log = run.stdout + run.stderr
    assert "checking examples ... " in log and "checking examples ... NONE" not in log, log[-4000:]
    assert "Status: OK" in log, log[-6000:]
