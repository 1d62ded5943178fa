"""The batched placebo kernel (issue #16): ``placebo_fits`` runs every target's active-set search in
one lockstep batch (``SharedGram.fit_many``) and finishes the supports in one batch -- it must give
the single fits' answers, certificates and paths, and hand back to :meth:`SharedGram.fit` whatever it
cannot do as the single fit would.

1. Prop 99 (all 39 units, each the target of the other 38): weights against the R quadprog gold
   file to 1e-10, no fit handed back, every fit certified;
2. the same weights, certificates and iteration counts as one ``SharedGram.fit`` per target, on
   seeded factor panels with donor masks, and in chunks;
3. the cases the batch leaves alone (a copied unit, a unit 1e12 times the others, one donor) give
   exactly the single fit's result.
"""
from __future__ import annotations

import numpy as np
import pytest

import synthcontrol as sc
import synthcontrol.solvers.simplex as sx
from synthcontrol.solvers.simplex import SharedGram, placebo_fits


def _prop99_Z(smoking):
    panel = sc.Panel(smoking, unit="state", time="year", outcome="cigsale", treated="California",
                     treatment_time=1989)
    p = sc.SyntheticControl().fit(panel).panel
    Z = np.column_stack([p.y_treated, p.X_donors])
    return np.ascontiguousarray(Z[: p.T0]), ["California"] + list(p.donors)


def _count_single_fits(monkeypatch):
    calls = []
    real = SharedGram.fit

    def counted(self, k, D):
        calls.append(int(k))
        return real(self, k, D)
    monkeypatch.setattr(SharedGram, "fit", counted)
    return calls


def test_prop99_placebo_batch_matches_gold(smoking, reference, monkeypatch):
    ref = reference("prop99_placebo_outcome_only.json")
    Zf, names = _prop99_Z(smoking)
    N = Zf.shape[1]
    calls = _count_single_fits(monkeypatch)
    out = placebo_fits(Zf, targets=range(1, N), donor_mask=np.ones(N, dtype=bool))
    assert calls == []  # every search and finish made in the batch
    gold = {row["unit"]: row["weights_nonzero"] for row in ref["per_unit"]}
    worst = 0.0
    for i, D, fit in out:
        assert fit.converged and fit.kkt_violation < 1e-12
        want = np.array([gold[names[i]].get(names[j], 0.0) for j in D])
        worst = max(worst, float(np.abs(fit.weights - want).max()))
        assert abs(fit.weights.sum() - 1.0) < 1e-14 and fit.weights.min() >= 0.0
    assert worst < 1e-10  # measured ~1e-14


def _factor_panel(N, T, seed):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(T, 3)).cumsum(axis=0)
    return F @ rng.normal(size=(3, N)) + 0.5 * rng.normal(size=(T, N)) + 100.0


@pytest.mark.parametrize("seed", range(6))
def test_batch_equals_single_fits(seed, monkeypatch):
    rng = np.random.default_rng(100 + seed)
    N, T = int(rng.integers(5, 45)), int(rng.integers(3, 40))
    Y = _factor_panel(N, T, seed)
    mask = rng.random(N) < 0.8
    mask[rng.choice(N, 2, replace=False)] = True
    targets = list(rng.permutation(N)[: max(2, N // 2)])
    if seed % 2:
        monkeypatch.setattr(sx, "_BATCH_CHUNK", 4)  # several lockstep batches
    shared = SharedGram(Y)
    for i, D, fit in placebo_fits(Y, targets=targets, donor_mask=mask):
        np.testing.assert_array_equal(D, np.flatnonzero(mask & (np.arange(N) != i)))
        alone = shared.fit(i, D)
        assert fit.converged == alone.converged
        assert fit.n_iter == alone.n_iter  # the same path
        np.testing.assert_allclose(fit.weights, alone.weights, rtol=0, atol=1e-11)
        assert fit.ssr == pytest.approx(alone.ssr, rel=1e-10, abs=1e-12)
        assert fit.kkt_violation <= 1e-10


def test_cases_left_to_the_single_fit(smoking, monkeypatch):
    Zf, _ = _prop99_Z(smoking)
    Y = Zf.copy()
    Y[:, 5] = Y[:, 9]  # a unit that copies another: the single fit's exact start
    Y[:, 3] *= 1e12  # donors of wildly different sizes: the single fit's per-donor tolerances
    N = Y.shape[1]
    calls = _count_single_fits(monkeypatch)
    out = placebo_fits(Y)
    assert {5, 9} <= set(calls) and len(calls) < N  # only what the batch cannot do as the single fit
    monkeypatch.setattr(sx, "_BATCH_UPTO", 0)  # the per-target loop
    for (i, D, f), (_, D2, g) in zip(out, placebo_fits(Y)):
        np.testing.assert_array_equal(D, D2)
        np.testing.assert_allclose(f.weights, g.weights, rtol=0, atol=1e-12)
        assert f.converged == g.converged


def test_one_donor_and_two_units():
    Y = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.0]])
    out = placebo_fits(Y, targets=[1, 2], donor_mask=np.array([True, True, False]))
    assert [D.tolist() for _, D, _ in out] == [[0], [0, 1]]
    assert out[0][2].weights.tolist() == [1.0]
    assert out[1][2].converged and out[1][2].weights.sum() == pytest.approx(1.0)


def _tamper_search_solves(monkeypatch, spoil):
    """Spoil the lockstep search's solves (``spoil(call, sol)`` edits the solutions in place); the
    finishing step's solves are left alone."""
    state = {"in_search": False, "call": 0}
    real_solve, real_search = sx._solve_many, sx._batch_search

    def solve(K, r):
        x = real_solve(K, r)
        if state["in_search"]:
            state["call"] += 1
            spoil(state["call"], x)
        return x

    def search(*a, **k):
        state["in_search"] = True
        try:
            return real_search(*a, **k)
        finally:
            state["in_search"] = False
    monkeypatch.setattr(sx, "_solve_many", solve)
    monkeypatch.setattr(sx, "_batch_search", search)


@pytest.mark.parametrize("how", ["nan_once", "ban_once", "ban_always"])
def test_spoiled_searches_end_as_the_single_fits(smoking, monkeypatch, how):
    """A singular solve (NaN) hands the search back; a candidate whose weight comes out <= 0 is banned
    (and the search goes on); a search whose every candidate is banned ends uncertified and is redone
    by the single fit.  Either way the answer is the single fit's."""
    Zf, _ = _prop99_Z(smoking)
    N = Zf.shape[1]
    expected = [SharedGram(Zf).fit(i, np.delete(np.arange(N), i)) for i in range(N)]

    def spoil(call, x):
        if how == "nan_once" and call == 3:
            x[0] = np.nan
        elif how == "ban_once" and call == 2:
            x[:] = 0.0  # every search that just added a donor sees it at weight 0: banned
        elif how == "ban_always":
            x[0] = -np.abs(x[0])  # the first search's candidates always come out negative
    _tamper_search_solves(monkeypatch, spoil)
    calls = _count_single_fits(monkeypatch)
    out = placebo_fits(Zf)
    if how == "ban_once":
        assert calls == []  # the bans are lifted by the next progress; every search ends in the batch
    else:
        assert len(calls) >= 1
    for (i, D, f), g in zip(out, expected):
        assert f.converged and g.converged
        np.testing.assert_allclose(f.weights, g.weights, rtol=0, atol=1e-12)
