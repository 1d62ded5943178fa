"""The backend x inference matrix (docs/matrix.md) is a walk, not a claim.

``docs/make_matrix.py --check`` fits every row (Prop 99 with ADH's predictors under each covariate
backend, Kansas for ridge, the rollout log for an events panel), runs every registered inference
method on it, and rebuilds the page: a cell that changed (a method that starts or stops running, a
number that moved, a refusal whose reason changed) fails here, and so does a result that is not
finite without saying why.  The refusals must be typed errors that say why the cell is not defined.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_matrix", ROOT / "docs" / "make_matrix.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["make_matrix"] = gen
_spec.loader.exec_module(gen)


def test_matrix_page_is_the_walk(capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    status = gen.main(["--check"])
    out = capsys.readouterr().out
    assert status == 0, out
    page = gen.PAGE.read_text()
    import synthcontrol as sc
    for m in sc.inference.names():  # every registered method is a column
        assert f"`{m}`" in page
    assert "matrix.md" in (ROOT / "mkdocs.yml").read_text()


def test_summaries_flag_a_silent_non_finite_result():
    """The walk's judgement can fail: a NaN p-value without a warning is not 'ok'."""
    import math
    import synthcontrol as sc
    inf = sc.Inference(method="x", p_value=math.nan, ci_lower=None, ci_upper=None, alpha=0.05, details={})
    assert gen.summarize("placebo", inf)[1] is False
    said = sc.Inference(method="x", p_value=math.nan, ci_lower=None, ci_upper=None, alpha=0.05,
                        details={"warnings": ["cannot decide"]})
    assert gen.summarize("placebo", said)[1] is True
