"""The documentation site: it builds offline with warnings as errors, and every page opens in a
headless browser (Debian's chromium through chromedriver) without console errors, with its figures
loaded and its content rendered.

Off CI a missing tool (mkdocs, selenium, chromium) skips these tests; under CI it fails them.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _clean_env() -> dict:
    """The environment without what rpy2 adds when the cross-language tests are collected in this
    process: its LD_LIBRARY_PATH makes a child Python load the system's libpython (and can do the same
    to chromium's libraries); a reader's shell has neither."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "R_HOME")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


def _need(what: str, ok: bool):
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not available in CI (pip install '.[test]'; apt-get install chromium chromium-driver)")
    pytest.skip(f"{what} not available")


def _has_module(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``mkdocs build --strict`` of the checkout's mkdocs.yml into a temporary directory."""
    _need("mkdocs", _has_module("mkdocs") and _has_module("mkdocstrings"))
    out = tmp_path_factory.mktemp("site")
    env = _clean_env()
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                          "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{log[-4000:]}"
    assert "WARNING" not in log, log[-4000:]
    return out


def _pages(site: Path) -> list[str]:
    return sorted("" if p.parent == site else p.parent.relative_to(site).as_posix() for p in site.rglob("index.html")
                  if "assets" not in p.parts and "search" not in p.parts)


def test_every_docs_page_is_on_the_site(site):
    pages = set(_pages(site))
    md = {p.relative_to(ROOT / "docs").with_suffix("").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    expected = {"" if m == "index" else m for m in md}
    assert expected <= pages, f"pages missing from the site: {sorted(expected - pages)}"
    # the API reference is generated from the docstrings
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("SyntheticControl", "Panel", "parallel_backend", "SyntheticDesign", "SynthWarning"):
        assert name in api, name
    assert "Parameters" in api  # the numpy-style sections were parsed
    # Sphinx roles in the docstrings (:class:`Panel`) render as code, not as ":class:Panel"
    import re
    roles = re.findall(r":(?:class|func|meth|attr|data|mod|exc):<code>[^<]*", api)
    assert not roles, roles[:5]


@pytest.fixture(scope="module")
def browser():
    _need("selenium", _has_module("selenium"))
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    _need("chromium and chromedriver", bool(chromium and driver))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    opts.binary_location = chromium
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver, env=_clean_env()), options=opts)
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on loopback (the search index is fetched, which file:// would block)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()


def test_pages_open_in_chromium_without_errors(site, served, browser):
    problems = []
    n_img = 0
    for page in _pages(site):
        browser.get(served + (page + "/" if page else ""))
        state = browser.execute_script(
            "return {imgs: Array.from(document.images).map(i => [i.getAttribute('src'), "
            "i.complete && i.naturalWidth > 0]), h1: document.querySelectorAll('h1').length, "
            "text: document.body.innerText.length}")
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        broken = [src for src, ok in state["imgs"] if not ok]
        n_img += len(state["imgs"])
        if errors:
            problems.append(f"{page or 'index'}: console errors {errors[:3]}")
        if broken:
            problems.append(f"{page or 'index'}: figures that did not load {broken}")
        if state["h1"] < 1 or state["text"] < 200:
            problems.append(f"{page or 'index'}: no rendered content (h1 {state['h1']}, {state['text']} chars)")
    assert not problems, "\n".join(problems)
    assert n_img >= 10  # the figures of the pages were seen (a check that could not pass vacuously)


def test_a_missing_figure_is_caught(site, served, browser, tmp_path):
    """The browser check can fail: a page pointing at a figure that does not exist is reported."""
    bad = site / "broken_probe"
    bad.mkdir(exist_ok=True)
    (bad / "index.html").write_text("<html><body><h1>probe</h1><img src='nope.png'></body></html>")
    try:
        browser.get(served + "broken_probe/")
        ok = browser.execute_script("return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert ok == [False]
        assert any(e["level"] == "SEVERE" for e in browser.get_log("browser"))
    finally:
        shutil.rmtree(bad)
