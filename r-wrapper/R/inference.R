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
  table <- .frame_from_py(d$tables$table)
  g <- d$tables$gaps
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
  ), class = c("synthcontrol_placebo", "synthcontrol_inference"))
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
  if (!is.null(d$tables$table)) {
    tab <- .frame_from_py(d$tables$table)
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
    if (!is.null(det$predictors_dropped) && nzchar(det$predictors_dropped)) {
      out$predictors_dropped <- as.character(det$predictors_dropped)
      out$table$predictors_dropped <- out$predictors_dropped
    }
  }
  out$details <- det
  structure(out, class = c("synthcontrol_in_time_placebo", "synthcontrol_inference"))
}

# The placebo tests' own print (the generic one, for any registered method, is in registry.R).
print.synthcontrol_placebo <- function(x, digits = 4, ...) {
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

print.synthcontrol_in_time_placebo <- print.synthcontrol_placebo

# ---- conformal inference (augsynth's summary(inf_type = "conformal")) -------------------------

# Whole-number arguments (seed, sims, grid_size, ns, max_pairs, K) go to Python as given, never
# through as.integer() (which turns 3e9 into NA): the bridge makes a whole double the Python int of
# exactly that value, and the core's checks report any other value as the user typed it.

# Documented in man/conformal.Rd.
conformal <- function(fit, alpha = 0.1, type = c("iid", "block"), q = 1, grid_size = 50,
                      ns = 10000, seed = 0, grid = NULL, refine = FALSE, stat_func = NULL) {
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
  if (!is.null(stat_func) && !is.function(stat_func)) {
    .sc_stop("`stat_func` must be NULL or a function of the post-period residuals returning one number ",
             "(larger = more extreme), as augsynth's", class = "synthcontrol_spec_error")
  }
  res <- .py_result(fit)
  key <- paste(alpha, type, q, grid_size, ns, seed, refine, paste(grid, collapse = ","),
               paste(deparse(stat_func), collapse = ""), sep = "|")
  e <- attr(fit, ".py")
  if (!is.null(e$conformal[[key]])) {
    e$conformal_last <- e$conformal[[key]]
    return(e$conformal[[key]])
  }
  v <- .py_call("conformal", res, alpha = as.double(alpha), kind = type, q = as.double(q),
                grid_size = grid_size, grid = if (is.null(grid)) NULL else as.list(as.double(grid)),
                n_perm = ns, seed = seed, refine = refine, keep_residuals = !is.null(stat_func), call = cl)
  d <- reticulate::py_to_r(v)
  det <- .scalars(d$details)
  tab <- .frame_from_py(d$tables$table)
  periods <- .retype_periods(tab$period, fit)
  table <- data.frame(Time = periods, Estimate = tab$effect, lower_bound = tab$lower,
                      upper_bound = tab$upper, p_val = tab$p_value, stringsAsFactors = FALSE)
  band <- function(k) stats::setNames(.num(d$series[[k]]$values), as.character(periods))
  out <- structure(list(
    table = table,
    average_att = mean(tab$effect),
    p_value = if (is.null(stat_func)) as.double(d$p_value) else .stat_func_pvalue(d$joint_residuals, stat_func),
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

# The pieces every per-period interval result shares: the table (periods in the fit's own type),
# the ATT and its interval, the counterfactual bands named by period, and the level.
.interval_core <- function(d, det, fit) {
  table <- .frame_from_py(d$tables$table)
  table$period <- .retype_periods(table$period, fit)
  pn <- as.character(table$period)
  list(
    table = table,
    att = as.double(det$att),
    att_lower = as.double(d$ci_lower),
    att_upper = as.double(d$ci_upper),
    counterfactual_lower = stats::setNames(table$cf_lower, pn),
    counterfactual_upper = stats::setNames(table$cf_upper, pn),
    alpha = as.double(d$alpha)
  )
}

# ---- modern inference: SCPI intervals, leave-two-out placebo, debiased t-test -----------------

# Results of the three methods are cached with the fit (like conformal()), keyed by their settings.
.cached_inference <- function(fit, name, key, compute) {
  e <- attr(fit, ".py")
  slot <- paste0(name, "|", key)
  if (is.environment(e) && !is.null(e$inference_cache[[slot]])) return(e$inference_cache[[slot]])
  out <- compute()
  if (is.environment(e)) {
    if (is.null(e$inference_cache)) e$inference_cache <- list()
    e$inference_cache[[slot]] <- out
  }
  out
}

.null_or_number <- function(x, arg, what, ok) {
  if (!is.null(x)) .check_number(x, arg, what, ok)
  invisible(x)
}

.whole <- function(x) x == round(x)

# Documented in man/scpi.Rd.
# SCPI prediction intervals (Cattaneo, Feng & Titiunik 2021) for the counterfactual, the effect of
# every post period and the ATT; Python's SCResult.scpi().  Coverage is 1 - u_alpha - e_alpha.
scpi <- function(fit, alpha = 0.05, sims = 200, e_method = c("gaussian", "ls", "qreg", "empirical"),
                 seed = 0, u_alpha = NULL, e_alpha = NULL, rho = NULL, rho_max = 0.2, u_missp = TRUE) {
  cl <- match.call()
  e_method <- if (identical(e_method, c("gaussian", "ls", "qreg", "empirical"))) "gaussian" else
    .choice(e_method, c("gaussian", "ls", "qreg", "empirical"), "e_method")
  half <- "a number in (0, 0.5), e.g. 0.05 (coverage is 1 - u_alpha - e_alpha)"
  .check_number(alpha, "alpha", half, function(x) x > 0 && x < 0.5)
  .null_or_number(u_alpha, "u_alpha", half, function(x) x > 0 && x < 0.5)
  .null_or_number(e_alpha, "e_alpha", half, function(x) x > 0 && x < 0.5)
  .check_number(sims, "sims", "a whole number >= 10 (simulation draws)", function(x) x >= 10 && .whole(x))
  .check_number(seed, "seed", "a whole number", .whole)
  .null_or_number(rho, "rho", "NULL or a number >= 0", function(x) x >= 0)
  .check_number(rho_max, "rho_max", "a positive number", function(x) x > 0)
  u_missp <- .flag(u_missp, "u_missp")
  res <- .py_result(fit)
  key <- paste(alpha, sims, e_method, seed, format(u_alpha), format(e_alpha), format(rho), rho_max, u_missp,
               sep = "|")
  .cached_inference(fit, "scpi", key, function() {
    v <- .py_call("scpi", res, alpha = as.double(alpha), sims = sims, e_method = e_method,
                  seed = seed, u_alpha = if (is.null(u_alpha)) NULL else as.double(u_alpha),
                  e_alpha = if (is.null(e_alpha)) NULL else as.double(e_alpha),
                  rho = if (is.null(rho)) NULL else as.double(rho), rho_max = as.double(rho_max),
                  u_missp = u_missp, call = cl)
    d <- reticulate::py_to_r(v)
    det <- .scalars(d$details)
    structure(c(.interval_core(d, det, fit), list(
      att_counterfactual_lower = as.double(det$att_cf_lower),
      att_counterfactual_upper = as.double(det$att_cf_upper),
      u_alpha = as.double(det$u_alpha),
      e_alpha = as.double(det$e_alpha),
      coverage = as.double(det$coverage),
      e_method = e_method,
      sims = as.integer(det$sims),
      seed = seed,
      rho = as.double(det$rho),
      rho_max = rho_max,
      u_missp = u_missp,
      active_donors = as.character(unlist(d$lists$active_donors)),
      design_donors = as.character(unlist(d$lists$design_donors)),
      df = as.integer(det$df),
      failed_sims = as.integer(det$failed_sims),
      fit_kind = as.character(det$fit_kind),
      design = as.character(det$design),
      method = as.character(d$method)
    )), class = "synthcontrol_scpi")
  })
}

# Documented in man/lto.Rd.
# The leave-two-out refined placebo test (Lei & Sudijono 2025); Python's SCResult.lto().
lto <- function(fit, alpha = 0.05, max_pairs = NULL, seed = 0) {
  cl <- match.call()
  .check_number(alpha, "alpha", "a number in (0, 1), e.g. 0.05", function(x) x > 0 && x < 1)
  .null_or_number(max_pairs, "max_pairs", "NULL (all pairs) or a whole number >= 1",
                  function(x) x >= 1 && .whole(x))
  .check_number(seed, "seed", "a whole number", .whole)
  res <- .py_result(fit)
  key <- paste(alpha, format(max_pairs), seed, sep = "|")
  .cached_inference(fit, "lto", key, function() {
    v <- .py_call("lto", res, alpha = as.double(alpha),
                  max_pairs = max_pairs, seed = seed, call = cl)
    d <- reticulate::py_to_r(v)
    det <- .scalars(d$details)
    int <- function(k) as.integer(det[[k]])
    structure(list(
      p_value = as.double(d$p_value),
      p_powered = as.double(det$p_powered),
      reject_at_alpha = isTRUE(det$reject_at_alpha),
      alpha = alpha,
      powered_offset_c = as.double(det$powered_offset_c),
      type_i_bound = as.double(det$type_i_bound),
      f_N_alpha = as.double(det$f_N_alpha),
      placebo_type_i_bound = as.double(det$placebo_type_i_bound),
      N = int("N"),
      n_pairs = int("n_pairs"),
      n_pairs_total = int("n_pairs_total"),
      treated_losses = int("treated_losses"),
      treated_wins = int("treated_wins"),
      subsampled = isTRUE(det$subsampled),
      max_pairs = max_pairs,
      seed = seed,
      observed_rmspe_ratio = as.double(det$observed_rmspe_ratio),
      n_fits = int("n_fits"),
      fit_kind = as.character(det$fit_kind),
      table = .frame_from_py(d$tables$table),
      method = as.character(d$method),
      details = det
    ), class = "synthcontrol_lto")
  })
}

# Documented in man/ttest.Rd.
# The debiased cross-fitting t-test for the ATT (Chernozhukov, Wuthrich & Zhu 2025); Python's
# SCResult.ttest().  K: folds (a whole number >= 2) or "auto"; oracle_weights: named numeric vector.
ttest <- function(fit, K = 3, alpha = 0.05, oracle_weights = NULL) {
  cl <- match.call()
  if (!(identical(K, "auto") ||
        (is.numeric(K) && length(K) == 1L && !is.na(K) && K >= 2 && .whole(K)))) {
    .sc_stop("`K` must be a whole number >= 2 (the number of folds) or \"auto\"; got ",
             paste(format(K), collapse = ", "), class = "synthcontrol_spec_error")
  }
  .check_number(alpha, "alpha", "a number in (0, 1), e.g. 0.05", function(x) x > 0 && x < 1)
  if (!is.null(oracle_weights)) {
    nm <- names(oracle_weights)
    if (!is.numeric(oracle_weights) || !length(oracle_weights) || is.null(nm) || anyNA(nm) ||
        any(!nzchar(nm)) || anyDuplicated(nm) || any(!is.finite(oracle_weights))) {
      .sc_stop("`oracle_weights` must be NULL or a named numeric vector of finite weights, one per ",
               "donor, e.g. c(Utah = 0.4, Nevada = 0.6) (donors not named get weight 0)",
               class = "synthcontrol_spec_error")
    }
  }
  res <- .py_result(fit)
  key <- paste(K, alpha, paste(names(oracle_weights), format(oracle_weights, digits = 17), collapse = ","),
               sep = "|")
  .cached_inference(fit, "ttest", key, function() {
    ow <- if (is.null(oracle_weights)) NULL else
      reticulate::dict(as.list(stats::setNames(as.double(oracle_weights), names(oracle_weights))))
    v <- .py_call("ttest", res, K = K,
                  alpha = as.double(alpha), oracle_weights = ow, call = cl)
    d <- reticulate::py_to_r(v)
    det <- .scalars(d$details)
    folds <- .frame_from_py(d$tables$folds)
    for (k in c("held_out_start", "held_out_end")) {
      if (k %in% names(folds)) folds[[k]] <- .retype_periods(folds[[k]], fit)
    }
    kc <- d$lists$K_choice
    structure(list(
      att = as.double(det$att),
      se = as.double(det$se),
      tstat = as.double(det$tstat),
      df = as.integer(det$df),
      p_value = as.double(d$p_value),
      ci_lower = as.double(d$ci_lower),
      ci_upper = as.double(d$ci_upper),
      alpha = alpha,
      K = as.integer(det$K),
      r = as.integer(det$r),
      rescale = as.double(det$rescale),
      naive_att = as.double(det$naive_att),
      oracle = isTRUE(det$oracle),
      fold_estimates = .num(d$lists$fold_estimates),
      folds = folds,
      K_choice = if (is.null(kc)) NULL else .scalars(kc),
      fit_kind = as.character(det$fit_kind),
      method = as.character(d$method)
    ), class = "synthcontrol_ttest")
  })
}

# Documented in man/jackknife_plus.Rd.
# Jackknife+ intervals over time (Barber, Candes, Ramdas & Tibshirani 2021), augsynth's
# inf_type = "jackknife+"; Python's SCResult.jackknife_plus().  Each fitting period is left out in
# turn; coverage >= 1 - 2 alpha under exchangeable errors (about 1 - alpha in practice).  With too
# few fitting periods for alpha the bounds are -Inf / Inf (bounded = FALSE).
jackknife_plus <- function(fit, alpha = 0.1) {
  cl <- match.call()
  .check_number(alpha, "alpha", paste0("a number in (0, 0.5), e.g. 0.1 (nominal coverage 1 - alpha, ",
                                       "guaranteed 1 - 2 alpha)"), function(x) x > 0 && x < 0.5)
  res <- .py_result(fit)
  key <- format(alpha, digits = 17)
  .cached_inference(fit, "jackknife_plus", key, function() {
    v <- .py_call("jackknife_plus", res, alpha = as.double(alpha), call = cl)
    d <- reticulate::py_to_r(v)
    det <- .scalars(d$details)
    r <- d$series$residuals
    structure(c(.interval_core(d, det, fit), list(
      nominal_coverage = as.double(det$nominal_coverage),
      guaranteed_coverage = as.double(det$guaranteed_coverage),
      bounded = isTRUE(det$bounded),
      n_fitting_periods = as.integer(det$n_fitting_periods),
      k_lower = as.integer(det$k_lower),
      k_upper = as.integer(det$k_upper),
      residuals = stats::setNames(.num(r$values),
                                  as.character(.retype_periods(unlist(r$index), fit))),
      method = as.character(d$method)
    )), class = "synthcontrol_jackknife_plus")
  })
}

.level <- function(alpha) paste0(format(100 * (1 - alpha)), "%")

# The SCPI per-period table, conformal's style: counterfactual band and effect interval.
.print_scpi_table <- function(x, digits = 3) {
  tab <- x$table
  f <- function(v) formatC(v, digits = digits, format = "f")
  show <- data.frame(Time = as.character(tab$period), Observed = f(tab$observed),
                     Synthetic = f(tab$counterfactual), `CF Lower` = f(tab$cf_lower),
                     `CF Upper` = f(tab$cf_upper), Estimate = f(tab$effect),
                     `Lower Bound` = f(tab$effect_lower), `Upper Bound` = f(tab$effect_upper),
                     check.names = FALSE, stringsAsFactors = FALSE)
  print(show, row.names = FALSE, right = TRUE)
}

.scpi_lines <- function(x, digits = 4) {
  c("Inference type" = paste0("SCPI prediction intervals (", x$e_method, " out-of-sample bounds, ",
                              x$sims, " simulations, seed ", format(x$seed), ")"),
    "ATT interval" = paste0(.level(x$alpha), ": [", .fmt(x$att_lower, digits), ", ",
                            .fmt(x$att_upper, digits), "]  (ATT ", .fmt(x$att, digits), ")"),
    "Levels u_alpha / e_alpha" = paste0(format(x$u_alpha), " / ", format(x$e_alpha),
                                        "  (coverage >= ", .level(x$alpha), ")"),
    "rho / active donors" = paste0(.fmt(x$rho, digits), " / ",
                                   if (length(x$active_donors)) paste(x$active_donors, collapse = ", ") else "none",
                                   if (x$failed_sims > 0) paste0("  (", x$failed_sims, " failed simulations)") else ""))
}

# A bound for the headline: -Inf / Inf as such (formatC pads them).
.fmt_bound <- function(x, digits = 4) if (is.infinite(x)) format(x) else .fmt(x, digits)

.jackknife_lines <- function(x, digits = 4) {
  n <- x$n_fitting_periods
  c("Inference type" = paste0("Jackknife+ over time (Barber et al. 2021), ", n,
                              " fitting periods left out in turn"),
    "ATT interval" = paste0(.level(x$alpha), ": [", .fmt_bound(x$att_lower, digits), ", ",
                            .fmt_bound(x$att_upper, digits), "]  (ATT ", .fmt(x$att, digits), ")"),
    "Coverage nominal / guaranteed" = paste0(.level(x$alpha), " / >= ", format(100 * x$guaranteed_coverage),
                                             "%  (exchangeable errors; order statistics ", x$k_lower,
                                             " and ", x$k_upper, " of ", n, ")"),
    "Bounded" = if (x$bounded) NULL else
      paste0("no: alpha = ", format(x$alpha), " is too small for ", n, " fitting periods (finite ",
             "bounds need alpha >= 1/", n + 1L, " = ", format(signif(1 / (n + 1), 3)), ")"))
}

.lto_lines <- function(x, digits = 4) {
  c("Inference type" = paste0("Leave-two-out placebo (Lei & Sudijono 2025), N = ", x$N, " units"),
    "LTO p-value (naive)" = paste0(.fmt(x$p_value, digits), "  (treated loses ", x$treated_losses, " of ",
                                   x$n_pairs, " matches, wins ", x$treated_wins,
                                   if (x$subsampled) paste0("; a random ", x$n_pairs, " of ", x$n_pairs_total,
                                                            " pairs") else "", ")"),
    "LTO p-value (powered)" = paste0(.fmt(x$p_powered, digits), "  (offset c = ", .fmt(x$powered_offset_c, 5),
                                     "; ", if (x$reject_at_alpha) "rejects" else "does not reject",
                                     " at alpha = ", format(x$alpha), ")"),
    "Type-I bound at alpha" = paste0(.fmt(x$type_i_bound, digits), "  (placebo test: ",
                                     .fmt(x$placebo_type_i_bound, digits), ")"))
}

.ttest_lines <- function(x, digits = 4) {
  c("Inference type" = paste0("Debiased cross-fitting t-test (K = ", x$K, " folds of ", x$r, " periods",
                              if (!is.null(x$K_choice)) ", K chosen automatically" else "",
                              if (x$oracle) ", oracle weights" else "", ")"),
    "Debiased ATT (se)" = paste0(.fmt(x$att, digits), "  (", .fmt(x$se, digits), ")"),
    "t statistic (df)" = paste0(.fmt(x$tstat, 3), "  (", x$df, ")"),
    "ATT interval" = paste0(.level(x$alpha), ": [", .fmt(x$ci_lower, digits), ", ", .fmt(x$ci_upper, digits), "]"),
    "p-value (ATT = 0)" = format(signif(x$p_value, 3)),
    "K choice" = if (is.null(x$K_choice)) NULL else
      paste0("AR(1) phi of the pre-period gap ", .fmt(x$K_choice$phi, 3), ": ", x$K_choice$rule))
}

.print_lines <- function(rows) {
  width <- max(nchar(names(rows)))
  cat(sprintf("  %-*s  %s", width, names(rows), rows), sep = "\n")
}

.print_ttest_folds <- function(x, digits = 3) {
  f <- x$folds
  show <- data.frame(Fold = f$fold,
                     `Held out` = paste(as.character(f$held_out_start), "-", as.character(f$held_out_end)),
                     `Post gap` = formatC(f$post_gap, digits = digits, format = "f"),
                     `Held-out gap` = formatC(f$held_out_gap, digits = digits, format = "f"),
                     tau = formatC(f$tau, digits = digits, format = "f"),
                     check.names = FALSE, stringsAsFactors = FALSE)
  print(show, row.names = FALSE, right = TRUE)
}

print.synthcontrol_scpi <- function(x, digits = 4, ...) {
  r <- .scpi_lines(x, digits)
  cat(r[[1L]], "\n", sep = "")
  .print_lines(r[-1L])
  if (!identical(x$fit_kind, "outcome")) cat("  Note: ", x$design, "\n", sep = "")
  cat("\nBy post-treatment period: the synthetic counterfactual's ", .level(x$alpha), " band (CF Lower, ",
      "CF Upper) and the effect's ", .level(x$alpha), " interval (Lower Bound, Upper Bound):\n", sep = "")
  .print_scpi_table(x)
  invisible(x)
}

print.synthcontrol_jackknife_plus <- function(x, digits = 4, ...) {
  r <- .jackknife_lines(x, digits)
  cat(r[[1L]], "\n", sep = "")
  .print_lines(r[-1L])
  cat("\nBy post-treatment period: the synthetic counterfactual's ", .level(x$alpha), " band (CF Lower, ",
      "CF Upper) and the effect's ", .level(x$alpha), " interval (Lower Bound, Upper Bound):\n", sep = "")
  .print_scpi_table(x)
  invisible(x)
}

print.synthcontrol_lto <- function(x, digits = 4, ...) {
  r <- .lto_lines(x, digits)
  cat(r[[1L]], "\n", sep = "")
  .print_lines(r[-1L])
  invisible(x)
}

print.synthcontrol_ttest <- function(x, digits = 4, ...) {
  r <- .ttest_lines(x, digits)
  cat(r[[1L]], "\n", sep = "")
  .print_lines(r[-1L])
  cat("\n")
  .print_ttest_folds(x)
  invisible(x)
}

as.data.frame.synthcontrol_scpi <- as.data.frame.synthcontrol_conformal  # the per-period table

as.data.frame.synthcontrol_lto <- as.data.frame.synthcontrol_scpi

as.data.frame.synthcontrol_jackknife_plus <- as.data.frame.synthcontrol_scpi

as.data.frame.synthcontrol_ttest <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$folds
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}

# The joint p-value with an R statistic (augsynth's stat_func), evaluated here on the residuals the
# core's joint test compares: the observed post-period ones and one row per permutation.  Exact
# permutations: the share at least as extreme; sampled ones count the observed ordering,
# (1 + hits) / (1 + draws), as the core does.
.stat_func_pvalue <- function(jr, stat_func) {
  one <- function(u) {
    v <- stat_func(as.double(u))
    if (!is.numeric(v) || length(v) != 1L || !is.finite(v)) {
      .sc_stop("`stat_func` must return one finite number for a vector of post-period residuals",
               class = "synthcontrol_spec_error")
    }
    as.double(v)
  }
  s0 <- one(unlist(jr$observed))
  stats <- vapply(jr$permuted, function(row) one(unlist(row)), numeric(1))
  hits <- sum(stats >= s0 - jr$tol)
  if (isTRUE(jr$exact)) hits / length(stats) else (1 + hits) / (1 + length(stats))
}
