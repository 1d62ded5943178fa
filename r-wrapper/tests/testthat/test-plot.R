# Every plot type draws to a PNG with base graphics (ggplot2 is optional).

test_that("each plot type writes a non-empty PNG", {
  fit <- prop99_fit()
  for (type in c("trajectory", "gap", "weights", "placebo")) {
    f <- tempfile(pattern = paste0("synthcontrol-", type, "-"), fileext = ".png")
    grDevices::png(f, width = 700, height = 500)
    out <- plot(fit, type = type, engine = "base")
    grDevices::dev.off()
    expect_true(file.exists(f), label = type)
    expect_gt(file.size(f), 1000)
    unlink(f)
  }
})

test_that("the default engine works whether or not ggplot2 is installed", {
  fit <- prop99_fit()
  f <- tempfile(fileext = ".png")
  on.exit(unlink(f))
  grDevices::png(f)
  print(plot(fit))   # ggplot2 (returned, not printed) or base graphics (drawn)
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
})

test_that("with ggplot2 plot() returns the plot without drawing it, and refuses unused arguments", {
  skip_if_not_installed("ggplot2")
  fit <- prop99_fit()
  before <- grDevices::dev.list()
  p <- plot(fit, type = "gap")
  expect_s3_class(p, "ggplot")
  expect_identical(grDevices::dev.list(), before)   # nothing drawn yet: no double figures in knitr
  expect_error(plot(fit, foo = TRUE), "`foo`", class = "synthcontrol_spec_error")
  expect_error(plot(fit, cv = TRUE), "has none", class = "synthcontrol_spec_error")   # not a ridge fit
  f <- tempfile(fileext = ".png")
  on.exit(unlink(f))
  grDevices::png(f)
  print(p + ggplot2::theme_bw())
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
})

test_that("predict() follows augsynth: the counterfactual, or with att = TRUE the effect by period", {
  fit <- prop99_fit()
  expect_equal(unname(predict(fit)), fit$trajectory$counterfactual)
  expect_equal(unname(predict(fit, att = TRUE)), fit$trajectory$observed - fit$trajectory$counterfactual)
  expect_identical(names(predict(fit, att = TRUE)), names(predict(fit)))
  expect_error(predict(fit, foo = 1), "`foo`", class = "synthcontrol_spec_error")
})

test_that("the placebo plot reuses a given placebo result", {
  fit <- prop99_fit()
  p <- placebo(fit, donor_pool = "all")
  f <- tempfile(fileext = ".png")
  on.exit(unlink(f))
  grDevices::png(f)
  plot(fit, type = "placebo", inference = p, engine = "base")
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
  expect_error(plot(fit, type = "nope"), "should be one of")
  expect_error(plot(fit, type = "placebo", inference = list(), engine = "base"),
               class = "synthcontrol_spec_error")
})

test_that("engine = 'ggplot2' without ggplot2 is a clear error, and 'auto' falls back to base", {
  old <- options(synthcontrol.use_ggplot2 = FALSE)   # as if ggplot2 were not installed
  on.exit(options(old))
  fit <- prop99_fit()
  expect_error(plot(fit, engine = "ggplot2"), "ggplot2", class = "synthcontrol_error")
  f <- tempfile(fileext = ".png")
  grDevices::png(f)
  out <- plot(fit)
  grDevices::dev.off()
  expect_identical(out, fit)
  expect_gt(file.size(f), 1000)
  unlink(f)
})
