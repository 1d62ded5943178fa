"""The replication pages (docs/replications/*.md) are the code's numbers, not a transcript.

``docs/make_replications.py --check`` reruns each page's code block (exactly the block the page shows,
from an empty folder, on the packaged data) and rebuilds the page's text; a page that no longer matches
what the code gives, or whose table says a number disagrees with its reference, fails here.  Figures are
drawn to a temporary folder (their pixels are not compared; the data behind them is the page's).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_replications", ROOT / "docs" / "make_replications.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules["make_replications"] = gen  # dataclasses resolve the module by name
_spec.loader.exec_module(gen)

NAMES = [s.name for s in gen.STUDIES]


def test_every_study_has_a_committed_page_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for study in gen.STUDIES:
        name = study.name
        assert (gen.PAGES / f"{name}.md").exists(), f"run docs/make_replications.py {name}"
        if study.figure is not None:
            assert (gen.IMG / f"rep_{name}.png").exists(), f"docs/img/rep_{name}.png is missing"
        assert f"replications/{name}.md" in nav, f"mkdocs.yml's nav lacks replications/{name}.md"


@pytest.mark.parametrize("name", NAMES)
def test_page_is_what_the_code_gives(name, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    status = gen.main(["--check", name])
    out = capsys.readouterr().out
    assert status == 0, out
    page = (gen.PAGES / f"{name}.md").read_text()
    assert "**no" not in page, f"{name}: a number disagrees with its reference:\n{page}"


def test_a_moved_number_is_caught(monkeypatch, tmp_path, capsys):
    """The check can fail: a page with one digit changed is reported as differing."""
    study = next(s for s in gen.STUDIES if s.name == "germany")
    real = (gen.PAGES / "germany.md").read_text()
    assert "| 0.312401 |" in real
    monkeypatch.setattr(gen, "PAGES", tmp_path)
    (tmp_path / "germany.md").write_text(real.replace("| 0.312401 |", "| 0.312402 |", 1))
    assert gen.main(["--check", study.name]) == 1
    assert "differs from what the code gives now" in capsys.readouterr().out


def test_a_disagreeing_row_says_so():
    row = gen.Row("att", 1.0, 1.1, "somewhere", 1e-3)
    assert row.failed and "**no**" in row.verdict()
    assert not gen.Row("att", 1.0, 1.0 + 1e-4, "somewhere", 1e-3).failed
    assert gen.Row("loss", 2.0, 1.0, "Synth", None, "at_most").failed
    assert not gen.Row("loss", 1.0, 2.0, "Synth", None, "at_most").failed
