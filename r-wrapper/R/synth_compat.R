# Synth-compatible front end: dataprep(), synth(), synth.tab(), path.plot(), gaps.plot().
# Same argument and result names as the Synth package, so that an existing Synth script runs
# unchanged.  dataprep() and synth() call the Python core (synthcontrol.synth_dataprep /
# synthcontrol.synth) through the bridge; synth.tab() and the plots are plain R algebra on
# the returned matrices.

# ---- dataprep() --------------------------------------------------------------------------------

# A column given by name or by number (Synth accepts both) -> its name, checked.
.dp_column <- function(x, foo, arg, required = TRUE) {
  if (is.null(x) || (length(x) == 1L && is.na(x))) {
    if (!required) return(NULL)
    .sc_stop("dataprep: `", arg, "` is required (a column of `foo`, by name or number)",
             class = "synthcontrol_spec_error")
  }
  if (is.factor(x)) x <- as.character(x)
  if (length(x) != 1L) {
    .sc_stop("dataprep: `", arg, "` must be one column (name or number); got ", length(x),
             " values", class = "synthcontrol_spec_error")
  }
  .dp_columns(x, foo, arg)
}

# Several columns by name or number -> names; a missing one is named in the error.
.dp_columns <- function(x, foo, arg) {
  if (is.factor(x)) x <- as.character(x)
  if (is.numeric(x)) {
    bad <- x[is.na(x) | x != round(x) | x < 1 | x > ncol(foo)]
    if (length(bad)) {
      .sc_stop("dataprep: `", arg, "` refers to column number ", format(bad[1L]), ", but `foo` has ",
               ncol(foo), " columns", class = "synthcontrol_data_error")
    }
    return(names(foo)[as.integer(x)])
  }
  if (!is.character(x)) {
    .sc_stop("dataprep: `", arg, "` must give column names or numbers; got an object of class '",
             class(x)[1L], "'", class = "synthcontrol_spec_error")
  }
  miss <- x[!x %in% names(foo)]
  if (length(miss)) {
    avail <- names(foo)
    shown <- paste(utils::head(avail, 20L), collapse = ", ")
    if (length(avail) > 20L) shown <- paste0(shown, ", ... (", length(avail), " in all)")
    .sc_stop("dataprep: column '", miss[1L], "' (", arg, ") not found in `foo`; available columns: ",
             shown, class = "synthcontrol_data_error")
  }
  x
}

# Periods given by the user -> the time column's values, each present in the data.
.dp_periods <- function(x, times, kind, arg, time_col) {
  if (is.null(x)) return(NULL)
  if (!length(x)) .sc_stop("dataprep: `", arg, "` is empty", class = "synthcontrol_spec_error")
  v <- .match_type(x, kind, paste0("dataprep: ", arg), time_col)
  miss <- unique(v[!v %in% times])
  if (length(miss)) {
    .sc_stop("dataprep: `", arg, "` includes period(s) not in column '", time_col, "': ",
             paste(utils::head(miss, 5L), collapse = ", "),
             if (length(miss) > 5L) paste0(", ... (", length(miss), " in all)") else "",
             class = "synthcontrol_data_error")
  }
  v
}

# Unit identifiers (numbers, or names with unit.names.variable) -> unit numbers.
.dp_units <- function(x, foo, unit_col, names_col, arg) {
  if (is.null(x) || !length(x)) {
    .sc_stop("dataprep: `", arg, "` is required", class = "synthcontrol_spec_error")
  }
  if (is.factor(x)) x <- as.character(x)
  units <- foo[[unit_col]]
  if (is.character(x)) {
    if (is.null(names_col)) {
      .sc_stop("dataprep: `", arg, "` gives unit names (", paste(utils::head(x, 3L), collapse = ", "),
               "); names need `unit.names.variable`, or give the numbers of column '", unit_col, "'",
               class = "synthcontrol_spec_error")
    }
    nm <- as.character(foo[[names_col]])
    miss <- x[!x %in% nm]
    if (length(miss)) {
      .sc_stop("dataprep: ", arg, " '", miss[1L], "' is not a value of column '", names_col, "'",
               class = "synthcontrol_data_error")
    }
    x <- units[match(x, nm)]
  }
  if (!is.numeric(x) || anyNA(x)) {
    .sc_stop("dataprep: `", arg, "` must be unit numbers (column '", unit_col, "') or unit names",
             class = "synthcontrol_spec_error")
  }
  miss <- x[!x %in% units]
  if (length(miss)) {
    .sc_stop("dataprep: ", arg, " ", format(miss[1L]), " is not a unit of column '", unit_col, "'",
             class = "synthcontrol_data_error")
  }
  if (anyDuplicated(x)) {
    .sc_stop("dataprep: `", arg, "` lists unit ", format(x[duplicated(x)][1L]), " twice",
             class = "synthcontrol_spec_error")
  }
  if (.is_whole(x)) as.integer(x) else as.double(x)
}

# The bridge's {"rownames", "colnames", "values"} -> a numeric matrix.
.dp_matrix <- function(m) {
  rn <- as.character(unlist(m$rownames))
  cn <- as.character(unlist(m$colnames))
  vals <- unlist(lapply(m$values, .num))
  matrix(if (length(vals)) vals else numeric(), nrow = length(rn), ncol = length(cn), byrow = TRUE,
         dimnames = list(rn, cn))
}

# Documented in man/dataprep.Rd.
dataprep <- function(foo = NULL, predictors = NULL, predictors.op = "mean", special.predictors = NULL,
                     dependent = NULL, unit.variable = NULL, time.variable = NULL,
                     treatment.identifier = NULL, controls.identifier = NULL,
                     time.predictors.prior = NULL, time.optimize.ssr = NULL,
                     time.plot = time.optimize.ssr, unit.names.variable = NULL) {
  cl <- match.call()
  if (!is.data.frame(foo)) {
    .sc_stop("dataprep: `foo` must be a data frame in long format; got ",
             if (is.null(foo)) "nothing" else paste0("an object of class '", class(foo)[1L], "'"),
             class = "synthcontrol_data_error")
  }
  foo <- as.data.frame(foo, stringsAsFactors = FALSE)
  if (!identical(predictors.op, "mean")) {
    .sc_stop("dataprep: predictors.op = \"", format(predictors.op), "\" is not supported; use \"mean\"",
             class = "synthcontrol_spec_error")
  }
  unit_col <- .dp_column(unit.variable, foo, "unit.variable")
  time_col <- .dp_column(time.variable, foo, "time.variable")
  dep_col <- .dp_column(dependent, foo, "dependent")
  names_col <- .dp_column(unit.names.variable, foo, "unit.names.variable", required = FALSE)
  pred_cols <- if (is.null(predictors) || !length(predictors)) NULL else
    unique(.dp_columns(predictors, foo, "predictors"))
  if (is.null(time.optimize.ssr)) {
    .sc_stop("dataprep: `time.optimize.ssr` is required (the periods the outcome fit is ",
             "optimised over)", class = "synthcontrol_spec_error")
  }
  if (!is.null(pred_cols) && is.null(time.predictors.prior)) {
    .sc_stop("dataprep: `time.predictors.prior` is required with `predictors` (the periods they ",
             "are averaged over)", class = "synthcontrol_spec_error")
  }

  # unit and time columns: numeric, as in Synth
  u <- foo[[unit_col]]
  if (!is.numeric(u)) {
    .sc_stop("dataprep: unit.variable '", unit_col, "' must be a numeric column of unit numbers ",
             "(give names through unit.names.variable); it has class '", class(u)[1L], "'",
             class = "synthcontrol_data_error")
  }
  if (anyNA(u)) .sc_stop("dataprep: column '", unit_col, "' (unit.variable) has missing values",
                         class = "synthcontrol_data_error")
  tm <- foo[[time_col]]
  if (!is.numeric(tm)) {
    .sc_stop("dataprep: time.variable '", time_col, "' must be a numeric column; it has class '",
             class(tm)[1L], "'", class = "synthcontrol_data_error")
  }
  if (anyNA(tm)) .sc_stop("dataprep: column '", time_col, "' (time.variable) has missing values",
                          class = "synthcontrol_data_error")
  if (.is_whole(u)) u <- as.integer(u)
  if (.is_whole(tm)) tm <- as.integer(tm)
  foo[[unit_col]] <- u
  foo[[time_col]] <- tm
  tkind <- if (is.integer(tm)) "integer" else "double"

  treated <- .dp_units(treatment.identifier, foo, unit_col, names_col, "treatment.identifier")
  if (length(treated) != 1L) {
    .sc_stop("dataprep: `treatment.identifier` must be one unit; got ", length(treated),
             class = "synthcontrol_spec_error")
  }
  controls <- .dp_units(controls.identifier, foo, unit_col, names_col, "controls.identifier")
  if (treated %in% controls) {
    .sc_stop("dataprep: the treated unit ", treated, " is also in `controls.identifier`",
             class = "synthcontrol_spec_error")
  }

  times <- unique(tm)
  prior <- if (is.null(pred_cols)) NULL else
    .dp_periods(time.predictors.prior, times, tkind, "time.predictors.prior", time_col)
  ssr <- .dp_periods(time.optimize.ssr, times, tkind, "time.optimize.ssr", time_col)
  tplot <- .dp_periods(time.plot, times, tkind, "time.plot", time_col)

  special_py <- NULL
  spec_cols <- character()
  if (!is.null(special.predictors) && length(special.predictors)) {
    if (!is.list(special.predictors) || !all(vapply(special.predictors, is.list, logical(1)))) {
      .sc_stop("dataprep: `special.predictors` must be a list of lists, each ",
               "list(column, periods, \"mean\")", class = "synthcontrol_spec_error")
    }
    special_py <- lapply(seq_along(special.predictors), function(i) {
      sp <- special.predictors[[i]]
      if (length(sp) != 3L) {
        .sc_stop("dataprep: special.predictors[[", i, "]] must be list(column, periods, \"mean\"); ",
                 "it has ", length(sp), " element(s)", class = "synthcontrol_spec_error")
      }
      col <- .dp_column(sp[[1L]], foo, paste0("special.predictors[[", i, "]]"))
      if (!identical(as.character(sp[[3L]]), "mean")) {
        .sc_stop("dataprep: special.predictors[[", i, "]] uses the operator '", format(sp[[3L]]),
                 "'; only \"mean\" is supported", class = "synthcontrol_spec_error")
      }
      per <- .dp_periods(sp[[2L]], times, tkind, paste0("special.predictors[[", i, "]] (", col, ")"),
                         time_col)
      list(col, as.list(per), "mean")
    })
    spec_cols <- vapply(special_py, function(s) s[[1L]], character(1))
  }
  if (is.null(pred_cols) && is.null(special_py)) {
    .sc_stop("dataprep: give `predictors` and/or `special.predictors`",
             class = "synthcontrol_spec_error")
  }

  # columns for Python: unit, time and the numeric variables used
  value_cols <- unique(c(dep_col, pred_cols, spec_cols))
  clash <- intersect(value_cols, c(unit_col, time_col))
  if (length(clash)) {
    .sc_stop("dataprep: column '", clash[1L], "' is the unit or time variable and cannot be a ",
             "predictor or the dependent variable", class = "synthcontrol_spec_error")
  }
  columns <- list()
  columns[[unit_col]] <- u
  columns[[time_col]] <- tm
  for (col in value_cols) {
    v <- foo[[col]]
    if (is.logical(v)) v <- as.integer(v)
    if (!is.numeric(v)) {
      .sc_stop("dataprep: column '", col, "' must be numeric to be used as ",
               if (identical(col, dep_col)) "the dependent variable" else "a predictor",
               "; it has class '", class(v)[1L], "'", class = "synthcontrol_data_error")
    }
    columns[[col]] <- as.double(v)
  }

  v <- .py_call("synth_dataprep", columns = columns, unit_variable = unit_col,
                time_variable = time_col, dependent = dep_col, treatment_identifier = treated,
                controls_identifier = as.list(controls),
                predictors = if (is.null(pred_cols)) NULL else as.list(pred_cols),
                predictors_op = "mean", special_predictors = special_py,
                time_predictors_prior = if (is.null(prior)) NULL else as.list(prior),
                time_optimize_ssr = as.list(ssr), time_plot = as.list(tplot), call = cl)
  d <- reticulate::py_to_r(v)

  X0 <- .dp_matrix(d$X0)
  X1 <- .dp_matrix(d$X1)
  Z0 <- .dp_matrix(d$Z0)
  Z1 <- .dp_matrix(d$Z1)
  Y0plot <- .dp_matrix(d$Y0plot)
  Y1plot <- .dp_matrix(d$Y1plot)
  tr_name <- as.character(treated)
  colnames(X1) <- colnames(Z1) <- colnames(Y1plot) <- tr_name

  ids <- c(treated, controls)
  unit_names <- if (is.null(names_col)) rep(NA_character_, length(ids)) else
    as.character(foo[[names_col]][match(ids, u)])
  names.and.numbers <- data.frame(unit.names = unit_names, unit.numbers = ids,
                                  stringsAsFactors = FALSE)

  tag <- list(
    foo = as.character(foo),
    predictors = predictors, predictors.op = predictors.op,
    special.predictors = special.predictors, dependent = dependent,
    unit.variable = unit.variable, time.variable = time.variable,
    treatment.identifier = treated, controls.identifier = controls,
    time.predictors.prior = time.predictors.prior, time.optimize.ssr = time.optimize.ssr,
    time.plot = time.plot, unit.names.variable = unit.names.variable)

  invisible(list(X0 = X0, X1 = X1, Z0 = Z0, Z1 = Z1, Y0plot = Y0plot, Y1plot = Y1plot,
                 names.and.numbers = names.and.numbers, tag = tag))
}

# ---- synth() -----------------------------------------------------------------------------------

.synth_ignored <- c("optimxmethod", "genoud", "quadopt", "Margin.ipop", "Sigf.ipop", "Bound.ipop",
                    "verbose")

.as_num_matrix <- function(x, what) {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x))) {
    nm <- names(x)
    x <- matrix(x, ncol = 1L, dimnames = list(nm, NULL))
  }
  if (!is.numeric(x)) {
    .sc_stop("synth: `", what, "` must be a numeric matrix; got ", class(x)[1L],
             class = "synthcontrol_spec_error")
  }
  storage.mode(x) <- "double"
  if (any(!is.finite(x))) {
    .sc_stop("synth: `", what, "` has missing or infinite values", class = "synthcontrol_data_error")
  }
  x
}

# Documented in man/synth.Rd.
synth <- function(data.prep.obj = NULL, X1 = NULL, X0 = NULL, Z1 = NULL, Z0 = NULL,
                  custom.v = NULL, backend = "auto", seed = 0, ...) {
  cl <- match.call()
  dots <- list(...)
  if (length(dots) && !isTRUE(.state$synth_dots_message)) {
    nm <- names(dots)
    nm <- if (is.null(nm)) rep("", length(dots)) else nm
    nm[!nzchar(nm)] <- "(unnamed)"
    message("synth(): ignoring ", paste(unique(nm), collapse = ", "),
            ": Synth's optimiser settings (optimxmethod, genoud, quadopt, Margin.ipop, Sigf.ipop, ",
            "Bound.ipop, verbose, optimx's method ...) are not needed, because the solver is ",
            "exact and reports a certified bound (this message is shown once per session)")
    .state$synth_dots_message <- TRUE
  }
  if (!is.null(data.prep.obj)) {
    if (!is.list(data.prep.obj)) {
      .sc_stop("synth: `data.prep.obj` must be the result of dataprep(); got ",
               class(data.prep.obj)[1L], class = "synthcontrol_spec_error")
    }
    if (is.null(X1)) X1 <- data.prep.obj$X1
    if (is.null(X0)) X0 <- data.prep.obj$X0
    if (is.null(Z1)) Z1 <- data.prep.obj$Z1
    if (is.null(Z0)) Z0 <- data.prep.obj$Z0
  }
  miss <- c("X1", "X0", "Z1", "Z0")[vapply(list(X1, X0, Z1, Z0), is.null, logical(1))]
  if (length(miss)) {
    .sc_stop("synth: give `data.prep.obj` (from dataprep()) or all of X1, X0, Z1, Z0; missing: ",
             paste(miss, collapse = ", "), class = "synthcontrol_spec_error")
  }
  X1 <- .as_num_matrix(X1, "X1")
  X0 <- .as_num_matrix(X0, "X0")
  Z1 <- .as_num_matrix(Z1, "Z1")
  Z0 <- .as_num_matrix(Z0, "Z0")
  k <- nrow(X0)
  n <- ncol(X0)
  if (length(X1) != k) {
    .sc_stop("synth: X1 has ", length(X1), " predictor value(s) but X0 has ", k, " row(s)",
             class = "synthcontrol_spec_error")
  }
  if (ncol(Z0) != n) {
    .sc_stop("synth: X0 has ", n, " control unit(s) (columns) but Z0 has ", ncol(Z0),
             class = "synthcontrol_spec_error")
  }
  if (length(Z1) != nrow(Z0)) {
    .sc_stop("synth: Z1 has ", length(Z1), " period(s) but Z0 has ", nrow(Z0), " row(s)",
             class = "synthcontrol_spec_error")
  }
  if (n < 2L) .sc_stop("synth: need at least two control units", class = "synthcontrol_spec_error")
  rn <- rownames(X0)
  if (is.null(rn)) rn <- rownames(X1)
  if (is.null(rn)) rn <- as.character(seq_len(k))
  cn <- colnames(X0)
  if (is.null(cn)) cn <- colnames(Z0)
  if (is.null(cn)) cn <- as.character(seq_len(n))
  zn <- rownames(Z0)
  if (is.null(zn)) zn <- as.character(seq_len(nrow(Z0)))
  if (anyDuplicated(rn)) {
    .sc_stop("synth: predictor (row) names of X0 must be unique; '", rn[duplicated(rn)][1L],
             "' appears twice", class = "synthcontrol_spec_error")
  }
  if (anyDuplicated(cn)) {
    .sc_stop("synth: control unit (column) names of X0 must be unique; '", cn[duplicated(cn)][1L],
             "' appears twice", class = "synthcontrol_spec_error")
  }
  cv <- NULL
  if (!is.null(custom.v)) {
    cv <- as.double(custom.v)
    if (length(cv) != k || anyNA(cv) || any(cv < 0) || sum(cv) <= 0) {
      .sc_stop("synth: `custom.v` must be ", k, " non-negative numbers (one per predictor, not all ",
               "zero); got ", length(cv), class = "synthcontrol_spec_error")
    }
  }
  backend <- .choice(backend, c("auto", "malo", "mscmt"), "backend")
  if (!is.numeric(seed) || length(seed) != 1L || is.na(seed)) {
    .sc_stop("synth: `seed` must be one integer", class = "synthcontrol_spec_error")
  }

  v <- .py_call("synth_solve", X1 = as.double(X1), X0 = as.list(as.double(t(X0))),
                Z1 = as.double(Z1), Z0 = as.list(as.double(t(Z0))),
                rownames = as.list(rn), colnames = as.list(cn), zrownames = as.list(zn),
                custom_v = if (is.null(cv)) NULL else as.list(cv), backend = backend,
                seed = seed, call = cl)
  d <- reticulate::py_to_r(v)

  w <- stats::setNames(.num(d$solution.w$values), as.character(unlist(d$solution.w$names)))[cn]
  vv <- stats::setNames(.num(d$solution.v$values), as.character(unlist(d$solution.v$names)))[rn]
  solution.w <- matrix(unname(w), ncol = 1L, dimnames = list(cn, "w.weight"))
  solution.v <- matrix(unname(vv), nrow = 1L, dimnames = list(NULL, rn))
  structure(list(
    solution.v = solution.v,
    solution.w = solution.w,
    loss.v = as.double(d$loss.v),
    loss.w = as.double(d$loss.w),
    custom.v = if (is.null(cv)) NULL else cv,
    lower.bound = as.double(d$lower_bound),
    bound.gap = as.double(d$bound_gap),
    bound.attained = isTRUE(d$bound_attained),
    bound.method = as.character(if (is.null(d$bound_method)) NA_character_ else d$bound_method),
    outcome.only.bound = as.double(if (is.null(d$outcome_only_bound)) NA_real_ else d$outcome_only_bound),
    v.agreement = as.double(if (is.null(d$v_agreement)) NA_real_ else d$v_agreement),
    inner.gap = as.double(if (is.null(d$inner_gap)) NA_real_ else d$inner_gap),
    backend = as.character(d$backend),
    n.evals = as.integer(d$n_evals),
    seconds = as.double(d$seconds),
    call = cl
  ), class = c("synthcontrol_synth", "list"))
}

print.synthcontrol_synth <- function(x, digits = 6, ...) {
  cat("synth() result (synthcontrol, backend ", x$backend,
      if (!is.null(x$custom.v)) ", custom.v" else "", ")\n", sep = "")
  cat("  loss.v (MSPE over time.optimize.ssr): ", formatC(x$loss.v, digits = digits, format = "g"), "\n",
      sep = "")
  cat("  lower bound (proven, any V):          ", formatC(x$lower.bound, digits = digits, format = "g"),
      "\n", sep = "")
  cat("  certified gap (loss.v - bound):       ", formatC(x$bound.gap, digits = 3, format = "g"),
      if (isTRUE(x$bound.attained)) "  (certified optimum)" else "", "\n", sep = "")
  w <- x$solution.w[, 1L]
  w <- w[w > 1e-3]
  w <- w[order(-w)]
  cat("  weights > 0.001: ", paste0(names(w), " ", formatC(w, digits = 3, format = "f"), collapse = ", "),
      "\n", sep = "")
  v <- x$solution.v[1L, ]
  if (isTRUE(x$bound.attained) && is.null(x$custom.v)) {
    cat("  Note: this V reaches the smallest loss any V can (the bound above is proven), so Synth's optimiser,\n",
        "  which stops at a local optimum, can report a higher loss.v with a different V and W.\n", sep = "")
    if (length(v) && max(v) >= 0.99) {
      cat("  Almost all of V (", formatC(max(v), digits = 3, format = "f"), ") is on '", names(v)[which.max(v)],
          "': the certified optimum matches that one predictor.\n", sep = "")
    }
    cat("  For Synth-like weights pass Synth's V as custom.v = (or a V with a floor on every entry);\n",
        "  see ?synth, Details.\n", sep = "")
  }
  cat("More: x$solution.w, x$solution.v, synth.tab(), path.plot(), gaps.plot()\n")
  invisible(x)
}

# ---- synth.tab() -------------------------------------------------------------------------------

.check_synth_args <- function(synth.res, dataprep.res, fn, need = c("X0", "X1")) {
  if (!is.list(synth.res) || is.null(synth.res$solution.w)) {
    .sc_stop(fn, ": `synth.res` must be the result of synth()", class = "synthcontrol_spec_error")
  }
  if (!is.list(dataprep.res) || any(vapply(need, function(k) is.null(dataprep.res[[k]]), logical(1)))) {
    .sc_stop(fn, ": `dataprep.res` must be the result of dataprep() (with ",
             paste(need, collapse = ", "), ")", class = "synthcontrol_spec_error")
  }
  invisible(TRUE)
}

# Documented in man/synth.tab.Rd.
synth.tab <- function(synth.res = NULL, dataprep.res = NULL, round.digit = 3) {
  .check_synth_args(synth.res, dataprep.res, "synth.tab")
  X0 <- as.matrix(dataprep.res$X0)
  X1 <- as.matrix(dataprep.res$X1)
  w <- as.matrix(synth.res$solution.w)
  if (nrow(w) != ncol(X0)) {
    .sc_stop("synth.tab: synth.res has ", nrow(w), " weights but dataprep.res$X0 has ", ncol(X0),
             " control units", class = "synthcontrol_spec_error")
  }
  tab.pred <- round(cbind(X1, X0 %*% w, rowMeans(X0)), round.digit)
  colnames(tab.pred) <- c("Treated", "Synthetic", "Sample Mean")
  rownames(tab.pred) <- rownames(X0)

  tab.v <- matrix(round(as.double(synth.res$solution.v), round.digit), ncol = 1L,
                  dimnames = list(rownames(X0), "v.weights"))

  nn <- dataprep.res$names.and.numbers
  ctrl <- rownames(w)
  if (is.null(ctrl)) ctrl <- colnames(X0)
  if (is.data.frame(nn) && all(c("unit.names", "unit.numbers") %in% names(nn))) {
    idx <- match(ctrl, as.character(nn$unit.numbers))
    unit.names <- as.character(nn$unit.names)[idx]
    unit.numbers <- nn$unit.numbers[idx]
  } else {
    unit.names <- rep(NA_character_, length(ctrl))
    unit.numbers <- suppressWarnings(as.numeric(ctrl))
  }
  tab.w <- data.frame(w.weights = round(as.double(w), round.digit), unit.names = unit.names,
                      unit.numbers = unit.numbers, row.names = ctrl, stringsAsFactors = FALSE)

  lb <- if (is.null(synth.res$lower.bound)) NA_real_ else synth.res$lower.bound
  gap <- if (is.null(synth.res$bound.gap)) NA_real_ else synth.res$bound.gap
  tab.loss <- matrix(c(as.double(synth.res$loss.w), as.double(synth.res$loss.v), lb, gap), nrow = 1L,
                     dimnames = list(NULL, c("Loss W", "Loss V", "Lower bound", "Bound gap")))
  invisible(list(tab.pred = tab.pred, tab.v = tab.v, tab.w = tab.w, tab.loss = tab.loss))
}

# ---- path.plot() / gaps.plot() ---------------------------------------------------------------

.synth_series <- function(synth.res, dataprep.res, Z.plot, fn) {
  if (isTRUE(Z.plot)) {
    .check_synth_args(synth.res, dataprep.res, fn, c("Z0", "Z1"))
    Y1 <- as.matrix(dataprep.res$Z1)
    Y0 <- as.matrix(dataprep.res$Z0)
    x <- dataprep.res$tag$time.optimize.ssr
  } else {
    .check_synth_args(synth.res, dataprep.res, fn, c("Y0plot", "Y1plot"))
    Y1 <- as.matrix(dataprep.res$Y1plot)
    Y0 <- as.matrix(dataprep.res$Y0plot)
    x <- dataprep.res$tag$time.plot
  }
  if (anyNA(Y1)) .sc_stop(fn, ": missing outcome data for the treated unit", class = "synthcontrol_data_error")
  if (anyNA(Y0)) .sc_stop(fn, ": missing outcome data for the controls", class = "synthcontrol_data_error")
  w <- as.matrix(synth.res$solution.w)
  if (nrow(w) != ncol(Y0)) {
    .sc_stop(fn, ": synth.res has ", nrow(w), " weights but dataprep.res has ", ncol(Y0),
             " control units", class = "synthcontrol_spec_error")
  }
  if (is.null(x) || length(x) != nrow(Y0)) {
    x <- suppressWarnings(as.numeric(rownames(Y0)))
    if (anyNA(x)) x <- seq_len(nrow(Y0))
  }
  list(x = x, y1 = as.double(Y1), y0 = as.double(Y0 %*% w))
}

# Documented in man/path.plot.Rd.
path.plot <- function(synth.res = NULL, dataprep.res = NULL, tr.intake = NA, Ylab = c("Y Axis"),
                      Xlab = c("Time"), Ylim = NA, Legend = c("Treated", "Synthetic"),
                      Legend.position = c("topright"), Main = NA, Z.plot = FALSE) {
  s <- .synth_series(synth.res, dataprep.res, Z.plot, "path.plot")
  if (sum(is.na(Ylim)) > 0) {
    ymax <- max(c(s$y0, s$y1))
    ymin <- min(c(s$y0, s$y1))
    Ylim <- c(ymin - 0.3 * ymin, 0.3 * ymax + ymax)
  }
  graphics::plot(s$x, s$y1, type = "l", col = "black", lwd = 2, main = Main, ylab = Ylab,
                 xlab = Xlab, xaxs = "i", yaxs = "i", ylim = Ylim)
  graphics::lines(s$x, s$y0, col = "black", lty = "dashed", lwd = 2, cex = 4 / 5)
  if (!all(is.na(tr.intake))) graphics::abline(v = tr.intake, lty = 3, col = "black", lwd = 2)
  if (sum(is.na(Legend)) == 0) {
    graphics::legend(Legend.position, legend = Legend, lty = 1:2, col = c("black", "black"),
                     lwd = c(2, 2), cex = 6 / 7)
  }
  invisible(list(time = s$x, treated = s$y1, synthetic = s$y0))
}

# Documented in man/path.plot.Rd.
gaps.plot <- function(synth.res = NULL, dataprep.res = NULL, Ylab = c("Title"), Xlab = c("Time"),
                      Main = c("Gaps: Treated - Synthetic"), tr.intake = NA, Ylim = NA,
                      Z.plot = FALSE) {
  s <- .synth_series(synth.res, dataprep.res, Z.plot, "gaps.plot")
  gap <- s$y1 - s$y0
  if (sum(is.na(Ylim)) > 0) {
    m <- max(abs(gap))
    if (m == 0) m <- 1
    Ylim <- c(-(0.3 * m + m), 0.3 * m + m)
  }
  graphics::plot(s$x, gap, type = "l", col = "black", lwd = 2, main = Main, ylab = Ylab,
                 xlab = Xlab, ylim = Ylim, xaxs = "i", yaxs = "i")
  graphics::abline(h = 0, col = "black", lty = "dashed", lwd = 2)
  if (!all(is.na(tr.intake))) graphics::abline(v = tr.intake, lty = 3, col = "black", lwd = 2)
  invisible(list(time = s$x, gap = gap))
}
