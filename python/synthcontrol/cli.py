"""Command line: ``synthcontrol demo`` and ``synthcontrol fit``."""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .errors import DataError, SpecificationError

__all__ = ["main"]


def _save(fig, path: Path):
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _read_csv(path, flag="data"):
    """A CSV file -> DataFrame; an empty, binary or unreadable file is a DataError naming it."""
    import pandas as pd
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{flag} {str(path)!r} is a folder, not a CSV file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except FileNotFoundError:
        raise DataError(f"{flag} {str(path)!r}: no such file") from None
    except OSError as e:
        raise DataError(f"{flag} {str(path)!r} cannot be read: {e.strerror or e}") from None
    if not head.strip():
        raise DataError(f"{flag} {str(path)!r} is empty: a CSV file with a header row and one row per "
                        f"unit and period is needed")
    if b"\x00" in head:
        raise DataError(f"{flag} {str(path)!r} is a binary file, not a CSV text file")
    try:
        df = pd.read_csv(path)
    except UnicodeDecodeError as e:
        raise DataError(f"{flag} {str(path)!r} is not UTF-8 text (a binary file, or another "
                        f"encoding: {e.reason} at byte {e.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
        raise DataError(f"{flag} {str(path)!r} cannot be read as CSV: {str(e).strip()}") from None
    if df.shape[1] < 2:
        raise DataError(f"{flag} {str(path)!r} has {df.shape[1]} column(s) ({list(df.columns)}); is it a "
                        f"comma-separated file?")
    return df


_OUTPUTS = []  # staging folders of the current command, removed by main() whatever happens


class _Output:
    """The files of one run, written to a staging folder and moved into ``--out`` only when the
    whole run succeeded: ``--out`` always holds the complete output of one run (a failed run
    leaves it as it was), and files an earlier run wrote that this one does not are removed."""

    def __init__(self, out, products):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise SpecificationError(f"--out {str(self.out)!r} exists and is not a folder; give a folder "
                                     f"(created if missing)")
        self.products = tuple(products)
        self.stage = None
        _OUTPUTS.append(self)

    def path(self, name) -> Path:
        if self.stage is None:
            self.stage = Path(tempfile.mkdtemp(prefix="synthcontrol-out-"))
        return self.stage / name

    def commit(self, last=("results.json",)):
        self.out.mkdir(parents=True, exist_ok=True)
        written = {p.name for p in self.stage.iterdir()} if self.stage is not None else set()
        for name in self.products:  # an earlier run's files that this run does not replace
            if name not in written and (self.out / name).is_file():
                (self.out / name).unlink()
        order = sorted(written, key=lambda n: n in last)  # results.json last: it marks completion
        for name in order:
            shutil.move(str(self.stage / name), str(self.out / name))
        self.discard()

    def discard(self):
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None


def _cli_number(flag, text, kind):
    """A number typed on the command line (kept as typed for messages)."""
    from .panel import _parse_number
    v = _parse_number(text) if isinstance(text, str) else text
    if v is None or (kind is int and not isinstance(v, int)):
        want = "a whole number" if kind is int else "a number"
        raise SpecificationError(f"{flag} must be {want}, got {text}")
    return v


# the largest --alpha a method takes, where it is below 1 (SCPI is handed alpha / 2, below 0.5 when
# alpha < 1); jackknife+ covers 1 - 2 alpha at worst, so its alpha stays below 0.5
_ALPHA_BELOW = {"jackknife_plus": 0.5}


def _check_fit_flags(args):
    """Check the numeric flags of `fit` before any work, reporting the text the user typed.
    ``--alpha`` is checked against the bound of every chosen ``--inference`` method."""
    from ._validate import check_alpha, check_count, check_number, check_seed
    from .inference.base import get_method
    a = args.alpha
    if a is not None:  # not given: every method uses its own default level (and prints it)
        args.alpha = check_alpha("--alpha", _cli_number("--alpha", a, float), shown=a)
        high = min([_ALPHA_BELOW.get(get_method(m).name, 1.0) for m in args.inference] + [1.0])
        if not args.alpha < high:  # before the fit, not after it, and named as typed
            tight = [m for m in dict.fromkeys(args.inference) if _ALPHA_BELOW.get(get_method(m).name) == high]
            raise SpecificationError(f"--alpha must be in (0, {high:g}) with --inference {', '.join(tight)}, got {a}")
    if args.sims is not None:
        s = args.sims
        args.sims = check_count("--sims", _cli_number("--sims", s, int), 10, shown=s)
    if args.seed is not None:
        s = args.seed
        args.seed = check_seed("--seed", _cli_number("--seed", s, int), allow_none=False, shown=s)
    if args.max_pairs is not None:
        s = args.max_pairs
        args.max_pairs = check_count("--max-pairs", _cli_number("--max-pairs", s, int), 1, shown=s)
    if args.ridge_lambda is not None:
        s = args.ridge_lambda
        args.ridge_lambda = check_number("--ridge-lambda", _cli_number("--ridge-lambda", s, float), low=0,
                                         shown=s)
    if args.K is not None and args.K != "auto":
        args.K = check_count("--K", _cli_number("--K", args.K, int), 2, shown=args.K)


def _loo_dict(loo):
    """The leave-one-out table in the schema's table layout (:func:`synthcontrol.schema.frame`)."""
    from .schema import frame, scalar
    return {**frame(loo), "attrs": {k: scalar(v) for k, v in loo.attrs.items() if scalar(v) is not None}}


def cmd_demo(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    import synthcontrol as sc
    from synthcontrol.plotting import plot_bootstrap, plot_leave_one_out

    from ._validate import check_count, check_seed
    check_seed("--seed", args.seed, allow_none=False)
    check_count("--n-users", args.n_users, 1)
    check_count("--n-boot", args.n_boot, 2)
    out = _Output(args.out, ("trajectory.png", "gap.png", "weights.png", "placebo.png", "leave_one_out.png",
                             "bootstrap.png", "results.json", "report.txt"))
    lines = []

    def say(s=""):
        print(s)
        lines.append(s)

    t_start = time.perf_counter()
    if args.data:
        logs = _read_csv(args.data, "--data")
        need = ["workspace_id", "signup_week", "task_completed", "user_id"]
        missing = [c for c in need if c not in logs.columns]
        if missing:
            raise sc.DataError(
                f"--data {args.data}: the demo needs an event log with columns {need} (the "
                f"global-rollout layout of make_rollout_logs); missing {missing}. For other data "
                f"use 'synthcontrol fit'.")
        source = f"event log {args.data}"
        truth = None
    else:
        logs = sc.datasets.make_rollout_logs(seed=args.seed, n_users=args.n_users)
        source = f"generated: make_rollout_logs(seed={args.seed}, n_users={args.n_users:,})"
        truth = 0.05
    say("synthcontrol demo — a model upgrade shipped to every workspace at once")
    say("=" * 72)
    say(f"Data: {source}; {len(logs):,} users, {logs['workspace_id'].nunique()} workspaces")
    say("Wave 1 (workspaces 0-24) upgraded at week 20; wave 2 (25-49) not yet: the donor pool.")
    panel = sc.panel_from_events(logs, unit="workspace_id", time="signup_week",
                                 outcome="task_completed", cluster="user_id",
                                 treated=range(25), treatment_time=20, window=(0, 30))
    say(f"Panel: {panel}")
    for note in panel.validation:
        say(f"  {note}")
    pre_mean = float(np.mean(panel.y_treated[~panel.post]))
    post_mean = float(np.mean(panel.y_treated[panel.post]))
    say(f"Naive before/after gap of the treated wave: {post_mean - pre_mean:+.4f}")
    say()

    res = sc.SyntheticControl().fit(panel)
    say(res.summary())
    say()
    say("Post-period effects (treated minus synthetic):")
    for t, v in res.effects.items():
        say(f"  week {t}: {v:+.4f}")
    say()

    with warnings.catch_warnings():  # its warning (a 25-unit average against single units) is explained below
        warnings.simplefilter("ignore", sc.SynthWarning)
        pl = res.placebo(statistic="mean_gap")
    d = pl.details
    say("In-space placebo (each wave-2 workspace as a fake treated unit):")
    say(f"  placebo mean gap {d['placebo_att_mean']:+.4f}, sd {d['placebo_att_sd']:.4f}, "
        f"range [{d['placebo_att_min']:+.4f}, {d['placebo_att_max']:+.4f}]")
    say(f"  |placebo| >= |observed|: {d['n_as_extreme']} of {d['n_placebos']}; "
        f"pseudo p-value {pl.p_value:.4f}  (smallest possible 1/{d['n_placebos'] + 1})")
    pr = res.placebo(statistic="rmspe_ratio")
    say(f"  post/pre RMSPE ratio {pr.details['observed_rmspe_ratio']:.3f}, rank "
        f"{pr.details['rank']} of {pr.details['n_units']}: p = {pr.p_value:.4f}")
    tab = pr.details["table"]
    own = float(tab["pre_rmspe"].iloc[0])
    single = float(np.median(tab["pre_rmspe"].iloc[1:]))
    say(f"  Which p to read: the mean-gap test compares the average of {len(panel.treated_units)} workspaces "
        f"(pre-period RMSPE {own:.4f})\n  with single workspaces (median {single:.4f}, {single / own:.1f}x "
        f"noisier): the placebos' spread is single-unit noise, so\n  that test is conservative (a small p is "
        f"still evidence, a large one says little; here p = {pl.p_value:.4f}). The RMSPE ratio scales\n  "
        f"every unit by its own pre-period fit and compares like with like: p = {pr.p_value:.4f} "
        f"(the placebo figure shows this test).")
    say()

    loo = res.leave_one_out()
    say(f"Leave-one-out ({len(loo)} donors with weight > 0.001):")
    say(loo.round(4).to_string(index=False))
    say(f"  LOO ATT range [{loo['att'].min():+.4f}, {loo['att'].max():+.4f}] vs full fit {res.att:+.4f}")
    same_sign = bool((np.sign(loo["att"]) == np.sign(res.att)).all())
    spread = float(np.abs(loo["att"] - res.att).max() / abs(res.att)) if res.att else np.inf
    say(f"  check (no single donor drives the estimate: every LOO ATT of the same sign and within 50% of the "
        f"full fit): {'passed' if same_sign and spread <= 0.5 else 'FAILED'} (largest change {100 * spread:.0f}%)")
    say()

    itp = res.in_time_placebo(fake_time=15)
    ratio = abs(itp.details["ratio_to_att"])
    say(f"In-time placebo (fake upgrade at week 15, fitted on weeks 0-14): fake ATT "
        f"{itp.details['att']:+.4f} ({100 * itp.details['ratio_to_att']:.0f}% of the real ATT)")
    say(f"  check (a fake date shows no effect: |fake ATT| under half the real one): "
        f"{'passed' if ratio < 0.5 else 'FAILED'} ({100 * ratio:.0f}%)"
        + ("; close to the line: the pre-period alone has swings this large" if 0.3 <= ratio < 0.5 else ""))
    say()

    t0 = time.perf_counter()
    boot = res.bootstrap(n_boot=args.n_boot, seed=7)  # progress: the command's (--no-progress)
    say(f"User-level cluster bootstrap, {args.n_boot} resamples ({time.perf_counter() - t0:.1f} s):")
    say(f"  95% CI [{boot.ci_lower:+.4f}, {boot.ci_upper:+.4f}], bootstrap se {boot.details['se']:.4f}")
    if truth is not None:
        inside = boot.ci_lower <= truth <= boot.ci_upper
        say(f"  true effect {truth:+.4f} inside the CI: {'yes' if inside else 'no'}; "
            f"zero inside: {'yes' if boot.ci_lower <= 0 <= boot.ci_upper else 'no'}")
    say()

    figs = {
        "trajectory.png": res.plot("trajectory"),
        "gap.png": res.plot("gap"),
        "weights.png": res.plot("weights"),
        "placebo.png": res.plot("placebo", inference=pr),
        "leave_one_out.png": plot_leave_one_out(loo),
        "bootstrap.png": plot_bootstrap(boot, truth=truth),
    }
    for name, fig in figs.items():
        _save(fig, out.path(name))
    payload = {"fit": res.to_dict(), "placebo_mean_gap": pl.to_dict(), "placebo_rmspe_ratio": pr.to_dict(),
               "bootstrap": boot.to_dict(), "leave_one_out": _loo_dict(loo), "in_time_placebo": itp.to_dict()}
    out.path("results.json").write_text(json.dumps(payload, indent=2, default=_json_default))
    say(f"Figures: {', '.join(figs)}; numbers: results.json — in {out.out}/")
    say(f"Done in {time.perf_counter() - t_start:.1f} s.")
    out.path("report.txt").write_text("\n".join(lines) + "\n")
    out.commit()
    return 0


def _coerce_like(values, series):
    """Convert CLI strings to the dtype of a column (ints, floats, else strings)."""
    import pandas as pd
    from .errors import SpecificationError
    from ._validate import _py
    out = []
    for v in values:
        try:
            if pd.api.types.is_integer_dtype(series):
                f = float(v)
                out.append(int(f) if f.is_integer() else f)
            elif pd.api.types.is_float_dtype(series):
                out.append(float(v))
            else:
                out.append(v)
        except ValueError:
            raise SpecificationError(
                f"{v!r} does not match column {series.name!r}, whose values are {series.dtype} "
                f"(e.g. {_py(series.iloc[0])!r})") from None
    return out


def _window(text, series, flag):
    """'1980:1988' -> (1980, 1988) in the time column's type."""
    from .errors import SpecificationError
    parts = text.split(":")
    if len(parts) != 2:
        raise SpecificationError(f"{flag} takes START:END (inclusive), got {text!r}")
    return tuple(_coerce_like(parts, series))


def _predictor_options(args, df) -> dict:
    """SyntheticControl keyword arguments from the covariate flags of `fit`."""
    from .errors import SpecificationError
    t = df[args.time]
    out = {"backend": args.backend}
    names = [c for x in (args.covariates or []) for c in x.split(",") if c]
    pw = _window(args.predictor_window, t, "--predictor-window") if args.predictor_window else None
    if args.special:
        if names and pw is None:
            raise SpecificationError("with --special, give --predictor-window for the plain --covariates too")
        cov = {c: pw for c in names}
        for sp in args.special:
            col, _, win = sp.partition(":")
            if not win:
                raise SpecificationError(f"--special takes COLUMN:START:END, got {sp!r}")
            cov[col] = _window(win, t, "--special")
        out["covariates"] = cov
    elif names:
        out["covariates"] = names
        if pw is not None:
            out["predictor_window"] = pw
    if args.outcome_lags:
        out["outcome_lags"] = _coerce_like([x for v in args.outcome_lags for x in v.split(",") if x], t)
    if args.fit_window:
        out["fit_window"] = _window(args.fit_window, t, "--fit-window")
    if args.penalized_cv is not None or args.penalized_lambda is not None:
        if args.backend != "penalized":
            flag = "--penalized-cv" if args.penalized_cv is not None else "--penalized-lambda"
            raise SpecificationError(f"{flag} is an option of --backend penalized; add it, or drop {flag}")
        if args.penalized_cv is not None:
            out["penalized_cv"] = args.penalized_cv
        if args.penalized_lambda is not None:
            from ._validate import check_number
            out["penalized_lambda"] = check_number(
                "--penalized-lambda", _cli_number("--penalized-lambda", args.penalized_lambda, float), low=0)
    return out


def cmd_fit(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    import synthcontrol as sc

    if args.inference is None:
        args.inference = ["conformal"] if args.augment else ["placebo"]
    _check_fit_flags(args)
    out = _Output(args.out, ("trajectory.png", "gap.png", "weights.png", "placebo.png", "intervals_conformal.png",
                             "intervals_scpi.png", "intervals_jackknife_plus.png", "lto.png", "effects.csv",
                             "results.json", "summary.txt")) if args.out else None
    df = _read_csv(args.data)
    kw = dict(unit=args.unit, time=args.time, outcome=args.outcome, fill=args.fill)
    if args.treat:
        if args.treated or args.treatment_time is not None:
            raise sc.SpecificationError("give either --treat COLUMN or --treated/--treatment-time, not both")
        kw["treat"] = args.treat
    else:
        if not args.treated or args.treatment_time is None:
            raise sc.SpecificationError("give --treat COLUMN, or --treated UNIT and --treatment-time T")
        for c in (args.unit, args.time):
            if c not in df.columns:
                raise sc.DataError(f"column {c!r} not found in {args.data}; columns: {list(df.columns)}")
        treated = _coerce_like([u for x in args.treated for u in x.split(",")], df[args.unit])
        kw["treated"] = treated if len(treated) > 1 else treated[0]
        kw["treatment_time"] = _coerce_like([args.treatment_time], df[args.time])[0]
    if args.time_order:
        if args.time not in df.columns:
            raise sc.DataError(f"column {args.time!r} not found in {args.data}; columns: {list(df.columns)}")
        kw["time_order"] = _coerce_like([x.strip() for v in args.time_order for x in v.split(",") if x.strip()],
                                        df[args.time])
    panel = sc.Panel(df, **kw)
    for note in panel.validation:
        print(f"Note: {note}")
    opts = _predictor_options(args, df)
    if args.augment:  # --backend stays: with malo/mscmt/penalized the ridge corrects that backend's weights
        opts.update(augment=args.augment, ridge_lambda=args.ridge_lambda)
    elif args.ridge_lambda is not None:
        raise sc.SpecificationError("--ridge-lambda is the penalty of --augment ridge; give --augment ridge too, "
                                    "or drop --ridge-lambda")
    res = sc.SyntheticControl(**opts).fit(panel)
    print(res.summary())
    payload = {"fit": res.to_dict()}
    if panel.validation:
        payload["panel_notes"] = list(panel.validation)

    # every method from the inference registry, with the flags it takes (its own defaults otherwise)
    from .inference.base import get_method
    ran = {}
    for name in dict.fromkeys(args.inference):
        m = get_method(name)
        out_ = res.infer(m.name, **m.cli_kwargs(args))
        ran[m.name] = out_
        print()
        if isinstance(out_, pd.DataFrame):  # a table (leave-one-out)
            print(out_.round(4).to_string(index=False))
            payload[m.name] = _loo_dict(out_)
            continue
        print(out_.summary())
        table = out_.details.get("table")
        if m.cli_table is not None and isinstance(table, pd.DataFrame):
            print((table if m.cli_table == "all" else table[list(m.cli_table)]).round(4).to_string(index=False))
        payload[m.name] = out_.to_dict()
    if out:
        figs = {k: res.plot(k) for k in ("trajectory", "gap", "weights")}
        if "placebo" in ran:
            figs["placebo"] = res.plot("placebo", inference=ran["placebo"])
        for name in ("conformal", "scpi", "jackknife_plus"):  # per-period intervals, one figure per method
            if name in ran:
                figs[f"intervals_{name}"] = res.plot("intervals", inference=ran[name])
        if "lto" in ran:
            figs["lto"] = res.plot("lto", inference=ran["lto"])
        for kind, fig in figs.items():
            _save(fig, out.path(f"{kind}.png"))
        res.to_frame().to_csv(out.path("effects.csv"), index=False)
        out.path("summary.txt").write_text(res.summary() + "\n")
        out.path("results.json").write_text(json.dumps(payload, indent=2, default=_json_default))
        out.commit()
        print(f"\nwritten to {out.out}/")
    return 0


def _unit_matrix(flag, path):
    """A unit-by-unit matrix from a CSV: the first column holds the row labels, the header the column
    labels (as ``dma_adjacency.csv``)."""
    import pandas as pd
    try:
        M = pd.read_csv(path, index_col=0)
    except (OSError, ValueError) as exc:
        raise DataError(f"{flag}: cannot read {path!r}: {exc}") from None
    M.index = M.index.map(str)
    M.columns = M.columns.map(str)
    return M


def _design_restrictions(args) -> dict:
    """The restriction, menu and selection options of `synthcontrol design` as SyntheticDesign kwargs."""
    kw = {}
    for flag in ("to_be_treated", "not_to_be_treated"):
        v = getattr(args, flag)
        if v:
            kw[flag] = [u.strip() for item in v for u in item.split(",") if u.strip()]
    for flag in ("cluster_col", "stratum_col", "size_col", "donor_region_col", "selection"):
        if getattr(args, flag) is not None:
            kw[flag] = getattr(args, flag)
    for flag, kind in (("spillover_threshold", float), ("min_size", float), ("max_size", float),
                       ("min_per_stratum", int), ("max_per_stratum", int), ("top_K", int),
                       ("holdout_frac", float), ("power_weight", float), ("fit_weight", float)):
        v = getattr(args, flag)
        if v is not None:
            kw[flag] = _cli_number("--" + flag.replace("_", "-"), v, kind)
    if args.adjacency is not None:
        kw["adjacency"] = _unit_matrix("--adjacency", args.adjacency)
    if args.donor_exclusion is not None:
        kw["donor_exclusion"] = _unit_matrix("--donor-exclusion", args.donor_exclusion)
    if args.exclude_bordering_donors:
        kw["exclude_bordering_donors"] = True
    return kw


def cmd_design(args) -> int:
    """`synthcontrol design`: choose the treated units of an experiment (SYNDES)."""
    import matplotlib
    matplotlib.use("Agg")
    import synthcontrol as sc
    from ._validate import check_count
    out = _Output(args.out, ("design.png", "power.png", "power_curve.csv", "design.json", "summary.txt")) \
        if args.out else None
    df = _read_csv(args.data)
    K = None if args.K in ("none", "None") else check_count("--K", _cli_number("--K", args.K, int), 1, shown=args.K)
    kw = dict(K=K, mode=args.mode, solver=args.solver, arm=args.arm, seed=_cli_number("--seed", args.seed, int),
              permutation=args.permutation)
    if args.lam is not None:
        kw["lam"] = _cli_number("--lam", args.lam, float)
    if args.gap_limit is not None:
        kw["gap_limit"] = _cli_number("--gap-limit", args.gap_limit, float)
    if args.time_limit is not None:
        kw["time_limit"] = None if args.time_limit == "none" else _cli_number("--time-limit", args.time_limit, float)
    if args.alpha is not None:
        kw["alpha"] = _cli_number("--alpha", args.alpha, float)
    if (args.costs is None) != (args.budget is None):
        raise SpecificationError("--costs COLUMN and --budget go together")
    if args.costs is not None:
        kw.update(costs=args.costs, budget=_cli_number("--budget", args.budget, float))
    T0 = None if args.T0 is None else _cli_number("--T0", args.T0, int)
    kw.update(_design_restrictions(args))
    res = sc.SyntheticDesign(**kw).fit(df, unit=args.unit, time=args.time, outcome=args.outcome, T0=T0,
                                       post_col=args.post_col)
    designs = res if isinstance(res, dict) else {None: res}
    print(res.summary())
    if out and getattr(res, "pool", None):
        out.products += ("menu.csv", "pareto.png")
        res.menu_table().to_csv(out.path("menu.csv"), index=False)
        _save(res.plot("pareto"), out.path("pareto.png"))
    if out:
        for arm, d in designs.items():
            tag = "" if arm is None else f"_{arm}"
            if tag:
                out.products += (f"design{tag}.png", f"power{tag}.png", f"power_curve{tag}.csv")
            _save(d.plot("design"), out.path(f"design{tag}.png"))
            _save(d.plot("power"), out.path(f"power{tag}.png"))
            d.power_curve.to_csv(out.path(f"power_curve{tag}.csv"), index=False)
        out.path("summary.txt").write_text(res.summary() + "\n")
        out.path("design.json").write_text(json.dumps(res.to_dict(), indent=2, default=_json_default))
        out.commit(last=("design.json",))
        print(f"\nwritten to {out.out}/")
    return 0


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; each option's default shown when it has one that its help text
    does not already state."""

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if (d is not None and d is not False and d is not argparse.SUPPRESS and "default" not in text
                and action.option_strings and action.nargs != 0):
            text += f" (default: {d})"
        return text


_EXAMPLES = {
    "top": """examples:
  synthcontrol demo                          the rollout study on generated data (figures + report)
  synthcontrol fit smoking.csv --unit state --time year --outcome cigsale \\
      --treated California --treatment-time 1989 --inference placebo,loo --out prop99
  synthcontrol design geolift.csv --unit location --time date --outcome Y --K 2 --out design
  synthcontrol --version                     versions and the state of the optional parts
run 'synthcontrol COMMAND --help' for a command's options.""",
    "demo": """examples:
  synthcontrol demo                              50,000 users, 500 bootstrap resamples
  synthcontrol demo --n-users 5000 --n-boot 100  a quick look
  synthcontrol demo --data logs.csv --out study   your own event log (workspace_id, user_id, ...)""",
    "fit": """examples (the CSVs: python -c "import synthcontrol as sc; sc.datasets.load('prop99').to_csv('smoking.csv',
index=False)", and 'kansas' for kansas.csv):
  synthcontrol fit smoking.csv --unit state --time year --outcome cigsale \\
      --treated California --treatment-time 1989 --out prop99
  synthcontrol fit smoking.csv --unit state --time year --outcome cigsale \\
      --treated California --treatment-time 1989 --inference placebo loo lto
  synthcontrol fit kansas.csv --unit state --time year_qtr --outcome lngdpcapita \\
      --treat treated --augment ridge --inference conformal,jackknife
the data file may come anywhere (also after --inference), or as --data FILE.""",
    "design": """examples (geolift.csv: python -c "import synthcontrol as sc; sc.datasets.load('geolift').to_csv('geolift.csv', index=False)"):
  synthcontrol design geolift.csv --unit location --time date --outcome Y --K 2 --out design
  synthcontrol design geolift.csv --unit location --time date --outcome Y --K 2 \\
      --not-to-be-treated chicago,portland --top-K 5 --out menu""",
}


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    ap = argparse.ArgumentParser(prog="synthcontrol", description="Synthetic control from the command line.",
                                 epilog=_EXAMPLES["top"], formatter_class=_Help)
    ap.add_argument("--version", action=_VersionAction, nargs=0,
                    help=f"print the version ({__version__}), the libraries' and which optional parts work")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = argparse.ArgumentParser(add_help=False)  # where the refit loops run: every command's options
    r = run.add_argument_group("where the work runs (results are the same on every engine)")
    r.add_argument("--engine", choices=["serial", "processes", "dask"], default=None,
                   help="serial (default), local worker processes, or a Dask cluster (--scheduler)")
    r.add_argument("--n-jobs", type=int, default=None,
                   help="worker processes for --engine processes (default: every core; -2 all but one)")
    r.add_argument("--scheduler", default=None,
                   help="--engine dask: the address of a running scheduler (tcp://host:8786); "
                        "default: a LocalCluster on this machine")
    r.add_argument("--no-progress", action="store_true",
                   help="no progress bars (they are on by default; off a terminal, one line per tenth of the "
                        "work, for steps over 2 s)")
    d = sub.add_parser("demo", parents=[run], help="the global-rollout study end to end on generated data",
                       description="The global-rollout study end to end: generate a user-level event log, build "
                                   "the workspace x week panel, fit, run the placebo and bootstrap, write figures "
                                   "and a report.", epilog=_EXAMPLES["demo"], formatter_class=_Help)
    d.add_argument("--out", default="synthcontrol-demo", help="folder for figures and report")
    d.add_argument("--seed", type=int, default=42, help="seed of the data generator")
    d.add_argument("--n-users", type=int, default=50_000, help="users in the generated log")
    d.add_argument("--n-boot", type=int, default=500, help="user-level cluster bootstrap resamples")
    d.add_argument("--data", default=None, help="use this event-log CSV instead of generating one")
    d.set_defaults(func=cmd_demo)
    g = sub.add_parser("design", parents=[run], help="choose which units to treat in an experiment (synthetic design, SYNDES)",
                       description="Choose which units to treat before an experiment (SYNDES): the treated set, "
                                   "its weights and the donors' weights, with proven optimality where the solver "
                                   "proves it, and the design's power.", epilog=_EXAMPLES["design"],
                       formatter_class=_Help)
    g.add_argument("data", help="long CSV: one row per unit and period")
    g.add_argument("--unit", required=True, help="column naming the unit (market, store, state)")
    g.add_argument("--time", required=True, help="column naming the period")
    g.add_argument("--outcome", required=True, help="column of the outcome to design on")
    g.add_argument("--post-col", default=None, help="0/1 column marking the post-treatment periods (wins over --T0)")
    g.add_argument("--T0", default=None, help="number of pre-treatment periods (default: all: a plan)")
    g.add_argument("--K", default="3", help="units to treat (per arm); 'none' lets two_way_global choose")
    g.add_argument("--mode", default="two_way_global",
                   choices=["two_way_global", "one_way_global", "per_unit", "two_way_global_annealed"],
                   help="the design objective (docs: design.md): two_way_global weights the treated and the donors "
                        "(homogeneous effects), one_way_global averages the treated equally, per_unit gives each "
                        "treated unit its own synthetic control, two_way_global_annealed searches the two-way "
                        "objective by seeded annealing (very large problems; not proven optimal)")
    g.add_argument("--lam", default=None, help="ridge weight (default: the mean pre-period variance of a unit)")
    g.add_argument("--solver", default="auto", choices=["auto", "exact", "SCIP"],
                   help="exact: best-first search over the treated sets with a proof of optimality; SCIP: the "
                        "mixed-integer programme under --gap-limit/--time-limit; auto: exact up to 2,000,000 "
                        "treated sets, else SCIP")
    g.add_argument("--gap-limit", default=None, help="SCIP: relative gap to stop at (default 0.05)")
    g.add_argument("--time-limit", default=None, help="seconds (default 60), or 'none'")
    g.add_argument("--costs", default=None, help="column with each unit's cost of treatment (with --budget)")
    g.add_argument("--budget", default=None, help="total cost the treated units may not exceed")
    g.add_argument("--arm", default=None, help="column of unit arms: an independent design per arm")
    g.add_argument("--alpha", default=None, help="level of the permutation test's interval (default 0.1)")
    g.add_argument("--permutation", default="refit", choices=["refit", "fixed"],
                   help="the test's null: weights refitted under H0 on all periods (default) or the design's fixed")
    g.add_argument("--seed", default="0", help="seed of the annealed mode")
    r = g.add_argument_group("restrictions (all compose; see docs/design.md)")
    r.add_argument("--to-be-treated", action="append", help="units forced into the treated set (comma-separated)")
    r.add_argument("--not-to-be-treated", action="append", help="units that may not be treated (they stay donors)")
    r.add_argument("--cluster-col", help="column: no two treated units share a value")
    r.add_argument("--adjacency", help="CSV unit x unit matrix (first column = row labels): conflicts above "
                                        "--spillover-threshold are never both treated")
    r.add_argument("--spillover-threshold", help="adjacency entries above this conflict (default 0)")
    r.add_argument("--stratum-col", help="column of strata for the quotas")
    r.add_argument("--min-per-stratum", help="at least this many treated in every stratum with a treatable unit")
    r.add_argument("--max-per-stratum", help="at most this many treated in any stratum")
    r.add_argument("--size-col", help="column of unit sizes for the size band")
    r.add_argument("--min-size", help="smallest treatable size")
    r.add_argument("--max-size", help="largest treatable size")
    r.add_argument("--donor-region-col", help="column: a donor shares the treated unit's region")
    r.add_argument("--exclude-bordering-donors", action="store_true",
                   help="a treated unit's conflict neighbours are not its donors")
    r.add_argument("--donor-exclusion", help="CSV unit x unit matrix: entry [i, j] > 0 forbids j as i's donor")
    m = g.add_argument_group("the menu")
    m.add_argument("--top-K", help="the number of best distinct designs to return (menu.csv, pareto.png)")
    m.add_argument("--selection", choices=["in_sample", "holdout", "ic"], help="how the menu is ranked")
    m.add_argument("--holdout-frac", help="share of the pre-period held out (selection holdout)")
    m.add_argument("--power-weight", help="weight of power in the recommendation (default 0.51)")
    m.add_argument("--fit-weight", help="weight of fit in the recommendation (default 0.49)")
    g.add_argument("--out", default=None, help="folder for design.png, power.png, power_curve.csv, design.json "
                                               "(and menu.csv, pareto.png with --top-K)")
    g.set_defaults(func=cmd_design)
    f = sub.add_parser("fit", parents=[run], help="fit a synthetic control to a long CSV",
                       description="Fit a synthetic control to a long CSV (one row per unit and period), run "
                                   "the chosen inference, and print (and with --out write) the results.",
                       epilog=_EXAMPLES["fit"], formatter_class=_Help)
    f.add_argument("data", nargs="?", default=None, help="long CSV: one row per unit and period (or --data)")
    f.add_argument("--data", dest="data_opt", metavar="FILE", default=None, help="the data CSV, as an option")
    f.add_argument("--unit", required=True, help="column naming the unit (state, workspace, market)")
    f.add_argument("--time", required=True, help="column naming the period (numbers, dates, or --time-order)")
    f.add_argument("--outcome", required=True, help="column of the outcome")
    f.add_argument("--treated", action="append", help="treated unit(s); repeat or comma-separate")
    f.add_argument("--treatment-time", help="the first treated period (with --treated)")
    f.add_argument("--treat", help="0/1 treatment column (instead of --treated/--treatment-time)")
    f.add_argument("--time-order", action="append",
                   help="the period labels in order, comma-separated (repeatable), for text periods that are "
                        "neither numbers nor ISO dates, e.g. --time-order Q1-20,Q2-20,Q3-20")
    f.add_argument("--fill", choices=["interpolate"], default=None,
                   help="fill missing outcome cells by linear interpolation (default: a missing cell is an error)")
    from .inference.base import methods
    f.add_argument("--inference", nargs="*", default=None, metavar="METHOD",
                   help="inference methods to run, space- or comma-separated, from the registry: "
                        + "; ".join(f"{m.cli_name or m.name} ({m.title})" for m in methods())
                        + ". Default: placebo (conformal with --augment ridge)")
    f.add_argument("--placebo-pool", choices=["donors", "all"], default="donors",
                   help="donors of each placebo fit: the other donors, or also the treated unit (ADH 2010)")
    f.add_argument("--covariates", action="append",
                   help="covariate predictors, comma-separated (averaged over --predictor-window)")
    f.add_argument("--predictor-window", help="START:END averaging window of --covariates")
    f.add_argument("--special", action="append",
                   help="a covariate over its own window, COLUMN:START:END (repeatable)")
    f.add_argument("--outcome-lags", action="append", help="outcome periods used as predictors, comma-separated")
    f.add_argument("--fit-window", help="START:END periods whose outcome fit the V search minimises")
    f.add_argument("--backend", default="auto", choices=["auto", "outcome-only", "malo", "mscmt", "penalized"],
                   help="the weights' solver: auto = outcome-only without covariates, else the certified V "
                        "search; penalized = Abadie & L'Hour, with or without covariates (docs: outcome_only.md, "
                        "covariates.md, penalized.md)")
    f.add_argument("--penalized-cv", choices=["holdout", "loo", "pensynth"], default=None,
                   help="--backend penalized: the rule that chooses lambda (default holdout; loo is the paper's)")
    f.add_argument("--penalized-lambda", default=None, help="--backend penalized: a fixed lambda >= 0")
    f.add_argument("--augment", choices=["ridge"], default=None,
                   help="ridge-augmented SCM (augsynth's progfunc='Ridge'); --covariates are then unit means")
    f.add_argument("--ridge-lambda", default=None, help="fixed ridge penalty (default: CV)")
    f.add_argument("--alpha", default=None,
                   help="1 - alpha is the coverage of every interval (SCPI splits alpha between its in- and "
                        "out-of-sample parts), the level of the LTO and t-tests; default: each method's own "
                        "(conformal and jackknife+ 0.1, SCPI 0.1 in all, LTO and t-test 0.05), printed with it")
    f.add_argument("--sims", default=None, help="SCPI: simulation draws (default: scpi's own, 200)")
    f.add_argument("--seed", default=None, help="seed of every method that draws (SCPI, the LTO pair subsample, "
                                                "conformal permutations); default: each method's own (0)")
    f.add_argument("--max-pairs", default=None, help="LTO: evaluate a seeded subset of donor pairs")
    f.add_argument("--K", default=None, help="t-test: number of folds, or 'auto' (default: the t-test's own, 3)")
    f.add_argument("--out", default=None, help="folder for figures, effects.csv, results.json and summary.txt "
                                               "(default: print only)")
    f.set_defaults(func=cmd_fit)
    return ap


@contextlib.contextmanager
def _where_it_runs(args):
    """The command's engine (``--engine``, ``--n-jobs``, ``--scheduler``) and progress bars: on in
    a terminal, and off one (logs, pipes) for steps that run over 2 s; none with --no-progress."""
    from .parallel import parallel_backend, progress_scope
    from .errors import SpecificationError
    progress = False if args.no_progress else (True if sys.stderr.isatty() else None)
    if args.scheduler is not None and args.engine != "dask":
        raise SpecificationError("--scheduler is for --engine dask")
    if args.n_jobs is not None and args.engine not in ("processes", None):
        raise SpecificationError("--n-jobs is for --engine processes")
    with contextlib.ExitStack() as stack:
        if args.engine == "dask":
            try:
                from distributed import Client
            except ImportError:
                raise SpecificationError("--engine dask needs dask.distributed: pip install 'synthcontrol[dask]'") from None
            client = stack.enter_context(Client(args.scheduler) if args.scheduler else
                                         Client(dashboard_address=":0"))
            stack.enter_context(parallel_backend("dask", client=client))
        elif args.engine is not None or args.n_jobs is not None:
            stack.enter_context(parallel_backend(args.engine or "processes", n_jobs=args.n_jobs))
        stack.enter_context(progress_scope(progress))
        yield


class _VersionAction(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        from .versions import show_versions
        show_versions()
        parser.exit()


def _inference_and_data(args):
    """``--inference`` as names (space- or comma-separated, checked against the registry), and the
    data file wherever it was given: positional, ``--data``, or among ``--inference``'s words (where
    argparse puts a path written after the method names)."""
    from .errors import SpecificationError
    from .inference.base import methods
    known = list(dict.fromkeys(n for m in methods() for n in (m.cli_name or m.name, m.name, *m.aliases)))
    data = [d for d in (args.data, args.data_opt) if d is not None]
    names = None
    if args.inference is not None:
        names = []
        for word in args.inference:
            for item in filter(None, (w.strip() for w in word.split(","))):
                if item in known:
                    names.append(item)
                elif Path(item).is_file() or item.lower().endswith((".csv", ".csv.gz")):
                    data.append(item)
                else:
                    raise SpecificationError(f"--inference: unknown method {item!r}; choose from {', '.join(known)}")
    if len(data) > 1:
        raise SpecificationError(f"the data file is given twice ({', '.join(map(repr, data))}); give one")
    if not data:
        raise SpecificationError("no data file: synthcontrol fit DATA.csv --unit ... (or --data DATA.csv)")
    args.data, args.inference = data[0], names


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A SynthWarning on the command line: one line, ``synthcontrol: warning: ...``, without the
    Python source location (other warnings as Python shows them)."""
    from .errors import SynthWarning
    if issubclass(category, SynthWarning):
        print(f"synthcontrol: warning: {message}", file=sys.stderr if file is None else file)
    else:
        _PY_SHOWWARNING(message, category, filename, lineno, file, line)


_PY_SHOWWARNING = warnings.showwarning


def main(argv=None) -> int:
    from .errors import SynthError
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args) -> int:
    from .errors import SynthError
    try:
        if args.command == "fit":
            _inference_and_data(args)
        with _where_it_runs(args):
            return args.func(args)
    except (SynthError, OSError) as e:
        print(f"synthcontrol: error: {e}", file=sys.stderr)
        out = getattr(args, "out", None)
        if out and (Path(out).is_dir() or not Path(out).exists()):
            print(f"synthcontrol: nothing was written to {out}/ (files there, if any, are from an earlier "
                  f"run)", file=sys.stderr)
        return 2
    finally:
        while _OUTPUTS:
            _OUTPUTS.pop().discard()


if __name__ == "__main__":
    sys.exit(main())
