test_that("synthetic_design() returns the core's design through the schema", {
  skip_if_no_python_core()
  set.seed(3)
  f <- matrix(cumsum(rnorm(24)), 24, 1)
  d <- expand.grid(week = 1:24, unit = paste0("m", 1:7))
  load <- runif(7, 0.3, 1)
  d$sales <- 10 + as.vector(f %*% t(load)) + rnorm(nrow(d), sd = 0.3)
  d$post <- as.integer(d$week > 18)
  des <- synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2, lam = 0)
  expect_s3_class(des, "synthcontrol_design")
  expect_length(des$design$treated, 2L)
  expect_true(des$design$proven_optimal)
  expect_equal(sum(des$design$weights$treated), 1)
  expect_equal(sum(des$design$weights$control), 1)
  expect_true(des$design$ci[["lower"]] <= des$design$post_fit$ate && des$design$post_fit$ate <= des$design$ci[["upper"]])
  expect_identical(des$design$level, "90%")
  expect_output(print(des), "proven optimal")
  expect_equal(nrow(des$design$power_curve), 12L)
  expect_error(synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 7),
               "leave no control", class = "synthcontrol_infeasible_design_error")
  # the test's null: refitted by default, the design's fixed contrast on request (same design)
  fx <- synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2, lam = 0, permutation = "fixed")
  expect_identical(fx$design$treated, des$design$treated)
  expect_equal(fx$design$post_fit$ate, des$design$post_fit$ate)
  expect_error(synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2, permutation = "nope"),
               "permutation", class = "synthcontrol_specification_error")
})

test_that("synthetic_design() takes the restrictions and returns the menu and its recommendation", {
  skip_if_no_python_core()
  set.seed(5)
  f <- matrix(cumsum(rnorm(24)), 24, 1)
  d <- expand.grid(week = 1:24, unit = paste0("m", 1:8), stringsAsFactors = FALSE)
  load <- runif(8, 0.3, 1)
  d$sales <- 10 + as.vector(f %*% t(load)) + rnorm(nrow(d), sd = 0.3)
  d$post <- as.integer(d$week > 18)
  d$state <- paste0("s", (as.integer(sub("m", "", d$unit)) + 1) %/% 2)
  units <- paste0("m", 1:8)
  adj <- matrix(0, 8, 8, dimnames = list(units, units))
  for (j in 1:7) adj[j, j + 1] <- adj[j + 1, j] <- 1
  des <- synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2, lam = 0.1, top_K = 4,
                          adjacency = adj, spillover_threshold = 0.5, to_be_treated = "m2",
                          not_to_be_treated = c("m5"), cluster_col = "state")
  expect_equal(nrow(des$design$pool), 4L)
  expect_identical(des$design$pool$rank, 1:4)
  for (m in strsplit(des$design$pool$markets, ", ")) {
    idx <- as.integer(sub("m", "", m))
    expect_true(2L %in% idx)
    expect_false(5L %in% idx)
    expect_true(abs(diff(idx)) != 1)
  }
  expect_identical(des$design$treated, strsplit(des$design$pool$markets[1], ", ")[[1]])
  expect_true(des$design$recommendation$status %in% c("OK", "POWER_NOT_ESTABLISHED"))
  expect_true(des$design$recommendation$winner %in% des$design$pool$design_id)
  expect_error(synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2,
                                to_be_treated = c("m1", "m2"), cluster_col = "state"),
               "to_be_treated and cluster_col", class = "synthcontrol_infeasible_design_error")
  ic <- synthetic_design(sales ~ post, unit = unit, time = week, data = d, K = 2, top_K = 3, selection = "ic")
  expect_false(anyNA(ic$design$pool$ic))
  expect_true(all(diff(ic$design$pool$ic) >= 0))
})
