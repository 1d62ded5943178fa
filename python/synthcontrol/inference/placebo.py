"""In-space placebo test (Abadie, Diamond & Hainmueller 2010).

Every donor in turn is treated as if it had been treated, fitted on the other
donors, and its gap recorded.  All placebo fits share one Gram matrix.

A post/pre RMSPE ratio over a pre-RMSPE of at most 1e-10 x the outcome's scale is
undefined (an exact pre-fit; see :mod:`._undefined`): such placebos are left out of
the ranking with a count and a warning, and an undefined treated ratio gives
p = NaN with a warning.  A filter (``exclude_mspe_ratio``) that leaves no placebo
is an error.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._numerics import rms
from .._validate import check_choice, check_number
from ..errors import SpecificationError
from ..solvers.simplex import placebo_fits
from ._undefined import RTOL, fit_scale, report_uncertified, rmspe_ratios, say
from .base import Inference, register

__all__ = ["placebo_test", "placebo_gaps"]

_STATISTICS = ("rmspe_ratio", "mean_gap")
_BLOCK = 64  # placebo targets per task (Prop 99's 38 in one; N = 1,000: 16 tasks)


def placebo_gaps(res, donor_pool="donors"):
    """Gap paths of the treated unit and every placebo.

    Returns a (T, J+1) DataFrame: the first column is the treated series'
    gap, then one column per donor (its placebo gap), plus the max KKT violation
    over the placebo fits.
    """
    donor_pool = check_choice("donor_pool", donor_pool, ("donors", "all"), what="'donors' or 'all'")
    key = ("placebo_gaps", donor_pool)  # a pure value of (result, donor_pool): memoised
    if key in res._memo:
        return res._memo[key]
    p = res.panel
    if not res.model.batched_simplex:  # the model's own refits (the batched kernel is the simplex fit's)
        out = _refit_placebo_gaps(res, donor_pool)
        res._memo[key] = out
        return out
    Z = np.column_stack([p.y_treated, p.X_donors])
    Zf = np.ascontiguousarray(Z[res.fit_mask])
    allowed = np.ones(Z.shape[1], dtype=bool)
    if donor_pool == "donors":
        allowed[0] = False
    from ..parallel import pmap
    targets = list(range(1, Z.shape[1]))
    # blocks of a fixed size, whatever runs them: placebo_fits may batch a block's searches in
    # lockstep (whose rounding depends on the block), so the blocks -- and the answer -- are the
    # same on every engine; the engine decides only where each block runs
    # (above _BATCH_UPTO units the kernel fits target by target, so the blocks only trade the Gram
    # matrix rebuilt per block against the progress bar's steps: about 20 blocks)
    from ..solvers.simplex import _BATCH_UPTO
    size = _BLOCK if Z.shape[1] <= _BATCH_UPTO else max(_BLOCK, -(-len(targets) // 20))
    blocks = [targets[i:i + size] for i in range(0, len(targets), size)]
    done = pmap(_PlaceboBlock(Zf, allowed), blocks, n_jobs=res.model.n_jobs, chunk_size=1,
                count=len, desc="placebo fits")
    fits = [(D, fit) for block in done for _, D, fit in block]
    gaps = np.empty_like(Z)
    gaps[:, 0] = p.y_treated - res.cf  # res.gap without building its Series
    kkt = 0.0
    n_unc = 0
    cert = np.ones(Z.shape[1], dtype=bool)  # column 0: the result's own fit
    gap_of = np.zeros(Z.shape[1])
    cert[0] = bool(res.diagnostics.get("certified", True))
    gap_of[0] = float(res.diagnostics.get("kkt_violation", 0.0))
    for i, (D, fit) in zip(targets, fits):
        gaps[:, i] = Z[:, i] - Z[:, D] @ fit.weights
        kkt = max(kkt, fit.kkt_violation)
        n_unc += not fit.converged
        cert[i], gap_of[i] = bool(fit.converged), fit.kkt_violation
    treated_col = "__treated__"
    frame = pd.DataFrame(gaps, index=p.times, columns=_labels(treated_col, p.donors))
    # the placebo fits whose certificate did not hold (placebo_test reports it)
    frame.attrs["n_fits"] = len(fits)
    frame.attrs["n_uncertified_fits"] = int(n_unc)
    frame.attrs["certified"], frame.attrs["certificate"] = cert, gap_of
    out = (frame, kkt)
    res._memo[key] = out
    return out


def _labels(first, rest) -> pd.Index:
    """``[first, *rest]`` as an object Index: built from an object array, without pandas' type
    inference over the labels (a tenth of the placebo call's own time on Prop 99 otherwise)."""
    arr = np.empty(len(rest) + 1, dtype=object)
    arr[0] = first
    arr[1:] = rest.tolist()
    return pd.Index(arr, dtype=object)


class _PlaceboBlock:
    """Picklable ``targets -> placebo_fits(Zf, targets, allowed)``: each target fitted on the allowed
    columns but itself.  Every fit depends only on the data and its target, so the engine and the
    blocks do not change the answer."""

    def __init__(self, Zf, allowed):
        self.Zf, self.allowed = Zf, allowed

    def __call__(self, block):
        return placebo_fits(self.Zf, targets=block, donor_mask=self.allowed)


class _PlaceboRefit:
    """Picklable ``k -> Refit`` of donor ``k`` from the other donors (and the treated series when
    ``with_treated``), in the pool order ``[other donors..., treated]``."""

    def __init__(self, engine, J, with_treated):
        self.engine, self.J, self.with_treated = engine, J, with_treated

    def __call__(self, k):
        D = [c for c in range(1, self.J + 1) if c != k] + ([0] if self.with_treated else [])
        return self.engine.fit(k, np.asarray(D, dtype=int))


def _refit_placebo_gaps(res, donor_pool):
    """Placebo gaps for a model whose refits are searches (a covariate fit: every placebo runs its
    own V search with the estimator's settings, as Abadie, Diamond & Hainmueller 2010 do), on the
    predictor table built at fit time, in parallel (:func:`synthcontrol.parallel.pmap`).  The
    returned scalar is the largest proven bound gap over the placebo fits (NaN when the refits
    prove none: the penalized backend)."""
    from ..parallel import pmap
    p = res.panel
    model = res.model
    if donor_pool == "all" and len(p.treated_units) > 1:
        raise SpecificationError(
            "donor_pool='all' needs a single treated unit for covariate fits (a treated group's mean "
            "has no covariate rows of its own); use donor_pool='donors'")
    J = len(p.donors)
    fits = pmap(_PlaceboRefit(model.engine(res.fit_mask), J, donor_pool == "all"), range(1, J + 1),
                n_jobs=model.n_jobs, desc="placebo refits")
    gaps = np.empty((len(p.times), J + 1))
    gaps[:, 0] = p.y_treated - res.cf  # res.gap without building its Series
    worst = 0.0
    for k, r in enumerate(fits, start=1):
        gaps[:, k] = r.gap
        worst = max(worst, r.bound_gap) if np.isfinite(r.bound_gap) else np.nan
    frame = pd.DataFrame(gaps, index=p.times, columns=_labels("__treated__", p.donors))
    frame.attrs["n_fits"] = len(fits)
    frame.attrs["n_uncertified_fits"] = int(sum(not r.certified for r in fits))
    # per unit: each V search's own certificate (column 0: the result's own fit)
    own = res.diagnostics.get("bound_gap", np.nan)
    frame.attrs["certified"] = np.array([bool(res.diagnostics.get("certified", True))] + [r.certified for r in fits])
    frame.attrs["certificate"] = np.array([own] + [r.bound_gap for r in fits], dtype=float)
    return frame, worst


def _placebo_cli(args):
    return {"statistic": "rmspe_ratio", "donor_pool": getattr(args, "placebo_pool", None) or "donors"}


@register("placebo", supports=("outcome", "predictors", "ridge"), title="In-space placebo (Abadie et al. 2010)",
          cli=_placebo_cli)
def placebo_test(res, statistic="rmspe_ratio", exclude_mspe_ratio=None, donor_pool="donors") -> Inference:
    """In-space placebo test: every donor in turn plays the treated unit.

        Parameters
        ----------
        statistic : {"rmspe_ratio", "mean_gap"}
            ``"rmspe_ratio"``: Abadie's post/pre RMSPE ratio, ``p = rank / N``
            over the treated unit and the placebos.  ``"mean_gap"``: the mean
            post-period gap, ``p = (#{|placebo| >= |observed|} + 1) / (N + 1)``.
            A ratio over a pre-RMSPE of at most 1e-10 x the outcome's scale (an
            exact pre-fit) is undefined: such placebos are left out
            (``details["n_undefined"]``), and an undefined treated ratio gives
            ``p = NaN``; both with a :class:`~synthcontrol.SynthWarning`.
        exclude_mspe_ratio : float, optional
            Drop placebos whose pre-period MSPE exceeds this multiple of the
            treated unit's (Abadie et al. 2010 use 20, 5 and 2).  A value that
            would drop every placebo raises ``SpecificationError``.
        donor_pool : {"donors", "all"}
            Donors of each placebo fit: the other donors only (default), or the
            other donors plus the treated series (ADH 2010's test).
        """
    statistic = check_choice("statistic", statistic, _STATISTICS)
    exclude_mspe_ratio = check_number("exclude_mspe_ratio", exclude_mspe_ratio, low=0.0, low_open=True,
                                      allow_none=True)
    frame, kkt = placebo_gaps(res, donor_pool)
    p = res.panel
    post = np.asarray(p.post, dtype=bool)
    G = frame.to_numpy()
    # the rule for undefined statistics (see ._undefined): a ratio over a pre-RMSPE of at most
    # RTOL x the outcome's scale (treated and donor outcomes over the fitting periods) is undefined
    scale = fit_scale(p, res.fit_mask)
    pre_rmspe, post_rmspe, ratio, defined = rmspe_ratios(G, ~post, post, scale)
    with np.errstate(over="ignore"):  # inf only where the MSPE is not representable
        pre_mspe = pre_rmspe * pre_rmspe
    att = G[post].mean(axis=0)
    n_all = G.shape[1] - 1
    keep = np.ones(G.shape[1], dtype=bool)
    n_undefined = 0
    if statistic == "rmspe_ratio":  # a placebo without a defined statistic cannot be ranked
        keep[1:] = defined[1:]
        n_undefined = int((~defined[1:]).sum())
    n_filtered = 0
    if exclude_mspe_ratio is not None:
        # relative to the treated unit's pre-MSPE (at least the rounding floor, so that an exact
        # treated fit does not turn the filter into "keep exact placebos only" by accident of rounding)
        bound = exclude_mspe_ratio * max(pre_mspe[0], (RTOL * scale) ** 2)
        passes = pre_mspe[1:] <= bound
        n_filtered = int((keep[1:] & ~passes).sum())
        if keep[1:].any() and not (keep[1:] & passes).any():
            why = (" (the treated unit's pre-period fit is exact, so the filter can only keep exactly fitted "
                   "placebos)" if not defined[0] else "")
            raise SpecificationError(
                f"exclude_mspe_ratio={exclude_mspe_ratio!r} drops all {n_filtered} placebos that were left "
                f"(each has a pre-period MSPE above {exclude_mspe_ratio!r} x the treated unit's "
                f"{pre_mspe[0]:.6g}; the smallest placebo ratio is "
                f"{np.min(pre_mspe[1:][keep[1:]]) / max(pre_mspe[0], (RTOL * scale) ** 2):.6g}): the test would "
                f"have nothing to compare with. Use a larger exclude_mspe_ratio (Abadie et al. 2010 use 20, 5 "
                f"and 2) or None{why}")
        keep[1:] &= passes
    # the unit labels, built once (the table's column and the returned gaps' columns; building fresh
    # frames rather than slicing and renaming ``frame`` spares pandas' copies of its attrs)
    units = _labels(p.treated_label, frame.columns[1:])
    treated = np.zeros(G.shape[1], dtype=bool)
    treated[0] = True
    cols = {"unit": units, "treated": treated, "att": att, "pre_rmspe": pre_rmspe,
            "post_rmspe": post_rmspe, "rmspe_ratio": ratio, "ratio_defined": defined, "included": keep}
    if "certified" in frame.attrs:  # each fit's own certificate: which placebo fits to doubt, by name
        cols["certified"] = frame.attrs["certified"]
        cols["bound_gap" if res.V is not None else "kkt_violation"] = frame.attrs["certificate"]
    table = pd.DataFrame(cols)
    placebo_att = att[1:][keep[1:]]
    n_placebo = int(keep[1:].sum())
    details = {
        "statistic": statistic,
        "donor_pool": donor_pool,
        "n_placebos": n_placebo,
        "n_excluded": n_all - n_placebo,
        "n_excluded_mspe_ratio": n_filtered,
        "n_undefined": n_undefined,
        "outcome_scale": scale,
        "undefined_tolerance": RTOL * scale,
        "observed_att": float(att[0]),
        "observed_rmspe_ratio": float(ratio[0]),
        "placebo_att_mean": float(placebo_att.mean()) if n_placebo else np.nan,
        "placebo_att_sd": rms(placebo_att - placebo_att.mean()) if n_placebo else np.nan,  # np.std, overflow-safe
        "placebo_att_min": float(placebo_att.min()) if n_placebo else np.nan,
        "placebo_att_max": float(placebo_att.max()) if n_placebo else np.nan,
        ("max_bound_gap" if res.V is not None else "max_kkt_violation"): kkt,
        "table": table,
        "gaps": pd.DataFrame(G[:, keep], index=frame.index, columns=units[keep]),
    }
    if statistic == "rmspe_ratio":
        if n_undefined:
            say(f"placebo: {n_undefined} of {n_all} placebo units are fitted exactly before the treatment "
                f"(pre-RMSPE <= {RTOL:g} x the outcome scale {scale:.6g}), so their post/pre RMSPE ratio is "
                f"undefined; they are left out of the ranking (details['n_undefined'])", details)
        details["n_units"] = int(keep.sum())
        if not defined[0]:
            details["rank"] = None
            p_value = np.nan
            say(f"placebo: the treated unit's pre-period fit is exact (pre-RMSPE {pre_rmspe[0]:.3g} <= "
                f"{RTOL:g} x the outcome scale {scale:.6g}), so its post/pre RMSPE ratio is undefined (0/0 or "
                f"x/0) and the test cannot rank it: p = NaN. Use statistic='mean_gap', or a design with a "
                f"pre-period the donors cannot reproduce exactly", details)
        elif n_placebo == 0:
            details["rank"] = None
            p_value = np.nan
            say(f"placebo: no placebo unit has a defined post/pre RMSPE ratio ({n_undefined} undefined), so "
                f"there is nothing to rank the treated unit against: p = NaN", details)
        else:
            r = ratio[keep]
            # ties within rounding (RTOL relative) count against the treated unit
            rank = int(np.sum(r >= ratio[0] * (1.0 - RTOL)))
            details["rank"] = rank
            p_value = rank / int(keep.sum())
    else:
        count = int(np.sum(np.abs(placebo_att) >= abs(att[0]) - RTOL * scale))
        details["n_as_extreme"] = count
        p_value = (count + 1) / (n_placebo + 1)
        # a treated group's average against single placebo units: the average is smoother, so the
        # placebos' spread is single-unit noise and the test has little power (said, with the remedy)
        n_tr = len(p.treated_units)
        single = float(np.median(pre_rmspe[1:][keep[1:]])) if n_placebo else np.nan
        if n_tr > 1 and np.isfinite(single) and single > 2.0 * pre_rmspe[0]:
            details["smoothness_ratio"] = single / max(pre_rmspe[0], 1e-300)
            say(f"placebo: the treated series is the average of {n_tr} units (pre-period RMSPE "
                f"{pre_rmspe[0]:.4g}) and each placebo a single unit (median {single:.4g}, "
                f"{details['smoothness_ratio']:.1f}x noisier): the mean-gap test compares unlike series and has "
                f"little power here (it is conservative: a small p is still evidence, a large one says little). "
                f"statistic='rmspe_ratio' scales each unit by its own pre-period fit (details['smoothness_ratio'])",
                details)
    if "n_uncertified_fits" in frame.attrs:
        if "certified" in frame.attrs and not frame.attrs["certified"][1:].all():
            details["uncertified_units"] = [u for u, ok in zip(units[1:], frame.attrs["certified"][1:]) if not ok]
        who = "placebo"
        if details.get("uncertified_units"):
            names = details["uncertified_units"]
            who = (f"placebo (uncertified: {', '.join(map(str, names[:5]))}{', ...' if len(names) > 5 else ''};"
                   f" details['uncertified_units'], the table's 'certified' column)")
        report_uncertified(frame.attrs["n_uncertified_fits"], frame.attrs["n_fits"], who, details,
                           covariate=res.V is not None)
    return Inference(method=f"placebo ({statistic})", p_value=float(p_value), details=details)
