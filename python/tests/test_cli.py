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
