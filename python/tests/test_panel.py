"""The Panel build: what it reads from the caller's frame and what it keeps (issue #16: the build
reads columns and integer codes instead of copying a frame; the snapshot for covariates is a
shallow copy under copy-on-write)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthcontrol as sc
def test_panel_keeps_a_snapshot_of_the_data_and_never_touches_it():
    """The Panel reads the caller's frame without copying its role columns and keeps a snapshot
    for covariates (a shallow copy under pandas' copy-on-write): edits of the caller's frame after
    the build -- in place, by column, or of the time column -- change neither the panel nor a
    covariate fit, and the build changes nothing in the frame."""
    from synthcontrol.datasets import load
    d = load("prop99")
    before = d.copy()
    p = sc.Panel(d, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    pd.testing.assert_frame_equal(d, before)
    est = sc.SyntheticControl(covariates=["lnincome", "retprice"], predictor_window=(1980, 1988))
    att = est.fit(p).att
    Y = p.Y.copy()
    d.loc[d.index[:200], "lnincome"] = 99.0
    d["retprice"] *= 3
    d["cigsale"] = 0.0
    d["year"] = d["year"] + 100
    assert np.array_equal(p.Y, Y)
    assert est.fit(p).att == pytest.approx(att, abs=1e-12)
