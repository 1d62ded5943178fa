# Input handling on the R side: formula, column names, type coercion.  Everything that can be
# checked in R is checked here, with messages that name the column at fault; the Python core
# then validates the panel itself (its errors are translated by .py_call()).

# unit = state or unit = "state": a column name as a string.
.column_name <- function(expr, value_env, data, arg) {
  if (is.null(expr)) .sc_stop("`", arg, "` is required: the name of the ", arg, " column",
                              class = "synthcontrol_spec_error")
  if (is.character(expr)) {
    if (length(expr) != 1L || is.na(expr) || !nzchar(expr)) {
      .sc_stop("`", arg, "` must be a single column name", class = "synthcontrol_spec_error")
    }
    return(expr)
  }
  if (is.name(expr)) {
    nm <- as.character(expr)
    if (nm %in% names(data)) return(nm)
    # a variable holding the column name, e.g. col <- "state"; unit = col
    val <- tryCatch(eval(expr, value_env), error = function(e) NULL)
    if (is.character(val) && length(val) == 1L && !is.na(val)) return(val)
    return(nm)  # reported as a missing column by .check_columns()
  }
  val <- tryCatch(eval(expr, value_env), error = function(e) NULL)
  if (is.character(val) && length(val) == 1L && !is.na(val)) return(val)
  .sc_stop("`", arg, "` must be a column name, bare (", arg, " = state) or quoted (", arg,
           " = \"state\"); got `", paste(deparse(expr), collapse = " "), "`",
           class = "synthcontrol_spec_error")
}

# outcome ~ trt  or  outcome ~ 1
.parse_formula <- function(formula) {
  if (!inherits(formula, "formula")) {
    .sc_stop("`formula` must be a formula such as `cigsale ~ treated` (0/1 treatment column) ",
             "or `cigsale ~ 1` (with treated = and treatment_time =); got an object of class '",
             class(formula)[1L], "'", class = "synthcontrol_formula_error")
  }
  if (length(formula) != 3L) {
    .sc_stop("`formula` has no response: write the outcome on the left, e.g. `cigsale ~ treated` ",
             "or `cigsale ~ 1`; got `", paste(deparse(formula), collapse = " "), "`",
             class = "synthcontrol_formula_error")
  }
  lhs <- formula[[2L]]
  rhs <- formula[[3L]]
  if (!is.name(lhs)) {
    .sc_stop("the left-hand side of `formula` must be the outcome column's name; got `",
             paste(deparse(lhs), collapse = " "), "`. Compute transformed outcomes as a column first.",
             class = "synthcontrol_formula_error")
  }
  covariates <- NULL
  if (is.call(rhs) && identical(rhs[[1L]], as.name("|"))) {
    # augsynth's `outcome ~ treated | x1 + x2`: covariates after the bar
    if (length(rhs) != 3L) {
      .sc_stop("`formula`: write the covariates after `|`, e.g. `", as.character(lhs),
               " ~ treated | x1 + x2`", class = "synthcontrol_formula_error")
    }
    covariates <- .formula_covariates(rhs[[3L]])
    rhs <- rhs[[2L]]
  }
  if (is.numeric(rhs) && length(rhs) == 1L && rhs == 1) {
    return(list(outcome = as.character(lhs), treat = NULL, covariates = covariates))
  }
  if (is.name(rhs)) {
    return(list(outcome = as.character(lhs), treat = as.character(rhs), covariates = covariates))
  }
  .sc_stop("the right-hand side of `formula` must be one 0/1 treatment column (`",
           as.character(lhs), " ~ treated`) or 1 (`", as.character(lhs),
           " ~ 1` with treated = and treatment_time =), optionally followed by `| covariates`; got `",
           paste(deparse(rhs), collapse = " "), "`",
           class = "synthcontrol_formula_error")
}

# The terms after `|`: plain column names joined by `+`.
.formula_covariates <- function(expr) {
  # the terms after `|`, joined by +: a column name, or an expression of columns evaluated in the
  # data as augsynth's model frame does (`log(revstatecapita)`); returned as the terms' text with
  # the expressions to evaluate in attr(, "exprs") (named by that text)
  terms <- list()
  walk <- function(e) {
    if (is.call(e) && identical(e[[1L]], as.name("+")) && length(e) == 3L) {
      walk(e[[2L]])
      walk(e[[3L]])
    } else if (is.call(e) && identical(e[[1L]], as.name("(")) && length(e) == 2L) {
      walk(e[[2L]])
    } else if (is.name(e) || is.call(e)) {
      terms[[paste(deparse(e), collapse = " ")]] <<- e
    } else {
      .sc_stop("covariate `", paste(deparse(e), collapse = " "), "` after `|` is neither a column name nor ",
               "an expression of columns", class = "synthcontrol_formula_error")
    }
  }
  walk(expr)
  out <- names(terms)
  exprs <- terms[vapply(terms, is.call, logical(1))]
  if (length(exprs)) attr(out, "exprs") <- exprs
  out
}

# The expression covariates of the formula, evaluated in `data` (then the calling environment),
# as numeric columns named by their text; a term that is not numeric per row is an error naming it.
.eval_formula_covariates <- function(data, exprs, env) {
  for (nm in names(exprs)) {
    v <- tryCatch(eval(exprs[[nm]], data, env), error = function(e) {
      .sc_stop("covariate `", nm, "` after `|` could not be evaluated in the data: ", conditionMessage(e),
               class = "synthcontrol_formula_error")
    })
    if (!is.numeric(v) || length(v) != nrow(data)) {
      .sc_stop("covariate `", nm, "` after `|` must give one number per row of the data (", nrow(data),
               "); it gave ", length(v), " value(s) of class '", class(v)[1L], "'",
               class = "synthcontrol_formula_error")
    }
    data[[nm]] <- as.double(v)
  }
  data
}

.check_columns <- function(data, cols) {
  for (role in names(cols)) {
    col <- cols[[role]]
    if (!col %in% names(data)) {
      avail <- names(data)
      shown <- paste(utils::head(avail, 20L), collapse = ", ")
      if (length(avail) > 20L) shown <- paste0(shown, ", ... (", length(avail), " in all)")
      .sc_stop("column '", col, "' (", role, ") not found in `data`; available columns: ", shown,
               class = "synthcontrol_data_error")
    }
  }
  invisible(TRUE)
}

.is_whole <- function(x) is.numeric(x) && all(is.na(x) | (is.finite(x) & x == round(x)))

# Column -> something the Python side reads without surprises.  Returns list(values, kind).
#   kind: "integer", "double", "character", "logical", "date", "datetime"
.convert_column <- function(x, col, role) {
  if (is.factor(x)) x <- as.character(x)
  if (inherits(x, "Date")) {
    return(list(values = format(x, "%Y-%m-%d"), kind = "date"))
  }
  if (inherits(x, "POSIXt")) {
    return(list(values = format(as.POSIXct(x), "%Y-%m-%d %H:%M:%S", tz = "UTC"), kind = "datetime"))
  }
  if (is.logical(x)) return(list(values = x, kind = "logical"))
  if (is.integer(x)) return(list(values = x, kind = "integer"))
  if (is.numeric(x)) return(list(values = as.double(x), kind = "double"))
  if (is.character(x)) return(list(values = x, kind = "character"))
  .sc_stop("column '", col, "' (", role, ") has class '", class(x)[1L],
           "', which synthcontrol cannot use; convert it to numbers, text or Date",
           class = "synthcontrol_data_error")
}

# A value given by the user (treatment_time, fit_window, treated, donors) converted to the type
# of the column it refers to, so that e.g. 1989 matches an integer year column.
.match_type <- function(value, kind, what, col) {
  if (is.null(value)) return(NULL)
  if (is.factor(value)) value <- as.character(value)
  if (anyNA(value)) .sc_stop("`", what, "` contains NA", class = "synthcontrol_spec_error")
  switch(kind,
    integer = {
      if (is.character(value)) {
        num <- suppressWarnings(as.numeric(value))
        if (anyNA(num)) .sc_stop("`", what, "` (", paste(value, collapse = ", "),
                                 ") cannot be compared with column '", col,
                                 "', which holds integers", class = "synthcontrol_spec_error")
        value <- num
      }
      if (is.numeric(value) && .is_whole(value)) as.integer(value) else as.double(value)
    },
    double = {
      if (is.character(value)) {
        num <- suppressWarnings(as.numeric(value))
        if (anyNA(num)) .sc_stop("`", what, "` (", paste(value, collapse = ", "),
                                 ") cannot be compared with column '", col,
                                 "', which holds numbers", class = "synthcontrol_spec_error")
        value <- num
      }
      as.double(value)
    },
    character = as.character(value),
    logical = as.logical(value),
    date = {
      d <- tryCatch(as.Date(value), error = function(e) NULL)
      if (is.null(d) || anyNA(d) || is.numeric(value)) {
        .sc_stop("`", what, "` (", paste(format(value), collapse = ", "),
                 ") cannot be compared with column '", col, "', which holds dates; pass a Date ",
                 "or a string like \"2020-01-31\"", class = "synthcontrol_spec_error")
      }
      format(d, "%Y-%m-%d")
    },
    datetime = {
      d <- tryCatch(as.POSIXct(value, tz = "UTC"), error = function(e) NULL)
      if (is.null(d) || anyNA(d) || is.numeric(value)) {
        .sc_stop("`", what, "` cannot be compared with column '", col, "', which holds date-times",
                 class = "synthcontrol_spec_error")
      }
      format(d, "%Y-%m-%d %H:%M:%S", tz = "UTC")
    },
    value
  )
}

# Python period labels (builtins) -> R vector of the time column's original type.
.restore_periods <- function(x, kind, r_kind) {
  x <- unlist(x)
  if (is.null(x)) x <- character()
  if (identical(r_kind, "date")) return(as.Date(substr(as.character(x), 1L, 10L)))
  # a text column keeps text labels (the core may have read "1".."31" as numbers or ISO text as dates)
  if (identical(r_kind, "character")) return(as.character(x))
  if (identical(r_kind, "datetime") || identical(kind, "datetime")) {
    x <- as.character(x)
    x[nchar(x) == 10L] <- paste(x[nchar(x) == 10L], "00:00:00")
    return(as.POSIXct(x, tz = "UTC", format = "%Y-%m-%d %H:%M:%S"))
  }
  switch(r_kind,
    integer = as.integer(x),
    double = as.double(x),
    logical = as.logical(x),
    character = as.character(x),
    x)
}

# Unit labels (strings from Python) -> the unit column's R type.
.restore_units <- function(x, r_kind) {
  x <- as.character(unlist(x))
  switch(r_kind,
    integer = as.integer(x),
    double = as.double(x),
    logical = as.logical(x),
    x)
}

# Build the column list handed to Python, after the R-side checks.
.prepare_data <- function(data, unit, time, outcome, treat) {
  if (!is.data.frame(data)) {
    .sc_stop("`data` must be a data frame, got an object of class '", class(data)[1L], "'",
             class = "synthcontrol_data_error")
  }
  data <- as.data.frame(data, stringsAsFactors = FALSE)  # tibbles, data.tables -> data.frame
  roles <- c(unit = unit, time = time, outcome = outcome)
  if (!is.null(treat)) roles <- c(roles, treatment = treat)
  .check_columns(data, as.list(roles))
  dup <- roles[duplicated(roles)]
  if (length(dup)) {
    .sc_stop("column '", dup[1L], "' is used for two roles (", paste(names(roles)[roles == dup[1L]],
             collapse = " and "), ")", class = "synthcontrol_spec_error")
  }
  if (nrow(data) == 0L) .sc_stop("`data` has no rows", class = "synthcontrol_data_error")

  out <- list()
  kinds <- list()
  # unit
  u <- data[[unit]]
  if (anyNA(u)) .sc_stop("column '", unit, "' (unit) has missing values (first at row ",
                         which(is.na(u))[1L], ")", class = "synthcontrol_data_error")
  if (is.factor(u)) u <- as.character(u)
  if (is.numeric(u) && !is.integer(u)) u <- if (.is_whole(u)) as.integer(u) else as.character(u)
  cu <- .convert_column(u, unit, "unit")
  if (cu$kind %in% c("date", "datetime")) cu <- list(values = cu$values, kind = "character")
  out[[unit]] <- cu$values
  kinds$unit <- cu$kind
  # time
  tm <- data[[time]]
  if (anyNA(tm)) .sc_stop("column '", time, "' (time) has missing values (first at row ",
                          which(is.na(tm))[1L], ")", class = "synthcontrol_data_error")
  ct <- .convert_column(tm, time, "time")
  if (ct$kind == "logical") .sc_stop("column '", time, "' (time) is logical; periods must be ",
                                     "numbers, text or dates", class = "synthcontrol_data_error")
  out[[time]] <- ct$values
  kinds$time <- ct$kind
  # outcome: always double (NA -> NaN, which Python treats as missing)
  y <- data[[outcome]]
  if (is.logical(y)) y <- as.integer(y)
  if (!is.numeric(y)) {
    bad <- y[!is.na(y)][1L]
    .sc_stop("column '", outcome, "' (outcome) must be numeric, got class '", class(y)[1L],
             "' (first value: ", format(bad), ")", class = "synthcontrol_data_error")
  }
  out[[outcome]] <- as.double(y)
  # treatment column: 0/1 (or logical)
  if (!is.null(treat)) {
    d <- data[[treat]]
    if (anyNA(d)) .sc_stop("treatment column '", treat, "' has missing values (first at row ",
                           which(is.na(d))[1L], ")", class = "synthcontrol_data_error")
    if (is.factor(d)) d <- as.character(d)
    if (is.logical(d)) d <- as.integer(d)
    ok <- (is.numeric(d) && all(d %in% c(0, 1))) || (is.character(d) && all(d %in% c("0", "1")))
    if (!ok) {
      vals <- utils::head(unique(d[!d %in% c(0, 1)]), 3L)
      .sc_stop("the right-hand side of the formula, column '", treat, "', must be a 0/1 treatment ",
               "indicator (1 from the first treated period on); it has value(s) ",
               paste(format(vals), collapse = ", "), ". For a treated unit given by name, write ",
               "`", outcome, " ~ 1` with treated = and treatment_time =.",
               class = "synthcontrol_formula_error")
    }
    out[[treat]] <- as.integer(as.numeric(d))
  }
  list(columns = out, kinds = kinds,
       datetime_cols = if (ct$kind %in% c("date", "datetime")) time else NULL)
}
