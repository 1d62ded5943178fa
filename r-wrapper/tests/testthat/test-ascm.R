# Ridge-augmented SCM and conformal inference against augsynth 0.2.0 on Kansas
# (reference numbers: /work/shared/reference/kansas_augsynth_*.json).

kansas <- function() {
  dir <- Sys.getenv("SYNTHCONTROL_DATA")
  if (!nzchar(dir)) skip("SYNTHCONTROL_DATA is not set")
  path <- file.path(dir, "kansas.csv")
  if (!file.exists(path)) skip(paste("no kansas.csv in", dir))
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$lrevstate <- log(d$revstatecapita)
  d$lrevlocal <- log(d$revlocalcapita)
  d$lwage <- log(d$avgwklywagecapita)
  d$lgdp <- d$lngdpcapita
  d
}

.ascm <- new.env()
kansas_ridge <- function() {
  skip_if_no_python_core()
  if (is.null(.ascm$ridge)) {
    .ascm$ridge <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = kansas(),
                                progfunc = "ridge")
  }
  .ascm$ridge
}

test_that("progfunc = \"ridge\" matches augsynth on Kansas", {
  fit <- kansas_ridge()
  expect_s3_class(fit, "synthcontrol")
  expect_identical(fit$progfunc, "ridge")
  expect_near(fit$att, -0.040062913813793566, 1e-6)
  expect_equal(fit$lambda, 0.07866222813499742, tolerance = 1e-10)
  expect_near(fit$l2_imbalance, 0.061515248762514345, 1e-6)
  expect_near(fit$scaled_l2_imbalance, 0.1529915408273944, 1e-6)
  # ridge weights: negative ones allowed, they sum to 1 here (no fixed effects)
  expect_length(fit$weights, 49L)
  expect_true(any(fit$weights < 0))
  expect_equal(sum(fit$weights), 1, tolerance = 1e-8)
  expect_true(all(fit$weights_scm >= -1e-10))
  expect_true(is.numeric(fit$estimated_bias) && length(fit$estimated_bias) == 1L)
  expect_true(is.numeric(fit$extrapolation) && fit$extrapolation > 0)
  # the cross-validation path
  lp <- fit$lambda_path
  expect_s3_class(lp, "data.frame")
  expect_identical(names(lp), c("lambda", "cv_error", "cv_se"))
  expect_true(nrow(lp) > 1L)
  expect_true(any(abs(lp$lambda / fit$lambda - 1) < 1e-10))
  # plain R all the way down
  expect_false(has_py_object(unclass(fit)[setdiff(names(fit), "call")]))
})

test_that("augsynth's spellings and the old option names give the same fit", {
  fit <- kansas_ridge()
  k <- kansas()
  fit2 <- synthcontrol(lngdpcapita ~ treated, unit = "state", time = "year_qtr", data = k,
                       progfunc = "Ridge", scm = TRUE, lambda = fit$lambda)
  expect_equal(fit2$att, fit$att, tolerance = 1e-12)
  expect_null(fit2$lambda_path)  # lambda given: no cross-validation
  fit3 <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                       augment = "ridge", ridge_lambda = fit$lambda)
  expect_equal(fit3$att, fit$att, tolerance = 1e-12)
  # a plain fit keeps its shape
  fit0 <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                       progfunc = "none")
  expect_identical(fit0$progfunc, "none")
  expect_null(fit0$lambda)
  expect_true(all(fit0$weights >= -1e-10))
})

test_that("ridge with covariates in the formula matches augsynth", {
  skip_if_no_python_core()
  k <- kansas()
  fit <- synthcontrol(lngdpcapita ~ treated | lgdp + lrevstate + lrevlocal + lwage + estabscapita + emplvlcapita,
                      unit = state, time = year_qtr, data = k, progfunc = "ridge")
  expect_near(fit$att, -0.06093688375570927, 1e-6)
  expect_equal(fit$lambda, 0.012860769214150044, tolerance = 1e-8)
  # the same with covariates =
  fit_arg <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k, progfunc = "ridge",
                          covariates = c("lgdp", "lrevstate", "lrevlocal", "lwage", "estabscapita",
                                         "emplvlcapita"))
  expect_equal(fit_arg$att, fit$att, tolerance = 1e-12)
  # residualized covariates, lambda given
  res <- synthcontrol(lngdpcapita ~ treated | lgdp + lrevstate + lrevlocal + lwage + estabscapita + emplvlcapita,
                      unit = state, time = year_qtr, data = k, progfunc = "ridge", residualize = TRUE,
                      lambda = 0.07866222813499742)
  expect_near(res$att, -0.0548253751376212, 1e-6)
  expect_true(isTRUE(res$diagnostics$residualize))
})

test_that("conformal inference (block) matches augsynth's summary", {
  fit <- kansas_ridge()
  s <- summary(fit, inf_type = "conformal", type = "block", alpha = 0.05)
  expect_s3_class(s, "summary.synthcontrol")
  expect_equal(s$conformal$p_value, 0.2, tolerance = 1e-12)
  # augsynth's shape: every period, the pre-period without bounds or p-values
  expect_identical(names(s$att), c("Time", "Estimate", "lower_bound", "upper_bound", "p_val"))
  expect_identical(nrow(s$att), 105L)
  expect_true(all(is.na(s$att$lower_bound[1:89])) && all(is.na(s$att$p_val[1:89])))
  expect_equal(s$att$Estimate, fit$trajectory$effect)
  tab <- att_post(s)
  expect_identical(nrow(tab), 16L)
  ref <- reference_json("kansas_augsynth_ridge.json")$summary_conformal_block$att_per_period
  last16 <- function(v) {
    v <- vapply(v, function(e) if (is.null(e)) NA_real_ else as.double(e), 0)
    utils::tail(v, 16L)
  }
  expect_equal(tab$Time, last16(ref$Time), tolerance = 1e-12)
  expect_near(tab$Estimate, last16(ref$Estimate), 1e-6)
  expect_near(tab$lower_bound, last16(ref$lower_bound), 1e-8)
  expect_near(tab$upper_bound, last16(ref$upper_bound), 1e-8)
  expect_near(tab$p_val, last16(ref$p_val), 1e-8)
  out <- capture.output(print(s))
  expect_true(any(grepl("Average ATT Estimate (p Value for Joint Null)", out, fixed = TRUE)))
  expect_true(any(grepl("L2 Imbalance", out, fixed = TRUE)))
  expect_true(any(grepl("Percent improvement from uniform weights +84\\.7%", out)))
  expect_true(any(grepl("Lower Bound", out, fixed = TRUE)))
  expect_output(print(fit), "Percent improvement from uniform weights: 84.7%")
  expect_output(print(fit), "L2 Imbalance: 0.0615")
})

test_that("conformal() returns plain R and agrees with summary()", {
  fit <- kansas_ridge()
  cf <- conformal(fit, alpha = 0.05, type = "block")
  expect_true(is.list(cf))
  expect_false(has_py_object(unclass(cf)))
  expect_named(cf[c("table", "average_att", "p_value", "att_lower", "att_upper",
                    "counterfactual_lower", "counterfactual_upper")])
  expect_equal(cf$average_att, fit$att, tolerance = 1e-12)
  expect_equal(cf$p_value, 0.2, tolerance = 1e-12)
  expect_true(cf$att_lower <= fit$att && fit$att <= cf$att_upper)
  expect_identical(names(cf$counterfactual_lower), as.character(cf$table$Time))
  obs <- fit$observed[names(cf$counterfactual_lower)]
  expect_equal(unname(obs - cf$counterfactual_upper), cf$table$lower_bound, tolerance = 1e-10)
  expect_true(all(cf$counterfactual_lower <= cf$counterfactual_upper))
  expect_output(print(cf), "Average ATT Estimate")
  expect_identical(as.data.frame(cf), cf$table)
  # iid: seeded, so repeatable; the joint p-value is near augsynth's 0.074 (1000 random draws)
  a <- conformal(fit, alpha = 0.05, type = "iid", ns = 2000, seed = 1)
  b <- conformal(fit, alpha = 0.05, type = "iid", ns = 2000, seed = 1)
  expect_identical(a$p_value, b$p_value)
  expect_true(abs(a$p_value - 0.074) < 0.03)
  # the gap plot draws the band of the last run
  pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  expect_silent(plot(fit, type = "gap", engine = "base"))
  expect_silent(plot(fit, type = "weights", engine = "base"))
})

test_that("conformal inference also works on a plain fit; placebo summary unchanged", {
  skip_if_no_python_core()
  fit0 <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = kansas())
  cf <- conformal(fit0, type = "block")
  expect_true(cf$p_value > 0 && cf$p_value <= 1)
  expect_identical(nrow(cf$table), 16L)
  s <- summary(fit0, inference = "conformal", type = "block")
  expect_equal(s$conformal$p_value, cf$p_value)
})

test_that("unsupported augsynth options give clear errors", {
  skip_if_no_python_core()
  k <- kansas()
  expect_error(synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                            progfunc = "lasso"),
               "progfunc", class = "synthcontrol_error")
  expect_error(synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                            progfunc = "ridge", scm = FALSE),
               "scm = FALSE", class = "synthcontrol_error")
  err <- tryCatch(synthcontrol(lngdpcapita ~ treated | log(nosuchcolumn), unit = state, time = year_qtr,
                               data = k, progfunc = "ridge"), error = function(e) e)
  expect_s3_class(err, "synthcontrol_formula_error")
  expect_match(conditionMessage(err), "log(nosuchcolumn)", fixed = TRUE)
  expect_error(synthcontrol(lngdpcapita ~ treated | mean(lwage), unit = state, time = year_qtr, data = k,
                            progfunc = "ridge"), "one number per row", class = "synthcontrol_formula_error")
  # progfunc = "none" with covariates after | is augsynth's SCM on outcomes and covariates (fitted in
  # test-augsynth-vignette.R); a ridge penalty there, or residualize without covariates, is refused
  expect_error(synthcontrol(lngdpcapita ~ treated | lwage, unit = state, time = year_qtr, data = k,
                            lambda = 0.1),
               "progfunc = \"none\" has no ridge penalty", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                            progfunc = "ridge", residualize = TRUE),
               "residualize = TRUE regresses the covariates out", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(lngdpcapita ~ treated | lwage, unit = state, time = year_qtr, data = k,
                            progfunc = "ridge", covariates = "lwage"),
               "not both", class = "synthcontrol_error")
  expect_error(synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                            progfunc = "ridge", lambda = -1),
               "lambda", class = "synthcontrol_error")
  expect_error(synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k,
                            progfunc = "ridge", backend = "mscmt"),
               class = "synthcontrol_error")
  fit <- kansas_ridge()
  expect_error(summary(fit, inf_type = "jackknife"), "inf_type", class = "synthcontrol_error")
  expect_error(conformal(fit, type = "moving"), "type", class = "synthcontrol_error")
  expect_error(conformal(fit, alpha = 2), "alpha", class = "synthcontrol_error")
  # in-time placebo of a ridge fit: the refit keeps the penalty, fitted on the periods before the
  # fake date (the effect before the real treatment should be small next to the real ATT)
  it <- in_time_placebo(fit, fake_time = 2008)
  expect_s3_class(it, "synthcontrol_in_time_placebo")
  expect_lt(abs(it$att), abs(fit$att))
  expect_identical(length(it$weights), 49L)
})

test_that("summary(stat_func =) is augsynth's joint-test statistic, never ignored", {
  fit <- kansas_ridge()
  s <- summary(fit, inf_type = "conformal", type = "block")
  neg <- summary(fit, inf_type = "conformal", type = "block", stat_func = function(x) -sum(x))
  pos <- summary(fit, inf_type = "conformal", type = "block", stat_func = function(x) sum(x))
  # the same statistic evaluated by the Python core (its own stat_func path)
  core <- reticulate::py_to_r(reticulate::py_call(
    synthcontrol:::.py_result(fit)$infer, "conformal", kind = "block",
    stat_func = reticulate::py_eval("lambda u: -u.sum()")))
  expect_equal(neg$conformal$p_value, core$p_value, tolerance = 1e-12)
  expect_false(isTRUE(all.equal(neg$conformal$p_value, s$conformal$p_value)))
  expect_gte(neg$conformal$p_value + pos$conformal$p_value, 1)   # one-sided, both ways: ties counted twice
  expect_equal(neg$average_att$p_val, neg$conformal$p_value)
  # summary() runs conformal inference by default (augsynth's), so stat_func alone is used ...
  dflt <- summary(fit, type = "block", stat_func = function(x) -sum(x))
  expect_equal(dflt$conformal$p_value, neg$conformal$p_value, tolerance = 1e-12)
  # ... and refused where no conformal inference runs
  expect_error(summary(fit, inference = "placebo", stat_func = function(x) -sum(x)),
               "inf_type = \"conformal\"", class = "synthcontrol_spec_error")
  expect_error(summary(fit, inf_type = "conformal", stat_func = "min"), "stat_func",
               class = "synthcontrol_spec_error")
  expect_error(summary(fit, inf_type = "conformal", t_int = 10), "`t_int`", class = "synthcontrol_spec_error")
})

test_that("progfunc = 'none', fixedeff = TRUE is augsynth's demeaned SCM; ridge fits have placebo and LOO", {
  skip_if_no_python_core()
  k <- kansas()
  fe <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = k, progfunc = "none",
                     fixedeff = TRUE)
  # recomputed in R: demean every state by its pre-period mean, simplex least squares (quadprog)
  skip_if_not_installed("quadprog")
  w <- reshape(k[, c("state", "year_qtr", "lngdpcapita")], idvar = "year_qtr", timevar = "state",
               direction = "wide")
  w <- w[order(w$year_qtr), ]
  Y <- as.matrix(w[, -1]); colnames(Y) <- sub("lngdpcapita.", "", colnames(Y))
  pre <- w$year_qtr < 2012.25
  Yd <- sweep(Y, 2, colMeans(Y[pre, , drop = FALSE]))
  X <- Yd[pre, colnames(Y) != "Kansas"]; y <- Yd[pre, "Kansas"]
  J <- ncol(X)
  sol <- quadprog::solve.QP(crossprod(X) + 1e-10 * diag(J), crossprod(X, y), cbind(rep(1, J), diag(J)),
                            c(1, rep(0, J)), meq = 1)$solution
  cf <- mean(Y[pre, "Kansas"]) + Yd[, colnames(Y) != "Kansas"] %*% sol
  expect_near(fe$att, mean((Y[, "Kansas"] - cf)[!pre]), 1e-6)
  expect_true(is.numeric(placebo(fe)$p_value))
  r <- kansas_ridge()
  expect_true(is.numeric(placebo(r)$p_value))
  expect_s3_class(leave_one_out(r), "data.frame")
})

test_that("augsynth arguments this package does not take are refused by name, with what to use", {
  skip_if_no_python_core()
  k <- kansas()
  for (a in c("t_int", "min_1se", "lambda_min_ratio", "n_lambda", "lambda_max", "holdout_length", "V", "cov_agg")) {
    args <- list(lngdpcapita ~ treated, unit = quote(state), time = quote(year_qtr), data = k, progfunc = "ridge")
    args[[a]] <- 1
    expect_error(do.call(synthcontrol, args), paste0("`", a, "` is not supported"),
                 class = "synthcontrol_spec_error")
  }
})

test_that("augsynth's formula with transformations after | runs unchanged and gives its number", {
  skip_if_no_python_core()
  k <- kansas()
  before <- k
  # augsynth's vignette call, verbatim apart from the function name (reference: augsynth 0.2.0)
  fit <- synthcontrol(lngdpcapita ~ treated | lngdpcapita + log(revstatecapita) + log(revlocalcapita) +
                        log(avgwklywagecapita) + estabscapita + emplvlcapita,
                      unit = state, time = year_qtr, data = k, progfunc = "ridge")
  expect_near(fit$att, -0.06093688375570927, 1e-6)
  expect_identical(k, before)   # the user's data frame is not changed
})

test_that("plot(cv = TRUE) draws a ridge fit's cross-validation curve (both engines)", {
  fit <- kansas_ridge()
  p <- plot(fit, cv = TRUE)
  if (requireNamespace("ggplot2", quietly = TRUE)) {
    expect_s3_class(p, "ggplot")
    expect_equal(p$data$cv_error, fit$lambda_path$cv_error)
    expect_match(p$labels$title, "by CV")
  }
  f <- tempfile(fileext = ".png")
  grDevices::png(f)
  out <- plot(fit, cv = TRUE, engine = "base")
  grDevices::dev.off()
  expect_identical(out, fit)
  expect_gt(file.size(f), 1000)
  unlink(f)
  plain <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = kansas())
  expect_error(plot(plain, cv = TRUE), "cross-validation curve", class = "synthcontrol_spec_error")
  fixed <- synthcontrol(lngdpcapita ~ treated, unit = state, time = year_qtr, data = kansas(),
                        progfunc = "ridge", lambda = 0.1)
  expect_error(plot(fixed, cv = TRUE), "has none", class = "synthcontrol_spec_error")
})
