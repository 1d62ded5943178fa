"""Adding an inference method is one module and one registration.

A toy method is registered here -- in this file only, touching no file of the package -- and reached
from Python (``res.infer`` and the registry's checks), from the command line (``--inference toy``,
its JSON through the one result schema) and from R (``summary(fit, inf_type = "toy")`` and
``infer()``), where the R session's Python registers the same toy from this file's source.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import synthcontrol as sc
from synthcontrol.cli import main
from synthcontrol.inference import base

REPO = Path(__file__).resolve().parents[1]

TOY = textwrap.dedent('''
    from synthcontrol.inference.base import Inference, register

    @register("toy", supports=("outcome", "predictors"), title="Toy test (for the registry's test)",
              replace=True)
    def toy_test(res, alpha=0.2, shift=0.0, seed=0):
        """A toy: the ATT plus and minus one, moved by ``shift``."""
        return Inference(method="toy", p_value=0.5, ci_lower=res.att - 1 + shift, ci_upper=res.att + 1 + shift,
                         alpha=alpha, details={"answer": 42.0, "seed_seen": seed})
''')


@pytest.fixture()
def toy():
    exec(compile(TOY, "<toy>", "exec"), {})
    yield
    base.unregister("toy")


@pytest.fixture(scope="module")
def smoking():
    return sc.datasets.load("prop99")


def _panel(df):
    return sc.Panel(df, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)


def test_toy_from_python(toy, smoking):
    res = sc.SyntheticControl().fit(_panel(smoking))
    inf = res.infer("toy", shift=0.5)
    assert inf.ci_lower == pytest.approx(res.att - 0.5) and inf.details["answer"] == 42.0
    assert inf.name == "toy" and inf.call == {"alpha": 0.2, "shift": 0.5, "seed": 0} and inf.fit_kind == "outcome"
    assert "80% interval" in inf.summary()
    d = json.loads(json.dumps(inf.to_dict()))
    assert d["level"] == "80%" and d["details"]["answer"] == 42.0 and d["metadata"]["call"]["shift"] == 0.5
    assert "toy" in sc.inference.names()
    with pytest.raises(sc.SpecificationError, match="unexpected argument.*'bogus'.*alpha, shift, seed"):
        res.infer("toy", bogus=1)
    ridge = sc.SyntheticControl(augment="ridge", ridge_lambda=1.0).fit(
        sc.Panel(sc.datasets.load("kansas"), unit="state", time="year_qtr", outcome="lngdpcapita", treat="treated"))
    with pytest.raises(sc.SpecificationError, match="toy is not available for ridge-augmented fits"):
        ridge.infer("toy")
    with pytest.raises(sc.SpecificationError, match="unknown inference method 'nosuch'; available: 'placebo'"):
        res.infer("nosuch")


def test_toy_from_the_command_line(toy, tmp_path, capsys):
    f = tmp_path / "smoking.csv"
    sc.datasets.load("prop99").to_csv(f, index=False)
    out = tmp_path / "out"
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale", "--treated",
                 "California", "--treatment-time", "1989", "--inference", "toy", "--seed", "7",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Inference: toy" in text and "80% interval" in text
    res = json.loads((out / "results.json").read_text())
    assert res["toy"]["details"] == {"answer": 42.0, "seed_seen": 7} and res["toy"]["name"] == "toy"
    assert res["toy"]["ci_upper"] == pytest.approx(res["fit"]["att"] + 1)


def test_builtin_choices_come_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = capsys.readouterr().out
    for m in sc.inference.methods():
        assert (m.cli_name or m.name) in text


def test_toy_from_r():
    exe = shutil.which("Rscript")
    ok = exe is not None and subprocess.run(
        [exe, "-e", 'quit(status = !requireNamespace("synthcontrol", quietly = TRUE))'],
        capture_output=True).returncode == 0
    if not ok:
        if os.environ.get("CI"):
            pytest.fail("Rscript with the installed R package synthcontrol is required in CI")
        pytest.skip("Rscript with the R package synthcontrol not available")
    code = textwrap.dedent(f'''
        suppressPackageStartupMessages(library(synthcontrol))
        reticulate::py_run_string({json.dumps(TOY)})
        data(smoking, package = "synthcontrol")
        fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = smoking, treated = "California", treatment_time = 1989)
        print(summary(fit, inf_type = "toy"))
        v <- infer(fit, "toy", shift = 1)
        cat("\\nRESULT", v$ci_upper - fit$att, v$details$answer, v$level, "\\n")
        cat("REGISTRY", "toy" %in% inference_methods()$name, "\\n")
    ''')
    run = subprocess.run([exe, "-e", code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, RETICULATE_PYTHON=sys.executable))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "80%" in run.stdout and "RESULT 2 42 80%" in run.stdout and "REGISTRY TRUE" in run.stdout, run.stdout
