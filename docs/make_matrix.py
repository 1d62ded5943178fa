"""Walk every estimator x inference method and write the matrix page (docs/matrix.md).

Usage (from the repository root)::

    .venv/bin/python docs/make_matrix.py            # rewrite docs/matrix.md
    .venv/bin/python docs/make_matrix.py --check    # rebuild in memory; exit 1 if the page moved

Each row is a fit (Prop 99 with ADH's predictors for the covariate backends; Kansas for ridge; the
rollout log for an events panel); each column a registered inference method
(``synthcontrol.inference.names()``).  A cell runs the method with small settings (stated on the
page) and records what came back: a result (its p-value or interval, which must be finite or say why
not) or the refusal (a typed error whose text says why the cell is not defined).  The page is
written from that walk, and ``python/tests/test_matrix_page.py`` fails when a cell changes.
"""
from __future__ import annotations

import argparse
import difflib
import math
import sys
import time
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "matrix.md"

# small settings, so that the walk takes minutes, not hours (every cell says what it ran)
SETTINGS = {"placebo": {}, "in_time_placebo": {}, "leave_one_out": {}, "bootstrap": {"n_boot": 50},
            "conformal": {}, "jackknife_plus": {}, "scpi": {"sims": 20, "seed": 0},
            "lto": {"max_pairs": 15, "seed": 0}, "ttest": {"K": 3}}


def fits():
    """(label, how it was fitted, a callable returning the result or raising the refusal)."""
    import numpy as np
    import synthcontrol as sc
    sm = sc.datasets.load("prop99")
    p99 = sc.Panel(sm, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    cov = dict(covariates={"lnincome": (1980, 1988), "retprice": (1980, 1988), "age15to24": (1980, 1988),
                           "beer": (1984, 1988)}, outcome_lags=[1975, 1980, 1988], fit_window=(1970, 1988))
    ks = sc.datasets.load("kansas")
    for col, src in {"lrevstate": "revstatecapita", "lrevlocal": "revlocalcapita",
                     "lwage": "avgwklywagecapita"}.items():
        ks[col] = np.log(ks[src])
    kp = sc.Panel(ks, unit="state", time="year_qtr", outcome="lngdpcapita", treat="treated")
    logs = sc.datasets.load("rollout_logs")
    roll = sc.panel_from_events(logs, unit="workspace_id", time="signup_week", outcome="task_completed",
                                cluster="user_id", treated=range(25), treatment_time=20, window=(0, 30))
    return [
        ("outcome-only (`auto`, no predictors)", "Prop 99", lambda: sc.SyntheticControl().fit(p99)),
        ("outcome-only on an events panel", "rollout log", lambda: sc.SyntheticControl().fit(roll)),
        ("covariates, `auto` (certified)", "Prop 99, ADH predictors", lambda: sc.SyntheticControl(**cov).fit(p99)),
        ("covariates, `malo`", "Prop 99, ADH predictors",
         lambda: sc.SyntheticControl(backend="malo", **cov).fit(p99)),
        ("covariates, `mscmt`", "Prop 99, ADH predictors, budget 10 x 5",
         lambda: sc.SyntheticControl(backend="mscmt", mscmt_maxiter=10, mscmt_popsize=5, **cov).fit(p99)),
        ("`penalized`, no predictors (default `holdout` rule)", "Prop 99",
         lambda: sc.SyntheticControl(backend="penalized").fit(p99)),
        ("`penalized` on an events panel (default `holdout` rule)", "rollout log",
         lambda: sc.SyntheticControl(backend="penalized").fit(roll)),
        ("covariates, `penalized` (paper's `loo` rule)", "Prop 99, ADH predictors",
         lambda: sc.SyntheticControl(backend="penalized", penalized_cv="loo", **cov).fit(p99)),
        ("ridge-augmented (`augment=\"ridge\"`)", "Kansas", lambda: sc.SyntheticControl(augment="ridge").fit(kp)),
        ("ridge-augmented on an events panel (`ridge_lambda=0.05`)", "rollout log",
         lambda: sc.SyntheticControl(augment="ridge", ridge_lambda=0.05).fit(roll)),
        ("ridge-augmented with covariates", "Kansas",
         lambda: sc.SyntheticControl(augment="ridge", covariates=["lrevstate", "lrevlocal", "lwage"]).fit(kp)),
        ("ridge on a covariate (V) fit (`malo`)", "Prop 99, ADH predictors",
         lambda: sc.SyntheticControl(augment="ridge", backend="malo", **cov).fit(p99)),
        ("ridge on the penalized fit (no predictors)", "Prop 99",
         lambda: sc.SyntheticControl(augment="ridge", backend="penalized").fit(p99)),
    ]


def _num(x, d=3):
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}g}"


def summarize(name, out):
    """A cell's text for a result, and whether it is finite (or says why not)."""
    import pandas as pd
    if isinstance(out, pd.DataFrame):  # leave-one-out
        ok = out["att"].notna().all()
        return f"{len(out)} refits, ATT {_num(out['att'].min())} to {_num(out['att'].max())}", bool(ok)
    d = out.details
    said = bool(d.get("warnings"))
    if out.p_value is not None and out.ci_lower is None:
        ok = math.isfinite(out.p_value) or said
        return f"p = {_num(out.p_value)}", ok
    if out.ci_lower is not None:
        lo, hi = out.ci_lower, out.ci_upper
        ok = (math.isfinite(lo) and math.isfinite(hi)) or said
        return f"[{_num(lo)}, {_num(hi)}]", ok
    if "table" in d and name == "in_time_placebo":
        t = d["table"]
        return f"{len(t)} fake dates", bool(len(t)) or said
    return "result", True


def _reason(e) -> str:
    """A refusal's text, without the backend's name (one reason for every covariate backend)."""
    import re
    return re.sub(r" \(backend '[a-z-]+'\)", "", f"{type(e).__name__}: {e}")


def walk():
    """Rows of (label, data, {method: (ok_or_refused, text)}), plus the refusal reasons and time."""
    from synthcontrol import SynthError
    from synthcontrol.inference import names
    methods = names()
    rows, reasons = [], {}
    t0 = time.perf_counter()
    for label, data, make in fits():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = make()
            except SynthError as e:  # the fit itself is refused: every cell says so
                n = reasons.setdefault(_reason(e), len(reasons) + 1)
                rows.append((label, data, {m: ("refused", f"fit refused ({n})") for m in methods}))
                continue
            cells = {}
            for m in methods:
                try:
                    out = res.infer(m, **SETTINGS.get(m, {}), progress=False)
                    text, ok = summarize(m, out)
                    cells[m] = ("ok" if ok else "NOT FINITE", text)
                except SynthError as e:
                    n = reasons.setdefault(_reason(e), len(reasons) + 1)
                    cells[m] = ("refused", f"refused ({n})")
        rows.append((label, data, cells))
    return methods, rows, reasons, time.perf_counter() - t0


def render(methods, rows, reasons) -> str:
    head = "| fit | data | " + " | ".join(f"`{m}`" for m in methods) + " |"
    sep = "|---|---|" + "---|" * len(methods)
    body = []
    for label, data, cells in rows:
        txt = []
        for m in methods:
            status, t = cells[m]
            txt.append(("✓ " if status == "ok" else "✗ " if status == "refused" else "**!** ") + t)
        body.append(f"| {label} | {data} | " + " | ".join(txt) + " |")
    n_ok = sum(c[0] == "ok" for _, _, cells in rows for c in cells.values())
    n_ref = sum(c[0] == "refused" for _, _, cells in rows for c in cells.values())
    n_bad = sum(c[0] not in ("ok", "refused") for _, _, cells in rows for c in cells.values())
    settings = ", ".join(f"`{m}({', '.join(f'{k}={v}' for k, v in kw.items())})`" for m, kw in SETTINGS.items() if kw)
    return "\n".join([
        "# Which inference runs on which fit",
        "",
        "<!-- Generated by docs/make_matrix.py from a walk over every fit and registered inference method:",
        "     do not edit by hand. python/tests/test_matrix_page.py rebuilds it and fails when a cell changed. -->",
        "",
        "Every registered inference method (`synthcontrol.inference.names()`) on every kind of fit. Each "
        "cell was run: ✓ gives what came back (a p-value, an interval, or a table's size), ✗ a refusal, "
        "a typed error whose reason is listed below the table. A result that is not finite and does not say why "
        "would be marked **!**; there are "
        f"{n_bad}. In all, {n_ok} cells run and {n_ref} are refused.",
        "",
        f"Small settings keep the walk short: {settings}; the rest are the defaults. The covariate rows use "
        "ADH's Prop 99 predictors (as in [covariates.md](covariates.md)); the `mscmt` row a small search "
        "budget (`mscmt_maxiter=10, mscmt_popsize=5`).",
        "",
        head, sep, *body, "",
        "## Why a cell is refused",
        "",
        *[f"{n}. {r}" for r, n in reasons.items()],
        "",
        "The bootstrap resamples users, so it needs a panel built from user-level logs "
        "([`sc.panel_from_events`](panel.md)); on a unit-level panel it says so.",
        "",
    ])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with docs/matrix.md; write nothing")
    a = ap.parse_args(argv)
    methods, rows, reasons, took = walk()
    text = render(methods, rows, reasons)
    bad = [(label, m) for label, _, cells in rows for m, c in cells.items() if c[0] not in ("ok", "refused")]
    if bad:
        print(f"cells with a non-finite result that says nothing: {bad}")
    if a.check:
        old = PAGE.read_text() if PAGE.exists() else ""
        if old != text:
            print(f"docs/matrix.md differs from the walk ({took:.0f} s):")
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                       "committed", "walked", n=0))
            return 1
        print(f"docs/matrix.md is up to date ({took:.0f} s)")
        return 1 if bad else 0
    PAGE.write_text(text)
    print(f"wrote docs/matrix.md ({took:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
