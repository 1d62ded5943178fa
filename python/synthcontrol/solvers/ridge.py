"""Ridge-augmented synthetic control (Ben-Michael, Feller & Rothstein 2021), as augsynth computes it.

Notation: ``A`` is the donors' matching matrix (donors x columns: pre-period outcomes, optionally
followed by covariate columns), ``a`` the treated unit's row, both centred by the donors' mean
(weights need not sum to one after augmentation, so the centring is part of the estimator).

* base weights ``w`` = the simplex fit of ``a`` on ``A`` (the exact kernel);
* augmented weights ``w + A (A'A + lam I)^-1 (a - A'w)`` (leave the simplex);
* ``lam`` by leave-one-column-out cross-validation over augsynth's grid
  ``lam_max * (1e-8)^(k/20), k = 0..20`` with ``lam_max`` the top squared singular value of ``A``;
  column ``i`` (i = 1 .. ncol - 1, the last is never held out, as augsynth) is held out, the simplex
  and ridge fits redone without it, and the squared error of the held-out column recorded; the
  chosen ``lam`` is the largest one whose mean error is within one standard error of the minimum.
  When that choice is the smallest grid value and the CV error is still falling there, or the
  largest and the one-SE band of the minimum reaches it (without the one-SE rule: the error still
  falls towards it), the grid continues at the same ratio until the choice is interior
  (:func:`cv_lambda_extended`; an interior choice is augsynth's, unchanged); a choice still on the
  edge is reported.  The folds' simplex fits and eigendecompositions do not depend on ``lam`` and
  are made once (:class:`CVFolds`).

Validated against augsynth 0.2.0 on Kansas (``../shared/reference/kansas_augsynth_*.json``): the
grid, the CV errors (1e-10), the chosen ``lam``, the weights and the ATT.

No pandas here: arrays in, arrays out.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from .simplex import simplex_ls

__all__ = ["ridge_augment", "lambda_grid", "cv_lambda", "cv_lambda_extended", "CVFolds", "RidgeFit",
           "fit_ridge_ascm", "matching_problem"]


def ridge_augment(A, a, w, lam):
    """``w + A (A'A + lam I)^-1 (a - A'w)``: the ridge correction of base weights ``w``
    (``lam = inf``: no correction, ``w`` itself -- the demeaned SCM of ``fixedeff`` without ridge)."""
    if math.isinf(lam):
        return np.array(w, dtype=float)
    A = np.asarray(A, dtype=float)
    r = np.asarray(a, dtype=float) - A.T @ w
    return w + A @ np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), r)


def lambda_grid(A, n_lambda=21, min_ratio=1e-8):
    """augsynth's grid: ``lam_max * min_ratio^(k / (n_lambda - 1))`` with ``lam_max = sigma_1(A)^2``."""
    lmax = float(np.linalg.svd(np.asarray(A, dtype=float), compute_uv=False)[0]) ** 2
    return lmax * min_ratio ** np.linspace(0.0, 1.0, n_lambda)


class CVFolds:
    """The lambda-free pieces of the leave-one-column-out CV of :func:`cv_lambda`, computed once.

    For held-out column ``i`` the simplex fit ``w0`` of the other columns and the eigendecomposition
    ``A0 A0' = U diag(ev) U'`` do not depend on ``lam``; the held-out prediction is
    ``A_i'w0 + sum_k (U'A_i)_k (U'A0 r)_k / (ev_k + lam)`` (``r`` the fit's residual), so
    :meth:`errors` evaluates any set of ``lam`` values in O(folds x donors) each.  Extending a grid
    (:func:`cv_lambda_extended`) reuses them and evaluates only the new values.

    ``n_fits`` / ``n_uncertified``: the folds' simplex fits, and how many of them failed their
    certificate (``SimplexFit.converged`` False)."""

    def __init__(self, A, a, base_w=None):
        """``base_w``: fixed base weights (the ridge correction of another estimator's weights, e.g. a
        covariate fit's): every fold keeps them instead of refitting the simplex on its columns."""
        A = np.asarray(A, dtype=float)
        a = np.asarray(a, dtype=float)
        n = A.shape[1]
        if n < 3:
            raise ValueError(f"cross-validating lambda needs at least 3 matching columns, got {n}")
        J = A.shape[0]
        self.target = a[:n - 1].copy()
        self.base = np.empty(n - 1)  # A_i'w0: the held-out column's simplex fit
        self.ev = np.empty((n - 1, J))
        self.coef = np.empty((n - 1, J))  # (U'A_i)_k (U'A0 r)_k
        self.n_fits = 0 if base_w is not None else n - 1
        self.n_uncertified = 0
        keep = np.ones(n, dtype=bool)
        for i in range(n - 1):
            keep[i] = False
            A0, a0 = A[:, keep], a[keep]
            keep[i] = True
            if base_w is not None:
                w0 = np.asarray(base_w, dtype=float)
            else:
                fit = simplex_ls(A0.T, a0)
                self.n_uncertified += not fit.converged
                w0 = fit.weights
            r = a0 - A0.T @ w0
            # A0 (A0'A0 + lam I)^-1 r = (A0 A0' + lam I)^-1 A0 r: one eigendecomposition of the
            # donors x donors matrix A0 A0' serves every lambda
            ev, U = np.linalg.eigh(A0 @ A0.T)
            self.ev[i] = np.maximum(ev, 0.0)
            self.coef[i] = (U.T @ A[:, i]) * (U.T @ (A0 @ r))
            self.base[i] = A[:, i] @ w0

    def errors(self, lambdas):
        """Squared held-out errors, (folds, len(lambdas))."""
        lambdas = np.asarray(lambdas, dtype=float)
        # summed over the donors one lambda at a time in the same order whatever the grid: a value's
        # error does not depend on which other values are evaluated with it (an extension reproduces
        # a full recomputation exactly)
        corr = (self.coef[:, :, None] / (self.ev[:, :, None] + lambdas[None, None, :])).sum(axis=1)
        return (self.target[:, None] - self.base[:, None] - corr) ** 2


def _choose(lambdas, errs, min_1se):
    """``(lam, mean_errors, standard_errors)`` from the fold errors (folds x lambdas)."""
    me = errs.mean(axis=0)
    se = errs.std(axis=0, ddof=1) / np.sqrt(errs.shape[0])
    j = int(np.argmin(me))
    if min_1se:
        # the largest lambda (the grid descends) whose error is within one SE of the minimum
        lam = float(lambdas[int(np.flatnonzero(me <= me[j] + se[j]).min())])
    else:
        lam = float(lambdas[j])
    return lam, me, se


def cv_lambda(A, a, lambdas, *, min_1se=True, folds=None):
    """Leave-one-column-out CV.  Returns ``(lam, mean_errors, standard_errors)``.

    ``folds``: the :class:`CVFolds` of ``(A, a)`` when already computed (its ``n_uncertified``
    counts the folds' simplex fits that failed their certificate)."""
    lambdas = np.asarray(lambdas, dtype=float)
    folds = CVFolds(A, a) if folds is None else folds
    return _choose(lambdas, folds.errors(lambdas), min_1se)


# how far the CV grid may be extended beyond augsynth's lam_max * [1e-8, 1]: down to lam_max * 1e-14
# (below, lam is under the rounding level of A'A and the ridge solve stops meaning anything) and up to
# lam_max * 1e8 (the correction is then ~1e-8 of the simplex fit's residual: the plain SCM)
_EXTEND_FLOOR = 1e-14
_EXTEND_CEIL = 1e8


def cv_lambda_extended(A, a, n_lambda=21, min_ratio=1e-8, *, min_1se=True, folds=None):
    """:func:`cv_lambda` on augsynth's grid, extended where the choice sits on its edge and the CV
    error is still falling there.

    A chosen ``lam`` strictly inside the grid is returned exactly as :func:`cv_lambda` gives it
    (augsynth's answer).  When it is the smallest grid value and the CV error still falls from the
    second smallest to it, the grid continues downward at the same ratio
    (``min_ratio^(1/(n_lambda - 1))`` per step, ``(n_lambda - 1) / 2`` steps at a time, no lower than
    ``lam_max * 1e-14``) and the CV is redone; likewise upward (to ``lam_max * 1e8``) when it is the
    largest value (with ``min_1se``: the one-SE band reaches the top; without: the error still falls
    towards it).

    Returns ``(lam, lambdas, errors, standard_errors, info)`` with ``info`` = ``{"extended_below",
    "extended_above"}`` (points added) and ``"at_edge"``: ``None``, ``"lower"`` or ``"upper"`` when the
    choice is still on the edge of the (extended) grid -- the penalty is then not determined by CV.

    The folds' simplex fits and eigendecompositions do not depend on ``lam``: they are computed once
    (:class:`CVFolds`, or ``folds`` when given) and an extension evaluates only its new values."""
    lambdas = lambda_grid(A, n_lambda, min_ratio)
    folds = CVFolds(A, a) if folds is None else folds
    errs = folds.errors(lambdas)
    lam, me, se = _choose(lambdas, errs, min_1se)
    lmax = float(lambdas[0])
    step = min_ratio ** (1.0 / (n_lambda - 1))  # < 1
    chunk = max(1, (n_lambda - 1) // 2)
    info = {"extended_below": 0, "extended_above": 0, "at_edge": None}
    while lmax > 0:
        lower = lam == lambdas[-1] and me[-1] < me[-2]
        # at the top, the one-SE rule's choice (the largest lambda within one SE of the minimum)
        # moves up with the grid as long as the band reaches the grid's top: extend then too
        upper = lam == lambdas[0] and (min_1se or me[0] < me[1])
        if lower and lambdas[-1] * step >= lmax * _EXTEND_FLOOR * (1 - 1e-9):
            k = np.arange(1, chunk + 1)
            more = lambdas[-1] * step ** k
            more = more[more >= lmax * _EXTEND_FLOOR * (1 - 1e-9)]
            lambdas = np.concatenate((lambdas, more))
            errs = np.hstack((errs, folds.errors(more)))
            info["extended_below"] += len(more)
        elif upper and lambdas[0] / step <= lmax * _EXTEND_CEIL * (1 + 1e-9):
            k = np.arange(chunk, 0, -1)
            more = lambdas[0] / step ** k
            more = more[more <= lmax * _EXTEND_CEIL * (1 + 1e-9)]
            lambdas = np.concatenate((more, lambdas))
            errs = np.hstack((folds.errors(more), errs))
            info["extended_above"] += len(more)
        else:
            break
        lam, me, se = _choose(lambdas, errs, min_1se)
    if lam == lambdas[-1]:
        info["at_edge"] = "lower"
    elif lam == lambdas[0]:
        info["at_edge"] = "upper"
    return lam, lambdas, me, se, info


@dataclass(frozen=True)
class RidgeFit:
    w: np.ndarray  # augmented weights (donors)
    w_scm: np.ndarray  # the simplex (base) weights
    lam: float
    lambdas: np.ndarray | None
    cv_errors: np.ndarray | None
    cv_se: np.ndarray | None
    counterfactual: np.ndarray  # (T,) all periods
    counterfactual_scm: np.ndarray  # (T,) the base weights' counterfactual
    # the CV grid: points added beyond augsynth's grid, and whether the choice is on its edge
    lambda_grid_info: dict | None = None
    # the simplex fits made (the base fit and the CV folds') and how many failed their certificate
    n_fits: int = 1
    n_uncertified: int = 0
    min_1se: bool = True  # the CV rule (the one-SE choice, or the minimum)
    # with covariates: augsynth's covariate L2 imbalance of ``w`` and of equal weights, on the
    # covariates as matched (centred; scaled to the outcomes' spread unless residualized)
    covariate_l2_imbalance: float | None = None
    covariate_l2_imbalance_uniform: float | None = None


def _matching(Y_donors, y_treated, T0, Z_donors, z_treated, residualize, fixedeff):
    """The centred matching problem ``(A, a)`` and what rebuilds a counterfactual from weights:
    ``(A, a, Yc (J, T), base (T,), Zc, zc)`` with counterfactual ``base + Yc' w``; ``Zc (J, k)``
    and ``zc (k,)`` are the covariates as matched (``None`` without covariates)."""
    Y = np.asarray(Y_donors, dtype=float).T  # J x T
    y = np.asarray(y_treated, dtype=float)
    if fixedeff:
        Y = Y - Y[:, :T0].mean(axis=1, keepdims=True)
        m_1 = float(y[:T0].mean())
        y = y - m_1
    else:
        m_1 = 0.0
    mu = Y.mean(axis=0)  # centring by the donors' mean, per period
    Yc = Y - mu
    yc = y - mu
    base = mu + m_1
    if Z_donors is None:
        return Yc[:, :T0], yc[:T0], Yc, base, None, None
    Z = np.asarray(Z_donors, dtype=float)
    z = np.asarray(z_treated, dtype=float)
    zmu = Z.mean(axis=0)
    Zc, zc = Z - zmu, z - zmu
    if residualize:
        B = np.linalg.lstsq(Zc, Yc, rcond=None)[0]  # k x T: outcomes on centred covariates
        Yc = Yc - Zc @ B
        yc = yc - zc @ B
        return Yc[:, :T0], yc[:T0], Yc, base + zc @ B, Zc, zc
    sdz = Zc.std(axis=0, ddof=1)
    if not np.all(sdz > 0):
        raise ValueError("a covariate is constant across the donors; it cannot be scaled")
    sdx = Yc[:, :T0].std(ddof=1)
    Zs, zs = sdx * Zc / sdz, sdx * zc / sdz
    A = np.hstack((Yc[:, :T0], Zs))
    a = np.concatenate((yc[:T0], zs))
    return A, a, Yc, base, Zs, zs


def matching_problem(Y_donors, y_treated, T0, *, Z_donors=None, z_treated=None, residualize=False,
                     fixedeff=False):
    """``(A, a)``: the donors x columns matrix and the treated row that the base simplex fit and the
    ridge correction of :func:`fit_ridge_ascm` work on (for independent checks)."""
    A, a, *_ = _matching(Y_donors, y_treated, T0, Z_donors, z_treated, residualize, fixedeff)
    return A, a


def fit_ridge_ascm(Y_donors, y_treated, T0, *, Z_donors=None, z_treated=None, residualize=False,
                   fixedeff=False, lam=None, n_lambda=21, min_ratio=1e-8, min_1se=True) -> RidgeFit:
    """Ridge ASCM on a panel.

    ``Y_donors`` (T, J) and ``y_treated`` (T,): outcomes over all periods, the first ``T0`` the
    pre-period.  ``Z_donors`` (J, k), ``z_treated`` (k,): time-invariant covariates (optional):
    stacked as extra matching columns scaled to the outcomes' spread (augsynth's default), or, with
    ``residualize=True``, regressed out of the outcomes first and added back.  ``fixedeff``:
    de-mean every unit by its pre-period mean first (augsynth's ``fixedeff = TRUE``).

    Nothing is said here: ``RidgeFit.n_uncertified`` counts the simplex fits (the base fit and the CV
    folds') that failed their certificate, for the caller to report once.
    """
    A, a, Yc, base, Zc, zc = _matching(Y_donors, y_treated, T0, Z_donors, z_treated, residualize, fixedeff)
    scm = simplex_ls(A.T, a)
    w_scm = scm.weights
    n_fits, n_bad = 1, int(not scm.converged)
    lambdas = errors = se = info = None
    if lam is None:
        folds = CVFolds(A, a)
        lam, lambdas, errors, se, info = cv_lambda_extended(A, a, n_lambda, min_ratio, min_1se=min_1se,
                                                            folds=folds)
        n_fits += folds.n_fits
        n_bad += folds.n_uncertified
    w = ridge_augment(A, a, w_scm, lam)
    cf, cf_scm = base + Yc.T @ w, base + Yc.T @ w_scm
    imb = imb_uniform = None
    if Zc is not None:
        if residualize:
            # the weights on the original outcomes (augsynth's): the residualized fit's weights plus
            # the smallest correction that balances the covariates exactly; the counterfactual is the
            # same (base + Yc' w above adds the covariates' fitted part back)
            w = w + np.linalg.lstsq(Zc.T, zc - Zc.T @ w, rcond=None)[0]
        imb = float(np.linalg.norm(Zc.T @ w - zc))
        imb_uniform = float(np.linalg.norm(Zc.mean(axis=0) - zc))
    return RidgeFit(w, w_scm, float(lam), lambdas, errors, se, cf, cf_scm, info,
                    n_fits=n_fits, n_uncertified=n_bad, min_1se=bool(min_1se),
                    covariate_l2_imbalance=imb, covariate_l2_imbalance_uniform=imb_uniform)
