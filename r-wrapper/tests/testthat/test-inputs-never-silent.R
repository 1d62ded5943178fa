# Issue #11: input that changed the answer without a word, through the R wrapper.  The same
# answer as the well-typed input (Prop 99's ATT -19.51363) or an error naming the argument.

att_p99 <- -19.51363

test_that("treatment_time = \"1989\" on integer years is 1989, as in Python", {
  skip_if_no_python_core()
  df <- prop99()
  fit_s <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                        treated = "California", treatment_time = "1989")
  expect_equal(fit_s$att, att_p99, tolerance = 1e-6)
  expect_equal(fit_s$n_pre, 19L)
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = "spring"),
               "treatment_time", class = "synthcontrol_error")
})

test_that("text years \"1\"..\"31\" are ordered as numbers, not as text", {
  skip_if_no_python_core()
  df <- prop99()
  df$year <- as.character(df$year - 1969L)
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                      treated = "California", treatment_time = "20")
  expect_equal(fit$n_pre, 19L)                      # a text sort would give 12
  expect_equal(fit$att, att_p99, tolerance = 1e-6)
  expect_identical(fit$trajectory$period, as.character(1:31))   # the labels come back as text
  fit_n <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                        treated = "California", treatment_time = 20)
  expect_equal(fit_n$att, fit$att, tolerance = 1e-12)
})

test_that("text periods without an order need time_order (or an ordered factor)", {
  skip_if_no_python_core()
  df <- prop99()
  df$year <- paste0(df$year - 1969L, "q")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = "20q"),
               "time_order", class = "synthcontrol_data_error")
  lv <- paste0(1:31, "q")
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                      treated = "California", treatment_time = "20q", time_order = lv)
  expect_equal(fit$n_pre, 19L)
  expect_equal(fit$att, att_p99, tolerance = 1e-6)
  expect_identical(fit$trajectory$period, lv)
  df$year <- factor(df$year, levels = lv, ordered = TRUE)
  fit_f <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                        treated = "California", treatment_time = "20q")
  expect_equal(fit_f$att, fit$att, tolerance = 1e-12)
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = "20q", time_order = lv[-31]),
               "'31q' that time_order does not list", class = "synthcontrol_data_error")
})

test_that("windows and lags reaching the treatment are errors naming the argument", {
  skip_if_no_python_core()
  df <- prop99()
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989,
                            covariates = c("lnincome", "beer"), predictor_window = c(1980, 1995)),
               "predictor_window \\(1980, 1995\\) reaches into the post-treatment period: 1989",
               class = "synthcontrol_specification_error")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989,
                            outcome_lags = c(1975, 1995)),
               "outcome_lags .* reaches into the post-treatment period: 1995",
               class = "synthcontrol_specification_error")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989,
                            covariates = list(beer = c(1984, 1995))),
               "covariates\\['beer'\\]", class = "synthcontrol_specification_error")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989, fit_window = c(1970, 1990)),
               "fit_window .* reaches into the post-treatment period: 1989, 1990",
               class = "synthcontrol_specification_error")
})

test_that("seed and n_jobs are not truncated", {
  skip_if_no_python_core()
  df <- prop99()
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989, seed = 1.5),
               "seed must be a whole number >= 0.*got 1.5", class = "synthcontrol_specification_error")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989, n_jobs = 0),
               "n_jobs must be a whole number", class = "synthcontrol_specification_error")
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                      treated = "California", treatment_time = 1989, seed = 3, n_jobs = 1)
  expect_equal(fit$att, att_p99, tolerance = 1e-6)
})

test_that("one column in two roles is an error in R and in Python alike", {
  skip_if_no_python_core()
  df <- prop99()
  expect_error(synthcontrol(cigsale ~ 1, unit = year, time = year, data = df,
                            treated = 1989, treatment_time = 1989),
               "used for two roles", class = "synthcontrol_error")
})

test_that("the core's SynthWarnings reach R as R warnings with a class", {
  skip_if_no_python_core()
  df <- prop99()
  df$cigsale[df$state == "California"] <- df$cigsale[df$state == "California"] * 1e6
  expect_warning(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                              treated = "California", treatment_time = 1989),
                 "outside the donors' range in every one of the 19", class = "synthcontrol_synth_warning")
  expect_silent(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                             treated = "California", treatment_time = 1989))
})

test_that("whole doubles reach Python exactly: seed = 3e9 is 3000000000, not NA", {
  skip_if_no_python_core()
  df <- prop99()
  # as.integer(3e9) is NA, which reached Python as -2147483648 and was refused under that value
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                      treated = "California", treatment_time = 1989, seed = 3e9, n_jobs = 1)
  expect_equal(fit$att, att_p99, tolerance = 1e-6)
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989, seed = -3e9),
               "seed must be a whole number >= 0.*got -3000000000", class = "synthcontrol_specification_error")
  expect_error(synthcontrol(cigsale ~ 1, unit = state, time = year, data = df,
                            treated = "California", treatment_time = 1989, n_jobs = 2.5),
               "n_jobs must be a whole number.*got 2.5", class = "synthcontrol_specification_error")
  expect_error(lto(fit, max_pairs = 3, seed = -3e9), "seed must be a whole number >= 0.*got -3000000000",
               class = "synthcontrol_specification_error")
  a <- lto(fit, max_pairs = 3, seed = 3e9)   # was refused as seed -2147483648
  expect_true(a$subsampled)
  expect_equal(a$n_pairs, 3L)
})

test_that("conformal(q = Inf) is refused by the core, not run as p = 1 everywhere", {
  skip_if_no_python_core()
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                      treated = "California", treatment_time = 1989)
  expect_error(conformal(fit, q = Inf), "q must be a number > 0, got inf",
               class = "synthcontrol_specification_error")
})

test_that("the canonical panels ship as data sets", {
  expect_identical(dim(smoking), c(1209L, 7L))
  expect_identical(dim(basque), c(774L, 17L))
  expect_identical(dim(kansas), c(5250L, 32L))
  expect_identical(dim(germany), c(748L, 11L))
  expect_identical(synthcontrol::prop99, synthcontrol::smoking)   # the name the literature uses: data(prop99)
  skip_if_no_python_core()
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = smoking,
                      treated = "California", treatment_time = 1989)
  expect_equal(fit$att, -19.51363, tolerance = 1e-6)
})
