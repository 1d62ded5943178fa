"""install_synthcontrol() from a tarball (issue #15): the R package built after
r-wrapper/tools/bundle-core.sh carries the Python core in inst/core; installed from that tarball
(no checkout around it), install_synthcontrol() installs that core -- not a PyPI name that does not
exist.  The test builds the tarball in a temporary copy, installs it into a temporary R library,
runs install_synthcontrol() into a temporary virtualenv (``--no-deps``: the route is under test, not
pip's resolver) and checks that the virtualenv's synthcontrol is the bundled one."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _need_r():
    if not shutil.which("Rscript"):
        if os.environ.get("CI"):
            pytest.fail("Rscript is not available in CI")
        pytest.skip("Rscript is not available")


def test_install_synthcontrol_uses_the_core_shipped_in_the_tarball(tmp_path):
    _need_r()
    pkg = tmp_path / "src" / "r-wrapper"
    shutil.copytree(REPO / "r-wrapper", pkg, ignore=shutil.ignore_patterns("core", "_snaps"))
    # the bundle script reads the repository next to its own copy of r-wrapper: run the original,
    # writing into the copy
    out = subprocess.run(["sh", str(REPO / "r-wrapper" / "tools" / "bundle-core.sh"), str(pkg)],
                         capture_output=True, text=True, check=True)
    assert "copied the Python core" in out.stdout
    assert (pkg / "inst" / "core" / "pyproject.toml").exists()
    build = tmp_path / "build"
    build.mkdir()
    subprocess.run(["R", "CMD", "build", "--no-build-vignettes", "--no-manual", str(pkg)], cwd=build,
                   capture_output=True, text=True, check=True)
    tarball = next(build.glob("synthcontrol_*.tar.gz"))
    lib = tmp_path / "lib"
    lib.mkdir()
    env = dict(os.environ, R_LIBS=str(lib))
    env.pop("SYNTHCONTROL_SOURCE", None)
    subprocess.run(["R", "CMD", "INSTALL", "--no-test-load", "-l", str(lib), str(tarball)], cwd=build,
                   capture_output=True, text=True, check=True, env=env)
    venv = tmp_path / "venv"
    script = f"""
      .libPaths(c("{lib}", .libPaths()))
      library(synthcontrol)
      src <- synthcontrol:::.default_source()
      stopifnot(identical(src, system.file("core", package = "synthcontrol")), nzchar(src))
      cat("SOURCE", src, "\\n")
      res <- install_synthcontrol(envname = "{venv}", python = "{sys.executable}",
                                  pip_options = "--no-deps", packages = NULL)
      stopifnot(identical(res$source, src))
    """
    r = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shipped with this R package" in r.stderr
    py = venv / "bin" / "python"
    found = subprocess.run([str(py), "-c", "import importlib.util as u; print(u.find_spec('synthcontrol').origin)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert found.startswith(str(venv)), found
    bundled = (pkg / "inst" / "core" / "python" / "synthcontrol" / "_version.py").read_text()
    installed = (Path(found).parent / "_version.py").read_text()
    assert installed == bundled
    # what a tarball without the core says: an error naming the way out, never a PyPI guess
    r = subprocess.run(["Rscript", "-e", f"""
      .libPaths(c("{lib}", .libPaths())); library(synthcontrol)
      unlink(system.file("core", package = "synthcontrol"), recursive = TRUE)
      e <- tryCatch(install_synthcontrol(envname = "{tmp_path / 'none'}"), error = function(e) e)
      stopifnot(inherits(e, "synthcontrol_install_error"))
      cat(conditionMessage(e))
    """], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Give `path`" in r.stdout
