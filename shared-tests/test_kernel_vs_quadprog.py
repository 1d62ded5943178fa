"""The simplex least-squares kernel against R's quadprog, run live.

quadprog::solve.QP needs a positive-definite Hessian, so (as in the recorded
reference computation) a ridge of 1e-10 * mean(diag(X'X)) is added; its effect
on the objective is below ~1e-8 relative, which sets the tolerance.  We check:
our SSR is never worse than quadprog's beyond that tolerance, the fitted
values agree, and on problems with a unique solution (T > J, generic data) the
weights agree to 1e-6.  One Rscript call solves all problems (R start-up is
the slow part).
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from synthcontrol.solvers.simplex import simplex_ls

R_CODE = r"""
args <- commandArgs(trailingOnly = TRUE)
probs <- jsonlite::fromJSON(args[1], simplifyVector = FALSE)
out <- lapply(probs, function(p) {
  X <- matrix(unlist(p$X), nrow = p$T, byrow = TRUE); y <- unlist(p$y); J <- ncol(X)
  D <- crossprod(X); D <- D + diag(1e-10 * mean(diag(D)), J)
  s <- quadprog::solve.QP(D, drop(crossprod(X, y)), cbind(rep(1, J), diag(J)), c(1, rep(0, J)), meq = 1)
  w <- pmax(s$solution, 0); w / sum(w)
})
cat(jsonlite::toJSON(out, digits = NA))
"""


def _problems(seed=20261122):
    rng = np.random.default_rng(seed)
    probs = []
    for i in range(300):
        kind = i % 5
        T = int(rng.integers(5, 30))
        J = int(rng.integers(2, 40))
        if kind == 0:      # generic, tall: unique solution
            J = int(rng.integers(2, max(3, T - 1)))
        elif kind == 1:    # more donors than periods (singular Gram)
            J = T + int(rng.integers(1, 20))
        X = rng.normal(size=(T, J)).cumsum(axis=0) + rng.normal(scale=3, size=J)
        if kind == 2 and J > 2:   # duplicated donors
            X[:, 1] = X[:, 0]
        if kind == 3:      # target inside the hull: exact fit
            w = rng.dirichlet(np.ones(min(J, 3)))
            y = X[:, :len(w)] @ w
        else:
            y = rng.normal(size=T).cumsum() + rng.normal(scale=3)
        if kind == 4:
            X, y = 100 * X + 50, 100 * y + 50  # Prop-99-like scale
        probs.append((X, y, kind))
    return probs


@pytest.mark.against_r
def test_kernel_matches_quadprog(rscript_quadprog, tmp_path):
    probs = _problems()
    f = tmp_path / "probs.json"
    f.write_text(json.dumps([{"T": X.shape[0], "X": X.ravel().tolist(), "y": y.tolist()} for X, y, _ in probs]))
    script = tmp_path / "qp.R"
    script.write_text(R_CODE)
    run = subprocess.run([rscript_quadprog, str(script), str(f)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    wq = json.loads(run.stdout)
    n_unique = 0
    for (X, y, kind), w_r in zip(probs, wq):
        w_r = np.asarray(w_r, dtype=float)
        ours = simplex_ls(X, y)
        ssr_r = float(np.sum((y - X @ w_r) ** 2))
        scale = float(y @ y) + 1.0
        assert ours.ssr <= ssr_r + 1e-8 * scale, (kind, ours.ssr, ssr_r)
        assert ours.kkt_violation < 1e-9
        np.testing.assert_allclose(X @ ours.weights, X @ w_r, atol=1e-4 * np.sqrt(scale))
        if kind == 0 and np.linalg.matrix_rank(np.vstack([X, np.ones(X.shape[1])])) == X.shape[1]:
            n_unique += 1
            np.testing.assert_allclose(ours.weights, w_r, atol=1e-6)
    assert n_unique >= 40
