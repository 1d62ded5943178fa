/* Exact primal active-set solver for  min c'l  s.t.  l >= 0, sum(l) = m, ||M l - a|| <= R.
 *
 * This is the small conic programme of SCPI's in-sample simulation (Cattaneo, Feng & Titiunik 2021)
 * after the change of variables l = x - lb: a linear objective over the simplex cut by a ball in the
 * image space of M (r x J, r = rank of the donors' Gram matrix).  The python wrapper is
 * synthcontrol/solvers/ballsimplex.py; the generic conic solver (Clarabel) is the fallback and the
 * cross-check.
 *
 * Method.  On a support S (k indices), the problem without the bounds is a linear objective over an
 * ellipsoid in the (k-1)-dimensional affine plane {sum l_S = m}: closed form.  From a feasible point,
 * move towards that optimum; if a coordinate reaches 0 first, drop it and repeat; at the optimum of
 * S, price the other indices with the multipliers (mu of the ball, nu of the sum) and add the most
 * negative reduced cost.  The objective decreases strictly at every new support optimum, so the
 * method is finite.  On return the KKT conditions are checked; any doubt (a degenerate slice, a
 * singular plane, the iteration cap, a KKT residual above tolerance) gives a nonzero status and the
 * caller re-solves that programme with the conic solver.
 *
 * No Python API: plain C called through ctypes (the module init below only satisfies the build).
 */
#include <math.h>
#ifdef BS_DEBUG
#include <stdio.h>
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif
#include <stdlib.h>
#include <string.h>

/* Cholesky of the n x n matrix H (row-major, in place, lower).  Returns 0 on success. */
static int chol(double *H, int n) {
    for (int j = 0; j < n; j++) {
        double d = H[j * n + j];
        for (int p = 0; p < j; p++) d -= H[j * n + p] * H[j * n + p];
        if (!(d > 0.0)) return 1;
        d = sqrt(d);
        H[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = H[i * n + j];
            for (int p = 0; p < j; p++) s -= H[i * n + p] * H[j * n + p];
            H[i * n + j] = s / d;
        }
    }
    return 0;
}

/* Solve (L L') x = b in place (L from chol). */
static void chol_solve(const double *L, int n, double *b) {
    for (int i = 0; i < n; i++) {
        double s = b[i];
        for (int p = 0; p < i; p++) s -= L[i * n + p] * b[p];
        b[i] = s / L[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int p = i + 1; p < n; p++) s -= L[p * n + i] * b[p];
        b[i] = s / L[i * n + i];
    }
}

/* One programme.  Mt: J x r row-major (row j = column j of M).  l: in = a feasible start, out =
 * the solution.  Returns the status (0 = optimal and KKT-checked) and writes the value and the
 * relative KKT residual. */
static int solve_one(int J, int r, const double *Mt, const double *a, double R, double m,
                     const double *c, double *l, double *value, double *kkt, int maxit,
                     int *S, int *inS, double *work) {
    double *B = work;                 /* (J) x r   : columns b_i = m_{S_i} - m_ref, stored by row */
    double *H = B + (size_t)J * r;    /* J x J     */
    double *z = H + (size_t)J * J;    /* J         */
    double *h = z + J;                /* J         */
    double *e = h + J;                /* r         */
    double *res = e + r;              /* r         */
    double *ls = res + r;             /* J         : candidate l on S */
    double *Be = ls + J;              /* J         : B'e */
    double *ch = Be + J;              /* J         : c-hat */
    int k = 0;
    for (int j = 0; j < J; j++) {
        inS[j] = 0;
        if (l[j] > 0.0) { S[k++] = j; inS[j] = 1; }
    }
    double cmax = 0.0;
    for (int j = 0; j < J; j++) if (fabs(c[j]) > cmax) cmax = fabs(c[j]);
    double mnorm = 0.0;
    for (int j = 0; j < J; j++) {
        double s = 0.0;
        for (int i = 0; i < r; i++) s += Mt[j * r + i] * Mt[j * r + i];
        if (s > mnorm) mnorm = s;
    }
    mnorm = sqrt(mnorm);
    double mu = 0.0, nu = 0.0;
    {
        /* a ball of (numerically) zero radius makes the problem an LP on the null space of M:
         * not this method's business; nor are non-finite inputs */
        double an = 0.0;
        for (int i = 0; i < r; i++) an += a[i] * a[i];
        /* below 1e-5 of the data's scale, rounding (1e-16 of the scale squared) is no longer small
         * against R^2, and "inside" cannot be told from "on" the sphere: the conic solver, posed
         * in scaled coordinates, takes over */
        if (!(R > 1e-5 * (sqrt(an) + m * mnorm))) return 7;
        if (!isfinite(an) || !isfinite(R) || !isfinite(m)) return 9;
        for (int j = 0; j < J; j++) if (!isfinite(c[j]) || !isfinite(l[j])) return 9;
    }
    for (int it = 0; it < maxit; it++) {
        TRACE("it %d k %d\n", it, k);
        if (k < 1) return 2;
        if (k == 1) {
            /* a vertex m e_j0.  Reduced costs zeta_i(mu) = alpha_i + mu beta_i with
             * alpha_i = c_i - c_j0 and beta_i = 2 (m_i - m_j0)'(M l - a). */
            int j0 = S[0];
            const double *mj0 = Mt + (size_t)j0 * r;
            double rr = 0.0;
            for (int i = 0; i < r; i++) { res[i] = m * mj0[i] - a[i]; rr += res[i] * res[i]; }
            double an = 0.0;
            for (int i = 0; i < r; i++) an += a[i] * a[i];
            double sc2 = R * R + an + m * m * mnorm * mnorm;  /* rounding in rr is relative to this */
            if (rr > R * R + 1e-12 * sc2) return 2;           /* infeasible start: cannot happen */
            int inside = rr < R * R - 1e-12 * sc2;
            l[j0] = m;
            double rn = sqrt(rr);
            double tol = 1e-11 * (cmax + rn * mnorm) + 1e-300;
            double mulo = 0.0, muhi = inside ? 0.0 : INFINITY, amin = 0.0, bmin = 0.0;
            int ia = -1, ib = -1, ok = 1;
            for (int j = 0; j < J; j++) {
                if (j == j0) continue;
                const double *mj = Mt + (size_t)j * r;
                double be = 0.0;
                for (int i = 0; i < r; i++) be += (mj[i] - mj0[i]) * res[i];
                be *= 2.0;
                double al = c[j] - c[j0];
                if (al < amin) { amin = al; ia = j; }
                if (be < bmin) { bmin = be; ib = j; }
                if (fabs(be) <= 1e-14 * (rn * mnorm + 1e-300)) { if (al < -tol) ok = 0; }
                else if (be > 0) { double t = -al / be; if (t > mulo) mulo = t; }
                else { double t = -al / be; if (t < muhi) muhi = t; }
            }
            (void)ib;
            if (inside) ok = ok && (amin >= -tol);
            else ok = ok && (mulo <= muhi * (1.0 + 1e-9) + 1e-300);
            if (ok) {
                *value = c[j0] * m;
                *kkt = 0.0;
                return 0;
            }
            TRACE("  vertex %d inside %d mulo %g muhi %g amin %g bmin %g ia %d ib %d\n", j0, inside, mulo, muhi, amin, bmin, ia, ib);
            if (inside) {
                S[k++] = ia; inS[ia] = 1; l[ia] = 0.0;
                continue;
            }
            /* on the sphere, not optimal: leave the vertex along a strictly inward descent
             * direction (the best single edge with beta < 0, alpha < 0, or the best pair of edges
             * mixing an inward one with a descending one, tilted inward), with the longest step
             * the ball and the simplex allow; the objective strictly decreases, so the vertex is
             * never revisited */
            int ti = -1, tk = -1;
            double best = 0.0, wi = 1.0, wk = 0.0;
            for (int j = 0; j < J; j++) {
                if (j == j0) continue;
                const double *mj = Mt + (size_t)j * r;
                double bj = 0.0;
                for (int i = 0; i < r; i++) bj += (mj[i] - mj0[i]) * res[i];
                h[j] = 2.0 * bj;                        /* beta_j (h is free here, size J) */
                z[j] = c[j] - c[j0];                    /* alpha_j (z has J entries too) */
            }
            for (int j = 0; j < J; j++) {
                if (j == j0 || !(h[j] < 0.0)) continue;
                if (z[j] < best) { best = z[j]; ti = j; tk = -1; wi = 1.0; wk = 0.0; }
                for (int q = 0; q < J; q++) {
                    if (q == j0 || !(h[q] >= 0.0) || !(z[q] < 0.0) || !(z[j] >= 0.0)) continue;
                    double v = (z[j] * h[q] - z[q] * h[j]) / (h[q] - h[j]);
                    if (v < 0.0) {
                        double tj = h[q] / (h[q] - h[j]), tq = -h[j] / (h[q] - h[j]);
                        double tau = v / (2.0 * (v - z[j]));    /* keeps half the descent */
                        double val = 0.5 * v;
                        if (val < best) { best = val; ti = j; tk = q; wi = (1.0 - tau) * tj + tau; wk = (1.0 - tau) * tq; }
                    }
                }
            }
            if (ti < 0 || !(best < -tol)) return 6;
            double md2 = 0.0, bd = wi * h[ti] + (tk >= 0 ? wk * h[tk] : 0.0);
            for (int i = 0; i < r; i++) {
                double v = wi * (Mt[(size_t)ti * r + i] - mj0[i]);
                if (tk >= 0) v += wk * (Mt[(size_t)tk * r + i] - mj0[i]);
                md2 += v * v;
            }
            if (!(bd < 0.0) || !(md2 > 0.0)) return 6;
            double step = -bd / md2;
            if (step > m) step = m;
            l[j0] = m - step;
            l[ti] = step * wi;
            S[0] = ti; inS[ti] = 1; k = 1;
            if (tk >= 0) { l[tk] = step * wk; S[k++] = tk; inS[tk] = 1; }
            if (l[j0] > 1e-15 * m) S[k++] = j0; else { l[j0] = 0.0; inS[j0] = 0; }
            continue;
        }
        int ref = S[k - 1], n = k - 1;
        const double *mref = Mt + (size_t)ref * r;
        /* the plane is parametrised around the current (feasible) point: l_S + N z, so
         * e = a - M_S l_S is the residual there, ||e|| <= R, and R^2 - ||e - B z_c||^2 suffers no
         * cancellation from a distant reference point */
        for (int i = 0; i < r; i++) e[i] = a[i];
        for (int q = 0; q < k; q++) {
            const double *mj = Mt + (size_t)S[q] * r;
            double lq = l[S[q]];
            for (int i = 0; i < r; i++) e[i] -= lq * mj[i];
        }
        for (int q = 0; q < n; q++) {
            const double *mj = Mt + (size_t)S[q] * r;
            for (int i = 0; i < r; i++) B[q * r + i] = mj[i] - mref[i];
        }
        for (int p = 0; p < n; p++)
            for (int q = 0; q <= p; q++) {
                double s = 0.0;
                for (int i = 0; i < r; i++) s += B[p * r + i] * B[q * r + i];
                H[p * n + q] = s;
                H[q * n + p] = s;
            }
        double ee = 0.0;
        for (int i = 0; i < r; i++) ee += e[i] * e[i];
        for (int p = 0; p < n; p++) {
            double s = 0.0;
            for (int i = 0; i < r; i++) s += B[p * r + i] * e[i];
            z[p] = s;                              /* B'e, then the least-squares centre */
            h[p] = c[S[p]] - c[ref];               /* c-hat, then H^-1 c-hat */
        }
        if (chol(H, n)) return 3;
        for (int p = 0; p < n; p++) { Be[p] = z[p]; ch[p] = h[p]; }
        chol_solve(H, n, z);                       /* z = H^-1 B'e: the least-squares centre */
        chol_solve(H, n, h);                       /* h = H^-1 c-hat */
        double res2 = ee;
        for (int p = 0; p < n; p++) res2 -= Be[p] * z[p];
        double rho2 = R * R - res2;
        double qv = 0.0;
        for (int p = 0; p < n; p++) qv += ch[p] * h[p];
        double scale = cmax > 0 ? cmax : 1.0;
        if (!(qv > 1e-28 * scale * scale)) {
            /* the objective is constant on the plane: the current point is optimal on S */
            mu = 0.0;
            for (int q = 0; q < k; q++) ls[q] = l[S[q]];
        } else {
            if (rho2 < 0.0) rho2 = 0.0;
            double rho = sqrt(rho2);
            if (!(rho > 1e-13 * (R > 0 ? R : 1.0))) return 4;   /* degenerate slice */
            double sq = sqrt(qv);
            mu = sq / (2.0 * rho);
            double sumz = 0.0;
            for (int p = 0; p < n; p++) {
                double zp = z[p] - rho * h[p] / sq;
                ls[p] = l[S[p]] + zp;
                sumz += zp;
            }
            ls[n] = l[S[n]] - sumz;
        }
        /* any negative coordinate: step towards the candidate until the first one reaches 0 */
        double alpha = 1.0;
        int drop = -1;
        for (int q = 0; q < k; q++) {
            double cur = l[S[q]], d = ls[q] - cur;
            if (ls[q] < 0.0 && d < 0.0) {
                double t = cur / (-d);
                if (t < alpha) { alpha = t; drop = q; }
            }
        }
        if (drop >= 0) {
            TRACE("  drop %d alpha %g\n", S[drop], alpha);
            for (int q = 0; q < k; q++) {
                int j = S[q];
                l[j] += alpha * (ls[q] - l[j]);
            }
            /* drop every coordinate at (or numerically below) zero, the blocking one always */
            int kk = 0;
            for (int q = 0; q < k; q++) {
                int j = S[q];
                if (q == drop || l[j] <= 1e-15 * m) { l[j] = 0.0; inS[j] = 0; }
                else S[kk++] = j;
            }
            k = kk;
            continue;
        }
        for (int q = 0; q < k; q++) l[S[q]] = ls[q];
        /* pricing: zeta_j = c_j + 2 mu m_j'(M l - a) - nu */
        for (int i = 0; i < r; i++) res[i] = -a[i];
        for (int q = 0; q < k; q++) {
            const double *mj = Mt + (size_t)S[q] * r;
            for (int i = 0; i < r; i++) res[i] += l[S[q]] * mj[i];
        }
        nu = 0.0;
        for (int q = 0; q < k; q++) {
            const double *mj = Mt + (size_t)S[q] * r;
            double s = 0.0;
            for (int i = 0; i < r; i++) s += mj[i] * res[i];
            nu += c[S[q]] + 2.0 * mu * s;
        }
        nu /= k;
        double rn = 0.0;
        for (int i = 0; i < r; i++) rn += res[i] * res[i];
        rn = sqrt(rn);
        double tol = 1e-11 * (cmax + 2.0 * mu * rn * mnorm) + 1e-300;
        double zmin = 0.0;
        int jmin = -1;
        for (int j = 0; j < J; j++) {
            if (inS[j]) continue;
            const double *mj = Mt + (size_t)j * r;
            double s = 0.0;
            for (int i = 0; i < r; i++) s += mj[i] * res[i];
            double zeta = c[j] + 2.0 * mu * s - nu;
            if (zeta < zmin) { zmin = zeta; jmin = j; }
        }
        if (jmin < 0 || zmin >= -tol) {
            /* optimal: the KKT residuals, relative */
            double v = 0.0, sum = 0.0, lmin = 0.0, statmax = 0.0;
            for (int q = 0; q < k; q++) {
                int j = S[q];
                v += c[j] * l[j];
                sum += l[j];
                if (l[j] < lmin) lmin = l[j];
                const double *mj = Mt + (size_t)j * r;
                double s = 0.0;
                for (int i = 0; i < r; i++) s += mj[i] * res[i];
                double st = fabs(c[j] + 2.0 * mu * s - nu);
                if (st > statmax) statmax = st;
            }
            double ball = (rn * rn - R * R) / (R * R > 0 ? R * R : 1.0);
            double den = cmax + 2.0 * mu * rn * mnorm + 1e-300;
            double k1 = statmax / den, k2 = (-zmin > 0 ? -zmin : 0.0) / den;
            double k3 = fabs(sum - m) / (m > 0 ? m : 1.0), k4 = (-lmin) / (m > 0 ? m : 1.0);
            double k5 = ball > 0 ? ball : 0.0;
            double kk = k1;
            if (k2 > kk) kk = k2;
            if (k3 > kk) kk = k3;
            if (k4 > kk) kk = k4;
            if (k5 > kk) kk = k5;
            /* complementary slackness of the ball: mu > 0 needs the ball active */
            if (mu > 0.0) {
                double act = fabs(rn * rn - R * R) / (R * R > 0 ? R * R : 1.0);
                if (act > kk) kk = act;
            }
            *value = v;
            *kkt = kk;
            return 0;
        }
        TRACE("  add %d zeta %g mu %g\n", jmin, zmin, mu);
        S[k++] = jmin;
        inS[jmin] = 1;
        l[jmin] = 0.0;
    }
    return 5;                                      /* iteration cap */
}

/* The interface revision: the Python loader refuses a library built from another revision. */
int ballsimplex_abi(void) { return 2; }

/* The batch: n_draws x n_obj programmes.  A: n_draws x r, R: n_draws, C: n_obj x J, lam0: J.
 * Outputs n_draws x n_obj: value, status, kkt.  Returns 0, or -1 if memory ran out. */
int ballsimplex_batch(int J, int r, const double *Mt, int n_draws, const double *A, const double *R,
                      double m, const double *lam0, int n_obj, const double *C, int maxit,
                      double *value, int *status, double *kkt) {
    int *S = (int *)malloc(sizeof(int) * 2 * (size_t)J);
    double *l = (double *)malloc(sizeof(double) * (size_t)J);
    double *work = (double *)malloc(sizeof(double) * ((size_t)J * r + (size_t)J * J + 5 * (size_t)J + 2 * (size_t)r + 8));
    if (!S || !l || !work) { free(S); free(l); free(work); return -1; }
    int *inS = S + J;
    for (int d = 0; d < n_draws; d++) {
        for (int o = 0; o < n_obj; o++) {
            memcpy(l, lam0, sizeof(double) * (size_t)J);
            size_t idx = (size_t)d * n_obj + o;
            value[idx] = NAN;
            kkt[idx] = NAN;
            status[idx] = solve_one(J, r, Mt, A + (size_t)d * r, R[d], m, C + (size_t)o * J, l,
                                    value + idx, kkt + idx, maxit, S, inS, work);
        }
    }
    free(S);
    free(l);
    free(work);
    return 0;
}

/* Built as a Python extension module only so that setuptools compiles it; it is loaded with ctypes. */
#ifdef SYNTHCONTROL_BUILD_PYMODULE
#include <Python.h>
static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_ballsimplex", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__ballsimplex(void) { return PyModule_Create(&moddef); }
#endif
