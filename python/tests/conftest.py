"""Shared fixtures: where the canonical data and the recorded reference numbers live.

Data: ``$SYNTHCONTROL_DATA`` if set, else the copies packaged with synthcontrol (exported to a
temporary directory once per session: ``synthcontrol.datasets.canonical_dir``) -- so a clone runs the
whole suite with nothing beside it.
Reference numbers: ``$SYNTHCONTROL_REFERENCE`` if set, else ``<repo>/fixtures/reference`` (the
numbers recorded from the R packages, with the calls that produced them).
Tests that need a file that is absent are skipped with the path in the reason;
under CI a missing file fails the test instead of skipping it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from synthcontrol.datasets import canonical_dir

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    return canonical_dir()


def reference_dir() -> Path:
    return Path(os.environ.get("SYNTHCONTROL_REFERENCE", REPO / "fixtures" / "reference"))


def need_file(path: Path) -> Path:
    """The path if it exists; otherwise skip the test (fail it under CI, which always has ../shared)."""
    return _need(Path(path))


def _need(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):  # CI always has ../shared: a missing file there is a failure
            pytest.fail(f"data file not available in CI: {path}")
        pytest.skip(f"data file not available: {path} (set SYNTHCONTROL_DATA)")
    return path


@pytest.fixture(scope="session")
def rollout_logs() -> pd.DataFrame:
    return pd.read_csv(_need(data_dir() / "synthetic_llm_logs.csv"))


@pytest.fixture(scope="session")
def smoking() -> pd.DataFrame:
    return pd.read_csv(_need(data_dir() / "smoking.csv"))


@pytest.fixture(scope="session")
def p99data() -> pd.DataFrame:
    return pd.read_csv(_need(data_dir() / "P99data.csv"))


@pytest.fixture(scope="session")
def reference():
    def load(name):
        return json.loads(_need(reference_dir() / name).read_text())
    return load
