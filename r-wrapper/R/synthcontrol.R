# synthcontrol(): the estimator, augsynth-shaped.

.estimator_options <- c("augment", "ridge_lambda", "seed", "n_jobs", "canonical_v", "mscmt_maxiter",
                        "mscmt_popsize", "mscmt_prune_shady", "penalized_cv", "penalized_lambda")
.progfuncs <- c("none", "ridge")
.inference_methods <- c("placebo", "leave_one_out", "in_time_placebo")

# augsynth()'s arguments this package does not take, each with what to use instead (an error that
# names it, never a silently ignored argument).
.augsynth_arguments <- c(
  t_int = "give the first treated period as treatment_time (or a 0/1 column in the formula)",
  min_1se = "the penalty is chosen by augsynth's default rule (the largest lambda within one standard error of the CV minimum); give lambda = to fix it",
  lambda_min_ratio = "augsynth's default grid (21 values from the largest squared singular value down to 1e-8 of it) is used; give lambda = to fix the penalty",
  n_lambda = "augsynth's default grid (21 values) is used; give lambda = to fix the penalty",
  lambda_max = "augsynth's default grid (from the largest squared singular value) is used; give lambda = to fix the penalty",
  holdout_length = "the cross-validation holds out one pre-period at a time (augsynth's default)",
  V = "the outcome fit weights every pre-period equally; for predictor weights use covariates = (Synth-style V search)",
  cov_agg = "covariates after | are averaged over the pre-period (augsynth's default); transform the columns before the call for another aggregate",
  plot = "call plot() on the result")

# Documented in man/synthcontrol.Rd.
synthcontrol <- function(formula, unit, time, data, treated = NULL, treatment_time = NULL,
                         donors = NULL, fill = NULL, fit_window = NULL, inference = NULL, ...,
                         progfunc = c("none", "ridge"), scm = TRUE, fixedeff = FALSE, lambda = NULL,
                         residualize = FALSE, covariates = NULL, outcome_lags = NULL,
                         predictor_window = NULL, backend = "auto", time_order = NULL) {
  # (the estimator options follow `...` so that they are never partially matched)
  cl <- match.call()
  spec <- .parse_formula(formula)
  progfunc <- .check_progfunc(progfunc)
  if (!isTRUE(scm)) {
    if (!identical(scm, FALSE)) .sc_stop("`scm` must be TRUE or FALSE", class = "synthcontrol_spec_error")
    .sc_stop("scm = FALSE (augsynth's outcome model alone, without synthetic control weights) is not ",
             "supported; use scm = TRUE (the default) with progfunc = \"none\" or \"ridge\"",
             class = "synthcontrol_spec_error")
  }
  fixedeff <- .flag(fixedeff, "fixedeff")
  residualize <- .flag(residualize, "residualize")
  if (!is.null(lambda) && (!is.numeric(lambda) || length(lambda) != 1L || is.na(lambda) || lambda < 0)) {
    .sc_stop("`lambda` must be NULL (chosen by cross-validation, as augsynth) or one number >= 0",
             class = "synthcontrol_spec_error")
  }
  if (!is.null(spec$covariates)) {
    if (!is.null(covariates)) {
      .sc_stop("give the covariates either after `|` in the formula or with `covariates =`, not both",
               class = "synthcontrol_spec_error")
    }
    covariates <- spec$covariates
  }
  if (missing(data)) .sc_stop("`data` is required: a data frame in long format, one row per unit ",
                              "and period", class = "synthcontrol_data_error")
  if (!is.data.frame(data)) {
    .sc_stop("`data` must be a data frame, got an object of class '", class(data)[1L], "'",
             class = "synthcontrol_data_error")
  }
  env <- parent.frame()
  unit_col <- .column_name(if (missing(unit)) NULL else substitute(unit), env, data, "unit")
  time_col <- .column_name(if (missing(time)) NULL else substitute(time), env, data, "time")

  # --- how the treatment is given ------------------------------------------------------------
  if (!is.null(spec$treat) && (!is.null(treated) || !is.null(treatment_time))) {
    .sc_stop("give the treatment either as a 0/1 column on the right of the formula (`",
             spec$outcome, " ~ ", spec$treat, "`) or as `", spec$outcome,
             " ~ 1` with treated = and treatment_time =, not both",
             class = "synthcontrol_spec_error")
  }
  if (is.null(spec$treat) && (is.null(treated) || is.null(treatment_time))) {
    .sc_stop("with `", spec$outcome, " ~ 1` give both treated = (the treated unit(s)) and ",
             "treatment_time = (the first treated period); or name a 0/1 treatment column on the ",
             "right of the formula, e.g. `", spec$outcome, " ~ treated`",
             class = "synthcontrol_spec_error")
  }
  if (!is.null(fill) && !identical(fill, "interpolate")) {
    .sc_stop("`fill` must be NULL (missing cells are an error) or \"interpolate\"; got ",
             paste(format(fill), collapse = ", "), class = "synthcontrol_spec_error")
  }
  if (!is.null(fit_window) && length(fit_window) != 2L) {
    .sc_stop("`fit_window` must be c(start, end), two periods before the treatment; got ",
             length(fit_window), " value(s)", class = "synthcontrol_spec_error")
  }
  if (!is.null(treatment_time) && length(treatment_time) != 1L) {
    .sc_stop("`treatment_time` must be a single period (the first treated one)",
             class = "synthcontrol_spec_error")
  }
  inference <- .check_inference(inference)
  opts <- list(...)
  if (length(opts)) {
    nm <- names(opts)
    if (is.null(nm) || any(!nzchar(nm))) {
      .sc_stop("arguments in `...` must be named (estimator options: ",
               paste(.estimator_options, collapse = ", "), ")", class = "synthcontrol_spec_error")
    }
    known <- intersect(nm, names(.augsynth_arguments))
    if (length(known)) {
      .sc_stop(paste0("`", known, "` is not supported: ", .augsynth_arguments[known], collapse = "; "),
               class = "synthcontrol_spec_error")
    }
    bad <- setdiff(nm, .estimator_options)
    if (length(bad)) {
      .sc_stop("unknown argument(s): ", paste(bad, collapse = ", "), ". Estimator options are: ",
               paste(.estimator_options, collapse = ", "), class = "synthcontrol_spec_error")
    }
    # seed / n_jobs go to Python as given: the bridge turns a whole double (3, 3e9) into the Python
    # int of exactly that value and the core's check reports anything else (1.5, -3e9) as typed;
    # as.integer() here would turn 3e9 into NA (-2147483648 in Python)
  }
  # augsynth's vocabulary -> the core's options (augment / ridge_lambda in `...` still work)
  if (progfunc == "ridge") {
    if (!is.null(opts$augment) && !identical(opts$augment, "ridge")) {
      .sc_stop("progfunc = \"ridge\" conflicts with augment = ", paste(format(opts$augment), collapse = ", "),
               class = "synthcontrol_spec_error")
    }
    opts$augment <- "ridge"
  }
  if (!is.null(lambda)) {
    if (!is.null(opts$ridge_lambda)) {
      .sc_stop("give the ridge penalty once: `lambda =` (augsynth's name) or `ridge_lambda =`",
               class = "synthcontrol_spec_error")
    }
    opts$ridge_lambda <- as.double(lambda)
  } else if (!is.null(opts$ridge_lambda) && is.numeric(opts$ridge_lambda)) {
    opts$ridge_lambda <- as.double(opts$ridge_lambda)
  }
  if (!is.null(spec$covariates) && progfunc == "none") {
    # augsynth's progfunc = "none" with covariates after `|`: the simplex fit of the outcomes and
    # the covariates (stacked, or residualized) -- the ridge machinery with no ridge correction
    if (!is.null(opts$augment) || !is.null(opts$ridge_lambda) || !is.null(lambda)) {
      .sc_stop("progfunc = \"none\" has no ridge penalty: drop `lambda` (or use progfunc = \"ridge\")",
               class = "synthcontrol_spec_error")
    }
    opts$augment <- "ridge"
    opts$ridge_lambda <- Inf
  }
  if (residualize && is.null(spec$covariates)) {
    .sc_stop("residualize = TRUE regresses the covariates out of the outcomes: give them after `|` in the ",
             "formula, e.g. ", spec$outcome, " ~ ", if (is.null(spec$treat)) "1" else spec$treat,
             " | x1 + x2", class = "synthcontrol_spec_error")
  }
  if (residualize) opts$residualize <- TRUE
  if (fixedeff) opts$fixedeff <- TRUE
  backend <- .choice(backend, c("auto", "outcome-only", "malo", "mscmt", "penalized"), "backend")
  # with backend = "malo" / "mscmt" / "penalized" the ridge corrects that backend's weights, whose
  # covariates are Synth-style predictors (windows allowed); otherwise they are augsynth's unit means
  if (progfunc == "ridge" && is.list(covariates) && backend %in% c("auto", "outcome-only")) {
    .sc_stop("with progfunc = \"ridge\", `covariates` is a character vector of column names (each ",
             "averaged over the pre-period, as augsynth does); windows per covariate are not supported ",
             "(they are with backend = \"malo\", \"mscmt\" or \"penalized\", whose weights the ridge then corrects)",
             class = "synthcontrol_spec_error")
  }
  if (!is.null(attr(covariates, "exprs"))) {   # `| log(x)`: evaluated here, on a copy of the data
    data <- .eval_formula_covariates(data, attr(covariates, "exprs"), env)
    covariates <- as.character(covariates)
  }
  cov_cols <- .covariate_columns(covariates)
  if (length(cov_cols)) .check_columns(data, as.list(stats::setNames(cov_cols, rep("covariate", length(cov_cols)))))
  if (!is.null(predictor_window) && !length(predictor_window)) {
    .sc_stop("`predictor_window` is empty", class = "synthcontrol_spec_error")
  }

  # --- data -----------------------------------------------------------------------------------
  prep <- .prepare_data(data, unit_col, time_col, spec$outcome, spec$treat)
  kinds <- prep$kinds
  treated_py <- .match_type(treated, kinds$unit, "treated", unit_col)
  donors_py <- .match_type(donors, kinds$unit, "donors", unit_col)
  tt_py <- .match_type(treatment_time, kinds$time, "treatment_time", time_col)
  # text periods that are neither numbers nor ISO dates need their order: time_order =, or the
  # levels of an ordered factor
  if (!is.null(time_order)) {
    if (!is.atomic(time_order) || !length(time_order) || anyNA(time_order)) {
      .sc_stop("`time_order` must be a vector of the period labels in period order",
               class = "synthcontrol_spec_error")
    }
    if (is.factor(time_order)) time_order <- as.character(time_order)
    order_py <- as.list(.match_type(time_order, kinds$time, "time_order", time_col))
  } else if (is.ordered(data[[time_col]])) {
    order_py <- as.list(levels(data[[time_col]]))
  } else {
    order_py <- NULL
  }
  fw_py <- if (is.null(fit_window)) NULL else as.list(.match_type(fit_window, kinds$time, "fit_window", time_col))
  if (!is.null(donors_py)) donors_py <- as.list(donors_py)
  if (length(cov_cols)) {
    for (col in setdiff(cov_cols, names(prep$columns))) {
      x <- data[[col]]
      if (is.logical(x)) x <- as.integer(x)
      if (!is.numeric(x)) {
        .sc_stop("covariate column '", col, "' must be numeric; it has class '", class(x)[1L], "'",
                 class = "synthcontrol_data_error")
      }
      prep$columns[[col]] <- as.double(x)
    }
  }
  win <- function(x, what) as.list(.match_type(x, kinds$time, what, time_col))
  if (!is.null(covariates)) {
    opts$covariates <- if (is.list(covariates)) {
      stats::setNames(lapply(names(covariates), function(k)
        win(covariates[[k]], paste0("covariates$", k))), names(covariates))
    } else as.list(covariates)
  }
  if (!is.null(outcome_lags)) {
    opts$outcome_lags <- if (is.list(outcome_lags)) {
      if (is.null(names(outcome_lags)) || any(!nzchar(names(outcome_lags)))) {
        .sc_stop("`outcome_lags` must be a vector of periods or a named list of windows",
                 class = "synthcontrol_spec_error")
      }
      stats::setNames(lapply(names(outcome_lags), function(k)
        win(outcome_lags[[k]], paste0("outcome_lags$", k))), names(outcome_lags))
    } else win(outcome_lags, "outcome_lags")
  }
  if (!is.null(predictor_window)) opts$predictor_window <- win(predictor_window, "predictor_window")
  opts$backend <- backend
  if (!is.null(treated_py) && length(treated_py) > 1L) treated_py <- as.list(treated_py)

  v <- .py_call("fit", columns = prep$columns, unit = unit_col, time = time_col,
                outcome = spec$outcome, treat = spec$treat, treated = treated_py,
                treatment_time = tt_py, donors = donors_py, fill = fill,
                datetime_cols = prep$datetime_cols, fit_window = fw_py, options = opts,
                time_order = order_py, call = cl)
  res <- reticulate::py_get_item(v, "result")
  d <- reticulate::py_to_r(reticulate::py_get_item(v, "data"))
  fit <- .build_fit(d, kinds, cl, unit_col, time_col, fill)
  hidden <- new.env(parent = emptyenv())
  hidden$result <- res
  hidden$kinds <- kinds
  attr(fit, ".py") <- hidden

  for (m in inference) {
    fit$inference[[m]] <- switch(m,
      placebo = placebo(fit),
      leave_one_out = leave_one_out(fit),
      in_time_placebo = in_time_placebo(fit))
  }
  fit
}

# Covariate columns named by `covariates` (a character vector, or a named list column = window).
.covariate_columns <- function(covariates) {
  if (is.null(covariates)) return(character())
  if (is.character(covariates)) {
    if (anyNA(covariates) || any(!nzchar(covariates))) {
      .sc_stop("`covariates` contains an empty or missing column name", class = "synthcontrol_spec_error")
    }
    return(unique(covariates))
  }
  if (is.list(covariates) && !is.null(names(covariates)) && all(nzchar(names(covariates)))) {
    ok <- vapply(covariates, function(w) is.atomic(w) && length(w) >= 1L, logical(1))
    if (!all(ok)) {
      .sc_stop("each element of `covariates` must be a window: c(start, end) (inclusive), ",
               "one period, or a vector of 3+ periods; see covariate '",
               names(covariates)[!ok][1L], "'", class = "synthcontrol_spec_error")
    }
    return(unique(names(covariates)))
  }
  .sc_stop("`covariates` must be a character vector of column names or a named list ",
           "column = window, e.g. list(lnincome = c(1980, 1988))", class = "synthcontrol_spec_error")
}

.check_progfunc <- function(progfunc) {
  if (identical(progfunc, .progfuncs) || is.null(progfunc)) return("none")
  if (!is.character(progfunc) || length(progfunc) != 1L || is.na(progfunc) ||
      !tolower(progfunc) %in% .progfuncs) {
    .sc_stop("`progfunc` must be \"none\" (synthetic control) or \"ridge\" (ridge-augmented SCM); got ",
             paste(format(progfunc), collapse = ", "), ". augsynth's other outcome models (\"EN\", ",
             "\"RF\", \"GSYN\", \"MCP\", \"CITS\", \"CausalImpact\", \"seq2seq\") are not available",
             class = "synthcontrol_spec_error")
  }
  tolower(progfunc)
}

.flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    .sc_stop("`", arg, "` must be TRUE or FALSE", class = "synthcontrol_spec_error")
  }
  x
}

.check_inference <- function(inference) {
  if (is.null(inference)) return(character())
  if (!is.character(inference)) {
    .sc_stop("`inference` must be NULL or a character vector of ",
             paste0('"', .inference_methods, '"', collapse = ", "), class = "synthcontrol_spec_error")
  }
  inference[inference == "loo"] <- "leave_one_out"
  inference[inference == "in_time"] <- "in_time_placebo"
  bad <- setdiff(inference, .inference_methods)
  if (length(bad)) {
    .sc_stop("unknown inference method(s): ", paste(bad, collapse = ", "), "; use ",
             paste0('"', .inference_methods, '"', collapse = ", "), class = "synthcontrol_spec_error")
  }
  unique(inference)
}

.num <- function(x) {
  if (is.null(x) || length(x) == 0L) return(numeric())
  if (is.list(x)) x <- vapply(x, function(e) if (is.null(e)) NA_real_ else as.double(e), 0)
  as.double(x)
}

.scalars <- function(x) {
  x <- x[!vapply(x, is.null, logical(1))]
  x[vapply(x, function(e) is.atomic(e) && length(e) == 1L, logical(1))]
}

.build_fit <- function(d, kinds, cl, unit_col, time_col, fill) {
  periods <- .restore_periods(d$periods, d$period_kind, kinds$time)
  pnames <- as.character(periods)
  post <- as.logical(unlist(d$post))
  observed <- stats::setNames(.num(d$observed), pnames)
  counterfactual <- stats::setNames(.num(d$counterfactual), pnames)
  gap <- observed - counterfactual
  weights <- stats::setNames(.num(d$weights), as.character(unlist(d$donors)))
  tt <- .restore_periods(list(d$treatment_time), if (identical(kinds$time, "datetime")) "datetime"
                         else d$period_kind, kinds$time)
  treated <- .restore_units(d$treated, kinds$unit)
  V <- if (is.null(d$V)) NULL else stats::setNames(.num(d$V$values), as.character(unlist(d$V$names)))
  diag <- .scalars(d$diagnostics)
  aug <- d$augment
  ridge <- identical(diag$augment, "ridge")
  dnum <- function(k) if (ridge && !is.null(diag[[k]])) as.double(diag[[k]]) else NULL
  lambda_path <- if (ridge && !is.null(aug$lambda_path)) {
    data.frame(lambda = .num(aug$lambda_path$lambda), cv_error = .num(aug$lambda_path$cv_error),
               cv_se = .num(aug$lambda_path$cv_se))
  } else NULL
  weights_scm <- if (ridge && !is.null(aug$weights_scm)) {
    stats::setNames(.num(aug$weights_scm$values), as.character(unlist(aug$weights_scm$names)))
  } else NULL
  structure(list(
    att = as.double(d$att),
    effects = gap[post],
    observed = observed,
    counterfactual = counterfactual,
    weights = weights,
    V = V,
    pre_rmse = as.double(d$pre_rmse),
    diagnostics = diag,
    trajectory = data.frame(period = periods, observed = unname(observed),
                            counterfactual = unname(counterfactual), effect = unname(gap),
                            post = post, stringsAsFactors = FALSE),
    treated = treated,
    treated_label = as.character(d$treated_label),
    treatment_time = tt,
    outcome = as.character(d$outcome),
    unit = unit_col,
    time = time_col,
    n_pre = as.integer(d$T0),
    n_post = as.integer(sum(post)),
    n_filled = as.integer(d$n_filled),
    progfunc = if (ridge) "ridge" else "none",
    lambda = dnum("ridge_lambda"),
    lambda_path = lambda_path,
    l2_imbalance = dnum("l2_imbalance"),
    scaled_l2_imbalance = dnum("scaled_l2_imbalance"),
    l2_imbalance_scm = dnum("l2_imbalance_scm"),
    covariate_l2_imbalance = if (is.null(diag$covariate_l2_imbalance)) NULL else as.double(diag$covariate_l2_imbalance),
    scaled_covariate_l2_imbalance = if (is.null(diag$scaled_covariate_l2_imbalance)) NULL
                                    else as.double(diag$scaled_covariate_l2_imbalance),
    estimated_bias = dnum("estimated_bias"),
    extrapolation = dnum("extrapolation"),
    weights_scm = weights_scm,
    inference = list(),
    call = cl
  ), class = "synthcontrol")
}

# The Python result behind a fit (never handed to users).
.py_result <- function(fit) {
  if (!inherits(fit, "synthcontrol")) {
    .sc_stop("expected a fit made by synthcontrol(), got an object of class '", class(fit)[1L], "'",
             class = "synthcontrol_spec_error")
  }
  e <- attr(fit, ".py")
  res <- if (is.environment(e)) e$result else NULL
  if (is.null(res) || reticulate::py_is_null_xptr(res)) {
    .sc_stop("the Python side of this fit is not available (was it saved and reloaded, or made in ",
             "another R session?); refit it with synthcontrol() to run inference",
             class = "synthcontrol_stale_fit")
  }
  res
}

.kinds <- function(fit) {
  e <- attr(fit, ".py")
  if (is.environment(e) && !is.null(e$kinds)) e$kinds else list(unit = "character", time = "character")
}
