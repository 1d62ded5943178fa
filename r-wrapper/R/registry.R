# The Python core's inference registry (synthcontrol.inference): inference_methods(), infer() and
# the generic "synthcontrol_inference" result.  Nothing here copies the registry: it is asked each
# time, so a method registered in this session (a plug-in) is there at once.  Each method's
# defaults live in its registered Python function's signature only.

# The registry: one list per method with name, title, supports, aliases, parameters (the
# arguments it takes) and defaults (argument -> default; NULL for Python's None).
.registry <- function(call = NULL) {
  reg <- reticulate::py_to_r(.py_call("methods", call = call))
  lapply(reg, function(m) list(
    name = as.character(m$name),
    title = as.character(m$title),
    supports = as.character(unlist(m$supports)),
    aliases = as.character(unlist(m$aliases)),
    parameters = as.character(unlist(m$parameters)),
    defaults = if (length(m$defaults)) m$defaults else list()
  ))
}

# A method's entry by its name or one of its aliases; NULL if there is none.
.find_method <- function(name, reg) {
  for (m in reg) if (identical(name, m$name) || name %in% m$aliases) return(m)
  NULL
}

# "placebo", ..., "jackknife_plus" ("jackknife+", "jackknife"), ... for messages; `drop`: names
# not offered (see .augsynth_only).
.method_list <- function(reg, drop = character()) {
  one <- function(m) {
    al <- setdiff(m$aliases, drop)
    paste0('"', m$name, '"', if (length(al)) paste0(" (", paste0('"', al, '"', collapse = ", "), ")") else "")
  }
  paste(vapply(reg, one, ""), collapse = ", ")
}

# Documented in man/inference_methods.Rd.
inference_methods <- function() {
  reg <- .registry(match.call())
  join <- function(k) vapply(reg, function(m) paste(m[[k]], collapse = ", "), "")
  data.frame(name = vapply(reg, `[[`, "", "name"), title = vapply(reg, `[[`, "", "title"),
             supports = join("supports"), aliases = join("aliases"), stringsAsFactors = FALSE)
}

# Documented in man/infer.Rd.
infer <- function(fit, method, ...) UseMethod("infer")

infer.default <- function(fit, method, ...) {
  .py_result(fit)  # the error for anything but a fit
}

infer.synthcontrol <- function(fit, method, ...) {
  cl <- match.call()
  res <- .py_result(fit)
  if (!is.character(method) || length(method) != 1L || is.na(method)) {
    .sc_stop("`method` must be the name of one inference method; see inference_methods()",
             class = "synthcontrol_spec_error")
  }
  reg <- .registry(cl)
  m <- .find_method(method, reg)
  if (is.null(m)) {
    .sc_stop("unknown inference method \"", method, "\"; the available methods are ", .method_list(reg),
             class = "synthcontrol_spec_error")
  }
  args <- .method_arguments(list(...), m, paste0("infer(fit, \"", method, "\")"))
  v <- .py_call("infer", res, m$name, args, call = cl)
  .inference_from_py(reticulate::py_to_r(v), m)
}

# The arguments of `...` for the method `m`: named, each one of its arguments (the core would
# refuse the others; saying so here names the R call).  Named vectors become Python dicts.
.method_arguments <- function(args, m, what) {
  if (!length(args)) return(list())
  nm <- names(args)
  if (is.null(nm) || any(!nzchar(nm)) || anyDuplicated(nm)) {
    .sc_stop(what, ": the method's arguments must be named, each once (", m$name, " takes ",
             if (length(m$parameters)) paste(m$parameters, collapse = ", ") else "no arguments", ")",
             class = "synthcontrol_spec_error")
  }
  bad <- setdiff(nm, m$parameters)
  if (length(bad)) {
    .sc_stop(what, " does not take the argument(s) ", paste(bad, collapse = ", "), "; ", m$name, " takes ",
             if (length(m$parameters)) paste(m$parameters, collapse = ", ") else "no arguments",
             class = "synthcontrol_spec_error")
  }
  lapply(args, function(v) {
    if (is.factor(v)) v <- as.character(v)
    if (is.atomic(v) && !is.null(names(v))) return(as.list(v))
    v
  })
}

# The bridge's to_dict() of an Inference (synthcontrol.schema), or the table a method returned
# (leave-one-out), -> a "synthcontrol_inference".
.inference_from_py <- function(d, m) {
  num <- function(x) if (is.null(x)) NA_real_ else as.double(x)
  if (is.null(d$schema) && !is.null(d$columns)) {  # a table, not an Inference
    d <- list(method = m$title, details = list(att = d$att_full), tables = list(table = d))
  }
  tables <- lapply(d$tables, function(t) {
    if (!is.null(t$values)) {  # the period x unit "gaps" layout
      cols <- as.character(unlist(t$columns))
      matrix(unlist(lapply(t$values, .num)), ncol = length(cols),
             dimnames = list(as.character(unlist(t$periods)), cols))
    } else .frame_from_py(t)
  })
  series <- lapply(d$series, function(s) stats::setNames(.num(s$values), as.character(unlist(s$index))))
  out <- list(
    name = m$name,
    title = m$title,
    method = if (is.null(d$method)) m$title else as.character(d$method),
    p_value = num(d$p_value),
    ci_lower = num(d$ci_lower),
    ci_upper = num(d$ci_upper),
    alpha = num(d$alpha),
    level = if (is.null(d$level)) NA_character_ else as.character(d$level),
    details = .scalars(d$details),
    tables = tables,
    series = series,
    lists = if (is.null(d$lists)) list() else d$lists,
    call = if (is.null(d$metadata$call)) list() else d$metadata$call,
    fit_kind = if (is.null(d$metadata$fit_kind)) NA_character_ else as.character(d$metadata$fit_kind)
  )
  if (!is.null(tables$table) && is.data.frame(tables$table)) out$table <- tables$table
  structure(out, class = "synthcontrol_inference")
}

# An interval with its level: "90% interval" (the level from alpha when the core gave none).
.interval_label <- function(level, alpha) {
  if (length(level) == 1L && !is.na(level) && nzchar(level)) return(paste(level, "interval"))
  if (length(alpha) == 1L && !is.na(alpha)) return(paste(.level(alpha), "interval"))
  "interval (level not reported)"
}

# The generic print of any registered method's result (plug-ins and infer()).
print.synthcontrol_inference <- function(x, digits = 4, ...) {
  title <- if (!is.null(x$title)) x$title else x$method
  cat("Inference: ", title, if (!is.null(x$name) && !identical(x$name, title)) paste0(" [", x$name, "]"),
      "\n", sep = "")
  rows <- character()
  if (!is.null(x$method) && !identical(x$method, title)) rows["method"] <- x$method
  if (length(x$p_value) == 1L && !is.na(x$p_value)) rows["p-value"] <- .fmt(x$p_value, digits)
  if (length(x$ci_lower) == 1L && !is.na(x$ci_lower)) {
    rows[.interval_label(x$level, x$alpha)] <- paste0("[", .fmt_bound(x$ci_lower, digits), ", ",
                                                      .fmt_bound(x$ci_upper, digits), "]")
  } else if (length(x$alpha) == 1L && !is.na(x$alpha)) {
    rows["level"] <- paste0(.level(x$alpha), " (alpha = ", format(x$alpha), ")")
  }
  for (k in names(x$details)) {
    rows[k] <- .fmt_bound(x$details[[k]], digits)
  }
  if (length(x$tables)) {
    rows["tables"] <- paste0(names(x$tables), " (", vapply(x$tables, NROW, 0L), " x ",
                             vapply(x$tables, NCOL, 0L), ")", collapse = ", ")
  }
  if (length(rows)) .print_lines(rows)
  invisible(x)
}

as.data.frame.synthcontrol_inference <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$table
  if (is.null(out)) {
    out <- data.frame(method = if (is.null(x$name)) x$method else x$name, p_value = .num(x$p_value),
                      ci_lower = .num(x$ci_lower), ci_upper = .num(x$ci_upper), alpha = .num(x$alpha),
                      stringsAsFactors = FALSE)
  }
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}
