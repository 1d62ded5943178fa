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


def _att_from_matrix(M, tr_cols, donor_cols, fit_mask, post):
    """``(att, certified)`` of one resample's refit."""
    y = np.nanmean(M[:, tr_cols], axis=1) if len(tr_cols) > 1 else M[:, tr_cols[0]]
    X = M[:, donor_cols]
    ok = ~np.isnan(X).any(axis=0)  # a donor that vanished from the resample sits this draw out
    if not ok.all():
        X = X[:, ok]
    fit = simplex_ls(X[fit_mask], y[fit_mask])
    return float((y[post] - X[post] @ fit.weights).mean()), bool(fit.converged)


def _chunk(src, draws_list, tr_cols, donor_cols, fit_mask, post):
    """``[(att, certified), ...]`` for the resamples ``draws_list``."""
    out = []
    for draws in draws_list:
        M, _ = src.matrix(src.rows_for(draws))
        out.append(_att_from_matrix(M, tr_cols, donor_cols, fit_mask, post))
    return out


class _Chunk:
    """Picklable ``draws_list -> [(att, certified), ...]`` for :func:`synthcontrol.parallel.pmap`."""

    def __init__(self, *args):
        self.args = args

    def __call__(self, draws_list):
        src, tr_cols, donor_cols, fit_mask, post = self.args
        return _chunk(src, draws_list, tr_cols, donor_cols, fit_mask, post)


@register("bootstrap", supports=("outcome",), title="User-level cluster bootstrap")
def cluster_bootstrap(res, n_boot=500, seed=7, alpha=0.05, n_jobs=None, progress=False) -> Inference:
    """User-level cluster bootstrap (panels built with :func:`panel_from_events`).

    ``n_jobs=None`` takes the estimator's ``n_jobs``; the draws come from one
    seeded stream in order, so the answer does not depend on ``n_jobs``.

    The interval is the percentile interval of the bootstrap ATTs; the
    p-value is the two-sided percentile p-value for ATT = 0 as a Monte Carlo
    p-value, ``2 * min(1 + #{draws <= 0}, 1 + #{draws >= 0}) / (n_boot + 1)``
    capped at 1: never 0 (a finite number of draws cannot show that no
    resample crosses 0; the smallest value is ``2 / (n_boot + 1)``).
    """
    from .._validate import check_alpha, check_bool, check_count, check_n_jobs, check_seed
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
    progress = check_bool("progress", progress)
    tr_cols = p.units.get_indexer(list(p.treated_units))
    donor_cols = p.units.get_indexer(list(p.donors))
    fit_mask, post = res.fit_mask, p.post
    rng = np.random.default_rng(seed)
    from ..parallel import pmap, resolve_n_jobs
    n_jobs = resolve_n_jobs(res.model.n_jobs if n_jobs is None else n_jobs)  # None: the estimator's

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_boot, desc="cluster bootstrap", unit="rep", leave=False)
    atts = []
    chunk = max(1, min(50, n_boot // max(1, 4 * n_jobs))) if n_jobs > 1 else 25
    for start in range(0, n_boot, chunk * max(1, n_jobs)):
        stop = min(n_boot, start + chunk * max(1, n_jobs))
        # draws are made here, in order, from the single stream
        draws = [rng.integers(0, src.n_clusters, size=src.n_clusters) for _ in range(start, stop)]
        parts = [draws[i:i + chunk] for i in range(0, len(draws), chunk)]
        for r in pmap(_Chunk(src, tr_cols, donor_cols, fit_mask, post), parts, n_jobs=n_jobs):
            atts.extend(r)
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.close()
    n_unc = sum(not ok for _, ok in atts)
    draws = np.asarray([a for a, _ in atts])
    lo, hi = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    pval = min(1.0, 2 * min(mc_pvalue(int(np.sum(draws <= 0)), n_boot), mc_pvalue(int(np.sum(draws >= 0)), n_boot)))
    details = {"n_boot": n_boot, "seed": seed, "se": float(draws.std(ddof=1)),
               "mean": float(draws.mean()), "draws": draws, "att": res.att}
    report_uncertified(n_unc, n_boot, "cluster bootstrap (the resamples' refits)", details)
    return Inference(method="cluster bootstrap", p_value=float(pval), ci_lower=float(lo),
                     ci_upper=float(hi), alpha=alpha, details=details)
