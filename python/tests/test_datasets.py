"""Tests of synthcontrol.datasets: data-set lookup, download (without network) and the generator.

No test touches the network: an autouse fixture replaces ``datasets._fetch`` with a function that
fails the test, and tests of the download path install their own fake.  Tests that need the
shared reference copies find them at ``<repo>/../shared/data`` (the repository root is found by
walking up from this file) and are skipped when that directory does not exist.
"""
from __future__ import annotations

import gzip
import json
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from synthcontrol import datasets
from synthcontrol.datasets import REGISTRY, load, make_rollout_logs
from synthcontrol.errors import DataError, SpecificationError, SynthError

from .conftest import need_file

REQUIRED_NAMES = [
    "prop99", "prop99_mlsynth", "basque", "germany", "kansas", "geolift", "urate", "walmart",
    "rollout_logs",
]
LOG_COLUMNS = [
    "user_id", "workspace_id", "engagement_tier", "signup_week", "wave", "treatment_week",
    "treated_post", "prompt_variant", "opt_in_agent_mode", "query_confidence",
    "routed_to_premium", "task_completed", "thumbs_up", "session_minutes", "cost_usd",
    "retained_7d",
]


def _repo_root() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() or (parent / ".git").exists():
            return parent
    return None


def _shared_data_dir() -> Path | None:
    root = _repo_root()
    if root is None:
        return None
    d = root / ".." / "shared" / "data"
    return d if (d / "smoking.csv").is_file() else None


SHARED = _shared_data_dir()  # the project's reference copies, when present (only compared with)
# the packaged copies as plain CSVs, exported before any test hides the packaged folder
DATA = datasets.export_packaged(Path(tempfile.mkdtemp(prefix="sc-test-data-")))
_REAL_FETCH = datasets._fetch
_REAL_URLOPEN = urllib.request.urlopen


_REAL_PACKAGED = datasets.PACKAGED_DIR


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No data directory, no packaged copies (the tests of the packaged layer restore them), a
    private HOME/cache, and no network for every test."""
    for var in ("SYNTHCONTROL_DATA", "SYNTHCONTROL_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(datasets, "PACKAGED_DIR", tmp_path / "no-packaged-copies")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(datasets, "_fetch", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return home


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


WALMART_CSV = "store,sales,week\n1,10.5,1\n1,11.0,2\n2,7.25,1\n2,8.0,2\n"


# ---------------------------------------------------------------------------------------------
# loading the shared reference copies
# ---------------------------------------------------------------------------------------------
def test_load_prop99_via_env(monkeypatch):
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(DATA))
    df = load("prop99")
    assert df.shape == (1209, 7)
    assert list(df.columns) == ["state", "year", "cigsale", "lnincome", "beer", "age15to24", "retprice"]
    assert df["state"].nunique() == 39
    assert (df["year"].min(), df["year"].max()) == (1970, 2000)
    cal88 = df[(df.state == "California") & (df.year == 1988)]
    assert cal88["cigsale"].iloc[0] == pytest.approx(90.1, abs=1e-4)
    # the tidysynth export and mlsynth's rounded copy agree
    other = load("prop99_mlsynth")
    merged = df.merge(other, on=["state", "year"], suffixes=("", "_m"))
    assert len(merged) == 1209
    assert np.allclose(merged["cigsale"], merged["cigsale_m"], atol=1e-3)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_entry_loads(monkeypatch, name):
    info = REGISTRY[name]
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(DATA))
    df = load(name, download=False)
    assert set(info.columns) <= set(df.columns)
    if info.n_rows is not None:
        assert len(df) == info.n_rows


def test_urate_reshaped_to_long(monkeypatch):
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(DATA))
    df = load("urate")
    wide = pd.read_csv(DATA / "urate_cps.csv", header=None)
    assert wide.shape == (40, 50)
    assert list(df.columns) == ["state", "month", "urate"]
    assert df.shape == (2000, 3)
    assert sorted(df.state.unique()) == list(range(50))
    assert sorted(df.month.unique()) == list(range(40))
    assert not df.duplicated(["state", "month"]).any()
    for state, month in [(0, 0), (3, 7), (49, 39), (17, 22)]:
        got = df.loc[(df.state == state) & (df.month == month), "urate"].item()
        assert got == wide.iloc[month, state]


def test_urate_reshape_small_file(tmp_path):
    _write(tmp_path / "urate_cps.csv", "0.1,0.2\n0.3,0.4\n0.5,0.6\n")  # 3 months x 2 states
    df = load("urate", data_home=tmp_path, download=False)
    expected = pd.DataFrame(
        {"state": [0, 0, 0, 1, 1, 1], "month": [0, 1, 2, 0, 1, 2], "urate": [0.1, 0.3, 0.5, 0.2, 0.4, 0.6]}
    )
    pd.testing.assert_frame_equal(df, expected)


def test_geolift_dates_parsed(monkeypatch):
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(DATA))
    df = load("geolift")
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert df["location"].nunique() == 40 and df["date"].nunique() == 90


# ---------------------------------------------------------------------------------------------
# names and errors
# ---------------------------------------------------------------------------------------------
def test_registry_and_list():
    names = datasets.list_datasets()
    for name in REQUIRED_NAMES:
        assert name in names
        info = REGISTRY[name]
        assert info.file and info.description and info.origin
    table = datasets.list_datasets(details=True)
    assert list(table.index) == names
    assert {"file", "downloadable", "origin", "url", "description"} <= set(table.columns)
    assert table.loc["prop99", "file"] == "smoking.csv" and not table.loc["prop99", "downloadable"]
    assert REGISTRY["walmart"].url == datasets.MLSYNTH_BASE_URL + "walmart_weekly_sales.csv"
    assert datasets.MLSYNTH_BASE_URL.startswith("https://raw.githubusercontent.com/jgreathouse9/mlsynth/")


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError) as exc:
        load("prop98")
    msg = str(exc.value)
    assert "prop98" in msg
    for name in REGISTRY:
        assert name in msg
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, SynthError)


def test_name_is_case_insensitive(tmp_path):
    _write(tmp_path / "walmart_weekly_sales.csv", WALMART_CSV)
    assert load(" Walmart ", data_home=tmp_path, download=False).shape == (4, 3)


def test_missing_with_download_false_never_touches_network(tmp_path, isolated):
    with pytest.raises(DataError) as exc:
        load("prop99_mlsynth", data_home=tmp_path, download=False)
    msg = str(exc.value)
    assert "prop99_mlsynth" in msg and "P99data.csv" in msg
    assert "SYNTHCONTROL_DATA" in msg
    assert str(tmp_path / "P99data.csv") in msg  # the data_home place looked
    assert str(isolated / ".cache" / "synthcontrol" / "P99data.csv") in msg  # the cache
    assert "download=False" in msg


def test_missing_lists_every_env_directory(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("SYNTHCONTROL_DATA", f"{a}{os.pathsep}{b}")
    with pytest.raises(DataError) as exc:
        load("walmart", download=False)
    msg = str(exc.value)
    assert str(a / "walmart_weekly_sales.csv") in msg and str(b / "walmart_weekly_sales.csv") in msg


def test_r_only_dataset_is_not_downloaded(monkeypatch):
    # the autouse fixture makes any download attempt fail the test
    with pytest.raises(DataError) as exc:
        load("prop99", download=True)
    msg = str(exc.value)
    assert "no public download" in msg
    assert "tidysynth" in msg and "write.csv" in msg and "SYNTHCONTROL_DATA" in msg


def test_found_file_with_wrong_columns(tmp_path):
    bad = _write(tmp_path / "smoking.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match="expected columns") as exc:
        load("prop99", data_home=tmp_path)
    assert str(bad) in str(exc.value)


# ---------------------------------------------------------------------------------------------
# lookup order and the cache
# ---------------------------------------------------------------------------------------------
def test_cache_dir_resolution(tmp_path, monkeypatch, isolated):
    assert datasets.cache_dir() == isolated / ".cache" / "synthcontrol"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "xdg" / "synthcontrol"
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(tmp_path / "sc"))
    assert datasets.cache_dir() == tmp_path / "sc"


def test_cache_used_when_env_unset(isolated):
    _write(isolated / ".cache" / "synthcontrol" / "walmart_weekly_sales.csv", WALMART_CSV)
    df = load("walmart", download=False)
    assert df.shape == (4, 3) and df["sales"].sum() == pytest.approx(36.75)


def test_synthcontrol_cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(tmp_path / "mycache"))
    _write(tmp_path / "mycache" / "walmart_weekly_sales.csv", WALMART_CSV)
    assert load("walmart", download=False).shape == (4, 3)


def test_lookup_order(tmp_path, monkeypatch, isolated):
    def put(directory, sales):
        _write(directory / "walmart_weekly_sales.csv", f"store,sales,week\n1,{sales},1\n")

    put(tmp_path / "home_arg", 1.0)
    put(tmp_path / "env", 2.0)
    put(isolated / ".cache" / "synthcontrol", 3.0)
    packaged = tmp_path / "packaged"
    packaged.mkdir()
    with gzip.open(packaged / "walmart_weekly_sales.csv.gz", "wt") as fh:
        fh.write("store,sales,week\n1,4.0,1\n")
    monkeypatch.setattr(datasets, "PACKAGED_DIR", packaged)
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(tmp_path / "env"))
    assert load("walmart", data_home=tmp_path / "home_arg")["sales"].item() == 1.0
    assert load("walmart")["sales"].item() == 2.0
    monkeypatch.delenv("SYNTHCONTROL_DATA")
    assert load("walmart")["sales"].item() == 4.0  # the packaged copy comes before the cache
    monkeypatch.setattr(datasets, "PACKAGED_DIR", tmp_path / "nothing")
    assert load("walmart")["sales"].item() == 3.0


# ---------------------------------------------------------------------------------------------
# the packaged copies: every data set works on a fresh machine with no setting and no network
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(datasets.REGISTRY))
def test_every_dataset_is_packaged(name, monkeypatch):
    monkeypatch.setattr(datasets, "PACKAGED_DIR", _REAL_PACKAGED)
    info = datasets.REGISTRY[name]
    assert (_REAL_PACKAGED / (info.file + ".gz")).is_file()
    df = load(name, download=False)  # no env, empty cache, no network: only the packaged copy
    if info.n_rows is not None and name not in ("urate", "dma_adjacency"):
        assert len(df) == info.n_rows
    assert len(df) > 0


@pytest.mark.parametrize("name", sorted(datasets.REGISTRY))
def test_packaged_copy_is_the_canonical_file_byte_for_byte(name):
    """The packaged copy decompresses to the canonical file, whose SHA-256 is recorded in
    fixtures/data/packaged_sha256.json (and, where the project's reference copies sit beside the
    clone, equals theirs)."""
    info = datasets.REGISTRY[name]
    sums = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "data" / "packaged_sha256.json").read_text())
    with gzip.open(_REAL_PACKAGED / (info.file + ".gz"), "rb") as fh:
        raw = fh.read()
    assert hashlib.sha256(raw).hexdigest() == sums["sha256"][info.file]
    if SHARED is not None and (SHARED / info.file).is_file():
        assert raw == (SHARED / info.file).read_bytes()


def test_export_packaged_writes_plain_csvs(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "PACKAGED_DIR", _REAL_PACKAGED)
    out = datasets.export_packaged(tmp_path / "csv")
    df = pd.read_csv(out / "smoking.csv")
    assert df.shape == (1209, 7)
    assert sorted(p.name for p in out.iterdir()) == sorted(i.file for i in datasets.REGISTRY.values())


# ---------------------------------------------------------------------------------------------
# the download path, without network
# ---------------------------------------------------------------------------------------------
def test_download_success_lands_in_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(cache))
    calls = []

    def fake_fetch(url, dest, timeout=None):
        calls.append((url, Path(dest), timeout))
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_text(WALMART_CSV)

    monkeypatch.setattr(datasets, "_fetch", fake_fetch)
    df = load("walmart")
    assert df.shape == (4, 3)
    assert calls == [
        (datasets.MLSYNTH_BASE_URL + "walmart_weekly_sales.csv", cache / "walmart_weekly_sales.csv",
         datasets.DOWNLOAD_TIMEOUT)
    ]
    assert (cache / "walmart_weekly_sales.csv").is_file()
    assert 0 < datasets.DOWNLOAD_TIMEOUT <= 60

    # the second load is served from the cache
    monkeypatch.setattr(datasets, "_fetch", lambda *a, **k: pytest.fail("fetched twice"))
    pd.testing.assert_frame_equal(load("walmart"), df)


def test_download_failure_raises_data_error(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(cache))

    def offline(url, dest, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(datasets, "_fetch", offline)
    with pytest.raises(DataError) as exc:
        load("urate")
    msg = str(exc.value)
    assert "'urate'" in msg and "urate_cps.csv" in msg
    assert datasets.MLSYNTH_BASE_URL + "urate_cps.csv" in msg
    assert "name resolution" in msg
    assert "SYNTHCONTROL_DATA" in msg
    assert str(cache / "urate_cps.csv") in msg
    assert isinstance(exc.value.__cause__, urllib.error.URLError)
    assert not (cache / "urate_cps.csv").exists()


def test_bad_download_is_not_kept(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(cache))

    def wrong_file(url, dest, timeout=None):
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_text("<html>not a csv</html>\n")

    monkeypatch.setattr(datasets, "_fetch", wrong_file)
    with pytest.raises(DataError):
        load("walmart")
    assert not (cache / "walmart_weekly_sales.csv").exists()


def test_download_of_stata_file_is_converted(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SYNTHCONTROL_CACHE", str(cache))
    cols = REGISTRY["germany"].columns
    src = pd.DataFrame({c: np.arange(4, dtype=float) + 1.5 for c in cols})
    src["country"] = ["USA", "USA", "West Germany", "West Germany"]
    src["index"] = [1.0, 1.0, 7.0, 7.0]
    src["year"] = [1960.0, 1961.0, 1960.0, 1961.0]  # Stata stores years as floats

    def fake_fetch(url, dest, timeout=None):
        assert url.endswith("repgermany.dta")
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        src.to_stata(dest, write_index=False)

    monkeypatch.setattr(datasets, "_fetch", fake_fetch)
    df = load("germany")
    assert list(df.columns) == list(cols)
    assert df["year"].dtype == np.int64 and df["year"].tolist() == [1960, 1961, 1960, 1961]
    assert (cache / "repgermany.csv").is_file() and not (cache / "repgermany.dta").exists()


def test_real_fetch_with_file_url(tmp_path, monkeypatch):
    # the real _fetch and urlopen: a file:// URL needs no network
    monkeypatch.setattr(datasets, "_fetch", _REAL_FETCH)
    monkeypatch.setattr(urllib.request, "urlopen", _REAL_URLOPEN)
    src = _write(tmp_path / "src" / "walmart_weekly_sales.csv", WALMART_CSV)
    dest = tmp_path / "cache" / "walmart_weekly_sales.csv"
    datasets._fetch(src.as_uri(), dest, timeout=5)
    assert dest.read_text() == WALMART_CSV
    with pytest.raises(OSError):  # URLError is an OSError
        datasets._fetch((tmp_path / "nope.csv").as_uri(), tmp_path / "cache" / "x.csv", timeout=5)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["walmart_weekly_sales.csv"]


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------
def test_generator_deterministic_and_seed_dependent():
    a = make_rollout_logs(seed=3, n_users=5000)
    b = make_rollout_logs(seed=3, n_users=5000)
    pd.testing.assert_frame_equal(a, b)
    c = make_rollout_logs(seed=4, n_users=5000)
    assert not a.equals(c)
    assert (a["task_completed"] != c["task_completed"]).mean() > 0.2


def test_generator_columns_and_dtypes():
    df = make_rollout_logs(seed=0, n_users=2000)
    assert list(df.columns) == LOG_COLUMNS
    assert len(df) == 2000
    assert df["user_id"].tolist() == list(range(2000))
    for col in LOG_COLUMNS:
        if col == "engagement_tier":
            assert pd.api.types.is_string_dtype(df[col])
            assert set(df[col]) == {"light", "medium", "heavy"}
        elif col in ("query_confidence", "session_minutes", "cost_usd"):
            assert df[col].dtype == np.float64
        else:
            assert df[col].dtype == np.int64, col
    for col in ("treated_post", "prompt_variant", "opt_in_agent_mode", "routed_to_premium",
                "task_completed", "thumbs_up", "retained_7d"):
        assert set(df[col].unique()) <= {0, 1}
    assert df["query_confidence"].between(0, 1).all()
    assert (df["session_minutes"] > 0).all() and (df["cost_usd"] > 0).all()
    assert df["signup_week"].between(0, 51).all() and df["workspace_id"].between(0, 49).all()


def test_generator_layout_matches_tutorial_file(monkeypatch):
    monkeypatch.setenv("SYNTHCONTROL_DATA", str(DATA))
    ref = load("rollout_logs")
    gen = make_rollout_logs()
    assert list(gen.columns) == list(ref.columns)
    assert gen.dtypes.astype(str).tolist() == ref.dtypes.astype(str).tolist()
    assert gen.shape == ref.shape


def test_generator_waves_and_treatment_consistent():
    df = make_rollout_logs(seed=5, n_users=20_000, n_workspaces=10, n_weeks=40, treat_week=12, wave2_week=25)
    assert df["workspace_id"].between(0, 9).all()
    per_ws = df.groupby("workspace_id")[["wave", "treatment_week"]].nunique()
    assert (per_ws == 1).all().all()  # one wave and one upgrade week per workspace
    assert (df["wave"] == np.where(df["workspace_id"] < 5, 1, 2)).all()
    assert (df["treatment_week"] == np.where(df["wave"] == 1, 12, 25)).all()
    assert (df["treated_post"] == (df["signup_week"] >= df["treatment_week"]).astype(int)).all()
    assert df["signup_week"].between(0, 39).all()


def test_generator_rejects_bad_arguments():
    with pytest.raises(SpecificationError):
        make_rollout_logs(n_users=0)
    with pytest.raises(SpecificationError):
        make_rollout_logs(n_workspaces=1)
    with pytest.raises(SpecificationError):
        make_rollout_logs(effect=1.5)
    with pytest.raises(SpecificationError):
        make_rollout_logs(signal_ar=1.0)
    with pytest.raises(SpecificationError):
        make_rollout_logs(n_users=10.5)


def _cell_mean(df, wave, lo, hi):
    y = df.loc[(df.wave == wave) & (df.signup_week >= lo) & (df.signup_week < hi), "task_completed"]
    return y.mean(), len(y)


def _did(df, lo, mid, hi, treated_wave, control_wave):
    """(treated: [mid, hi) - [lo, mid)) - (control: same), and its binomial standard error.

    Each of the four cell means is a mean of n independent Bernoulli draws; users within a cell
    are i.i.d. (a workspace drawn uniformly, then the user's traits), so Var(mean) = m(1-m)/n
    exactly, and the SE of the difference of independent cells is sqrt(sum m(1-m)/n).
    """
    cells = [_cell_mean(df, w, a, b) for w in (treated_wave, control_wave) for a, b in ((mid, hi), (lo, mid))]
    (m11, _), (m10, _), (m01, _), (m00, _) = cells
    est = (m11 - m10) - (m01 - m00)
    se = float(np.sqrt(sum(m * (1 - m) / n for m, n in cells)))
    return est, se


# Without the workspace- and week-level nuisance terms the difference-in-differences below is
# unbiased for `effect` and its only noise is user-level Bernoulli noise: the binomial SE is exact
# and |estimate - effect| <= 4 SE fails with probability 6e-5 under a correct generator.
NO_NUISANCE = dict(workspace_sd=0.0, signal_sd=0.0, noise_sd=0.0)
Z = 4.0


@pytest.mark.parametrize("effect", [0.05, 0.0, 0.12])
def test_generator_true_effect_wave1(effect):
    df = make_rollout_logs(seed=11, n_users=1_000_000, effect=effect, **NO_NUISANCE)
    # wave 1 upgraded at 20, wave 2 still untreated in weeks 20-29
    est, se = _did(df, 0, 20, 30, treated_wave=1, control_wave=2)
    assert se < 0.003
    assert abs(est - effect) <= Z * se, (est, se)


def test_generator_true_effect_wave2():
    df = make_rollout_logs(seed=12, n_users=1_000_000, **NO_NUISANCE)
    # wave 2 upgraded at 30; wave 1 treated throughout weeks 20-51, so it is the comparison
    est, se = _did(df, 20, 30, 52, treated_wave=2, control_wave=1)
    assert abs(est - 0.05) <= Z * se, (est, se)


def test_generator_concurrent_shock_biases_naive_not_did():
    df = make_rollout_logs(seed=13, n_users=1_000_000, concurrent_shock=0.03, **NO_NUISANCE)
    (post, n1), (pre, n0) = _cell_mean(df, 1, 20, 30), _cell_mean(df, 1, 0, 20)
    se_naive = np.sqrt(post * (1 - post) / n1 + pre * (1 - pre) / n0)
    assert abs((post - pre) - 0.08) <= Z * se_naive  # effect + shock
    est, se = _did(df, 0, 20, 30, treated_wave=1, control_wave=2)
    assert abs(est - 0.05) <= Z * se


def test_generator_true_effect_default_model():
    # With the default nuisance terms the DiD also carries (mean loading of wave 1 - of wave 2)
    # x (change of the shared signal) plus workspace-by-week shocks: about 0.003 sd on the
    # probability scale for 25 + 25 workspaces (0.085 x 0.15 x 0.24). The tolerance adds 0.01
    # (> 3 sd) to the binomial 4 SE.
    df = make_rollout_logs(seed=42, n_users=1_000_000)
    est, se = _did(df, 0, 20, 30, treated_wave=1, control_wave=2)
    assert abs(est - 0.05) <= Z * se + 0.01, (est, se)


def _simplex_fit(X, y):
    J = X.shape[1]
    res = minimize(
        lambda w: np.sum((y - X @ w) ** 2), np.full(J, 1.0 / J), method="SLSQP",
        jac=lambda w: 2.0 * X.T @ (X @ w - y),
        bounds=[(0.0, 1.0)] * J,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(J)}],
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    return res.x


def test_outcome_only_synthetic_control_recovers_effect():
    # The tutorial's analysis: wave-1 mean over weeks 0-29, donors = wave-2 workspaces, weeks
    # 0-19 pre. Over seeds the post-period gap has sd ~0.017 (checked on 500 seeds: mean 0.050),
    # so the mean of 10 seeds is within 4 x 0.017 / sqrt(10) = 0.022 of the effect.
    gaps, rmses = [], []
    for seed in range(10):
        df = make_rollout_logs(seed=seed, n_users=50_000)
        d = df[df.signup_week < 30]
        piv = d.groupby(["signup_week", "workspace_id"])["task_completed"].mean().unstack()
        piv = piv.interpolate(axis=0).ffill().bfill()
        treated = piv[list(range(25))].mean(axis=1).to_numpy()
        donors = piv[list(range(25, 50))].to_numpy()
        w = _simplex_fit(donors[:20], treated[:20])
        synth = donors @ w
        rmses.append(np.sqrt(np.mean((treated[:20] - synth[:20]) ** 2)))
        gaps.append(np.mean(treated[20:] - synth[20:]))
    assert max(rmses) < 0.04
    assert abs(np.mean(gaps) - 0.05) < 0.022, gaps
