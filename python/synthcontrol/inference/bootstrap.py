"""User-level cluster bootstrap (for panels built from event logs).

Resample users (clusters) with replacement, rebuild the unit x period panel
from the resampled rows, refit the weights on the pre-period, and record the
ATT.  One random stream drives the draws in order, so a seed gives the same
answer whatever ``n_jobs`` is.
"""
from __future__ import annotations

import numpy as np

from ..errors import SpecificationError
from ..solvers.simplex import simplex_ls
from ._undefined import mc_pvalue, report_uncertified
from .base import Inference, register

__all__ = ["cluster_bootstrap"]


def _att_from_matrix(M, tr_cols, donor_cols, fit_mask, post, fitter=None):
    """``(att, certified)`` of one resample's refit, by the fit's own estimator (``fitter``, a
    model's :meth:`~synthcontrol.models.FitModel.resample_fitter`; default the simplex fit)."""
    y = np.nanmean(M[:, tr_cols], axis=1) if len(tr_cols) > 1 else M[:, tr_cols[0]]
    X = M[:, donor_cols]
    ok = ~np.isnan(X).any(axis=0)  # a donor that vanished from the resample sits this draw out
    if not ok.all():
        X = X[:, ok]
    if fitter is not None:
        cf, certified = fitter(X, y, fit_mask)
        return float((y[post] - cf[post]).mean()), bool(certified)
    fit = simplex_ls(X[fit_mask], y[fit_mask])
    return float((y[post] - X[post] @ fit.weights).mean()), bool(fit.converged)


def _draws(rng, n):
    return rng.integers(0, n, size=n)


class _Rep:
    """Picklable: one resample's ``(att, certified)`` from its clusters' counts, or from the state
    of the one seeded stream at the start of its draws (a worker redraws them: a few bytes travel
    instead of a count per user)."""

    def __init__(self, src, tr_cols, donor_cols, fit_mask, post, fitter=None):
        self.src, self.args = src, (tr_cols, donor_cols, fit_mask, post, fitter)

    def counts(self, state):
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state
        return np.bincount(_draws(rng, self.src.n_clusters), minlength=self.src.n_clusters)

    def from_counts(self, counts):
        return self.from_sums(*self.src.sums(counts))

    def from_sums(self, s, n):
        return _att_from_matrix(self.src.matrix_from_sums(s, n), *self.args)

    def __call__(self, state):
        return self.from_counts(self.counts(state))


@register("bootstrap", supports=("outcome", "ridge"), title="User-level cluster bootstrap", why_not={
    "predictors": "each resample rebuilds the panel's outcome cells from the users drawn, but covariates come "
                  "from unit-level columns that a user resample cannot rebuild (and, for a V search, every "
                  "resample would rerun it)"})
def cluster_bootstrap(res, n_boot=500, seed=7, alpha=0.05, n_jobs=None, progress=None) -> Inference:
    """User-level cluster bootstrap (panels built with :func:`panel_from_events`).

    ``n_jobs=None`` takes the estimator's ``n_jobs`` (or the :func:`~synthcontrol.parallel_backend`
    block's engine); the draws come from one seeded stream in order, so the answer does not depend
    on ``n_jobs`` or the engine.  A resample is the users' counts, applied to the log as row
    weights: no resample copies the log (a 5,000,000-user log: see docs/parallel.md).  A panel
    whose log lives on a Dask cluster (``panel_from_events`` of a Dask DataFrame) is resampled
    there, partition by partition.  ``progress``: True, False, or None (a bar after 2 s).

    The interval is the percentile interval of the bootstrap ATTs; the
    p-value is the two-sided percentile p-value for ATT = 0 as a Monte Carlo
    p-value, ``2 * min(1 + #{draws <= 0}, 1 + #{draws >= 0}) / (n_boot + 1)``
    capped at 1: never 0 (a finite number of draws cannot show that no
    resample crosses 0; the smallest value is ``2 / (n_boot + 1)``).

    Each resample is refitted by the fit's own estimator: the simplex fit, the penalized fit at its
    fitted lambda, or ridge ASCM at its fitted penalty (as every ridge refit keeps it); a ridge fit
    with covariates is refused (they are unit-level columns a user resample cannot rebuild).
    ``details["refit"]`` names it.
    """
    from .._validate import check_alpha, check_count, check_n_jobs, check_seed
    from ..parallel import _check_progress
    p = res.panel
    src = getattr(p, "events", None)
    if src is None:
        raise SpecificationError(
            "the cluster bootstrap resamples users, so it needs a panel built from user-level "
            "logs with sc.panel_from_events(..., cluster='user_id'); this panel was built from "
            "unit-level data")
    n_boot = check_count("n_boot", n_boot, 2)
    alpha = check_alpha("alpha", alpha)
    seed = check_seed("seed", seed)
    n_jobs = check_n_jobs("n_jobs", n_jobs, allow_none=True)
    progress = _check_progress(progress)
    tr_cols = p.units.get_indexer(list(p.treated_units))
    donor_cols = p.units.get_indexer(list(p.donors))
    rng = np.random.default_rng(seed)
    from ..parallel import plan, pmap, progress_bar
    n_jobs = res.model.n_jobs if n_jobs is None else n_jobs  # None: the estimator's
    fitter = res.model.resample_fitter()  # each resample refitted by the fit's own estimator
    job = _Rep(src, tr_cols, donor_cols, res.fit_mask, p.post, fitter)
    n = src.n_clusters
    if hasattr(src, "bootstrap"):  # a log kept on a Dask cluster: the work goes where the rows are
        atts = src.bootstrap(job, rng, n_boot, progress)
    elif plan(n_jobs).workers == 1:
        bar = progress_bar(progress, n_boot, "cluster bootstrap")
        atts = []
        try:
            for _ in range(n_boot):
                atts.append(job.from_counts(np.bincount(_draws(rng, n), minlength=n)))
                bar(1)
        finally:
            bar(None)
    else:
        # the draws are made here, in order, from the single stream; each resample travels as the
        # stream's state at its start, and the worker redraws it: the same draws on every engine
        # (the states are made as the workers ask for them: the walk overlaps their work)
        def states():
            for _ in range(n_boot):
                yield rng.bit_generator.state
                _draws(rng, n)
        atts = pmap(job, states(), total=n_boot, n_jobs=n_jobs, progress=progress, desc="cluster bootstrap")
    n_unc = sum(not ok for _, ok in atts)
    draws = np.asarray([a for a, _ in atts])
    lo, hi = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    pval = min(1.0, 2 * min(mc_pvalue(int(np.sum(draws <= 0)), n_boot), mc_pvalue(int(np.sum(draws >= 0)), n_boot)))
    details = {"n_boot": n_boot, "seed": seed, "se": float(draws.std(ddof=1)),
               "mean": float(draws.mean()), "draws": draws, "att": res.att,
               "refit": "simplex" if fitter is None else fitter.description}
    report_uncertified(n_unc, n_boot, "cluster bootstrap (the resamples' refits)", details)
    return Inference(method="cluster bootstrap", p_value=float(pval), ci_lower=float(lo),
                     ci_upper=float(hi), alpha=alpha, details=details)
