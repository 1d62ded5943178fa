# Errors an R user can act on.

# ---- Python (or its synthcontrol package) missing ------------------------------------------

test_that("the python-missing message says what to do", {
  msg <- synthcontrol:::.python_missing_message("/bogus/bin/python",
                                                "ModuleNotFoundError: No module named 'synthcontrol'")
  expect_match(msg, "install_synthcontrol()", fixed = TRUE)
  expect_match(msg, "RETICULATE_PYTHON", fixed = TRUE)
  expect_match(msg, "/bogus/bin/python", fixed = TRUE)
  expect_match(msg, "No module named 'synthcontrol'", fixed = TRUE)
  expect_match(synthcontrol:::.python_missing_message(NA), "(none found)", fixed = TRUE)
})

test_that("a failed availability check raises class synthcontrol_python_missing", {
  bogus <- list(ok = FALSE, python = "/bogus/bin/python", version = NA_character_,
                file = NA_character_, problem = "ModuleNotFoundError: No module named 'synthcontrol'")
  err <- tryCatch(synthcontrol:::.require_python(status = bogus), error = function(e) e)
  expect_s3_class(err, "synthcontrol_python_missing")
  expect_s3_class(err, "synthcontrol_error")
  expect_match(conditionMessage(err), "install_synthcontrol()", fixed = TRUE)
  expect_match(conditionMessage(err), "RETICULATE_PYTHON", fixed = TRUE)
  expect_identical(err$python, "/bogus/bin/python")
  # a good status passes
  expect_true(synthcontrol:::.require_python(status = list(ok = TRUE)))
})

# Run synthcontrol() in a fresh R process bound to another Python.
run_with_python <- function(python) {
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(
    "suppressMessages(library(synthcontrol))",
    "d <- data.frame(u = rep(c('a', 'b', 'c'), each = 4), t = rep(1:4, 3), y = c(1:4, 2:5, 3:6))",
    "r <- tryCatch(synthcontrol(y ~ 1, unit = u, time = t, data = d, treated = 'a',",
    "                           treatment_time = 3), error = function(e) e)",
    "cat('CLASS:', paste(class(r), collapse = ','), '\\n')",
    "cat('MESSAGE:', conditionMessage(r), '\\n')"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  env <- c(paste0("RETICULATE_PYTHON=", python),
           paste0("R_LIBS=", paste(.libPaths(), collapse = .Platform$path.sep)))
  out <- suppressWarnings(system2(rscript, script, stdout = TRUE, stderr = TRUE, env = env))
  paste(out, collapse = "\n")
}

test_that("with a Python lacking synthcontrol, synthcontrol() says how to fix it (subprocess)", {
  py <- "/usr/bin/python3"
  skip_if_not(file.exists(py), "no /usr/bin/python3")
  has_it <- suppressWarnings(system2(py, c("-c", shQuote("import synthcontrol")),
                                     stdout = FALSE, stderr = FALSE))
  skip_if(has_it == 0, "/usr/bin/python3 has synthcontrol installed")
  out <- run_with_python(py)
  expect_match(out, "CLASS: synthcontrol_python_missing,synthcontrol_error,error,condition", fixed = TRUE)
  expect_match(out, "install_synthcontrol()", fixed = TRUE)
  expect_match(out, "RETICULATE_PYTHON", fixed = TRUE)
  expect_match(out, "No module named 'synthcontrol'", fixed = TRUE)
  expect_match(out, py, fixed = TRUE)
})

test_that("with a Python that does not exist, the same error class comes back (subprocess)", {
  out <- run_with_python("/nonexistent/bin/python")
  expect_match(out, "CLASS: synthcontrol_python_missing", fixed = TRUE)
  expect_match(out, "Python could not be started", fixed = TRUE)
  expect_match(out, "install_synthcontrol()", fixed = TRUE)
})

# ---- missing columns ---------------------------------------------------------------------------

test_that("a missing column is an R error naming it, caught before Python", {
  df <- toy_panel()
  expect_error(synthcontrol(yy ~ 1, unit = unit, time = year, data = df, treated = "T",
                            treatment_time = 2005),
               "column 'yy' (outcome) not found in `data`", fixed = TRUE,
               class = "synthcontrol_data_error")
  expect_error(synthcontrol(y ~ d, unit = unt, time = year, data = df),
               "column 'unt' (unit) not found", fixed = TRUE, class = "synthcontrol_data_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = "yr", data = df),
               "column 'yr' (time) not found", fixed = TRUE, class = "synthcontrol_data_error")
  expect_error(synthcontrol(y ~ dd, unit = unit, time = year, data = df),
               "column 'dd' (treatment) not found", fixed = TRUE, class = "synthcontrol_data_error")
  # the available columns are listed
  expect_error(synthcontrol(yy ~ d, unit = unit, time = year, data = df),
               "available columns: unit, year, y, d", fixed = TRUE)
})

test_that("missing values in the unit / time columns are caught in R", {
  df <- toy_panel()
  df$year[3] <- NA
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df),
               "column 'year' (time) has missing values (first at row 3)", fixed = TRUE,
               class = "synthcontrol_data_error")
})

test_that("Python SynthErrors become R errors with the Python message and no traceback", {
  skip_if_no_python_core()
  df <- toy_panel()
  # the Python core's own missing-column check (the R checks bypassed)
  err <- tryCatch(synthcontrol:::.py_call("panel", columns = list(a = c(1, 2), b = c(3, 4)),
                                          unit = "a", time = "b", outcome = "cigsale"),
                  error = function(e) e)
  expect_s3_class(err, "synthcontrol_data_error")
  expect_s3_class(err, "synthcontrol_error")
  expect_identical(err$python_type, "DataError")
  expect_match(conditionMessage(err), "column(s) 'cigsale' not found in data", fixed = TRUE)
  expect_no_match(conditionMessage(err), "Traceback|py_last_error|File \"")

  # an unknown treated unit
  err <- tryCatch(synthcontrol(y ~ 1, unit = unit, time = year, data = df, treated = "Atlantis",
                               treatment_time = 2005), error = function(e) e)
  expect_s3_class(err, "synthcontrol_data_error")
  expect_match(conditionMessage(err), "treated unit(s) 'Atlantis' not found in column 'unit'", fixed = TRUE)
  expect_no_match(conditionMessage(err), "Traceback|py_last_error|File \"")

  # no post period: a SpecificationError
  expect_error(synthcontrol(y ~ 1, unit = unit, time = year, data = df, treated = "T",
                            treatment_time = 2020),
               "no post-treatment period", class = "synthcontrol_specification_error")
  # duplicated rows
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = rbind(df, df[1, ])),
               "share a \\(unit, year\\) pair", class = "synthcontrol_data_error")
  # an option value the core does not know
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df, augment = "lasso"),
               "augment must be", class = "synthcontrol_error")
})

# ---- bad formulas ------------------------------------------------------------------------------

test_that("bad formulas give clear R errors", {
  df <- toy_panel()
  expect_error(synthcontrol(~ d, unit = unit, time = year, data = df),
               "no response", class = "synthcontrol_formula_error")
  expect_error(synthcontrol(y ~ d + unit, unit = unit, time = year, data = df),
               "right-hand side of `formula` must be one 0/1 treatment column",
               class = "synthcontrol_formula_error")
  expect_error(synthcontrol(y ~ d * unit, unit = unit, time = year, data = df),
               class = "synthcontrol_formula_error")
  df$x <- rep(0:2, length.out = nrow(df))
  expect_error(synthcontrol(y ~ x, unit = unit, time = year, data = df),
               "column 'x', must be a 0/1 treatment indicator", class = "synthcontrol_formula_error")
  expect_error(synthcontrol(y ~ unit, unit = unit, time = year, data = df),
               "used for two roles", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ year, unit = unit, time = year, data = df),
               class = "synthcontrol_error")
  expect_error(synthcontrol("y ~ d", unit = unit, time = year, data = df),
               "`formula` must be a formula", class = "synthcontrol_formula_error")
  expect_error(synthcontrol(df, unit = unit, time = year, data = df),
               "got an object of class 'data.frame'", class = "synthcontrol_formula_error")
  expect_error(synthcontrol(log(y) ~ d, unit = unit, time = year, data = df),
               "left-hand side", class = "synthcontrol_formula_error")
  expect_error(synthcontrol(y ~ 0, unit = unit, time = year, data = df),
               class = "synthcontrol_formula_error")
})

test_that("inconsistent treatment specifications are R errors", {
  df <- toy_panel()
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df, treated = "T"),
               "not both", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ 1, unit = unit, time = year, data = df, treated = "T"),
               "treatment_time", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ 1, unit = unit, time = year, data = df),
               "give both treated", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df, fill = "zero"),
               "`fill`", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df, inference = "bootstrap"),
               "unknown inference", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df, covariate = "x"),
               "unknown argument\\(s\\): covariate", class = "synthcontrol_spec_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = as.matrix(df)),
               "must be a data frame", class = "synthcontrol_data_error")
  expect_error(synthcontrol(y ~ d, unit = unit, time = year),
               "`data` is required", class = "synthcontrol_data_error")
  expect_error(synthcontrol(y ~ d, time = year, data = df),
               "`unit` is required", class = "synthcontrol_spec_error")
  df$y <- as.character(df$y)
  expect_error(synthcontrol(y ~ d, unit = unit, time = year, data = df),
               "column 'y' (outcome) must be numeric", fixed = TRUE, class = "synthcontrol_data_error")
})

test_that("the core's messages speak R, and a bad specification has one class name on both sides", {
  skip_if_no_python_core()
  data("kansas", package = "synthcontrol", envir = environment())
  # found by the Python core: its option names and literals come back in R's words
  e <- tryCatch(synthcontrol(lngdpcapita ~ treated, fips, year_qtr, kansas, progfunc = "ridge",
                             outcome_lags = 2000), error = function(e) e)
  expect_s3_class(e, "synthcontrol_specification_error")
  expect_s3_class(e, "synthcontrol_spec_error")
  expect_match(conditionMessage(e), "progfunc = \"ridge\"", fixed = TRUE)
  expect_false(grepl("augment=|=True|=None|ridge_lambda", conditionMessage(e)))
  # found in R: the same two class names
  e <- tryCatch(synthcontrol(lngdpcapita ~ treated, fips, year_qtr, kansas, progfunc = "lasso"),
                error = function(e) e)
  expect_s3_class(e, "synthcontrol_spec_error")
  expect_s3_class(e, "synthcontrol_specification_error")
  # the translation itself
  f <- synthcontrol:::.r_speak
  expect_identical(f("residualize=True needs augment='ridge'"), "residualize = TRUE needs progfunc = \"ridge\"")
  expect_identical(f("ridge_lambda must be >= 0 or None"), "lambda must be >= 0 or NULL")
  expect_identical(f("augsynth's rule and the treated's mean"), "augsynth's rule and the treated's mean")
})
