# Prop 99: the outcome-only synthetic control of Abadie, Diamond & Hainmueller (2010).
# Gold numbers from the Python core (ATT -19.51362976) and the recorded fixtures.

gold_weights <- c(Utah = 0.3939080236, Montana = 0.2318399512, Nevada = 0.2049225842,
                  Connecticut = 0.1090896242, `New Hampshire` = 0.0454290464,
                  Colorado = 0.0148107704)

test_that("Prop 99 ATT and donor weights match the gold numbers", {
  fit <- prop99_fit()
  expect_s3_class(fit, "synthcontrol")
  expect_equal(fit$att, -19.51362976, tolerance = 1e-4 / 19.5)
  expect_lt(abs(fit$att - (-19.5136)), 1e-4)
  w <- coef(fit)
  expect_equal(length(w), 38L)
  expect_equal(sum(w), 1, tolerance = 1e-10)
  for (d in names(gold_weights)) {
    expect_lt(abs(w[[d]] - gold_weights[[d]]), 1e-6, label = paste("weight of", d))
  }
  others <- setdiff(names(w), names(gold_weights))
  expect_true(all(w[others] < 1e-6))
  expect_equal(fit$n_pre, 19L)
  expect_equal(fit$n_post, 12L)
  expect_identical(fit$treatment_time, 1989L)
  expect_identical(fit$treated, "California")
})

test_that("results are plain R: no Python object anywhere", {
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                      treated = "California", treatment_time = 1989,
                      inference = c("placebo", "leave_one_out"))
  expect_false(any(vapply(unlist(fit[setdiff(names(fit), "call")], recursive = FALSE),
                          is_py_object, logical(1))))
  expect_false(has_py_object(unclass(fit)))
  expect_false(has_py_object(unclass(summary(fit, inference = "placebo"))))
  expect_false(has_py_object(unclass(placebo(fit))))
  expect_false(has_py_object(leave_one_out(fit)))
  expect_false(has_py_object(unclass(in_time_placebo(fit, 1980))))
  expect_type(fit$att, "double")
  expect_type(fit$diagnostics, "list")
  expect_true(all(vapply(fit$diagnostics, function(v) is.atomic(v) && length(v) == 1L, logical(1))))
  expect_true(fit$diagnostics$kkt_violation < 1e-8)
  # the hidden Python result lives in an environment attribute, not in the list
  expect_true(is.environment(attr(fit, ".py")))
  expect_true(is.data.frame(fit$inference$leave_one_out))
})

test_that("the 0/1 treatment column formula gives the same fit", {
  df <- prop99()
  df$treated <- as.integer(df$state == "California" & df$year >= 1989)
  fit01 <- synthcontrol(cigsale ~ treated, unit = state, time = year, data = df)
  fit <- prop99_fit()
  expect_equal(fit01$att, fit$att, tolerance = 1e-12)
  expect_equal(coef(fit01), coef(fit), tolerance = 1e-12)
  expect_identical(fit01$treatment_time, 1989L)
  # a logical column works too, and quoted names
  df$treated_lgl <- df$treated == 1L
  fit_lgl <- synthcontrol(cigsale ~ treated_lgl, unit = "state", time = "year", data = df)
  expect_equal(fit_lgl$att, fit$att, tolerance = 1e-12)
})

test_that("a factor unit column and a character treatment time work", {
  df <- prop99()
  df$state <- factor(df$state)
  fit_f <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                        treated = factor("California"), treatment_time = "1989")
  expect_equal(fit_f$att, prop99_fit()$att, tolerance = 1e-12)
  expect_equal(names(coef(fit_f)), names(coef(prop99_fit())))
})

test_that("integer / double time columns match treatment_time of the other type", {
  df <- prop99()
  expect_type(df$year, "integer")
  fit_int <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                          treated = "California", treatment_time = 1989)   # double -> integer
  df$year <- as.double(df$year)
  fit_dbl <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                          treated = "California", treatment_time = 1989L)  # integer -> double
  expect_equal(fit_int$att, fit_dbl$att, tolerance = 1e-12)
  expect_type(fit_int$trajectory$period, "integer")
  expect_type(fit_dbl$trajectory$period, "double")
})

test_that("a Date time column round-trips as Date", {
  df <- prop99()
  df$date <- as.Date(paste0(df$year, "-07-01"))
  fit_d <- synthcontrol(cigsale ~ 1, unit = state, time = date, data = df,
                        treated = "California", treatment_time = as.Date("1989-07-01"))
  expect_equal(fit_d$att, prop99_fit()$att, tolerance = 1e-12)
  expect_s3_class(fit_d$trajectory$period, "Date")
  expect_identical(fit_d$treatment_time, as.Date("1989-07-01"))
  expect_identical(names(fit_d$effects)[1], "1989-07-01")
  # a string date works as treatment_time; a number does not
  fit_s <- synthcontrol(cigsale ~ 1, unit = state, time = date, data = df,
                        treated = "California", treatment_time = "1989-07-01")
  expect_equal(fit_s$att, fit_d$att)
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = date, data = df,
                            treated = "California", treatment_time = 1989),
               "holds dates", class = "synthcontrol_error")
})

test_that("coef, predict and as.data.frame have the right shapes", {
  fit <- prop99_fit()
  w <- coef(fit)
  expect_type(w, "double")
  expect_length(w, 38L)
  expect_false("California" %in% names(w))
  cf <- predict(fit)
  expect_length(cf, 31L)
  expect_identical(names(cf), as.character(1970:2000))
  expect_equal(unname(cf), fit$trajectory$counterfactual)
  tr <- as.data.frame(fit)
  expect_s3_class(tr, "data.frame")
  expect_identical(names(tr), c("period", "observed", "counterfactual", "effect", "post"))
  expect_equal(nrow(tr), 31L)
  expect_equal(sum(tr$post), 12L)
  expect_equal(mean(tr$effect[tr$post]), fit$att, tolerance = 1e-12)
  expect_equal(unname(fit$effects), tr$effect[tr$post])
  expect_identical(names(fit$effects), as.character(1989:2000))
  expect_equal(fit$pre_rmse, sqrt(mean(tr$effect[!tr$post]^2)), tolerance = 1e-12)
  expect_error(predict(fit, newdata = prop99()), "newdata", class = "synthcontrol_error")
})

test_that("print and summary are readable", {
  fit <- prop99_fit()
  expect_output(print(fit), "ATT")
  expect_output(print(fit), "Utah")
  # the default conformal inference (augsynth's, at its 95% level) cannot run on 19 pre-periods:
  # said, and the summary comes without intervals
  expect_warning(s <- summary(fit), "alpha = 0.05 cannot be attained", class = "synthcontrol_inference_skipped")
  expect_null(s$conformal)
  expect_output(print(s), "Inference +none: the default conformal inference could not run")
  expect_true(all(is.na(s$att$lower_bound)))
  s <- summary(fit, inf = FALSE)
  expect_s3_class(s, "summary.synthcontrol")
  expect_null(s$inference_note)
  expect_output(print(s), "ATT")
  expect_output(print(s), "Pre-period RMSE")
  expect_output(print(s), "kkt_violation")
  expect_equal(names(s$weights), names(gold_weights))  # sorted by weight, > 0.001
  expect_output(print(summary(fit, inf_type = "none")), "Donor weights > 0.001 \\(6\\)")
  sp <- summary(fit, inference = "placebo", donor_pool = "all")
  expect_equal(sp$placebo$p_value, 3 / 39, tolerance = 1e-12)
  expect_output(print(sp), "Placebo p-value +0.0769")
  expect_output(print(sp), "rank 3 of 39")
})

test_that("placebo(donor_pool = 'all') reproduces p = 3/39", {
  fit <- prop99_fit()
  p <- placebo(fit, donor_pool = "all")
  expect_s3_class(p, "synthcontrol_inference")
  expect_equal(p$p_value, 3 / 39, tolerance = 1e-12)
  expect_equal(p$rank, 3L)
  expect_equal(p$n_placebos, 38L)
  expect_equal(p$statistic, "rmspe_ratio")
  expect_equal(p$observed, fit$diagnostics$rmspe_ratio, tolerance = 1e-10)
  expect_s3_class(p$table, "data.frame")
  expect_equal(nrow(p$table), 39L)
  expect_true(all(c("unit", "treated", "att", "pre_rmspe", "post_rmspe", "rmspe_ratio") %in% names(p$table)))
  expect_equal(dim(p$gaps), c(31L, 39L))
  expect_output(print(p), "p-value")
  # the default donor pool and the mean-gap statistic run and give valid p-values
  p2 <- placebo(fit, statistic = "mean_gap")
  expect_true(p2$p_value > 0 && p2$p_value <= 1)
  p3 <- placebo(fit, donor_pool = "all", exclude_mspe_ratio = 2)
  expect_true(p3$n_excluded > 0)
  expect_equal(p3$n_placebos + p3$n_excluded, 38L)
  expect_error(placebo(fit, statistic = "t"), "statistic", class = "synthcontrol_spec_error")
})

test_that("leave_one_out returns one row per active donor", {
  fit <- prop99_fit()
  loo <- leave_one_out(fit)
  expect_s3_class(loo, "data.frame")
  expect_identical(names(loo), c("dropped", "weight", "att", "change", "pre_rmse"))
  expect_equal(nrow(loo), 6L)
  expect_identical(loo$dropped, names(gold_weights))
  expect_equal(loo$change, loo$att - fit$att, tolerance = 1e-12)
  expect_equal(attr(loo, "att"), fit$att)
})

test_that("in_time_placebo backdates the treatment", {
  fit <- prop99_fit()
  it <- in_time_placebo(fit, fake_time = 1980)
  expect_s3_class(it, "synthcontrol_inference")
  expect_identical(it$fake_time, 1980L)
  expect_identical(names(it$effects), as.character(1980:1988))
  expect_true(abs(it$att) < abs(fit$att))
  expect_warning(all_t <- in_time_placebo(fit), "5 of 17 fake dates .* fitted exactly",
                 class = "synthcontrol_warning")
  expect_s3_class(all_t$table, "data.frame")
  expect_true(1980L %in% all_t$table$fake_time)
  expect_error(in_time_placebo(fit, fake_time = 1995), "before the treatment",
               class = "synthcontrol_error")
})

test_that("a fit saved and reloaded keeps its numbers but cannot run inference", {
  fit <- prop99_fit()
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(fit, f)
  back <- readRDS(f)
  expect_equal(back$att, fit$att)
  expect_output(print(back), "ATT")
  expect_error(placebo(back), "refit", class = "synthcontrol_stale_fit")
})

test_that("fit_window and donors are passed through", {
  df <- prop99()
  fw <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df, treated = "California",
                     treatment_time = 1989, fit_window = c(1980, 1988))
  expect_false(isTRUE(all.equal(coef(fw), coef(prop99_fit()))))
  dn <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df, treated = "California",
                     treatment_time = 1989, donors = c("Utah", "Montana", "Nevada", "Colorado"))
  expect_identical(names(coef(dn)), c("Utah", "Montana", "Nevada", "Colorado"))  # as given
  expect_equal(sum(coef(dn)), 1, tolerance = 1e-10)
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989,
                            fit_window = c(1980, 1990)),
               "post-treatment", class = "synthcontrol_specification_error")
})
