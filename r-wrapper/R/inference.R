# Inference on a fit: in-space placebo, leave-one-out donors, in-time placebo.

# {"columns", "data", "kinds"} from the bridge -> data.frame
.frame_from_py <- function(fr) {
  cols <- as.character(unlist(fr$columns))
  out <- lapply(cols, function(c) {
    v <- fr$data[[c]]
    k <- fr$kinds[[c]]
    switch(k,
      double = .num(v),
      integer = if (length(v)) as.integer(unlist(v)) else integer(),
      logical = if (length(v)) as.logical(unlist(v)) else logical(),
      datetime = .restore_periods(v, "datetime", "datetime"),
      if (length(v)) as.character(unlist(v)) else character())
  })
  names(out) <- cols
  as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
}

.retype_periods <- function(x, fit) {
  k <- .kinds(fit)$time
  if (k %in% c("date", "datetime")) .restore_periods(as.character(x), "datetime", k) else
    .restore_periods(x, k, k)
}

# Documented in man/placebo.Rd.
placebo <- function(fit, statistic = "rmspe_ratio", donor_pool = "donors", exclude_mspe_ratio = NULL) {
  cl <- match.call()
  statistic <- .choice(statistic, c("rmspe_ratio", "mean_gap"), "statistic")
  donor_pool <- .choice(donor_pool, c("donors", "all"), "donor_pool")
  if (!is.null(exclude_mspe_ratio) &&
      (!is.numeric(exclude_mspe_ratio) || length(exclude_mspe_ratio) != 1L || is.na(exclude_mspe_ratio))) {
    .sc_stop("`exclude_mspe_ratio` must be NULL or one positive number (e.g. 20, 5 or 2)",
             class = "synthcontrol_spec_error")
  }
  res <- .py_result(fit)
  v <- .py_call("placebo", res, statistic = statistic, donor_pool = donor_pool,
                exclude_mspe_ratio = if (is.null(exclude_mspe_ratio)) NULL else as.double(exclude_mspe_ratio),
                call = cl)
  d <- reticulate::py_to_r(v)
  det <- .scalars(d$details)
  table <- .frame_from_py(d$frames$table)
  g <- d$frames$gaps
  periods <- .retype_periods(unlist(g$periods), fit)
  gaps <- matrix(unlist(lapply(g$values, .num)), ncol = length(g$columns),
                 dimnames = list(as.character(periods), as.character(unlist(g$columns))))
  observed <- if (statistic == "rmspe_ratio") det$observed_rmspe_ratio else det$observed_att
  structure(list(
    method = as.character(d$method),
    p_value = as.double(d$p_value),
    statistic = statistic,
    observed = as.double(observed),
    rank = det$rank,
    n_units = det$n_units,
    n_as_extreme = det$n_as_extreme,
    n_placebos = as.integer(det$n_placebos),
    n_excluded = as.integer(det$n_excluded),
    donor_pool = donor_pool,
    exclude_mspe_ratio = exclude_mspe_ratio,
    table = table,
    gaps = gaps,
    periods = periods,
    post = fit$trajectory$post,
    details = det
  ), class = "synthcontrol_inference")
}

.choice <- function(x, choices, arg) {
  if (!is.character(x) || length(x) != 1L || !x %in% choices) {
    .sc_stop("`", arg, "` must be one of ", paste0('"', choices, '"', collapse = ", "), "; got ",
             paste(format(x), collapse = ", "), class = "synthcontrol_spec_error")
  }
  x
}

# Documented in man/leave_one_out.Rd.
leave_one_out <- function(fit, threshold = 1e-3) {
  cl <- match.call()
  if (!is.numeric(threshold) || length(threshold) != 1L || is.na(threshold) ||
      threshold < 0 || threshold >= 1) {
    .sc_stop("`threshold` must be a number in [0, 1)", class = "synthcontrol_spec_error")
  }
  v <- .py_call("leave_one_out", .py_result(fit), threshold = as.double(threshold), call = cl)
  d <- reticulate::py_to_r(v)
  out <- .frame_from_py(d)
  out$dropped <- .restore_units(out$dropped, .kinds(fit)$unit)
  attr(out, "att") <- as.double(d$att_full)
  attr(out, "threshold") <- threshold
  out
}

# Documented in man/in_time_placebo.Rd.
in_time_placebo <- function(fit, fake_time = NULL) {
  cl <- match.call()
  if (!is.null(fake_time) && length(fake_time) != 1L) {
    .sc_stop("`fake_time` must be NULL or a single period", class = "synthcontrol_spec_error")
  }
  ft <- .match_type(fake_time, .kinds(fit)$time, "fake_time", fit$time)
  v <- .py_call("in_time_placebo", .py_result(fit), fake_time = ft, call = cl)
  d <- reticulate::py_to_r(v)
  det <- .scalars(d$details)
  out <- list(method = as.character(d$method), p_value = NA_real_)
  if (!is.null(d$frames$table)) {
    tab <- .frame_from_py(d$frames$table)
    tab$fake_time <- .retype_periods(tab$fake_time, fit)
    out$table <- tab
  } else {
    out$fake_time <- .retype_periods(det$fake_time, fit)
    out$att <- det$att
    out$pre_rmse <- det$pre_rmse
    out$post_rmse <- det$post_rmse
    out$rmspe_ratio <- det$rmspe_ratio
    out$ratio_to_att <- det$ratio_to_att
    for (k in c("effects", "gap", "weights")) {
      s <- d$series[[k]]
      if (!is.null(s)) {
        idx <- if (k == "weights") as.character(unlist(s$index)) else
          as.character(.retype_periods(unlist(s$index), fit))
        out[[k]] <- stats::setNames(.num(s$values), idx)
      }
    }
    out$table <- data.frame(fake_time = out$fake_time, att = out$att, pre_rmse = out$pre_rmse,
                            post_rmse = out$post_rmse, rmspe_ratio = .num(out$rmspe_ratio))
  }
  out$details <- det
  structure(out, class = "synthcontrol_inference")
}

print.synthcontrol_inference <- function(x, digits = 4, ...) {
  cat("Inference: ", x$method, "\n", sep = "")
  if (!is.null(x$p_value) && !is.na(x$p_value)) cat("  p-value            ", .fmt(x$p_value, digits), "\n", sep = "")
  if (!is.null(x$observed)) cat("  statistic          ", x$statistic, " = ", .fmt(x$observed, digits), "\n", sep = "")
  if (!is.null(x$rank)) cat("  rank               ", x$rank, " of ", x$n_units, "\n", sep = "")
  if (!is.null(x$n_placebos)) cat("  placebos           ", x$n_placebos, " (donor pool: ", x$donor_pool,
                                  ", excluded: ", x$n_excluded, ")\n", sep = "")
  if (!is.null(x$att) && is.null(x$observed)) cat("  placebo ATT        ", .fmt(x$att, digits), "\n", sep = "")
  if (!is.null(x$ratio_to_att)) cat("  |placebo ATT|/|ATT| ", .fmt(x$ratio_to_att, digits), "\n", sep = "")
  if (!is.null(x$table) && nrow(x$table)) {
    tab <- x$table
    if ("rmspe_ratio" %in% names(tab) && "treated" %in% names(tab)) {
      tab <- tab[order(-tab$rmspe_ratio), , drop = FALSE]
    }
    n <- nrow(tab)
    cat(if (n > 10L) paste0("  table (first 10 of ", n, " rows):\n") else "  table:\n")
    num <- vapply(tab, function(v) is.double(v) && !inherits(v, c("Date", "POSIXt")), logical(1))
    tab[num] <- lapply(tab[num], function(v) {
      small <- all(is.na(v) | abs(v) < 1e-3) && any(!is.na(v) & v != 0)
      formatC(v, digits = if (small) 2L else digits, format = if (small) "e" else "f")
    })
    print(utils::head(tab, 10L), row.names = FALSE)
  }
  invisible(x)
}

as.data.frame.synthcontrol_inference <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$table
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}

# ---- conformal inference (augsynth's summary(inf_type = "conformal")) -------------------------

# Documented in man/conformal.Rd.
conformal <- function(fit, alpha = 0.05, type = c("iid", "block"), q = 1, grid_size = 50,
                      ns = 10000, seed = 0, grid = NULL, refine = FALSE) {
  cl <- match.call()
  type <- if (identical(type, c("iid", "block"))) "iid" else .choice(type, c("iid", "block"), "type")
  .check_number(alpha, "alpha", "a number in (0, 1), e.g. 0.05", function(x) x > 0 && x < 1)
  .check_number(q, "q", "a positive number (the power of the test statistic; augsynth's q)",
                function(x) x > 0)
  .check_number(grid_size, "grid_size", "a whole number >= 2", function(x) x >= 2 && x == round(x))
  .check_number(ns, "ns", "a whole number >= 100 (permutations for the joint iid p-value)",
                function(x) x >= 100 && x == round(x))
  .check_number(seed, "seed", "a whole number", function(x) x == round(x))
  if (!is.null(grid) && (!is.numeric(grid) || length(grid) < 1L || anyNA(grid))) {
    .sc_stop("`grid` must be NULL or a numeric vector of effect values to test",
             class = "synthcontrol_spec_error")
  }
  refine <- .flag(refine, "refine")
  res <- .py_result(fit)
  key <- paste(alpha, type, q, grid_size, ns, seed, refine, paste(grid, collapse = ","), sep = "|")
  e <- attr(fit, ".py")
  if (!is.null(e$conformal[[key]])) {
    e$conformal_last <- e$conformal[[key]]
    return(e$conformal[[key]])
  }
  v <- .py_call("conformal", res, alpha = as.double(alpha), kind = type, q = as.double(q),
                grid_size = as.integer(grid_size), grid = if (is.null(grid)) NULL else as.list(as.double(grid)),
                n_perm = as.integer(ns), seed = as.integer(seed), refine = refine, call = cl)
  d <- reticulate::py_to_r(v)
  det <- .scalars(d$details)
  tab <- .frame_from_py(d$frames$table)
  periods <- .retype_periods(tab$period, fit)
  table <- data.frame(Time = periods, Estimate = tab$effect, lower_bound = tab$lower,
                      upper_bound = tab$upper, p_val = tab$p_value, stringsAsFactors = FALSE)
  band <- function(k) stats::setNames(.num(d$series[[k]]$values), as.character(periods))
  out <- structure(list(
    table = table,
    average_att = mean(tab$effect),
    p_value = as.double(d$p_value),
    att_lower = if (is.null(d$ci_lower)) NA_real_ else as.double(d$ci_lower),
    att_upper = if (is.null(d$ci_upper)) NA_real_ else as.double(d$ci_upper),
    counterfactual_lower = band("counterfactual_lower"),
    counterfactual_upper = band("counterfactual_upper"),
    alpha = alpha,
    type = type,
    q = q,
    ns = if (type == "iid") as.integer(ns) else NA_integer_,
    p_value_mc_se = if (is.null(det$joint_p_mc_se)) NA_real_ else as.double(det$joint_p_mc_se),
    att_p_value = if (is.null(det$att_p_value)) NA_real_ else as.double(det$att_p_value),
    att_interval_at_grid_edge = isTRUE(det$att_interval_at_grid_edge),
    lambda = fit$lambda,
    method = as.character(d$method)
  ), class = "synthcontrol_conformal")
  if (is.environment(e)) {
    if (is.null(e$conformal)) e$conformal <- list()
    e$conformal[[key]] <- out
    e$conformal_last <- out
  }
  out
}

.check_number <- function(x, arg, what, ok) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !isTRUE(ok(x))) {
    .sc_stop("`", arg, "` must be ", what, "; got ", paste(format(x), collapse = ", "),
             class = "synthcontrol_spec_error")
  }
  invisible(x)
}

# The per-period table, augsynth-style.
.print_conformal_table <- function(x, digits = 3) {
  tab <- x$table
  lvl <- paste0(format(100 * (1 - x$alpha)), "% CI")
  show <- data.frame(Time = as.character(tab$Time),
                     Estimate = formatC(tab$Estimate, digits = digits, format = "f"),
                     lower = formatC(tab$lower_bound, digits = digits, format = "f"),
                     upper = formatC(tab$upper_bound, digits = digits, format = "f"),
                     p = formatC(tab$p_val, digits = digits, format = "f"),
                     stringsAsFactors = FALSE)
  names(show) <- c("Time", "Estimate", paste(lvl, "Lower Bound"), paste(lvl, "Upper Bound"), "p Value")
  print(show, row.names = FALSE, right = TRUE)
}

.conformal_headline <- function(x, digits = 4) {
  paste0("Average ATT Estimate (p Value for Joint Null):  ", .fmt(x$average_att, digits),
         "   ( ", format(signif(x$p_value, 3)), " )")
}

print.synthcontrol_conformal <- function(x, digits = 4, ...) {
  cat("Conformal inference (", x$type, " permutations", if (x$type == "iid")
    paste0(", ", x$ns, " draws for the joint p-value") else "", "; alpha = ", format(x$alpha), ")\n", sep = "")
  cat(.conformal_headline(x, digits), "\n", sep = "")
  cat(format(100 * (1 - x$alpha)), "% interval for the ATT (constant effect): [",
      .fmt(x$att_lower, digits), ", ", .fmt(x$att_upper, digits), "]",
      if (isTRUE(x$att_interval_at_grid_edge)) "  (reaches the grid's edge: may be wider)" else "",
      "\n\n", sep = "")
  .print_conformal_table(x)
  invisible(x)
}

as.data.frame.synthcontrol_conformal <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$table
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}
