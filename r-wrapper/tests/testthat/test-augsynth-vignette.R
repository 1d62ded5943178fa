# augsynth's single-unit vignette on Kansas, call by call, unchanged: `augsynth()` here is
# synthcontrol's adapter, `kansas` the package's data set (augsynth's own, with `fips`).
# Expected numbers: augsynth 0.2.0 on R 4.2.2, recorded with the calls in
# fixtures/reference/kansas_augsynth_{none,ridge,cov_ridge,cov_ridge_resid}.json (copies of
# ../shared/reference).  Tolerances: point estimates, lambda and imbalances 1e-6 (measured
# agreement ~1e-8); the iid conformal p-values are Monte Carlo on both sides (augsynth: 1000
# permutations, seed 2024; ours: 10000, seed 0), so they are compared within 0.04 (about four
# standard errors of augsynth's estimate at p = 0.07-0.33); the deterministic block p-value of the
# same fit is checked exactly in test-ascm.R.

vignette_data <- function() {
  skip_if_no_python_core()
  e <- new.env()
  utils::data("kansas", package = "synthcontrol", envir = e)
  e$kansas
}

ref_num <- function(x) vapply(x, function(v) if (is.null(v)) NA_real_ else as.double(v), 0)

.vig <- new.env()
vignette_fits <- function() {
  if (is.null(.vig$fits)) {
    kansas <- vignette_data()
    syn <- augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas,
                    progfunc = "None", scm = T)
    asyn <- augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas,
                     progfunc = "Ridge", scm = T)
    covsyn <- augsynth(lngdpcapita ~ treated | lngdpcapita + log(revstatecapita) +
                         log(revlocalcapita) + log(avgwklywagecapita) +
                         estabscapita + emplvlcapita,
                       fips, year_qtr, kansas,
                       progfunc = "ridge", scm = T)
    covsyn_resid <- augsynth(lngdpcapita ~ treated | lngdpcapita + log(revstatecapita) +
                               log(revlocalcapita) + log(avgwklywagecapita) +
                               estabscapita + emplvlcapita,
                             fips, year_qtr, kansas,
                             progfunc = "ridge", scm = T, lambda = asyn$lambda,
                             residualize = T)
    .vig$fits <- list(syn = syn, asyn = asyn, covsyn = covsyn, covsyn_resid = covsyn_resid)
  }
  .vig$fits
}

test_that("the vignette's four fits give augsynth 0.2.0's estimates", {
  f <- vignette_fits()
  cases <- list(syn = "none", asyn = "ridge", covsyn = "cov_ridge", covsyn_resid = "cov_ridge_resid")
  for (nm in names(cases)) {
    ref <- reference_json(paste0("kansas_augsynth_", cases[[nm]], ".json"))
    fit <- f[[nm]]
    expect_s3_class(fit, "synthcontrol")
    expect_near(fit$att, ref$att_average_post, 1e-6)
    # every period's estimate (augsynth's predict(fit, att = TRUE))
    expect_near(unname(predict(fit, att = TRUE)), ref_num(ref$att_per_period), 1e-6)
    # augsynth's weights, by fips (residualized: including the covariate-balancing correction)
    w <- coef(fit)
    expect_identical(names(w), as.character(ref_num(ref$weights_rownames_fips)))
    expect_near(unname(w), unname(ref_num(ref$weights)), 1e-6)
    if (nm != "syn") {
      expect_equal(fit$lambda, ref$lambda, tolerance = 1e-10)
      expect_near(fit$l2_imbalance, ref$l2_imbalance, 1e-6)
      expect_near(fit$scaled_l2_imbalance, ref$scaled_l2_imbalance, 1e-6)
    }
  }
  expect_identical(deparse(f$syn$call[[1L]]), "augsynth")
  expect_output(print(f$asyn), "lambda 0.0786622")
})

test_that("summary() has augsynth's shape and numbers: conformal by default, $att, $average_att", {
  f <- vignette_fits()
  for (nm in c("syn", "asyn", "covsyn")) {
    ref <- reference_json(paste0("kansas_augsynth_", c(syn = "none", asyn = "ridge", covsyn = "cov_ridge")[[nm]],
                                 ".json"))$summary_conformal_default
    s <- summary(f[[nm]])
    expect_identical(names(s$att), c("Time", "Estimate", "lower_bound", "upper_bound", "p_val"))
    expect_equal(s$att$Time, ref_num(ref$att_per_period$Time))
    expect_near(s$att$Estimate, ref_num(ref$att_per_period$Estimate), 1e-6)
    expect_identical(is.na(s$att$lower_bound), is.na(ref_num(ref$att_per_period$lower_bound)))
    expect_identical(names(s$average_att)[1:4], c("Value", "Estimate", "Std.Error", "p_val"))
    expect_identical(s$average_att$Value, ref$average_att$Value)
    expect_near(s$average_att$Estimate, ref$average_att$Estimate, 1e-6)
    expect_lt(abs(s$average_att$p_val - ref$average_att$p_val), 0.04)
    expect_identical(s$conformal$alpha, ref$alpha)   # 0.05: augsynth's summary level
    # per-period 95% intervals: both are points of the same 50-point grid; ours come from the exact
    # per-period rank (p in multiples of 1/90), augsynth's from 1000 random permutations, so where a
    # grid point's p-value sits near 0.05 the two may differ by a few grid steps.  Measured (none,
    # ridge, cov_ridge): 62%, 81%, 66% of the 32 bounds identical (to 1e-8), the rest within 2.9
    # steps; per-period p-values within 0.022.
    post <- !is.na(ref_num(ref$att_per_period$lower_bound))
    lo <- ref_num(ref$att_per_period$lower_bound)[post]
    hi <- ref_num(ref$att_per_period$upper_bound)[post]
    same <- c(abs(s$att$lower_bound[post] - lo), abs(s$att$upper_bound[post] - hi)) < 1e-8
    expect_gte(mean(same), 0.6)
    step <- 2 * max(abs(c(lo, hi))) / 49
    expect_lt(max(abs(c(s$att$lower_bound[post] - lo, s$att$upper_bound[post] - hi))), 4 * step)
    expect_lt(max(abs(s$att$p_val[post] - ref_num(ref$att_per_period$p_val)[post])), 0.035)
    out <- capture.output(print(s))
    expect_true(any(grepl("Average ATT Estimate (p Value for Joint Null)", out, fixed = TRUE)))
    expect_true(any(grepl("95% CI Lower Bound", out, fixed = TRUE)))
  }
  # the covariate fit's "Covariate L2 Imbalance" lines (augsynth prints 0.005 and 97.7%)
  out <- capture.output(print(summary(f$covsyn, inf = FALSE)))
  expect_true(any(grepl("Covariate L2 Imbalance +0.0047", out)))
  expect_true(any(grepl("Covariate improvement from uniform weights +97.7%", out)))
  expect_true(any(grepl("Covariate L2 Imbalance +0\\.000", capture.output(print(f$covsyn_resid)))) ||
                any(grepl("Covariate L2 Imbalance: [0-9.e-]+", capture.output(print(f$covsyn_resid)))))
  expect_lt(f$covsyn_resid$covariate_l2_imbalance, 1e-8)
  # inf = FALSE: augsynth's summary without inference
  s0 <- summary(f$asyn, inf = FALSE)
  expect_null(s0$conformal)
  expect_true(all(is.na(s0$att$p_val)))
  expect_near(s0$average_att$Estimate, f$asyn$att, 1e-12)
})

test_that("the vignette's other calls: plots, stat_func, jackknife+, de-meaned SCM", {
  skip_if_not_installed("ggplot2")
  f <- vignette_fits()
  kansas <- vignette_data()
  p <- plot(f$syn)
  expect_s3_class(p, "ggplot")
  expect_s3_class(plot(f$asyn, cv = T), "ggplot")
  pj <- plot(f$asyn, inf_type = "jackknife+")
  expect_s3_class(pj, "ggplot")
  expect_match(pj$labels$title, "jackknife+ 95%", fixed = TRUE)
  # a one-sided joint test: another p-value than the default (augsynth's vignette); the two
  # one-sided tests cover every permutation between them (ties counted in both)
  two <- summary(f$asyn)$average_att$p_val
  neg <- summary(f$asyn, stat_func = function(x) -sum(x))$average_att$p_val
  pos <- summary(f$asyn, stat_func = function(x) sum(x))$average_att$p_val
  expect_false(isTRUE(all.equal(neg, two)))
  expect_gte(neg + pos, 1)
  sj <- summary(f$asyn, inf_type = "jackknife+")
  expect_identical(sj$jackknife_plus$alpha, 0.05)
  expect_false(anyNA(att_post(sj)$lower_bound))
  # de-meaned SCM (progfunc = "none", fixedeff = T): the simplex fit of unit-demeaned outcomes
  desyn <- augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas,
                    progfunc = "none", scm = T, fixedeff = T)
  w <- coef(desyn)
  expect_true(all(w >= -1e-12) && abs(sum(w) - 1) < 1e-9)
  Y <- stats::reshape(kansas[, c("fips", "year_qtr", "lngdpcapita")], idvar = "year_qtr",
                      timevar = "fips", direction = "wide")
  Y <- as.matrix(Y[order(Y$year_qtr), -1])
  colnames(Y) <- sub("lngdpcapita.", "", colnames(Y), fixed = TRUE)
  pre <- sort(unique(kansas$year_qtr)) < 2012.25
  Yd <- sweep(Y, 2, colMeans(Y[pre, ]))
  cf <- Yd[, names(w)] %*% w + mean(Y[pre, "20"])
  expect_near(desyn$att, mean((Y[, "20"] - cf)[!pre]), 1e-8)
  # progfunc = "None" with covariates after |: augsynth's SCM balancing outcomes and covariates
  covscm <- augsynth(lngdpcapita ~ treated | lngdpcapita + log(revstatecapita), fips, year_qtr, kansas,
                     progfunc = "None", scm = T)
  expect_identical(covscm$progfunc, "none")
  expect_true(all(coef(covscm) >= -1e-12))
  expect_false(is.null(covscm$covariate_l2_imbalance))
})

test_that("what augsynth accepts and synthcontrol does not implement is an error naming it", {
  kansas <- vignette_data()
  f <- vignette_fits()
  expect_error(augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas, progfunc = "GSYN"),
               "GSYN", class = "synthcontrol_spec_error")
  expect_error(augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas, progfunc = "Ridge", scm = F),
               "scm = FALSE", class = "synthcontrol_spec_error")
  expect_error(augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas, cov_agg = c(function(x) max(x))),
               "`cov_agg` is not supported", class = "synthcontrol_spec_error")
  expect_error(augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas, t_int = 2010),
               "t_int = 2010 is not the first treated period", class = "synthcontrol_spec_error")
  # t_int equal to the column's first treated period is accepted (augsynth's explicit form)
  expect_equal(augsynth(lngdpcapita ~ treated, fips, year_qtr, kansas, t_int = 2012.25,
                        progfunc = "None")$att, f$syn$att, tolerance = 1e-12)
  for (a in c("min_1se", "holdout_length", "lambda_min_ratio", "n_lambda", "lambda_max", "V")) {
    args <- list(lngdpcapita ~ treated, quote(fips), quote(year_qtr), kansas, 1)
    names(args) <- c("", "", "", "", a)
    expect_error(do.call(augsynth, args), paste0("`", a, "` is not supported"), class = "synthcontrol_spec_error")
  }
  expect_error(summary(f$asyn, inf_type = "jackknife"), "inf_type", class = "synthcontrol_error")
  expect_error(summary(f$asyn, inf_type = "permutation"), "inf_type", class = "synthcontrol_error")
  expect_error(summary(f$asyn, linear_effect = TRUE), "linear_effect", class = "synthcontrol_spec_error")
  expect_error(plot(f$asyn, plot_type = "outcomes raw average"), "outcomes raw average",
               class = "synthcontrol_spec_error")
  expect_error(plot(f$asyn, inf_type = "permutation"), "type = \"placebo\"", class = "synthcontrol_spec_error")
  # augsynth() does multisynth for staggered adoption: refused, not fitted as something else
  k2 <- kansas
  k2$treated[k2$fips == 1 & k2$year_qtr >= 2014] <- 1
  expect_error(augsynth(lngdpcapita ~ treated, fips, year_qtr, k2), class = "synthcontrol_error")
})
