# SCPI prediction intervals, the leave-two-out placebo test and the debiased cross-fitting t-test
# on Prop 99 (outcome-only fit).  Gold numbers: Lei & Sudijono's outcome-only runs (naive p = 73/703,
# recorded in ../shared/reference/README.md); the t-test's ATT -17.9911214507 (scinference's algorithm,
# -17.991 as recorded; the fold fits cross-checked with Clarabel at 1e-12 tolerances).

test_that("lto() reproduces Lei & Sudijono's Prop 99 p = 73/703 and the powered p-value", {
  fit <- prop99_fit()
  l <- lto(fit)
  expect_s3_class(l, "synthcontrol_lto")
  expect_false(has_py_object(unclass(l)))
  expect_identical(l$p_value, 73 / 703)
  expect_identical(l$treated_losses, 73L)
  expect_identical(l$treated_wins, 630L)
  expect_identical(l$n_pairs, 703L)
  expect_identical(l$N, 39L)
  expect_false(l$subsampled)
  # powered p-value: p - c(39, 0.05) + 1e-10, c(39, 0.05) = 0.00216 (the paper's constant)
  expect_equal(l$powered_offset_c, 0.00216, tolerance = 1e-5 / 0.00216)
  expect_equal(l$p_powered, 73 / 703 - l$powered_offset_c + 1e-10, tolerance = 1e-14)
  expect_lt(abs(l$p_powered - 0.1016832623095779), 1e-12)
  expect_false(l$reject_at_alpha)
  expect_equal(l$type_i_bound, 2 / 39, tolerance = 1e-14)   # floor(39 f(39, 0.05)) / 39
  # the match table: one row per pair, the treated unit's losses add up
  tab <- as.data.frame(l)
  expect_identical(nrow(tab), 703L)
  expect_identical(names(tab), c("unit_i", "unit_j", "ratio_treated", "ratio_i", "ratio_j", "treated_wins"))
  expect_identical(sum(!tab$treated_wins), 73L)
  expect_output(print(l), "73 of 703")
  # summary() shows the same numbers
  s <- summary(fit, inf_type = "lto")
  expect_identical(s$lto$p_value, 73 / 703)
  out <- capture.output(print(s))
  expect_true(any(grepl("LTO p-value (naive)", out, fixed = TRUE)))
  expect_true(any(grepl("LTO p-value \\(powered\\) +0\\.1017", out)))
  expect_true(any(grepl("Type-I bound at alpha +0\\.0513", out)))
  expect_true(any(grepl("wins 630", out, fixed = TRUE)))
  # a seeded subset of the pairs
  sub <- lto(fit, max_pairs = 40, seed = 1)
  expect_true(sub$subsampled)
  expect_identical(sub$n_pairs, 40L)
  expect_identical(sub$n_pairs_total, 703L)
  expect_identical(sub$treated_losses + sub$treated_wins, 40L)
})

test_that("ttest(K = 3) gives the debiased ATT -17.9911214507, its se and interval", {
  fit <- prop99_fit()
  tt <- ttest(fit, K = 3)
  expect_s3_class(tt, "synthcontrol_ttest")
  expect_false(has_py_object(unclass(tt)))
  expect_lt(abs(tt$att - (-17.9911214507)), 1e-6)
  expect_lt(abs(tt$se - 1.5631), 1e-3)
  expect_lt(abs(tt$se - 1.5631569489), 1e-6)
  expect_identical(tt$df, 2L)
  expect_identical(tt$K, 3L)
  expect_identical(tt$r, 6L)
  # interval and p-value are Student-t with K - 1 degrees of freedom (computed here in R)
  q <- stats::qt(0.975, df = 2)
  expect_equal(tt$ci_lower, tt$att - q * tt$se, tolerance = 1e-12)
  expect_equal(tt$ci_upper, tt$att + q * tt$se, tolerance = 1e-12)
  expect_lt(abs(tt$ci_lower - (-24.7168429641)), 1e-6)
  expect_lt(abs(tt$ci_upper - (-11.2653999373)), 1e-6)
  expect_equal(tt$tstat, tt$att / tt$se, tolerance = 1e-12)
  expect_equal(tt$p_value, 2 * stats::pt(-abs(tt$tstat), df = 2), tolerance = 1e-10)
  # the folds: the last 18 pre-periods in blocks of 6; the debiased ATT is the mean tau, and
  # se = sqrt(1 + K r / T1) sd(tau) / sqrt(K)
  f <- as.data.frame(tt)
  expect_identical(nrow(f), 3L)
  expect_identical(f$held_out_start, c(1971L, 1977L, 1983L))
  expect_identical(f$held_out_end, c(1976L, 1982L, 1988L))
  expect_equal(mean(f$tau), tt$att, tolerance = 1e-12)
  expect_equal(f$tau, tt$fold_estimates, tolerance = 1e-12)
  expect_equal(sqrt(1 + 3 * 6 / 12) * stats::sd(f$tau) / sqrt(3), tt$se, tolerance = 1e-12)
  expect_output(print(tt), "Debiased ATT")
  # summary() shows the headline and the folds
  s <- summary(fit, inf_type = "ttest", K = 3)
  expect_equal(s$ttest$att, tt$att, tolerance = 1e-12)
  expect_equal(s$average_att$Estimate, tt$att, tolerance = 1e-12)
  expect_equal(s$average_att$lower_bound, tt$ci_lower, tolerance = 1e-12)
  out <- capture.output(print(s))
  expect_true(any(grepl("Debiased ATT \\(se\\) +-17\\.9911  \\(1\\.5632\\)", out)))
  expect_true(any(grepl("95%: [-24.7168, -11.2654]", out, fixed = TRUE)))
  expect_true(any(grepl("Cross-fitting folds", out, fixed = TRUE)))
})

test_that("ttest(K = 'auto') and oracle weights", {
  fit <- prop99_fit()
  ta <- ttest(fit, K = "auto")
  expect_identical(ta$K, 3L)                      # phi = 0.22: blocks of >= 6 periods, so K = 3
  expect_true(is.list(ta$K_choice))
  expect_lt(abs(ta$K_choice$phi - 0.2200974385), 1e-8)
  expect_lt(abs(ta$att - (-17.9911214507)), 1e-6)
  expect_output(print(ta), "K chosen automatically")
  # with the fit's own weights every fold has the fit's gap: tau_k = ATT - mean gap over block k
  w <- coef(fit)
  to <- ttest(fit, oracle_weights = w[w > 1e-8])
  expect_true(to$oracle)
  tr <- as.data.frame(fit)
  pre_gap <- tr$effect[tr$period >= 1971 & tr$period <= 1988]
  expect_equal(to$att, fit$att - mean(pre_gap), tolerance = 1e-8)
  expect_equal(to$folds$post_gap, rep(fit$att, 3), tolerance = 1e-8)
})

test_that("scpi(u_missp = FALSE) takes the residuals' conditional mean as 0 (scpi's u.missp)", {
  fit <- prop99_fit()
  a <- suppressWarnings(scpi(fit, sims = 20, seed = 0))
  b <- suppressWarnings(scpi(fit, sims = 20, seed = 0, u_missp = FALSE))
  expect_true(a$u_missp)
  expect_false(b$u_missp)
  expect_false(isTRUE(all.equal(a$table$cf_lower, b$table$cf_lower)))   # the in-sample bound moves
  expect_equal(a$table$e_mean, b$table$e_mean, tolerance = 1e-12)        # the out-of-sample part does not
  expect_error(scpi(fit, u_missp = "yes"), "u_missp", class = "synthcontrol_spec_error")
})

test_that("synthcontrol() passes canonical_v and the mscmt budget to the core", {
  skip_if_no_python_core()
  cov <- list(lnincome = c(1980, 1988), beer = c(1984, 1988))
  one <- function(...) synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                                    treated = "California", treatment_time = 1989, ...)
  a <- one(covariates = cov, outcome_lags = c(1975, 1980, 1988), fit_window = c(1970, 1988))
  b <- one(covariates = cov, outcome_lags = c(1975, 1980, 1988), fit_window = c(1970, 1988),
           canonical_v = "max.order")
  expect_equal(b$att, a$att, tolerance = 1e-10)
  expect_error(one(mscmt_maxiter = 5), "mscmt_maxiter = 5 sets the 'mscmt' backend", class = "synthcontrol_error")
})

test_that("progfunc = \"ridge\" with a covariate backend corrects that backend's weights", {
  skip_if_no_python_core()
  cov <- list(lnincome = c(1980, 1988), beer = c(1984, 1988))
  one <- function(...) suppressWarnings(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                                                     treated = "California", treatment_time = 1989,
                                                     covariates = cov, outcome_lags = c(1975, 1980, 1988),
                                                     backend = "malo", ...))
  base <- one()
  aug <- one(progfunc = "ridge", lambda = 100)
  expect_equal(aug$diagnostics$backend, "malo + ridge")
  expect_equal(aug$diagnostics$ridge_lambda, 100, tolerance = 1e-15)
  expect_lt(aug$diagnostics$l2_imbalance, aug$diagnostics$l2_imbalance_base)
  expect_false(isTRUE(all.equal(aug$att, base$att)))
  # windows per covariate stay augsynth's refusal for the outcome-only ridge
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(), treated = "California",
                            treatment_time = 1989, covariates = cov, progfunc = "ridge"),
               "windows per covariate are not supported", class = "synthcontrol_spec_error")
})

test_that("synthcontrol() passes the penalized backend's lambda rule to the core", {
  skip_if_no_python_core()
  one <- function(...) suppressWarnings(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                                                     treated = "California", treatment_time = 1989,
                                                     backend = "penalized", ...))
  loo <- one(penalized_cv = "loo")
  fixed <- one(penalized_lambda = 0.05)
  expect_equal(loo$diagnostics$penalized_cv, "loo")
  expect_equal(fixed$diagnostics$lambda, 0.05, tolerance = 1e-15)
  expect_true(fixed$diagnostics$certified)
  expect_false(isTRUE(all.equal(loo$att, fixed$att)))
  expect_error(one(penalized_cv = "kfold"), "penalized_cv must be one of", class = "synthcontrol_error")
})

test_that("scpi() on Prop 99: the ATT interval excludes 0, per-period intervals bracket the effect", {
  fit <- prop99_fit()
  # scpi's rule gives rho 0.744, capped at rho_max = 0.2: a tuning value on its range's edge is said
  expect_warning(sc <- scpi(fit, sims = 50, seed = 0), "rho 0.2 is the largest value of its range",
                 class = "synthcontrol_warning")
  expect_s3_class(sc, "synthcontrol_scpi")
  expect_false(has_py_object(unclass(sc)))
  expect_equal(sc$alpha, 0.1, tolerance = 1e-12)   # u_alpha + e_alpha: coverage >= 90%
  expect_equal(sc$att, fit$att, tolerance = 1e-10)
  expect_lt(sc$att_lower, sc$att)
  expect_lt(sc$att, sc$att_upper)
  expect_lt(sc$att_upper, 0)                       # the ATT interval excludes zero
  expect_identical(sc$failed_sims, 0L)
  expect_identical(sc$active_donors, c("Montana", "Nevada", "Utah"))
  expect_equal(sc$rho, 0.2, tolerance = 1e-12)     # R scpi 3.0.1's rho on Prop 99
  expect_identical(sc$df, 5L)
  tab <- as.data.frame(sc)
  expect_identical(nrow(tab), 12L)
  expect_identical(tab$period, 1989:2000)
  expect_true(all(tab$effect_lower < tab$effect & tab$effect < tab$effect_upper))
  expect_true(all(tab$cf_lower < tab$counterfactual & tab$counterfactual < tab$cf_upper))
  expect_equal(tab$effect, unname(fit$effects), tolerance = 1e-10)
  expect_equal(tab$effect_lower, tab$observed - tab$cf_upper, tolerance = 1e-10)
  expect_equal(unname(sc$counterfactual_lower), tab$cf_lower)
  # the out-of-sample mean is deterministic: R scpi 3.0.1's e.mean for 1989 is -0.46372610
  expect_lt(abs(tab$e_mean[1] - (-0.46372610)), 1e-4)
  out <- capture.output(print(sc))
  expect_true(any(grepl("ATT interval +90%", out)))
  # summary(inf_type = "scpi") runs the same (seeded) computation
  s <- summary(fit, inf_type = "scpi", sims = 50)
  expect_identical(s$scpi$att_lower, sc$att_lower)
  expect_identical(s$scpi$att_upper, sc$att_upper)
  expect_identical(nrow(att_post(s)), 12L)
  expect_equal(att_post(s)$upper_bound, sc$table$effect_upper)
  expect_equal(s$average_att$upper_bound, sc$att_upper)
  out <- capture.output(print(s))
  expect_true(any(grepl("SCPI 90% prediction intervals", out, fixed = TRUE)))
  expect_true(any(grepl("CF Lower", out, fixed = TRUE)))
  expect_true(any(grepl("Lower Bound", out, fixed = TRUE)))
  # options pass through summary's `...`; a different seed moves the simulated bounds only
  # (rho_max reaches scpi() as rho_max only, so rho is still chosen by scpi's rule, and capped)
  expect_warning(s2 <- summary(fit, inf_type = "scpi", sims = 50, seed = 1, rho_max = 0.2),
                 "rho 0.2 is the largest value of its range", class = "synthcontrol_warning")
  expect_false(identical(s2$scpi$att_lower, sc$att_lower))
  expect_equal(s2$scpi$table$e_mean, tab$e_mean, tolerance = 1e-12)
})

test_that("bad inf_type, K and options raise synthcontrol errors", {
  fit <- prop99_fit()
  expect_error(summary(fit, inf_type = "permutation"), "inf_type", class = "synthcontrol_spec_error")
  # "bootstrap" is a registered method (the cluster bootstrap of panels built from user-level logs):
  # summary() takes the name, and the core refuses this unit-level panel
  expect_error(summary(fit, inf_type = "bootstrap"), "panel_from_events",
               class = "synthcontrol_specification_error")
  expect_error(summary(fit, inf_type = c("lto", "ttest")), "inf_type", class = "synthcontrol_error")
  expect_error(ttest(fit, K = 1), "K", class = "synthcontrol_spec_error")
  expect_error(ttest(fit, K = 2.5), "K", class = "synthcontrol_spec_error")
  expect_error(ttest(fit, K = "many"), "K", class = "synthcontrol_spec_error")
  expect_error(summary(fit, inf_type = "ttest", K = 0), "K", class = "synthcontrol_error")
  # too many folds for 19 pre-periods: the Python core's SpecificationError
  err <- tryCatch(ttest(fit, K = 10), error = function(e) e)
  expect_s3_class(err, "synthcontrol_error")
  expect_s3_class(err, "synthcontrol_specification_error")
  expect_match(conditionMessage(err), "K <= 9", fixed = TRUE)
  expect_error(ttest(fit, oracle_weights = c(0.5, 0.5)), "oracle_weights", class = "synthcontrol_error")
  expect_error(ttest(fit, oracle_weights = c(Utah = 1, Narnia = 0)), "not donors", class = "synthcontrol_error")
  expect_error(scpi(fit, alpha = 0.5), "alpha", class = "synthcontrol_error")
  expect_error(scpi(fit, sims = 5), "sims", class = "synthcontrol_error")
  expect_error(scpi(fit, e_method = "normal"), "e_method", class = "synthcontrol_error")
  expect_error(lto(fit, max_pairs = 0), "max_pairs", class = "synthcontrol_error")
  expect_error(lto(fit, alpha = 1), "alpha", class = "synthcontrol_error")
  expect_error(summary(fit, inf_type = "lto", sims = 10, bogus = 1), "bogus", class = "synthcontrol_error")
  # a reloaded fit cannot run them
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(fit, f)
  expect_error(ttest(readRDS(f)), "refit", class = "synthcontrol_stale_fit")
})
