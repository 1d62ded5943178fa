# A small panel with a known answer (needs Python, not the data directory).

test_that("the toy panel recovers weights 0.3 / 0.7 and an effect of 5", {
  skip_if_no_python_core()
  df <- toy_panel()
  fit <- synthcontrol(y ~ d, unit = unit, time = year, data = df)
  expect_equal(unname(coef(fit)), c(0.3, 0.7, 0), tolerance = 1e-8)
  expect_identical(names(coef(fit)), c("A", "B", "C"))
  expect_equal(fit$att, 5, tolerance = 1e-8)
  expect_equal(unname(fit$effects), rep(5, 5), tolerance = 1e-8)
  expect_equal(fit$pre_rmse, 0, tolerance = 1e-8)
  expect_identical(fit$treatment_time, 2005L)
})

test_that("numeric unit ids stay numeric in results", {
  skip_if_no_python_core()
  df <- toy_panel()
  df$id <- match(df$unit, c("A", "B", "C", "T")) * 10   # double, whole numbers
  fit <- synthcontrol(y ~ 1, unit = id, time = year, data = df, treated = 40, treatment_time = 2005)
  expect_identical(names(coef(fit)), c("10", "20", "30"))
  expect_identical(fit$treated, 40L)
  # without donor 20 the treated unit is above every remaining donor: said, not hidden
  expect_warning(loo <- leave_one_out(fit), "outside the donors' range", class = "synthcontrol_warning")
  expect_type(loo$dropped, "integer")
  expect_identical(loo$dropped, c(20L, 10L))
})

test_that("a column name held in a variable is accepted", {
  skip_if_no_python_core()
  df <- toy_panel()
  col <- "unit"
  fit <- synthcontrol(y ~ d, unit = col, time = "year", data = df)
  expect_equal(fit$att, 5, tolerance = 1e-8)
})

test_that("fill = 'interpolate' fills a missing cell; without it the Python error comes through", {
  skip_if_no_python_core()
  df <- toy_panel()
  df <- df[!(df$unit == "C" & df$year == 2002), ]
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df),
               "unbalanced panel.*'C'", class = "synthcontrol_data_error")
  fit <- synthcontrol(y ~ d, unit = unit, time = year, data = df, fill = "interpolate")
  expect_equal(fit$n_filled, 1L)
  expect_equal(fit$att, 5, tolerance = 1e-6)
})

test_that("plots of a text time axis work with base graphics", {
  skip_if_no_python_core()
  df <- toy_panel()
  df$period <- sprintf("P%02d", df$year - 1999L)
  fit <- synthcontrol(y ~ d, unit = unit, time = period, data = df)
  expect_identical(fit$treatment_time, "P06")
  f <- tempfile(fileext = ".png")
  on.exit(unlink(f))
  grDevices::png(f)
  plot(fit, type = "gap", engine = "base")
  grDevices::dev.off()
  expect_gt(file.size(f), 0)
})

test_that("a treated group is averaged and labelled", {
  skip_if_no_python_core()
  df <- toy_panel()
  t2 <- df[df$unit == "T", ]
  t2$unit <- "T2"
  t2$y <- t2$y + 2   # the group mean is 0.3 A + 0.7 B + 1 before, + 6 after
  df <- rbind(df, t2)
  fit <- synthcontrol(y ~ 1, unit = unit, time = year, data = df, treated = c("T", "T2"),
                      treatment_time = 2005L, donors = c("A", "B", "C"))
  expect_identical(fit$treated, c("T", "T2"))
  expect_match(fit$treated_label, "mean of 2 treated units")
  expect_identical(names(coef(fit)), c("A", "B", "C"))
  expect_equal(unname(fit$observed), as.vector(tapply(df$y[df$unit %in% c("T", "T2")],
                                                   df$year[df$unit %in% c("T", "T2")], mean)))
})
