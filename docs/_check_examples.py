"""Run the Python examples of the docs pages and report pass/fail per page.

Usage (from the repository root)::

    .venv/bin/python docs/_check_examples.py                 # every docs/*.md
    .venv/bin/python docs/_check_examples.py outcome_only cli.md
    .venv/bin/python docs/_check_examples.py --diff          # also compare with the shown output
    .venv/bin/python docs/_check_examples.py --list          # the blocks found; nothing is run

Every fenced ```python block of a page (also an indented one, inside a list item) is extracted
and the page's blocks are run in order, in one fresh interpreter per page, sharing one namespace
(a later block may use what an earlier one defined, as a reader running the page would). Each
page runs

* in a new, empty temporary working directory (removed afterwards), so an example cannot rely on
  a file beside it, and whatever it writes to a relative path lands there, not in the checkout;
* with ``MPLBACKEND=Agg``, the checkout's ``python/`` folder first on ``PYTHONPATH`` (the code
  under test is the checkout's, installed or not), and ``SYNTHCONTROL_DATA`` removed from the
  environment, so data must come from the copies packaged with synthcontrol.

A block whose fence is immediately preceded by a line ``<!-- no-run -->`` (blank lines between
are allowed) is skipped: use it only for deliberately illustrative code (a signature, a sketch
with placeholders, code that shows an error). A page fails when a block raises, when the page
times out (``--timeout``), or when running it changed, created or deleted a file under ``docs/``
other than the pages themselves (a figure written into ``docs/img`` by absolute path, say).

``--diff`` also prints, for each block followed directly by a ```text block, where the block's
printed output differs from the text shown; this is information, not a failure (timings and
simulated numbers may legitimately differ). Exit status: 0 when every page passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")

# Runs inside the fresh interpreter: exec each block in one namespace, stop at the first failure.
_DRIVER = r'''
import contextlib, io, json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__main__"}
outputs = []


class Tee(io.StringIO):
    def write(self, s):
        sys.__stdout__.write(s)
        return super().write(s)


def save():
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(outputs, fh)


for b in blocks:
    print(f"--- block at line {b['line']}", flush=True)
    buf = Tee()
    try:
        code = compile(b["code"], f"{b['page']}:{b['line']}", "exec")
        with contextlib.redirect_stdout(buf):
            exec(code, ns)
    except BaseException:
        outputs.append({"line": b["line"], "stdout": buf.getvalue()})
        save()
        sys.stdout.flush()
        print(f"@@FAILED {b['line']}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    finally:
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except Exception:
            pass
    outputs.append({"line": b["line"], "stdout": buf.getvalue()})
save()
'''


def _fences(lines):
    """Every fenced block: ``(info, indent, first_line_index, body_lines, end_index)``."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks = m["ticks"]
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(ticks)
                                      and set(lines[j].strip()) <= set(ticks[0])):
            j += 1
        yield m["info"].lower(), m["indent"], i, lines[i + 1:j], j
        i = j + 1


def extract_blocks(path: Path) -> list[dict]:
    """The ```python blocks of a Markdown file, in page order: ``{"line", "code", "skip",
    "expected"}`` (``line``: 1-based line of the block's first code line; ``expected``: the
    ```text block that directly follows, blank lines aside, else None)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fences = list(_fences(lines))
    blocks = []
    for n, (info, indent, start, body, end) in enumerate(fences):
        if info not in ("python", "py", "python3"):
            continue
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = k >= 0 and lines[k].strip() == NO_RUN
        code = textwrap.dedent("\n".join(body)) if indent else "\n".join(body)
        expected = None
        if n + 1 < len(fences) and fences[n + 1][0] == "text" and \
                not any(l.strip() for l in lines[end + 1:fences[n + 1][2]]):
            ind = fences[n + 1][1]  # strip the fence's own indent only: output may start with spaces
            expected = "\n".join(l[len(ind):] if l.startswith(ind) else l.lstrip() for l in fences[n + 1][3])
        blocks.append({"line": start + 2, "code": code + "\n", "skip": skip, "expected": expected})
    return blocks


def _snapshot(folder: Path) -> dict:
    """Size and mtime of every file under ``folder`` but the pages themselves (which may be
    edited while the checker runs)."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".md":
            st = p.stat()
            out[str(p.relative_to(ROOT))] = (st.st_size, st.st_mtime_ns)
    return out


def run_page(path: Path, python: str, timeout: float) -> dict:
    """Run one page's blocks; returns a dict with ``status`` (pass / fail / no examples),
    ``detail``, ``seconds``, ``stdout``, ``traceback`` and ``outputs`` (per block)."""
    blocks = extract_blocks(path)
    run = [dict(b, page=path.name) for b in blocks if not b["skip"]]
    result = {"page": path.name, "blocks": len(blocks), "skipped": len(blocks) - len(run),
              "status": "pass", "detail": "", "seconds": 0.0, "outputs": [], "run": run}
    if not run:
        result["status"] = "no examples" if not blocks else "pass"
        return result
    work = Path(tempfile.mkdtemp(prefix=f"docs-{path.stem}-"))
    # the driver's own files live outside the examples' working directory
    meta = Path(tempfile.mkdtemp(prefix=f"docs-{path.stem}-meta-"))
    (meta / "blocks.json").write_text(json.dumps(run), encoding="utf-8")
    (meta / "driver.py").write_text(_DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SYNTHCONTROL_DATA"}
    env["MPLBACKEND"] = "Agg"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python")] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = _snapshot(DOCS)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, str(meta / "driver.py"), str(meta / "blocks.json"),
                               str(meta / "outputs.json")], cwd=work, env=env,
                              capture_output=True, text=True, timeout=timeout)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        so = e.stdout or ""
        rc, out, err = None, so.decode() if isinstance(so, bytes) else so, ""
    result["seconds"] = time.perf_counter() - t0
    after = _snapshot(DOCS)
    try:
        result["outputs"] = json.loads((meta / "outputs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(meta, ignore_errors=True)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    result["stdout"], result["traceback"] = out, err
    if rc is None:
        result["status"] = "fail"
        result["detail"] = f"timed out after {timeout:g} s"
    elif rc != 0:
        m = re.search(r"@@FAILED (\d+)", err)
        where = f"block at line {m.group(1)}" if m else "driver"
        tb = err.split("@@FAILED", 1)[-1].strip().splitlines()
        last = next((l for l in reversed(tb) if l.strip()), "")
        result["status"] = "fail"
        result["detail"] = f"{where}: {last}"
    if changed:
        result["status"] = "fail"
        result["detail"] = (result["detail"] + "; " if result["detail"] else "") + \
            "changed files in the checkout: " + ", ".join(changed)
    return result


def _diffs(result) -> list[str]:
    """Unified diffs between each block's output and the ```text block shown after it."""
    got = {o["line"]: o["stdout"] for o in result["outputs"]}
    out = []
    for b in result["run"]:
        if b["expected"] is None or b["line"] not in got:
            continue
        want = b["expected"].rstrip().splitlines()
        have = got[b["line"]].rstrip().splitlines()
        if [l.rstrip() for l in want] != [l.rstrip() for l in have]:
            out.append(f"{result['page']}:{b['line']}: output differs from the text block shown\n" + "\n".join(
                difflib.unified_diff(want, have, "shown", "printed", lineterm="", n=1)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="*", help="page names (outcome_only, cli.md, ...); default: every docs/*.md")
    ap.add_argument("--python", default=sys.executable, help="interpreter to run the examples with")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per page (default 900)")
    ap.add_argument("--list", action="store_true", help="list the blocks found; run nothing")
    ap.add_argument("--diff", action="store_true",
                    help="also show where a block's output differs from the ```text block after it "
                         "(informational: timings and simulated numbers may differ; never a failure)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the examples' output and tracebacks")
    args = ap.parse_args(argv)
    if args.pages:
        pages = [DOCS / (p if p.endswith(".md") else p + ".md") for p in args.pages]
        missing = [str(p) for p in pages if not p.is_file()]
        if missing:
            ap.error(f"no such page: {', '.join(missing)}")
    else:
        pages = sorted(DOCS.glob("*.md"))
    if args.list:
        for p in pages:
            for b in extract_blocks(p):
                print(f"{p.name}:{b['line']}{'  (no-run)' if b['skip'] else ''}  "
                      f"{len(b['code'].splitlines())} lines"
                      + ("  (+ text block)" if b["expected"] is not None else ""))
        return 0
    results = []
    for p in pages:
        print(f"{p.name} ...", end=" ", flush=True)
        r = run_page(p, args.python, args.timeout)
        results.append(r)
        extra = f" ({r['skipped']} skipped)" if r["skipped"] else ""
        print(f"{r['status'].upper()}  {r['blocks']} block(s){extra}, {r['seconds']:.1f} s"
              + (f"\n    {r['detail']}" if r["detail"] else ""), flush=True)
        if args.verbose:
            if r.get("stdout"):
                print(textwrap.indent(r["stdout"].rstrip(), "    | "))
            if r.get("traceback"):
                print(textwrap.indent(r["traceback"].rstrip(), "    ! "))
        elif r["status"] == "fail" and r.get("traceback"):
            tb = r["traceback"].split("@@FAILED", 1)[-1].split("\n", 1)[-1]  # after the marker line
            print(textwrap.indent(tb.rstrip(), "    ! "))
        if args.diff:
            for d in _diffs(r):
                print(textwrap.indent(d, "    ~ "))
    failed = [r["page"] for r in results if r["status"] == "fail"]
    print()
    print(f"{len(results) - len(failed)} of {len(results)} page(s) pass"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
