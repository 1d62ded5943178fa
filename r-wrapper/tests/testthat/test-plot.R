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
  plot(fit)
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
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

test_that("engine = 'ggplot2' without ggplot2 is a clear error", {
  skip_if(requireNamespace("ggplot2", quietly = TRUE), "ggplot2 is installed")
  expect_error(plot(prop99_fit(), engine = "ggplot2"), "ggplot2", class = "synthcontrol_error")
})
