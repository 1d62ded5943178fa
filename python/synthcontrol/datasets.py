"""Data sets: the canonical public panels, and a generator for the global-rollout scenario.

Two things live here:

* :func:`load` returns one of the public panels that synthetic-control papers and packages are
  benchmarked on (Proposition 99, the Basque Country, German reunification, the Kansas tax cut,
  GeoLift markets, CPS unemployment, Walmart sales, the global-rollout logs, ...) as a
  :class:`pandas.DataFrame`.  Every data set of :data:`REGISTRY` ships inside the package
  (gzip-compressed, about 2 MB in all), so ``load("prop99")`` works on a fresh machine with no
  network and no setting; a data directory can override it.  :data:`REGISTRY` documents every data
  set (file name, origin, download address); :func:`list_datasets` lists them.
* :func:`make_rollout_logs` generates a user-level log of a staged model upgrade across
  workspaces ("the global-rollout scenario") with a known true effect, so that an estimator's
  answer can be checked against the truth.

Where :func:`load` looks, in this order
----------------------------------------
1. ``data_home`` (the argument), when given;
2. every directory in the environment variable ``SYNTHCONTROL_DATA`` (several directories may be
   given, separated by ``os.pathsep``);
3. the copy packaged with synthcontrol (:data:`PACKAGED_DIR`, ``<file>.gz``);
4. the user cache directory, :func:`cache_dir`: ``$SYNTHCONTROL_CACHE``, else
   ``$XDG_CACHE_HOME/synthcontrol``, else ``~/.cache/synthcontrol``;
5. a download from the data set's public source into the cache directory (only when
   ``download=True`` and the data set has a public download address; the timeout is
   :data:`DOWNLOAD_TIMEOUT` seconds).

When all of these fail, :class:`~synthcontrol.errors.DataError` is raised with the name of the
data set, every place looked, and how to fix it.
"""
from __future__ import annotations

import difflib
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import DataError, SpecificationError

__all__ = [
    "DatasetInfo",
    "REGISTRY",
    "DOWNLOAD_TIMEOUT",
    "MLSYNTH_BASE_URL",
    "load",
    "export_packaged",
    "canonical_dir",
    "PACKAGED_DIR",
    "list_datasets",
    "cache_dir",
    "make_rollout_logs",
]

#: Raw-file address of the ``basedata/`` folder of github.com/jgreathouse9/mlsynth (default branch).
MLSYNTH_BASE_URL = "https://raw.githubusercontent.com/jgreathouse9/mlsynth/main/basedata/"

#: Seconds to wait for the download server before giving up (connect and each read).
DOWNLOAD_TIMEOUT = 15.0

_ENV_DATA = "SYNTHCONTROL_DATA"
PACKAGED_DIR = Path(__file__).resolve().parent / "data"  # the packaged copies, <file>.gz
_ENV_CACHE = "SYNTHCONTROL_CACHE"


# ----------------------------------------------------------------------------------------------
# readers: path -> DataFrame in the layout ``load`` promises
# ----------------------------------------------------------------------------------------------
def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def _read_dated(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    return df


def _read_matrix(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)


def _read_urate(path: Path) -> pd.DataFrame:
    """Headerless months x states matrix -> long frame ``state, month, urate``."""
    wide = pd.read_csv(path, header=None)
    values = wide.to_numpy(dtype=float)  # raises on a non-numeric cell, e.g. a header row
    n_months, n_states = values.shape
    return pd.DataFrame(
        {
            "state": np.repeat(np.arange(n_states, dtype=np.int64), n_months),
            "month": np.tile(np.arange(n_months, dtype=np.int64), n_states),
            "urate": values.T.ravel(),
        }
    )


def _convert_dta(src: Path, dest: Path) -> None:
    """Convert a Stata file to CSV, storing integral float ``year``/``index`` columns as integers."""
    df = pd.read_stata(src)
    for col in ("year", "index"):
        if col not in df.columns:
            continue
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            df[col] = s.dt.year.astype("int64")
        elif pd.api.types.is_float_dtype(s) and s.notna().all() and bool((s == np.round(s)).all()):
            df[col] = s.astype("int64")
    df.to_csv(dest, index=False)


# ----------------------------------------------------------------------------------------------
# the registry
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    """Documentation and loading recipe of one data set.

    Parameters
    ----------
    name : str
        The name passed to :func:`load`.
    file : str
        The CSV file looked for in the data directories and the cache.
    description : str
        What the data are, in one or two sentences (units, periods, outcome).
    origin : str
        Where the file comes from (repository and path, or R package and version).
    url : str or None
        Public download address, or None when the only public source is an R package's bundled
        data (then ``how_to_get`` says how to export it).
    columns : tuple of str
        Columns the returned frame must contain; checked on every load.
    n_rows : int or None
        Number of rows of the returned frame for the reference copy (documentation; tests).
    how_to_get : str
        Extra instructions shown when the file is missing (e.g. the R export command).
    remote_format : {"csv", "dta"}
        Format of the file at ``url``; a Stata file is converted to ``file`` after download.
    reader : callable
        ``Path -> DataFrame``; builds the returned frame from the file.
    """

    name: str
    file: str
    description: str
    origin: str
    url: str | None
    columns: tuple[str, ...]
    n_rows: int | None = None
    how_to_get: str = ""
    remote_format: str = "csv"
    reader: Callable[[Path], pd.DataFrame] = field(default=_read_csv, repr=False, compare=False)

    @property
    def downloadable(self) -> bool:
        """bool: whether :func:`load` can download the file when it is missing."""
        return self.url is not None


def _r_export(pkg: str, obj: str, file: str, install: str | None = None) -> str:
    install = install or f"install.packages('{pkg}')"
    return (
        f"The only public source is the R package '{pkg}'. To create the file, run in R: "
        f"{install}; data({obj}, package = '{pkg}'); "
        f"write.csv({obj}, '{file}', row.names = FALSE)"
    )


_REGISTRY_LIST = [
    DatasetInfo(
        name="prop99",
        file="smoking.csv",
        description=(
            "California's Proposition 99 (Abadie, Diamond & Hainmueller 2010): per-capita "
            "cigarette sales in 39 states, 1970-2000 (1209 rows); California treated from 1989. "
            "Covariates are missing in early years, as in the original."
        ),
        origin="R package tidysynth 0.2.1, data set `smoking`, exported exactly (doubles round-trip)",
        url=None,
        columns=("state", "year", "cigsale", "lnincome", "beer", "age15to24", "retprice"),
        n_rows=1209,
        how_to_get=_r_export("tidysynth", "smoking", "smoking.csv")
        + ". A downloadable copy with the same layout is the data set 'prop99_mlsynth'",
    ),
    DatasetInfo(
        name="prop99_mlsynth",
        file="P99data.csv",
        description=(
            "Proposition 99 in the R Synth / pysyncon 'smoking' layout as shipped by mlsynth: "
            "39 states x 31 years (1209 rows); values rounded to the published precision."
        ),
        origin="github.com/jgreathouse9/mlsynth, basedata/P99data.csv",
        url=MLSYNTH_BASE_URL + "P99data.csv",
        columns=("state", "year", "cigsale", "lnincome", "beer", "age15to24", "retprice"),
        n_rows=1209,
    ),
    DatasetInfo(
        name="basque",
        file="basque.csv",
        description=(
            "Terrorism in the Basque Country (Abadie & Gardeazabal 2003): GDP per capita and "
            "predictors of 18 Spanish regions x 43 years 1955-1997 (774 rows); regionno 1 is "
            "Spain as a whole, 17 the Basque Country (treated from about 1970)."
        ),
        origin="R package Synth 1.1-8, data set `basque`, exported exactly",
        url=None,
        columns=("regionno", "regionname", "year", "gdpcap", "invest", "popdens"),
        n_rows=774,
        how_to_get=_r_export("Synth", "basque", "basque.csv")
        + ". A downloadable variant (without Spain's total) is 'basque_mlsynth'",
    ),
    DatasetInfo(
        name="basque_mlsynth",
        file="basque_data.csv",
        description=(
            "The Basque panel as shipped by mlsynth: the 17 regions without Spain's total, "
            "x 43 years (731 rows)."
        ),
        origin="github.com/jgreathouse9/mlsynth, basedata/basque_data.csv",
        url=MLSYNTH_BASE_URL + "basque_data.csv",
        columns=("regionno", "regionname", "year", "gdpcap"),
        n_rows=731,
    ),
    DatasetInfo(
        name="germany",
        file="repgermany.csv",
        description=(
            "German reunification (Abadie, Diamond & Hainmueller 2015): GDP per capita (US$) "
            "and the ADH covariates (inflation, trade, schooling, investment in the 60s/70s/80s, "
            "industry share) of West Germany and 16 OECD countries, 1960-2003 (748 rows); "
            "treated from 1990. This is the original replication file (repgermany.dta) as CSV; "
            "the scpi R package's version (GDP in thousands, no investment columns) is "
            "'germany_scpi'."
        ),
        origin=(
            "github.com/jgreathouse9/mlsynth, basedata/repgermany.dta (ADH 2015 replication "
            "data), converted to CSV with year as an integer"
        ),
        url=MLSYNTH_BASE_URL + "repgermany.dta",
        remote_format="dta",
        columns=(
            "index", "country", "year", "gdp", "infrate", "trade", "schooling",
            "invest60", "invest70", "invest80", "industry",
        ),
        n_rows=748,
    ),
    DatasetInfo(
        name="germany_scpi",
        file="scpi_germany_exact.csv",
        description=(
            "German reunification as the scpi R package ships it: 17 countries x 44 years "
            "(748 rows), GDP in thousands of US$."
        ),
        origin="R package scpi, data set `scpi_germany`, exported exactly",
        url=None,
        columns=("index", "country", "year", "gdp", "infrate", "trade", "schooling", "industry"),
        n_rows=748,
        how_to_get=_r_export("scpi", "scpi_germany", "scpi_germany_exact.csv"),
    ),
    DatasetInfo(
        name="kansas",
        file="kansas.csv",
        description=(
            "The 2012 Kansas income-tax cut (Ben-Michael, Feller & Rothstein 2021): 50 states x "
            "105 quarters 1990Q1-2016Q1 (5250 rows, 32 columns), outcome lngdpcapita; `treated` "
            "marks Kansas from 2012Q2."
        ),
        origin="R package augsynth 0.2.0, data set `kansas`, exported exactly",
        url=None,
        columns=("fips", "year", "qtr", "state", "year_qtr", "treated", "lngdpcapita"),
        n_rows=5250,
        how_to_get=_r_export(
            "augsynth", "kansas", "kansas.csv", install="remotes::install_github('ebenmichael/augsynth')"
        )
        + ". A downloadable 10-column variant is 'kansas_mlsynth'",
    ),
    DatasetInfo(
        name="kansas_mlsynth",
        file="kansas_ascm.csv",
        description="The Kansas panel as shipped by mlsynth: 50 states x 105 quarters, 10 columns.",
        origin="github.com/jgreathouse9/mlsynth, basedata/kansas_ascm.csv",
        url=MLSYNTH_BASE_URL + "kansas_ascm.csv",
        columns=("fips", "year_qtr", "state", "lngdpcapita", "treated"),
        n_rows=5250,
    ),
    DatasetInfo(
        name="geolift",
        file="geolift_market_data.csv",
        description=(
            "Meta GeoLift's GeoLift_PreTest panel: daily conversions Y in 40 US markets, "
            "2021-01-01 to 2021-03-31 (3600 rows), no treatment. `date` is parsed to datetime."
        ),
        origin="github.com/jgreathouse9/mlsynth, basedata/geolift_market_data.csv",
        url=MLSYNTH_BASE_URL + "geolift_market_data.csv",
        columns=("location", "Y", "date"),
        n_rows=3600,
        reader=_read_dated,
    ),
    DatasetInfo(
        name="geolift_test",
        file="geolift_test_data.csv",
        description=(
            "Meta GeoLift's GeoLift_Test panel: 40 markets x 105 days 2021-01-01 to 2021-04-15 "
            "(4200 rows) with a test period at the end. `date` is parsed to datetime."
        ),
        origin="github.com/jgreathouse9/mlsynth, basedata/geolift_test_data.csv",
        url=MLSYNTH_BASE_URL + "geolift_test_data.csv",
        columns=("location", "date", "Y"),
        n_rows=4200,
        reader=_read_dated,
    ),
    DatasetInfo(
        name="urate",
        file="urate_cps.csv",
        description=(
            "BLS/CPS monthly state unemployment rates used in the Monte Carlo of Doudchenko et "
            "al. (2021, synthetic experimental design): the file is a headerless 40 x 50 matrix "
            "(months x states); load returns the long frame `state, month, urate` with state "
            "0-49 (column order) and month 0-39 (row order), 2000 rows."
        ),
        origin=(
            "github.com/jgreathouse9/mlsynth, basedata/urate_cps.csv (originally "
            "synth-inference/synthdid, bdm/data/urate_cps.csv)"
        ),
        url=MLSYNTH_BASE_URL + "urate_cps.csv",
        columns=("state", "month", "urate"),
        n_rows=2000,
        reader=_read_urate,
    ),
    DatasetInfo(
        name="walmart",
        file="walmart_weekly_sales.csv",
        description="Walmart (Kaggle) weekly sales of 45 stores x 143 weeks (6435 rows).",
        origin="github.com/jgreathouse9/mlsynth, basedata/walmart_weekly_sales.csv",
        url=MLSYNTH_BASE_URL + "walmart_weekly_sales.csv",
        columns=("store", "sales", "week"),
        n_rows=6435,
    ),
    DatasetInfo(
        name="walmart_covariates",
        file="walmart_weekly_sales_covariates.csv",
        description="The Walmart panel with Temperature, Fuel_Price, CPI and Unemployment.",
        origin="github.com/jgreathouse9/mlsynth, basedata/walmart_weekly_sales_covariates.csv",
        url=MLSYNTH_BASE_URL + "walmart_weekly_sales_covariates.csv",
        columns=("store", "week", "sales", "Temperature", "Fuel_Price", "CPI", "Unemployment"),
        n_rows=6435,
    ),
    DatasetInfo(
        name="dma_adjacency",
        file="dma_adjacency.csv",
        description=(
            "Nielsen DMA contiguity: a 206 x 206 0/1 matrix (1 = shared border), DMA names as "
            "index and columns (for spillover-aware designs)."
        ),
        origin="github.com/jgreathouse9/mlsynth, basedata/markets/dma_adjacency.csv",
        url=MLSYNTH_BASE_URL + "markets/dma_adjacency.csv",
        columns=(),
        n_rows=206,
        reader=_read_matrix,
    ),
    DatasetInfo(
        name="dma_metadata",
        file="dma_metadata.csv",
        description="Nielsen DMA names, codes, states and centroid coordinates (206 rows).",
        origin="github.com/jgreathouse9/mlsynth, basedata/markets/dma_metadata.csv",
        url=MLSYNTH_BASE_URL + "markets/dma_metadata.csv",
        columns=("dma_name", "dma_code", "state", "latitude", "longitude"),
        n_rows=206,
    ),
    DatasetInfo(
        name="synth_toy",
        file="synth_data.csv",
        description=(
            "The toy panel of R Synth's ?synth example: 8 units x 21 years (168 rows); treated "
            "unit 7 from 1992, controls 29, 2, 13, 17, 32, 38."
        ),
        origin="R package Synth 1.1-8, data set `synth.data`, exported",
        url=None,
        columns=("unit.num", "year", "name", "Y", "X1", "X2", "X3"),
        n_rows=168,
        how_to_get=_r_export("Synth", "synth.data", "synth_data.csv"),
    ),
    DatasetInfo(
        name="rollout_logs",
        file="synthetic_llm_logs.csv",
        description=(
            "The global-rollout tutorial's user log: 50,000 users in 50 workspaces, 16 columns; "
            "wave 1 (workspaces 0-24) upgraded at week 20, wave 2 (25-49) at week 30, "
            "+5 pp true effect on task_completed. make_rollout_logs() generates data of the "
            "same layout."
        ),
        origin=(
            "the tutorial's own generator (data/generate_data.py --seed 42 --n-users 50000 in "
            "github.com/RudrenduPaul/product-experimentation-causal-inference-genai-llm), run "
            "once; the repository ships the generator, not the CSV"
        ),
        url=None,
        columns=(
            "user_id", "workspace_id", "engagement_tier", "signup_week", "wave",
            "treatment_week", "treated_post", "prompt_variant", "opt_in_agent_mode",
            "query_confidence", "routed_to_premium", "task_completed", "thumbs_up",
            "session_minutes", "cost_usd", "retained_7d",
        ),
        n_rows=50_000,
        how_to_get=(
            "There is no public download. Create it with the tutorial's companion repository: "
            "python data/generate_data.py --seed 42 --n-users 50000 --out synthetic_llm_logs.csv, "
            "or use synthcontrol.datasets.make_rollout_logs() for generated data of the same "
            "layout (not the same numbers)"
        ),
    ),
]

#: dict[str, DatasetInfo]: every data set :func:`load` knows, by name.
REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in _REGISTRY_LIST}


def list_datasets(details: bool = False):
    """List the data sets :func:`load` knows.

    Parameters
    ----------
    details : bool, default False
        False returns the names only; True returns a DataFrame with one row per data set.

    Returns
    -------
    list of str or pandas.DataFrame
        The names, in registry order; or, with ``details=True``, a frame indexed by ``name``
        with columns ``file``, ``downloadable``, ``n_rows``, ``origin``, ``url`` and
        ``description``.

    Examples
    --------
    >>> from synthcontrol import datasets
    >>> "prop99" in datasets.list_datasets()
    True
    """
    if not details:
        return list(REGISTRY)
    rows = [
        {
            "name": i.name,
            "file": i.file,
            "downloadable": i.downloadable,
            "n_rows": i.n_rows,
            "origin": i.origin,
            "url": i.url,
            "description": i.description,
        }
        for i in REGISTRY.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def cache_dir() -> Path:
    """Return the user cache directory for downloaded data sets (not created here).

    Returns
    -------
    pathlib.Path
        ``$SYNTHCONTROL_CACHE`` when set; else ``$XDG_CACHE_HOME/synthcontrol`` when
        ``XDG_CACHE_HOME`` is set; else ``~/.cache/synthcontrol``.
    """
    env = os.environ.get(_ENV_CACHE)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "synthcontrol"
    return Path(os.path.expanduser("~")) / ".cache" / "synthcontrol"


def _fetch(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Download ``url`` to ``dest`` atomically (a partial file never appears under ``dest``).

    Raises whatever urllib raises (``urllib.error.URLError``, ``TimeoutError``, ``OSError``),
    or ``OSError`` for an empty response.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    req = urllib.request.Request(url, headers={"User-Agent": "synthcontrol-datasets"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out)
        if tmp.stat().st_size == 0:
            raise OSError(f"empty response from {url}")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_checked(info: DatasetInfo, path: Path) -> pd.DataFrame:
    try:
        df = info.reader(path)
    except Exception as exc:  # any parse failure: name the file
        raise DataError(
            f"Data set '{info.name}': could not read {path}: {type(exc).__name__}: {exc}. "
            f"Replace or delete the file."
        ) from exc
    missing = [c for c in info.columns if c not in df.columns]
    if missing:
        raise DataError(
            f"Data set '{info.name}': {path} lacks the expected columns {missing} "
            f"(has {list(df.columns)[:20]}). It is not the file this data set expects "
            f"({info.origin}); replace or delete it."
        )
    return df


def load(name: str, *, data_home: str | os.PathLike | None = None, download: bool = True) -> pd.DataFrame:
    """Load a public data set as a DataFrame.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets` (case-insensitive): ``"prop99"``, ``"prop99_mlsynth"``,
        ``"basque"``, ``"germany"``, ``"kansas"``, ``"geolift"``, ``"urate"``, ``"walmart"``,
        ``"rollout_logs"``, ... See :data:`REGISTRY` for each one's file, origin and layout.
    data_home : str or path-like, optional
        A directory searched first for the data set's file.
    download : bool, default True
        Whether to download a missing file from its public source into :func:`cache_dir`.
        With False the network is never touched.

    Returns
    -------
    pandas.DataFrame
        The data in long (unit x period rows) layout, columns as in the file, except: ``urate``
        is reshaped from its headerless months x states matrix to ``state, month, urate``;
        GeoLift ``date`` columns are parsed to datetime; ``dma_adjacency`` is indexed by DMA name.

    Raises
    ------
    synthcontrol.errors.DataError
        For an unknown name (the message lists the known names); when the file is found
        nowhere and cannot be downloaded (the message names every place looked and how to fix
        it: set ``SYNTHCONTROL_DATA`` to the directory holding the file); when a file found
        lacks the expected columns.

    Notes
    -----
    Lookup order: ``data_home``; each directory of ``$SYNTHCONTROL_DATA`` (``os.pathsep``
    separated); the copy packaged with synthcontrol (every registered data set has one); the cache
    directory (:func:`cache_dir`); a download into the cache (a
    :data:`DOWNLOAD_TIMEOUT`-second timeout). Files exported from R packages (``prop99``,
    ``basque``, ``kansas``, ``germany_scpi``, ``synth_toy``) and ``rollout_logs`` have no public
    download; the error message says how to create them.

    Examples
    --------
    >>> import os
    >>> from synthcontrol import datasets
    >>> df = datasets.load("prop99")
    >>> df.shape
    (1209, 7)
    """
    if not isinstance(name, str):
        raise DataError(f"Data set name must be a string, got {type(name).__name__}.")
    key = name.strip().lower()
    if key not in REGISTRY:
        close = difflib.get_close_matches(key, list(REGISTRY), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(
            f"Unknown data set '{name}'.{hint} Known data sets: {', '.join(REGISTRY)}."
        )
    info = REGISTRY[key]

    looked: list[str] = []
    candidates: list[tuple[Path | None, str]] = []
    if data_home is not None:
        candidates.append((Path(data_home).expanduser(), "data_home argument"))
    env = os.environ.get(_ENV_DATA, "")
    env_dirs = [part.strip() for part in env.split(os.pathsep) if part.strip()]
    for part in env_dirs:
        candidates.append((Path(part).expanduser(), f"${_ENV_DATA}"))
    if not env_dirs:
        candidates.append((None, f"${_ENV_DATA} is not set"))
    candidates.append((PACKAGED_DIR, "packaged with synthcontrol"))
    cache = cache_dir()
    candidates.append((cache, "user cache"))

    for directory, label in candidates:
        if directory is None:
            looked.append(label)
            continue
        path = directory / (info.file + ".gz" if directory == PACKAGED_DIR else info.file)
        if path.is_file():
            return _read_checked(info, path)
        looked.append(f"{path} ({label}): not found")

    target = cache / info.file
    if not download:
        looked.append("download: not attempted (download=False)")
    elif info.url is None:
        looked.append("download: no public download for this file")
    else:
        fetched = cache / (info.file if info.remote_format == "csv" else info.url.rsplit("/", 1)[-1])
        try:
            _fetch(info.url, fetched, timeout=DOWNLOAD_TIMEOUT)
            if info.remote_format == "dta":
                _convert_dta(fetched, target)
                fetched.unlink()
        except Exception as exc:  # offline, HTTP error, timeout, unwritable cache, bad file
            looked.append(f"download from {info.url}: failed ({type(exc).__name__}: {exc})")
            raise DataError(_missing_message(info, looked, cache)) from exc
        try:
            return _read_checked(info, target)
        except DataError:
            target.unlink(missing_ok=True)  # do not keep a bad download in the cache
            raise
    raise DataError(_missing_message(info, looked, cache))


_CANONICAL: Path | None = None


def canonical_dir() -> Path:
    """A directory holding the canonical CSV files under their :data:`REGISTRY` names: the first
    directory of ``$SYNTHCONTROL_DATA`` when set, else the packaged copies exported once per
    process to a temporary directory (:func:`export_packaged`).  For code that reads the files by
    path (the project's tests and R sessions)."""
    global _CANONICAL
    env = [p.strip() for p in os.environ.get(_ENV_DATA, "").split(os.pathsep) if p.strip()]
    if env:
        return Path(env[0]).expanduser()
    if _CANONICAL is None or not _CANONICAL.is_dir():
        import tempfile
        _CANONICAL = export_packaged(tempfile.mkdtemp(prefix="synthcontrol-data-"))
    return _CANONICAL


def export_packaged(directory: str | os.PathLike) -> Path:
    """Write every packaged data set, decompressed, as ``<directory>/<file>`` (the file names of
    :data:`REGISTRY`: ``smoking.csv``, ``kansas.csv``, ...) and return the directory.  For tools
    that read the canonical CSV files by path (the project's tests, R sessions); files already
    there are left as they are."""
    import gzip
    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    for info in REGISTRY.values():
        dest = out / info.file
        src = PACKAGED_DIR / (info.file + ".gz")
        if dest.exists() or not src.is_file():
            continue
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.replace(tmp, dest)
    return out


def _missing_message(info: DatasetInfo, looked: list[str], cache: Path) -> str:
    lines = [
        f"Data set '{info.name}' (file {info.file}) could not be found. Looked in:",
        *[f"  - {item}" for item in looked],
        f"Origin: {info.origin}.",
    ]
    if info.how_to_get:
        lines.append(info.how_to_get + ".")
    lines.append(
        f"To fix: put {info.file} in a directory and set the environment variable "
        f"{_ENV_DATA} to it (export {_ENV_DATA}=/path/to/data), or pass data_home=..., "
        f"or copy the file to the cache directory {cache}"
        + (" (or retry with network access; download=True fetches it there)." if info.url else ".")
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# the global-rollout scenario
# ----------------------------------------------------------------------------------------------
_TIERS = np.array(["light", "medium", "heavy"])
_TIER_SHARE = np.array([0.55, 0.30, 0.15])
_TIER_LOGIT = np.array([-0.30, 0.62, 1.60])  # completion ~0.47 / 0.70 / 0.87 before the upgrade


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_rollout_logs(
    seed=42,
    n_users: int = 50_000,
    *,
    n_workspaces: int = 50,
    n_weeks: int = 52,
    treat_week: int = 20,
    wave2_week: int = 30,
    effect: float = 0.05,
    workspace_sd: float = 0.12,
    signal_ar: float = 0.6,
    signal_sd: float = 0.15,
    noise_sd: float = 0.05,
    concurrent_shock: float = 0.0,
) -> pd.DataFrame:
    """Generate the global-rollout scenario: a user-level log of a staged model upgrade.

    ``n_users`` users sign up over ``n_weeks`` weeks in ``n_workspaces`` workspaces. The first
    half of the workspaces (wave 1) get the new model at week ``treat_week``, the second half
    (wave 2) at week ``wave2_week``. Each user is one row with a binary outcome
    ``task_completed`` whose probability is raised by exactly ``effect`` (additively, on the
    probability scale) for users of a workspace whose upgrade happened at or before the user's
    ``signup_week``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None, default 42
        Seed for :func:`numpy.random.default_rng`; the output is a deterministic function of it
        and the other arguments.
    n_users : int, default 50_000
        Number of users (rows).
    n_workspaces : int, default 50
        Number of workspaces (at least 2); workspaces ``0 .. n_workspaces // 2 - 1`` are wave 1,
        the rest wave 2.
    n_weeks : int, default 52
        Signup weeks ``0 .. n_weeks - 1``; users are spread uniformly over them.
    treat_week : int, default 20
        Upgrade week of wave 1.
    wave2_week : int, default 30
        Upgrade week of wave 2. A value ``>= n_weeks`` keeps wave 2 untreated throughout.
    effect : float, default 0.05
        True effect of the upgrade on the completion probability (+5 percentage points).
    workspace_sd : float, default 0.12
        Standard deviation of the permanent workspace baselines (logit scale).
    signal_ar : float, default 0.6
        AR(1) coefficient of the weekly signal shared by all workspaces.
    signal_sd : float, default 0.15
        Innovation standard deviation of the shared signal (logit scale).
    noise_sd : float, default 0.05
        Standard deviation of independent workspace-by-week shocks (logit scale).
    concurrent_shock : float, default 0.0
        A change shipped to every workspace in week ``treat_week`` together with wave 1's
        upgrade (added to the completion probability of all users from that week on). It
        biases a naive before/after comparison but not a comparison with wave 2.

    Returns
    -------
    pandas.DataFrame
        One row per user, ``n_users`` rows, with the 16 columns (and dtypes) of the tutorial's
        ``synthetic_llm_logs.csv``:

        ``user_id`` (int64, 0..n_users-1), ``workspace_id`` (int64), ``engagement_tier``
        (str: light/medium/heavy), ``signup_week`` (int64), ``wave`` (int64, 1 or 2),
        ``treatment_week`` (int64, the workspace's upgrade week), ``treated_post`` (int64,
        ``signup_week >= treatment_week``), ``prompt_variant`` (int64 0/1, balanced),
        ``opt_in_agent_mode`` (int64 0/1), ``query_confidence`` (float64 in (0, 1)),
        ``routed_to_premium`` (int64 0/1), ``task_completed`` (int64 0/1), ``thumbs_up``
        (int64 0/1), ``session_minutes`` (float64), ``cost_usd`` (float64), ``retained_7d``
        (int64 0/1).

    Notes
    -----
    The model, with ``w`` a workspace, ``t`` a week and ``i`` a user of tier ``k``::

        eta_i = mu_k + a_w + lambda_w * s_t + e_wt + 0.10 prompt_i + 0.15 agent_i
                + 1.0 (confidence_i - 0.714)
        p_i   = clip(expit(eta_i) + effect * treated_post_i
                     + concurrent_shock * [t >= treat_week], 0, 1)
        task_completed_i ~ Bernoulli(p_i)

    * ``s_t``: the shared AR(1) signal, ``s_t = signal_ar * s_{t-1} + N(0, signal_sd^2)``,
      started from its stationary distribution (seasonality, market drift, ...);
    * ``lambda_w ~ N(1, 0.3^2)``: each workspace's exposure to it;
    * ``a_w ~ N(0, workspace_sd^2)``: permanent workspace baselines; workspaces also differ in
      their mix of engagement tiers (Dirichlet around 55/30/15 % light/medium/heavy);
    * ``e_wt ~ N(0, noise_sd^2)``: workspace-by-week shocks.

    Everything entering ``eta`` is independent of the treatment, so the mean of
    ``task_completed`` among treated-post users exceeds its untreated counterfactual by exactly
    ``effect`` in expectation, as long as the clip to [0, 1] does not bind (with the defaults it
    binds for about one user in a million). An outcome-only synthetic control of wave 1's mean
    (weeks 0-29, pre-period 0-19, wave-2 workspaces as donors) fits the pre-period to about
    1.5 pp RMSE (0.5-2.5 pp across seeds) and recovers ``effect`` on average over seeds (mean
    gap 0.050 over 500 seeds, sd 0.017 per seed); the naive before/after change of wave 1 is
    as accurate on average but noisier (sd 0.027), because it absorbs the shared signal.

    Examples
    --------
    >>> from synthcontrol.datasets import make_rollout_logs
    >>> df = make_rollout_logs(seed=1, n_users=10_000)
    >>> df.shape
    (10000, 16)
    >>> bool((df.treated_post == (df.signup_week >= df.treatment_week)).all())
    True
    """
    from ._validate import check_count, check_number, check_seed
    seed = check_seed("seed", seed, allow_generator=True)
    n_users = check_count("n_users", n_users, 1)
    n_workspaces = check_count("n_workspaces", n_workspaces, 2)
    n_weeks = check_count("n_weeks", n_weeks, 1)
    treat_week = check_count("treat_week", treat_week, 0)
    wave2_week = check_count("wave2_week", wave2_week, 0)
    for pname, val in (("effect", effect), ("concurrent_shock", concurrent_shock)):
        check_number(pname, val, low=-1, high=1)  # a probability difference
    for pname, val in (("workspace_sd", workspace_sd), ("signal_sd", signal_sd), ("noise_sd", noise_sd)):
        check_number(pname, val, low=0)
    check_number("signal_ar", signal_ar, low=-1, high=1, low_open=True, high_open=True)

    rng = np.random.default_rng(seed)
    W, T, n = n_workspaces, n_weeks, n_users

    # workspaces: waves, upgrade weeks, baselines, exposure, tier mix
    wave_ws = np.where(np.arange(W) < W // 2, 1, 2).astype(np.int64)
    tweek_ws = np.where(wave_ws == 1, treat_week, wave2_week).astype(np.int64)
    base_ws = rng.normal(0.0, workspace_sd, W)
    load_ws = rng.normal(1.0, 0.3, W)
    mix_ws = rng.dirichlet(60.0 * _TIER_SHARE, size=W)  # (W, 3)

    # the shared weekly AR(1) signal and the workspace-by-week shocks
    innov = rng.normal(0.0, signal_sd, T)
    signal = np.empty(T)
    signal[0] = innov[0] / np.sqrt(1.0 - signal_ar**2)
    for t in range(1, T):
        signal[t] = signal_ar * signal[t - 1] + innov[t]
    shock_wt = rng.normal(0.0, noise_sd, (W, T))

    # users
    ws = rng.integers(0, W, n)
    week = rng.integers(0, T, n)
    cum = np.cumsum(mix_ws, axis=1)[ws]  # (n, 3)
    tier = (rng.random(n)[:, None] > cum[:, :2]).sum(axis=1)  # 0 light, 1 medium, 2 heavy
    prompt = rng.permutation(np.arange(n) % 2)
    agent = (rng.random(n) < np.array([0.18, 0.32, 0.50])[tier]).astype(np.int64)
    conf = rng.beta(5.0, 2.0, n)

    treated_post = (week >= tweek_ws[ws]).astype(np.int64)
    eta = (
        _TIER_LOGIT[tier]
        + base_ws[ws]
        + load_ws[ws] * signal[week]
        + shock_wt[ws, week]
        + 0.10 * prompt
        + 0.15 * agent
        + 1.0 * (conf - 5.0 / 7.0)
    )
    p = _expit(eta) + effect * treated_post + concurrent_shock * (week >= treat_week)
    p = np.clip(p, 0.0, 1.0)
    task = (rng.random(n) < p).astype(np.int64)

    # downstream columns (consequences of the session; none feeds back into task_completed)
    premium = (rng.random(n) < _expit(1.15 + 3.0 * (5.0 / 7.0 - conf) + 0.6 * agent)).astype(np.int64)
    thumbs = (rng.random(n) < 0.15 + 0.65 * task).astype(np.int64)
    minutes = rng.gamma(12.0, np.array([5.0, 6.5, 8.0])[tier] / 12.0)
    minutes = np.round(np.clip(minutes + 1.0 * agent, 0.5, None), 2)
    cost = minutes * (0.0018 + 0.0018 * premium) * np.exp(rng.normal(0.0, 0.1, n))
    cost = np.round(np.maximum(cost, 0.001), 4)
    retained = (
        rng.random(n) < _expit(-0.2 + 0.9 * task + np.array([0.0, 0.35, 0.7])[tier])
    ).astype(np.int64)

    return pd.DataFrame(
        {
            "user_id": np.arange(n, dtype=np.int64),
            "workspace_id": ws.astype(np.int64),
            "engagement_tier": pd.array(_TIERS[tier], dtype="str"),
            "signup_week": week.astype(np.int64),
            "wave": wave_ws[ws],
            "treatment_week": tweek_ws[ws],
            "treated_post": treated_post,
            "prompt_variant": prompt.astype(np.int64),
            "opt_in_agent_mode": agent,
            "query_confidence": np.round(conf, 4),
            "routed_to_premium": premium,
            "task_completed": task,
            "thumbs_up": thumbs,
            "session_minutes": minutes,
            "cost_usd": cost,
            "retained_7d": retained,
        }
    )

