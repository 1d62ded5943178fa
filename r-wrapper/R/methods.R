# S3 methods for "synthcontrol" fits.

.fmt <- function(x, digits = 4) {
  if (is.numeric(x) && length(x) == 1L && !is.na(x) && x != 0 && abs(x) < 10^(-digits) / 2) {
    return(formatC(x, digits = 3, format = "g"))
  }
  if (is.numeric(x) && !is.integer(x)) return(formatC(x, digits = digits, format = "f"))
  format(x)
}

.active_weights <- function(w, threshold = 1e-3) {
  w <- w[w > threshold]
  w[order(-w, names(w))]
}

.period_label <- function(x) if (length(x)) as.character(x) else "?"

.cat_call <- function(call) {
  if (is.null(call)) return(invisible())
  cat("Call: ", paste(trimws(deparse(call, width.cutoff = 70L)), collapse = "\n      "), "\n", sep = "")
}

print.synthcontrol <- function(x, digits = 4, ...) {
  cat("Synthetic control fit\n")
  .cat_call(x$call)
  cat("  Outcome '", x$outcome, "', treated ", x$treated_label, " from ",
      .period_label(x$treatment_time), " (", x$n_pre, " pre / ", x$n_post, " post periods), ",
      length(x$weights), " donors\n", sep = "")
  cat("  ATT (mean post-period effect): ", .fmt(x$att, digits), "\n", sep = "")
  cat("  Pre-period RMSE:               ", .fmt(x$pre_rmse, digits), "\n", sep = "")
  d <- x$diagnostics
  if (!is.null(x$V) && !is.null(d$lower_bound)) {
    cat("  Loss V / proven lower bound:   ", formatC(d$loss_v, digits = 6, format = "g"), " / ",
        formatC(d$lower_bound, digits = 6, format = "g"), " (gap ",
        formatC(d$bound_gap, digits = 3, format = "g"),
        if (isTRUE(d$bound_attained)) ", certified optimum" else "", ")\n", sep = "")
  }
  w <- .active_weights(x$weights)
  cat("  Donor weights > 0.001:         ",
      paste0(names(w), " ", formatC(w, digits = 3, format = "f"), collapse = ", "), "\n", sep = "")
  if (length(x$inference$placebo)) {
    p <- x$inference$placebo
    cat("  Placebo p-value (", p$statistic, "): ", .fmt(p$p_value, digits), "\n", sep = "")
  }
  cat("More: summary(), plot(), placebo(), leave_one_out(), coef(), predict(), as.data.frame()\n")
  invisible(x)
}

summary.synthcontrol <- function(object, inference = NULL, statistic = "rmspe_ratio",
                                 donor_pool = "donors", exclude_mspe_ratio = NULL, ...) {
  inf <- NULL
  if (!is.null(inference)) {
    if (!identical(inference, "placebo")) {
      .sc_stop("summary(inference =) supports \"placebo\"; use leave_one_out() or ",
               "in_time_placebo() for the other checks", class = "synthcontrol_spec_error")
    }
    stored <- object$inference$placebo
    same <- !is.null(stored) && identical(stored$statistic, statistic) &&
      identical(stored$donor_pool, donor_pool) && identical(stored$exclude_mspe_ratio, exclude_mspe_ratio)
    inf <- if (same) stored else placebo(object, statistic = statistic, donor_pool = donor_pool,
                                         exclude_mspe_ratio = exclude_mspe_ratio)
  }
  w <- .active_weights(object$weights)
  tr <- object$trajectory
  out <- list(
    call = object$call,
    outcome = object$outcome,
    treated = object$treated_label,
    treatment_time = object$treatment_time,
    n_pre = object$n_pre,
    n_post = object$n_post,
    n_donors = length(object$weights),
    n_active = sum(object$weights > 1e-3),
    att = object$att,
    pre_rmse = object$pre_rmse,
    pre_mean = mean(tr$observed[!tr$post]),
    post_mean = mean(tr$observed[tr$post]),
    weights = w,
    effects = tr[tr$post, c("period", "observed", "counterfactual", "effect")],
    diagnostics = object$diagnostics,
    V = object$V,
    placebo = inf
  )
  rownames(out$effects) <- NULL
  class(out) <- "summary.synthcontrol"
  out
}

print.summary.synthcontrol <- function(x, digits = 4, ...) {
  d <- x$diagnostics
  rows <- c(
    "Outcome" = x$outcome,
    "Treated" = x$treated,
    "Treatment time" = .period_label(x$treatment_time),
    "Pre / post periods" = paste(x$n_pre, "/", x$n_post),
    "Donors (active)" = paste0(x$n_donors, " (", x$n_active, ")"),
    "Backend" = if (!is.null(d$backend)) d$backend else "",
    "Treated pre / post mean" = paste(.fmt(x$pre_mean, digits), "/", .fmt(x$post_mean, digits)),
    "ATT (mean post gap)" = .fmt(x$att, digits),
    "Pre-period RMSE" = .fmt(x$pre_rmse, digits),
    "Post/pre RMSPE ratio" = if (!is.null(d$rmspe_ratio)) .fmt(d$rmspe_ratio, 3) else "NA"
  )
  if (!is.null(x$V) && !is.null(d$lower_bound)) {
    rows <- c(rows,
      "Loss V (fit-window MSPE)" = formatC(d$loss_v, digits = 6, format = "g"),
      "Lower bound (proven)" = formatC(d$lower_bound, digits = 6, format = "g"),
      "Bound gap (proven)" = paste0(formatC(d$bound_gap, digits = 3, format = "g"),
                                    if (isTRUE(d$bound_attained)) "  (certified optimum)" else ""),
      "Loss W (predictors)" = formatC(d$loss_w, digits = 3, format = "g"),
      "V agreement" = if (!is.null(d$v_agreement)) formatC(d$v_agreement, digits = 3, format = "g") else "NA")
  }
  if (!is.null(x$placebo)) {
    p <- x$placebo
    rows <- c(rows,
      "Placebo p-value" = paste0(.fmt(p$p_value, digits), "  (", p$statistic, ", donor pool: ",
                                 p$donor_pool, ", ", p$n_placebos, " placebos)"),
      "Placebo statistic" = paste0(.fmt(p$observed, 3),
                                   if (!is.null(p$rank)) paste0("  (rank ", p$rank, " of ", p$n_units, ")")
                                   else ""))
  }
  width <- max(nchar(names(rows)))
  bar <- strrep("=", width + 34L)
  cat(bar, "\n", "Synthetic control", "\n", bar, "\n", sep = "")
  if (!is.null(x$call)) {
    .cat_call(x$call)
    cat(strrep("-", nchar(bar)), "\n", sep = "")
  }
  cat(sprintf("%-*s  %s", width, names(rows), rows), sep = "\n")
  cat(strrep("-", nchar(bar)), "\n", sep = "")
  cat("Donor weights > 0.001 (", length(x$weights), "):\n", sep = "")
  if (length(x$weights)) {
    cat(sprintf("  %-*s  %s", width, names(x$weights), formatC(x$weights, digits = 4, format = "f")),
        sep = "\n")
  }
  if (!is.null(x$V)) {
    cat(strrep("-", nchar(bar)), "\n", sep = "")
    v <- x$V[x$V > 1e-3]
    v <- v[order(-v)]
    cat("Predictor weights V > 0.001 (", length(v), " of ", length(x$V), "):\n", sep = "")
    if (length(v)) {
      vw <- max(width, nchar(names(v)))
      cat(sprintf("  %-*s  %s", vw, names(v), formatC(v, digits = 4, format = "f")), sep = "\n")
    }
  }
  cat(strrep("-", nchar(bar)), "\n", sep = "")
  cat("Effects by post-treatment period:\n")
  eff <- x$effects
  eff$period <- as.character(eff$period)
  for (k in c("observed", "counterfactual", "effect")) eff[[k]] <- formatC(eff[[k]], digits = digits, format = "f")
  print(eff, row.names = FALSE, right = TRUE)
  cat(strrep("-", nchar(bar)), "\n", sep = "")
  cat("Diagnostics:\n")
  if (length(d)) {
    dv <- vapply(d, function(v) {
      if (is.numeric(v) && !is.integer(v) && is.finite(v) && v != 0 && (abs(v) < 1e-3 || abs(v) >= 1e6)) {
        formatC(v, digits = 3, format = "e")
      } else if (is.numeric(v) && !is.integer(v) && v != round(v)) {
        formatC(v, digits = digits, format = "f")
      } else format(v)
    }, character(1))
    cat(sprintf("  %-*s  %s", width, names(dv), dv), sep = "\n")
  }
  cat(bar, "\n", sep = "")
  invisible(x)
}

coef.synthcontrol <- function(object, ...) object$weights

predict.synthcontrol <- function(object, newdata = NULL, ...) {
  if (!is.null(newdata)) {
    .sc_stop("predict() for a synthetic control returns the fitted counterfactual of the treated ",
             "unit; `newdata` is not supported", class = "synthcontrol_spec_error")
  }
  object$counterfactual
}

as.data.frame.synthcontrol <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$trajectory
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}
