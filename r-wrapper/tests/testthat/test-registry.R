# The Python core's inference registry from R: inference_methods(), infer(), summary(inf_type =)
# for any registered method (a plug-in registered in this session included), and the R wrappers'
# defaults checked against the registered functions' own (their one home).

registry_entry <- function(name) {
  for (m in synthcontrol:::.registry()) if (identical(m$name, name)) return(m)
  NULL
}

test_that("inference_methods() lists the registry: names, titles, supports, aliases", {
  skip_if_no_python_core()
  m <- inference_methods()
  expect_s3_class(m, "data.frame")
  expect_identical(names(m), c("name", "title", "supports", "aliases"))
  expect_true(all(c("placebo", "in_time_placebo", "leave_one_out", "conformal", "scpi", "lto", "ttest",
                    "jackknife_plus") %in% m$name))
  expect_match(m$aliases[m$name == "jackknife_plus"], "jackknife+", fixed = TRUE)
  expect_match(m$aliases[m$name == "leave_one_out"], "loo", fixed = TRUE)
  expect_match(m$supports[m$name == "conformal"], "ridge", fixed = TRUE)
  expect_true(all(nzchar(m$title)))
})

test_that("infer() runs a built-in method by name or alias: the numbers of its R wrapper", {
  fit <- prop99_fit()
  j <- jackknife_plus(fit)
  x <- infer(fit, "jackknife+")
  expect_s3_class(x, "synthcontrol_inference")
  expect_false(has_py_object(unclass(x)))
  expect_identical(x$name, "jackknife_plus")
  expect_equal(x$ci_lower, j$att_lower, tolerance = 1e-12)
  expect_equal(x$ci_upper, j$att_upper, tolerance = 1e-12)
  expect_identical(x$level, "90%")
  expect_equal(x$details$att, fit$att, tolerance = 1e-12)
  expect_identical(nrow(x$tables$table), 12L)
  out <- capture.output(print(x))
  expect_true(any(grepl("90% interval", out, fixed = TRUE)))
  expect_true(any(grepl("table (12 x ", out, fixed = TRUE)))
  expect_equal(infer(fit, "jackknife_plus", alpha = 0.2)$ci_lower, jackknife_plus(fit, alpha = 0.2)$att_lower,
               tolerance = 1e-12)
  # a method that returns a table (leave-one-out) comes back as the table
  l <- infer(fit, "loo")
  expect_equal(l$table$att, leave_one_out(fit)$att, tolerance = 1e-12)
  expect_equal(as.data.frame(l)$att, leave_one_out(fit)$att, tolerance = 1e-12)
  expect_equal(l$details$att, fit$att, tolerance = 1e-12)
  # bad calls
  expect_error(infer(fit, "jackknife+", bogus = 1), "bogus", class = "synthcontrol_spec_error")
  expect_error(infer(fit, "jackknife+", 0.2), "named", class = "synthcontrol_spec_error")
  expect_error(infer(fit, c("lto", "ttest")), "method", class = "synthcontrol_spec_error")
  expect_error(infer(list(), "lto"), class = "synthcontrol_spec_error")
  f <- tempfile(fileext = ".rds")
  on.exit(unlink(f))
  saveRDS(fit, f)
  expect_error(infer(readRDS(f), "lto"), "refit", class = "synthcontrol_stale_fit")
})

test_that("a method registered in Python (a plug-in) is reachable from R", {
  fit <- prop99_fit()
  unregister <- function() reticulate::py_run_string(
    "import synthcontrol.inference.base as _b\n_b.unregister('toy_r')")
  on.exit(unregister(), add = TRUE)
  # registered in the embedded Python only: no package file is touched
  reticulate::py_run_string(paste(
    "import synthcontrol as sc",
    "from synthcontrol.inference.base import Inference, register",
    "@register('toy_r', replace=True, title='Toy method (R test)')",
    "def toy(res, alpha=0.1, shift=0.0):",
    "    return Inference(method='toy', p_value=0.5, ci_lower=res.att - 1 + shift,",
    "                     ci_upper=res.att + 1 + shift, alpha=alpha, details={'answer': 42.0})",
    sep = "\n"))

  m <- inference_methods()
  expect_true("toy_r" %in% m$name)
  expect_identical(m$title[m$name == "toy_r"], "Toy method (R test)")
  expect_identical(registry_entry("toy_r")$parameters, c("alpha", "shift"))
  expect_equal(registry_entry("toy_r")$defaults, list(alpha = 0.1, shift = 0))

  # infer(): the method's numbers, its defaults for what is not given
  x <- infer(fit, "toy_r", shift = 1)
  expect_s3_class(x, "synthcontrol_inference")
  expect_false(has_py_object(unclass(x)))
  expect_identical(x$name, "toy_r")
  expect_identical(x$method, "toy")
  expect_equal(x$p_value, 0.5)
  expect_equal(x$ci_lower, fit$att, tolerance = 1e-12)
  expect_equal(x$ci_upper, fit$att + 2, tolerance = 1e-12)
  expect_equal(x$alpha, 0.1)
  expect_identical(x$level, "90%")
  expect_equal(x$details$answer, 42)
  expect_equal(x$call, list(alpha = 0.1, shift = 1))
  expect_equal(infer(fit, "toy_r")$ci_lower, fit$att - 1, tolerance = 1e-12)
  out <- capture.output(print(x))
  expect_true(any(grepl("Toy method (R test)", out, fixed = TRUE)))
  expect_true(any(grepl("90% interval", out, fixed = TRUE)))
  expect_true(any(grepl("answer +42\\.0000", out)))
  expect_true(any(grepl("p-value +0\\.5000", out)))

  # summary(inf_type =) takes it, printed by the generic print, with its level
  s <- summary(fit, inf_type = "toy_r")
  expect_identical(s$inf_type, "toy_r")
  expect_identical(s$inference, infer(fit, "toy_r"))
  out <- capture.output(print(s))
  expect_true(any(grepl("Toy method (R test)", out, fixed = TRUE)))
  expect_true(any(grepl("90% interval", out, fixed = TRUE)))
  # options given to summary() reach it; the ones not given keep the method's defaults
  s <- summary(fit, inf_type = "toy_r", alpha = 0.2, shift = 1)
  expect_equal(s$inference$alpha, 0.2)
  expect_equal(s$inference$ci_lower, fit$att, tolerance = 1e-12)
  expect_true(any(grepl("80% interval", capture.output(print(s)), fixed = TRUE)))
  expect_identical(summary(fit, "toy_r")$inference, infer(fit, "toy_r"))
  expect_error(summary(fit, inf_type = "toy_r", sims = 10), "sims", class = "synthcontrol_spec_error")
  expect_error(infer(fit, "toy_r", bogus = 1), "bogus", class = "synthcontrol_spec_error")

  # an unknown name: an R error naming the available methods (the plug-in among them)
  err <- tryCatch(infer(fit, "no_such_method"), error = function(e) e)
  expect_s3_class(err, "synthcontrol_spec_error")
  expect_match(conditionMessage(err), "no_such_method", fixed = TRUE)
  for (n in c("\"toy_r\"", "\"conformal\"", "\"jackknife+\"", "\"placebo\"")) {
    expect_match(conditionMessage(err), n, fixed = TRUE)
  }
  err <- tryCatch(summary(fit, inf_type = "no_such_method"), error = function(e) e)
  expect_s3_class(err, "synthcontrol_spec_error")
  expect_match(conditionMessage(err), "inf_type", fixed = TRUE)
  expect_match(conditionMessage(err), "\"toy_r\"", fixed = TRUE)

  # unregistered: gone from R too
  unregister()
  expect_false("toy_r" %in% inference_methods()$name)
  expect_error(infer(fit, "toy_r"), "toy_r", class = "synthcontrol_spec_error")
  expect_error(summary(fit, inf_type = "toy_r"), "inf_type", class = "synthcontrol_spec_error")
})

test_that("summary(inf_type =) takes every registered method, built-in ones by their R functions", {
  fit <- prop99_fit()
  s <- summary(fit, inf_type = "loo")
  expect_equal(s$inference$att, leave_one_out(fit)$att, tolerance = 1e-12)
  expect_true(any(grepl("Leave-one-out donors", capture.output(print(s)), fixed = TRUE)))
  s <- summary(fit, inf_type = "placebo")
  expect_s3_class(s$placebo, "synthcontrol_inference")
  expect_equal(s$placebo$p_value, summary(fit, inference = "placebo")$placebo$p_value)
  expect_error(summary(fit, inf_type = "loo", bogus = 1), "threshold", class = "synthcontrol_spec_error")
  # scpi's options in `...` reach scpi() under their own names (rho_max is not rho)
  s <- summary(fit, inf_type = "scpi", sims = 50, rho_max = 0.9)
  expect_equal(s$scpi$rho, scpi(fit, sims = 50, rho_max = 0.9)$rho)
  expect_lt(s$scpi$rho, 0.9)
})

# The defaults of each method live in its registered Python function.  The R wrappers show them
# in their signatures for readability; this test fails when the two drift apart.
test_that("the R wrappers' defaults are the registered methods' defaults", {
  skip_if_no_python_core()
  py_name <- function(a) {
    p <- synthcontrol:::.r_to_py_names[a]
    if (is.na(p)) a else unname(p)
  }
  r_default <- function(f, a) {
    v <- eval(formals(f)[[a]], baseenv())
    if (is.character(v) && length(v) > 1L) v[[1L]] else v  # c("iid", "block"): the first is the default
  }
  # Python arguments an R wrapper does not offer (on purpose)
  # keep_residuals: the channel through which R's conformal() evaluates an R stat_func itself
  not_in_r <- list(scpi = c("n_jobs", "solver"), conformal = "keep_residuals")
  wrappers <- list(placebo = placebo, in_time_placebo = in_time_placebo, leave_one_out = leave_one_out,
                   conformal = conformal, scpi = scpi, lto = lto, ttest = ttest,
                   jackknife_plus = jackknife_plus)
  for (name in names(wrappers)) {
    m <- registry_entry(name)
    expect_false(is.null(m), info = name)
    f <- wrappers[[name]]
    args <- setdiff(names(formals(f)), "fit")
    for (a in args) {
      py <- py_name(a)
      expect_true(py %in% names(m$defaults), info = paste0(name, "(", a, "): no such Python argument"))
      expect_equal(r_default(f, a), m$defaults[[py]],
                   info = paste0(name, "(", a, "): the R default differs from the registered one"))
    }
    expect_setequal(setdiff(m$parameters, vapply(args, py_name, "")), c(character(), not_in_r[[name]]))
  }
  expect_identical(formals(conformal)$alpha, 0.1)  # one default: the registered conformal()'s

  # summary(): each inference option and the methods it is passed to
  to <- list(statistic = "placebo", donor_pool = "placebo", exclude_mspe_ratio = "placebo",
             alpha = c("conformal", "scpi", "lto", "ttest"), type = "conformal", q = "conformal",
             grid_size = "conformal", ns = "conformal", seed = c("conformal", "scpi", "lto"),
             sims = "scpi", e_method = "scpi", max_pairs = "lto", K = "ttest", oracle_weights = "ttest",
             stat_func = "conformal")
  f <- synthcontrol:::summary.synthcontrol
  opts <- setdiff(names(formals(f)), c("object", "inference", "...", "inf_type", "inf"))
  expect_setequal(opts, names(to))
  # summary()'s alpha = NULL: augsynth's summary level (0.05) for conformal and jackknife+, each
  # other method's own registered level
  expect_null(formals(f)$alpha)
  expect_true(formals(f)$inf)
  opts <- setdiff(opts, "alpha")
  for (a in opts) {
    for (name in to[[a]]) {
      expect_equal(r_default(f, a), registry_entry(name)$defaults[[py_name(a)]],
                   info = paste0("summary(", a, ") and ", name, "()"))
    }
  }
})
