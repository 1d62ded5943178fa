"""The command line: demo end to end (small), fit on Prop 99, errors as exit code 2."""
from __future__ import annotations

import json

import pytest

from synthcontrol.cli import main

from .conftest import data_dir, need_file


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--n-users", "8000", "--n-boot", "20", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "ATT (mean post gap)" in text and "cluster bootstrap" in text and "Leave-one-out" in text
    for f in ("trajectory.png", "gap.png", "weights.png", "placebo.png", "leave_one_out.png",
              "bootstrap.png", "results.json", "report.txt"):
        assert (out / f).stat().st_size > 0, f
    res = json.loads((out / "results.json").read_text())
    assert abs(sum(res["fit"]["weights"]) - 1) < 1e-9 and len(res["fit"]["donors"]) == len(res["fit"]["weights"])
    assert res["fit"]["schema"] == "synthcontrol.result/1" and res["bootstrap"]["level"] == "95%"
    assert res["bootstrap"]["ci_lower"] <= res["fit"]["att"] <= res["bootstrap"]["ci_upper"]


def test_fit_prop99(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    out = tmp_path / "fit"
    rc = main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
               "--treated", "California", "--treatment-time", "1989", "--inference", "placebo", "loo",
               "--placebo-pool", "all", "--out", str(out)])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert round(res["fit"]["att"], 4) == -19.5136
    assert res["placebo"]["p_value"] == pytest.approx(3 / 39)
    assert set(res["leave_one_out"]["data"]["dropped"]) == {
        "Utah", "Montana", "Nevada", "Connecticut", "New Hampshire", "Colorado"}
    assert (out / "placebo.png").exists() and (out / "effects.csv").exists()


def test_fit_errors_are_reported_not_raised(tmp_path, capsys):
    f = tmp_path / "x.csv"
    f.write_text("state,year,y\nA,1,1.0\nB,1,2.0\n")
    rc = main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
               "--treated", "A", "--treatment-time", "2"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "synthcontrol: error:" in err and "'cigsale'" in err
    rc = main(["fit", str(tmp_path / "missing.csv"), "--unit", "s", "--time", "t", "--outcome", "y",
               "--treat", "d"])
    assert rc == 2


def test_cli_rejects_mismatched_arguments(tmp_path, capsys):
    f = tmp_path / "x.csv"
    f.write_text("state,year,y,d\n" + "".join(f"{s},{t},{t * 0.5 + i},0\n"
                                               for i, s in enumerate("ABC") for t in range(1, 6)))
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "y",
                 "--treated", "A", "--treatment-time", "spring"]) == 2
    err = capsys.readouterr().err
    assert "'spring' does not match column 'year'" in err and "np.int64" not in err
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "y",
                 "--treat", "d", "--treated", "A"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["demo", "--data", str(f), "--out", str(tmp_path / "d")]) == 2
    assert "workspace_id" in capsys.readouterr().err


def test_fit_with_covariates(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    out = tmp_path / "cov"
    rc = main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
               "--treated", "California", "--treatment-time", "1989",
               "--covariates", "lnincome,retprice,age15to24", "--predictor-window", "1980:1988",
               "--special", "beer:1984:1988", "--outcome-lags", "1975,1980,1988", "--fit-window", "1970:1988",
               "--inference", "loo", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Bound gap (proven)" in text and "special.cigsale.1980" in text
    d = json.loads((out / "results.json").read_text())["fit"]["diagnostics"]
    # the same problem as the Synth-compatible Prop 99 case (fixtures/prop99_synth_covariates.json)
    assert d["outcome_only_bound"] == pytest.approx(2.7436616455, abs=1e-8)
    assert d["loss_v"] == pytest.approx(2.7440893219, abs=1e-8)
    assert d["bound_attained"] and d["bound_gap"] < 1e-6  # certified by the global bound
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
                 "--treated", "California", "--treatment-time", "1989", "--covariates", "beer",
                 "--special", "retprice:1980:1988"]) == 2
    assert "--predictor-window" in capsys.readouterr().err


def test_fit_augmented_with_conformal(tmp_path, capsys):
    f = need_file(data_dir() / "kansas.csv")
    out = tmp_path / "ascm"
    rc = main(["fit", str(f), "--unit", "state", "--time", "year_qtr", "--outcome", "lngdpcapita",
               "--treat", "treated", "--augment", "ridge", "--alpha", "0.05", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Ridge lambda" in text and "conformal (iid)" in text
    res = json.loads((out / "results.json").read_text())
    assert res["fit"]["att"] == pytest.approx(-0.040062913813793566, abs=1e-6)  # augsynth 0.2.0
    assert res["conformal"]["p_value"] == pytest.approx(0.074, abs=0.01)
    assert len(res["conformal"]["tables"]["table"]["data"]["period"]) == 16
    assert res["conformal"]["alpha"] == 0.05 and res["conformal"]["metadata"]["call"]["alpha"] == 0.05  # --alpha 0.05


def test_fit_modern_inference(tmp_path, capsys):
    f = need_file(data_dir() / "smoking.csv")
    out = tmp_path / "modern"
    rc = main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
               "--treated", "California", "--treatment-time", "1989", "--inference", "lto", "ttest", "scpi", "jackknife",
               "--sims", "30", "--max-pairs", "100", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "leave-two-out" in text and "t-test (K=3)" in text and "SCPI" in text
    res = json.loads((out / "results.json").read_text())
    assert res["lto"]["details"]["n_pairs"] == 100 and res["lto"]["details"]["N"] == 39
    assert res["ttest"]["details"]["att"] == pytest.approx(-17.9911214507, abs=1e-8)
    # no --alpha: every method at its own default level, which the output states
    assert res["ttest"]["alpha"] == pytest.approx(0.05) and res["ttest"]["level"] == "95%"
    assert res["lto"]["alpha"] == pytest.approx(0.05)
    assert res["scpi"]["alpha"] == pytest.approx(0.1) and len(res["scpi"]["tables"]["table"]["data"]["period"]) == 12
    assert res["scpi"]["ci_upper"] < 0
    assert len(res["jackknife_plus"]["tables"]["table"]["data"]["period"]) == 12
    assert res["jackknife_plus"]["ci_upper"] < 0 and res["jackknife_plus"]["level"] == "90%"
    assert "95% interval" in text and "90% interval" in text
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
                 "--treated", "California", "--treatment-time", "1989", "--inference", "ttest",
                 "--K", "1"]) == 2
    assert main(["fit", str(f), "--unit", "state", "--time", "year", "--outcome", "cigsale",
                 "--treated", "California", "--treatment-time", "1989", "--inference", "ttest",
                 "--K", "three"]) == 2


# ---- what a newcomer meets: help, defaults, the data path anywhere, versions (#17)
def _fit_args(f):
    return ["--unit", "state", "--time", "year", "--outcome", "cigsale", "--treated", "California",
            "--treatment-time", "1989"]


def test_fit_takes_the_data_path_anywhere(capsys):
    f = str(need_file(data_dir() / "smoking.csv"))
    # after --inference (argparse hands it to --inference's words), comma lists, or --data
    for argv in (["fit", *_fit_args(f), "--inference", "placebo", "loo", f],
                 ["fit", *_fit_args(f), "--inference", "placebo,loo", "--data", f],
                 ["fit", f, *_fit_args(f), "--inference", "placebo, loo"]):
        assert main(argv) == 0, argv
        text = capsys.readouterr().out
        assert "placebo" in text.lower() and "dropped" in text  # the placebo and the LOO table
    assert main(["fit", *_fit_args(f), "--inference", "placebo,bogus", f]) == 2
    assert "unknown method 'bogus'" in capsys.readouterr().err
    assert main(["fit", *_fit_args(f)]) == 2
    assert "no data file" in capsys.readouterr().err
    assert main(["fit", f, "--data", f, *_fit_args(f)]) == 2
    assert "given twice" in capsys.readouterr().err


def test_every_option_has_help_and_examples(capsys):
    from synthcontrol.cli import build_parser
    ap = build_parser()
    sub = next(a for a in ap._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        missing = [a.dest for a in p._actions if not (a.help or "").strip()]
        assert not missing, f"{name}: options without help: {missing}"
        text = p.format_help()
        assert "examples" in text and "synthcontrol " + name in text, name
    fit_help = sub.choices["fit"].format_help()
    assert "(default: donors)" in fit_help and "(default: auto)" in fit_help  # defaults shown
    assert "--data FILE" in fit_help
    demo_help = sub.choices["demo"].format_help()
    assert "(default: 50000)" in demo_help and "(default: 500)" in demo_help
    assert "examples:" in ap.format_help()


def test_version_lists_the_optional_parts(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    import synthcontrol as sc
    assert out.startswith(f"synthcontrol {sc.__version__}")
    for part in ("C extension (SCPI kernel)", "SCIP (pyscipopt)", "Dask distributed", "tqdm"):
        assert part in out
    v = sc.show_versions(file=__import__("io").StringIO())
    assert v["libraries"]["numpy"] and set(v["optional"]) >= {"C extension (SCPI kernel)", "SCIP (pyscipopt)"}


def test_missing_c_extension_is_said_once(monkeypatch, p99data):
    """Without the compiled SCPI kernel the Clarabel fallback runs, and a SynthWarning says so --
    on the first slow call only; show_versions reports the part as not built."""
    import io
    import warnings

    import synthcontrol as sc
    from synthcontrol import versions
    from synthcontrol.solvers import ballsimplex
    monkeypatch.setattr(ballsimplex, "available", lambda: False)
    monkeypatch.setattr(versions, "_NOTICED", set())
    p = sc.Panel(p99data, unit="state", time="year", outcome="cigsale", treated="California", treatment_time=1989)
    res = sc.SyntheticControl().fit(p)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        first = res.scpi(sims=60, seed=1)
        res._memo.clear()
        res.scpi(sims=60, seed=2)
    said = [x for x in w if "SCPI kernel" in str(x.message)]
    assert len(said) == 1 and issubclass(said[0].category, sc.SynthWarning)
    assert first.details["solver"].startswith("Clarabel") if "solver" in first.details else True
    v = sc.show_versions(file=io.StringIO())
    assert v["optional"]["C extension (SCPI kernel)"]["working"] is False


def test_warnings_are_one_line_notes_on_the_command_line(tmp_path, capsys):
    """A SynthWarning reaches a terminal user as 'synthcontrol: warning: ...', without Python's
    file:line and source echo."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(30, 8)).cumsum(axis=0)
    Y[:, 0] = 0.9 * Y[:, 3] + 0.1 * Y[:, 5] + 0.01 * rng.normal(size=30)  # one donor does the job
    df = pd.DataFrame({"unit": np.repeat([f"u{j}" for j in range(8)], 30), "t": np.tile(np.arange(30), 8),
                       "y": Y.T.ravel()})
    f = tmp_path / "dominant.csv"
    df.to_csv(f, index=False)
    assert main(["fit", str(f), "--unit", "unit", "--time", "t", "--outcome", "y", "--treated", "u0",
                 "--treatment-time", "20", "--inference", "loo"]) == 0
    err = capsys.readouterr().err
    assert "synthcontrol: warning: one donor carries" in err
    assert "SynthWarning" not in err and ".py:" not in err
