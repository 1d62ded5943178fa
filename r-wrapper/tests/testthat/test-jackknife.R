# Jackknife+ over time (Barber, Candes, Ramdas & Tibshirani 2021), augsynth's
# summary(inf_type = "jackknife+"), on Prop 99 (outcome-only fit, 19 fitting periods 1970-1988).
# The intervals are checked against the Python core's own result (read from the Python object, not
# through the bridge's conversion) and recomputed here in R from the definition: every pre-period
# left out in turn, the simplex weights refitted with quadprog, the held-out residuals R_i, and the
# order statistics floor(alpha (n + 1)) = 2 and ceil((1 - alpha)(n + 1)) = 18 of n = 19.

# Simplex least squares min ||b - A w||, w >= 0, sum w = 1 (quadprog; a 1e-10 ridge makes the
# rank-deficient Gram positive definite: weights agree with the core's exact solver to ~1e-8).
simplex_ls_qp <- function(A, b) {
  s <- mean(abs(A))
  A <- A / s
  b <- b / s
  D <- crossprod(A) + 1e-10 * diag(ncol(A))
  quadprog::solve.QP(D, drop(crossprod(A, b)), cbind(1, diag(ncol(A))), c(1, rep(0, ncol(A))),
                     meq = 1)$solution
}

test_that("jackknife_plus() on Prop 99: 12 periods, bands bracket the counterfactual, ATT interval excludes 0", {
  fit <- prop99_fit()
  j <- jackknife_plus(fit)
  expect_s3_class(j, "synthcontrol_jackknife_plus")
  expect_false(has_py_object(unclass(j)))
  expect_identical(j$alpha, 0.1)
  expect_identical(j$n_fitting_periods, 19L)
  # the order statistics: floor(0.1 * 20) = 2 and ceil(0.9 * 20) = 18 of the 19 leave-one-out values
  expect_identical(j$k_lower, 2L)
  expect_identical(j$k_upper, 18L)
  expect_identical(j$k_lower, as.integer(floor(j$alpha * (j$n_fitting_periods + 1))))
  expect_identical(j$k_upper, as.integer(ceiling((1 - j$alpha) * (j$n_fitting_periods + 1))))
  expect_true(j$bounded)
  expect_equal(j$nominal_coverage, 0.9, tolerance = 1e-12)
  expect_equal(j$guaranteed_coverage, 0.8, tolerance = 1e-12)
  expect_identical(names(j$residuals), as.character(1970:1988))
  expect_true(all(j$residuals >= 0))
  tab <- as.data.frame(j)
  expect_identical(nrow(tab), 12L)
  expect_identical(names(tab), c("period", "observed", "counterfactual", "effect", "cf_lower", "cf_upper",
                                 "effect_lower", "effect_upper"))
  expect_identical(tab$period, 1989:2000)
  expect_true(all(tab$cf_lower <= tab$counterfactual & tab$counterfactual <= tab$cf_upper))
  expect_true(all(tab$effect_lower <= tab$effect & tab$effect <= tab$effect_upper))
  expect_equal(tab$effect, unname(fit$effects), tolerance = 1e-10)
  expect_equal(tab$effect_lower, tab$observed - tab$cf_upper, tolerance = 1e-10)
  expect_equal(tab$effect_upper, tab$observed - tab$cf_lower, tolerance = 1e-10)
  expect_equal(unname(j$counterfactual_lower), tab$cf_lower)
  expect_identical(names(j$counterfactual_upper), as.character(1989:2000))
  # the ATT interval excludes 0
  expect_equal(j$att, fit$att, tolerance = 1e-10)
  expect_lt(j$att_lower, j$att)
  expect_lt(j$att, j$att_upper)
  expect_lt(j$att_upper, 0)
  # equal to Python's result, read from the core's Inference object directly
  inf <- synthcontrol:::.py_result(fit)$jackknife_plus(alpha = 0.1)
  expect_identical(j$att_lower, reticulate::py_to_r(inf$ci_lower))
  expect_identical(j$att_upper, reticulate::py_to_r(inf$ci_upper))
  pytab <- reticulate::py_get_item(inf$details, "table")
  col <- function(k) unlist(reticulate::py_to_r(reticulate::py_get_item(pytab, k)$tolist()))
  expect_identical(tab$cf_lower, col("cf_lower"))
  expect_identical(tab$cf_upper, col("cf_upper"))
  expect_identical(tab$effect_lower, col("effect_lower"))
  out <- capture.output(print(j))
  expect_true(any(grepl("ATT interval +90%: \\[-23\\.57[0-9]+, -13\\.62[0-9]+\\]", out)))
  expect_true(any(grepl("order statistics 2 and 18 of 19", out, fixed = TRUE)))
  expect_true(any(grepl("CF Lower", out, fixed = TRUE)))
  expect_false(any(grepl("Bounded", out, fixed = TRUE)))
  # cached with the fit
  expect_identical(jackknife_plus(fit, alpha = 0.1), j)
})

test_that("jackknife_plus() equals the definition recomputed in R (leave-one-period-out refits)", {
  skip_if_not_installed("quadprog")
  fit <- prop99_fit()
  j <- jackknife_plus(fit, alpha = 0.1)
  d <- prop99()
  Y <- tapply(d$cigsale, list(d$year, d$state), function(v) v[[1L]])
  years <- as.integer(rownames(Y))
  y <- Y[, "California"]
  X <- Y[, colnames(Y) != "California"]
  pre <- which(years < 1989)
  post <- years >= 1989
  expect_lt(max(abs(X %*% simplex_ls_qp(X[pre, ], y[pre]) - fit$counterfactual)), 1e-6)
  n <- length(pre)
  expect_identical(n, 19L)
  R <- numeric(n)
  P <- matrix(NA_real_, n, sum(post))
  for (m in seq_len(n)) {
    w <- simplex_ls_qp(X[pre[-m], ], y[pre[-m]])
    R[m] <- abs(y[pre[m]] - sum(X[pre[m], ] * w))
    P[m, ] <- X[post, ] %*% w
  }
  expect_lt(max(abs(R - j$residuals)), 1e-5)
  k_lo <- floor(0.1 * (n + 1))
  k_hi <- ceiling(0.9 * (n + 1))
  expect_identical(c(k_lo, k_hi), c(2, 18))
  kth <- function(M, k) apply(M, 2, function(v) sort(v)[k])
  lo <- kth(P - R, k_lo)
  hi <- kth(P + R, k_hi)
  expect_lt(max(abs(lo - j$table$cf_lower)), 1e-5)
  expect_lt(max(abs(hi - j$table$cf_upper)), 1e-5)
  # the ATT row: the post-period mean of each refit's predictions, with the same residuals
  pm <- rowMeans(P)
  ybar <- mean(y[post])
  expect_lt(abs((ybar - sort(pm + R)[k_hi]) - j$att_lower), 1e-5)
  expect_lt(abs((ybar - sort(pm - R)[k_lo]) - j$att_upper), 1e-5)
})

test_that("alpha too small for 19 fitting periods gives -Inf / Inf bounds that survive the bridge", {
  fit <- prop99_fit()
  expect_warning(j <- jackknife_plus(fit, alpha = 0.02),   # floor(0.02 * 20) = 0: no finite order statistic
                 "intervals are unbounded", class = "synthcontrol_warning")
  expect_false(j$bounded)
  expect_identical(j$k_lower, 0L)
  expect_identical(j$k_upper, 20L)
  expect_identical(j$att_lower, -Inf)
  expect_identical(j$att_upper, Inf)
  tab <- as.data.frame(j)
  expect_identical(nrow(tab), 12L)
  expect_true(all(tab$cf_lower == -Inf & tab$cf_upper == Inf))
  expect_true(all(tab$effect_lower == -Inf & tab$effect_upper == Inf))
  expect_true(all(is.finite(tab$counterfactual) & is.finite(tab$effect)))
  expect_true(all(tab$cf_lower <= tab$counterfactual & tab$counterfactual <= tab$cf_upper))
  out <- capture.output(print(j))
  expect_true(any(grepl("98%: [-Inf, Inf]", out, fixed = TRUE)))
  expect_true(any(grepl("Bounded +no: alpha = 0.02 is too small for 19 fitting periods", out)))
  expect_true(any(grepl("-Inf +Inf", out)))
  s <- summary(fit, inf_type = "jackknife+", alpha = 0.02)
  expect_identical(s$average_att$lower_bound, -Inf)
  expect_identical(att_post(s)$upper_bound, rep(Inf, 12L))
  out <- capture.output(print(s))
  expect_true(any(grepl("unbounded at this alpha", out, fixed = TRUE)))
  # the smallest alpha with finite bounds, 1/20: the extreme order statistics 1 and 19
  j5 <- jackknife_plus(fit, alpha = 0.05)
  expect_true(j5$bounded)
  expect_identical(c(j5$k_lower, j5$k_upper), c(1L, 19L))
  expect_true(all(is.finite(j5$table$cf_lower)))
})

test_that("summary(fit, inf_type = \"jackknife+\") prints the table and the ATT interval", {
  fit <- prop99_fit()
  s <- summary(fit, inf_type = "jackknife+", alpha = 0.1)
  j <- jackknife_plus(fit, alpha = 0.1)
  expect_identical(s$jackknife_plus, j)
  expect_identical(nrow(att_post(s)), 12L)
  expect_identical(names(s$att), c("Time", "Estimate", "lower_bound", "upper_bound", "p_val"))
  expect_identical(att_post(s)$lower_bound, j$table$effect_lower)
  expect_true(all(is.na(s$att$p_val)))
  expect_identical(s$average_att$Estimate, j$att)
  expect_identical(s$average_att$lower_bound, j$att_lower)
  expect_identical(s$average_att$upper_bound, j$att_upper)
  out <- capture.output(print(s))
  expect_true(any(grepl("Jackknife+ over time", out, fixed = TRUE)))
  expect_true(any(grepl("jackknife+ 90% intervals (guaranteed >= 80%)", out, fixed = TRUE)))
  expect_true(any(grepl("ATT interval +90%: \\[-23\\.57[0-9]+, -13\\.62[0-9]+\\]", out)))
  expect_true(any(grepl("Coverage nominal / guaranteed +90% / >= 80%", out)))
  expect_true(any(grepl("CF Lower", out, fixed = TRUE)))
  expect_true(any(grepl("Upper Bound", out, fixed = TRUE)))
  # summary() runs jackknife+ at augsynth's summary level (alpha = 0.05; jackknife_plus()'s own
  # default is 0.1) unless alpha is given; "jackknife_plus" and the positional shortcut are the same
  s5 <- summary(fit, inf_type = "jackknife+")
  expect_identical(s5$jackknife_plus$alpha, 0.05)
  expect_identical(summary(fit, inf_type = "jackknife_plus")$jackknife_plus, s5$jackknife_plus)
  expect_identical(summary(fit, "jackknife+")$jackknife_plus, s5$jackknife_plus)
  expect_output(print(s5), "95%")
  s95 <- summary(fit, inf_type = "jackknife+", alpha = 0.05)
  expect_identical(s95$jackknife_plus$alpha, 0.05)
  expect_output(print(s95), "95%")
})

test_that("jackknife+ on a ridge-augmented fit (augsynth's use) keeps the penalty", {
  skip_if_no_python_core()
  d <- prop99()
  d$treated <- as.integer(d$state == "California" & d$year >= 1989)
  fit <- synthcontrol(cigsale ~ treated, unit = state, time = year, data = d, progfunc = "ridge")
  j <- jackknife_plus(fit)
  expect_true(j$bounded)
  expect_identical(nrow(j$table), 12L)
  expect_equal(j$att, fit$att, tolerance = 1e-10)
  expect_true(all(j$table$cf_lower <= j$table$counterfactual & j$table$counterfactual <= j$table$cf_upper))
  expect_lt(j$att_lower, j$att)
  expect_lt(j$att, j$att_upper)
  expect_output(print(summary(fit, inf_type = "jackknife+")), "Jackknife+", fixed = TRUE)
})

test_that("bad alpha and arguments raise synthcontrol errors", {
  fit <- prop99_fit()
  for (bad in list(0, 0.5, 0.7, -0.1, NA_real_, "0.1", c(0.1, 0.2), TRUE, NULL)) {
    expect_error(jackknife_plus(fit, alpha = bad), "alpha", class = "synthcontrol_spec_error")
  }
  expect_error(summary(fit, inf_type = "jackknife+", alpha = 0.5), "alpha", class = "synthcontrol_spec_error")
  expect_error(summary(fit, inf_type = "jackknife+", sims = 10, bogus = 1), "bogus",
               class = "synthcontrol_spec_error")
  # augsynth's plain jackknife is not available; the message points to "jackknife+"
  err <- tryCatch(summary(fit, inf_type = "jackknife"), error = function(e) e)
  expect_s3_class(err, "synthcontrol_spec_error")
  expect_match(conditionMessage(err), "\"jackknife+\"", fixed = TRUE)
  # the core's own check, reached through the bridge: its SpecificationError
  err <- tryCatch(synthcontrol:::.py_call("jackknife_plus", synthcontrol:::.py_result(fit), alpha = 0.7),
                  error = function(e) e)
  expect_s3_class(err, "synthcontrol_error")
  expect_s3_class(err, "synthcontrol_specification_error")
  expect_match(conditionMessage(err), "alpha", fixed = TRUE)
  expect_error(jackknife_plus(list()), class = "synthcontrol_spec_error")
  # a reloaded fit cannot run it
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(fit, f)
  expect_error(jackknife_plus(readRDS(f)), "refit", class = "synthcontrol_stale_fit")
})
