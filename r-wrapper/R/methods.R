# S3 methods for "synthcontrol" fits.

.fmt <- function(x, digits = 4) {
  if (is.numeric(x) && length(x) == 1L && !is.na(x) && x != 0 && abs(x) < 10^(-digits) / 2) {
    return(formatC(x, digits = 3, format = "g"))
  }
  if (is.numeric(x) && !is.integer(x)) return(formatC(x, digits = digits, format = "f"))
  format(x)
}

# Donors with |weight| above the threshold (ridge-augmented weights can be negative).
.active_weights <- function(w, threshold = 1e-3) {
  w <- w[abs(w) > threshold]
  w[order(-abs(w), names(w))]
}

.is_ridge <- function(x) identical(x$progfunc, "ridge")

# augsynth's lines for a ridge-augmented fit.
.ridge_lines <- function(x, digits = 4) {
  lam <- if (is.null(x$lambda)) "NA" else formatC(x$lambda, digits = 6, format = "g")
  c("Augmentation" = paste0("ridge (augsynth's Ridge ASCM), lambda ", lam,
                            if (!is.null(x$lambda_path)) " (cross-validated)" else " (given)",
                            if (isTRUE(x$diagnostics$residualize)) ", residualized covariates" else "",
                            if (isTRUE(x$diagnostics$fixedeff)) ", fixed effects" else ""),
    "L2 Imbalance" = paste0(.fmt(x$l2_imbalance, digits), "  (SCM alone ", .fmt(x$l2_imbalance_scm, digits), ")"),
    "Percent improvement from uniform weights" = paste0(formatC(100 * (1 - x$scaled_l2_imbalance),
                                                                digits = 1, format = "f"), "%"),
    if (!is.null(x$covariate_l2_imbalance)) c(
      "Covariate L2 Imbalance" = .fmt(x$covariate_l2_imbalance, digits),
      "Covariate improvement from uniform weights" =
        paste0(formatC(100 * (1 - x$scaled_covariate_l2_imbalance), digits = 1, format = "f"), "%")),
    "Avg Estimated Bias" = .fmt(x$estimated_bias, digits),
    "Extrapolation (RMS weight change)" = .fmt(x$extrapolation, digits),
    "Weights: sum / negative" = paste0(.fmt(x$diagnostics$weights_sum, digits), " / ",
                                       format(x$diagnostics$n_negative_weights)))
}

# augsynth's imbalance lines for a progfunc = "none" fit with covariates after `|` (and fixedeff).
.scm_cov_lines <- function(x, digits = 4) {
  d <- x$diagnostics
  if (is.null(x$covariate_l2_imbalance) && !isTRUE(d$fixedeff)) return(character())
  c("Fit" = d$solver,
    "L2 Imbalance" = .fmt(d$l2_imbalance, digits),
    "Percent improvement from uniform weights" = paste0(formatC(100 * (1 - d$scaled_l2_imbalance),
                                                                digits = 1, format = "f"), "%"),
    if (!is.null(x$covariate_l2_imbalance)) c(
      "Covariate L2 Imbalance" = .fmt(x$covariate_l2_imbalance, digits),
      "Covariate improvement from uniform weights" =
        paste0(formatC(100 * (1 - x$scaled_covariate_l2_imbalance), digits = 1, format = "f"), "%")))
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
  if (.is_ridge(x)) {
    r <- .ridge_lines(x, digits)
    cat(sprintf("  %s: %s", names(r), r), sep = "\n")
  } else if (length(.scm_cov_lines(x, digits))) {
    r <- .scm_cov_lines(x, digits)
    cat(sprintf("  %s: %s", names(r), r), sep = "\n")
  }
  w <- .active_weights(x$weights)
  more <- if (.is_ridge(x) && length(w) > 10L) paste0(", ... (", length(w) - 10L, " more; see coef())") else ""
  if (.is_ridge(x)) w <- utils::head(w, 10L)
  cat(if (.is_ridge(x)) "  Donor weights |w| > 0.001:     " else "  Donor weights > 0.001:         ",
      paste0(names(w), " ", formatC(w, digits = 3, format = "f"), collapse = ", "), more, "\n", sep = "")
  if (length(x$inference$placebo)) {
    p <- x$inference$placebo
    cat("  Placebo p-value (", p$statistic, "): ", .fmt(p$p_value, digits), "\n", sep = "")
  }
  if (.is_ridge(x)) {
    cat("More: summary(fit, inf_type = \"conformal\"), conformal(), jackknife_plus(), scpi(), lto(), ttest(), ",
        "infer(), plot(), coef(), predict(), as.data.frame()\n", sep = "")
  } else {
    cat("More: summary(), plot(), placebo(), leave_one_out(), scpi(), jackknife_plus(), lto(), ttest(), ",
        "infer(), coef(), predict(), as.data.frame()\n", sep = "")
  }
  invisible(x)
}

# summary(inf_type =) takes the registry's names and aliases (inference_methods()) and "none",
# except these, which augsynth's summary() uses for another method than the registry's alias.
.augsynth_only <- c(jackknife = paste0("augsynth's plain jackknife (\"jackknife\") is not available; ",
                                       "use \"jackknife+\" (jackknife+ over time)"))

# R argument names that differ from the Python method's (R's conformal() follows augsynth);
# every other argument has the same name in R and in the registered Python function.
.r_to_py_names <- c(type = "kind", ns = "n_perm")

# The inference options of summary() (after `...`) that a plug-in method receives when given.
.summary_options <- c("alpha", "type", "q", "grid_size", "ns", "seed", "sims", "e_method", "max_pairs",
                      "K", "oracle_weights")

summary.synthcontrol <- function(object, inference = NULL, statistic = "rmspe_ratio",
                                 donor_pool = "donors", exclude_mspe_ratio = NULL, ...,
                                 inf = TRUE, inf_type = NULL, alpha = NULL, type = "iid", q = 1,
                                 grid_size = 50, ns = 10000, seed = 0, sims = 200, e_method = "gaussian",
                                 max_pairs = NULL, K = 3, oracle_weights = NULL, stat_func = NULL) {
  # The defaults above are the registered methods' own (tests/testthat/test-registry.R compares
  # them with the registry), except the level: alpha = NULL is augsynth's summary level, 0.05, for
  # conformal and jackknife+ (whose own default is 0.1), and each other method's own (scpi 0.05
  # per part, lto and ttest 0.05).
  # As augsynth's summary(), conformal inference runs unless told otherwise: inf = FALSE or
  # inf_type = "none" skip it; summary(fit, inference = "placebo") runs the placebo test alone.
  if (!identical(inf, TRUE)) {
    if (!identical(inf, FALSE)) .sc_stop("`inf` must be TRUE or FALSE", class = "synthcontrol_spec_error")
    if (!is.null(inf_type) && !identical(inf_type, "none")) {
      .sc_stop("inf = FALSE conflicts with inf_type = \"", inf_type, "\"; give one of them",
               class = "synthcontrol_spec_error")
    }
    inf_type <- "none"
  }
  defaulted <- is.null(inf_type) && is.null(inference)
  note <- NULL
  if (defaulted) {
    inf_type <- "conformal"
    kind <- tryCatch(reticulate::py_to_r(.py_result(object)$model$kind), error = function(e) NA_character_)
    if (identical(kind, "predictors")) {
      # augsynth's default does not apply to a Synth-style (V-weighted covariates) fit: say what does
      inf_type <- "none"
      note <- paste0("none by default (conformal inference, augsynth's default, is for outcome-only and ",
                     "ridge fits); for this fit: summary(fit, inference = \"placebo\"), ",
                     "summary(fit, inf_type = \"scpi\") or see inference_methods()")
    }
  }
  lvl <- if (is.null(alpha)) list() else list(alpha = alpha)
  inf <- NULL
  conf <- NULL
  other <- NULL
  method <- NULL
  modern <- list(scpi = NULL, lto = NULL, ttest = NULL, jackknife_plus = NULL)
  reg <- NULL
  if (is.character(inference) && length(inference) == 1L && !is.na(inference) &&
      !inference %in% c("placebo", "none", names(.augsynth_only))) {
    reg <- .registry(match.call())
    if (!is.null(.find_method(inference, reg))) {   # summary(fit, "scpi") etc.: same as inf_type
      if (is.null(inf_type)) inf_type <- inference
      inference <- NULL
    }
  }
  if (!is.null(inf_type)) {
    refused <- is.character(inf_type) && length(inf_type) == 1L && inf_type %in% names(.augsynth_only)
    if (identical(inf_type, "none")) {
      method <- "none"
    } else {
      if (is.null(reg)) reg <- .registry(match.call())
      if (!refused && is.character(inf_type) && length(inf_type) == 1L && !is.na(inf_type)) {
        method <- .find_method(inf_type, reg)
      }
    }
    if (is.null(method)) {
      .sc_stop(if (refused) paste0(.augsynth_only[[inf_type]], ". ") else "",
               "`inf_type` must be \"none\" or one of the inference methods: ",
               .method_list(reg, drop = names(.augsynth_only)),
               if (refused) "" else "; augsynth's permutation inference is not available",
               class = "synthcontrol_spec_error")
    }
    name <- if (identical(method, "none")) "none" else method$name
    checked <- c("scpi", "lto", "ttest", "jackknife_plus")
    dots <- list(...)
    extra <- switch(name, scpi = c("u_alpha", "e_alpha", "rho", "rho_max"), character())
    if (name %in% checked && length(dots) &&
        (is.null(names(dots)) || !all(names(dots) %in% extra))) {
      bad <- if (is.null(names(dots))) "unnamed" else setdiff(names(dots), extra)
      .sc_stop("summary(inf_type = \"", inf_type, "\") does not use the argument(s) ",
               paste(ifelse(nzchar(bad), bad, "(unnamed)"), collapse = ", "),
               if (length(extra)) paste0("; it passes ", paste(extra, collapse = ", "), " on to ", name, "()")
               else "", class = "synthcontrol_spec_error")
    }
    if (!is.null(stat_func) && name != "conformal") {
      .sc_stop("`stat_func` is used by conformal inference only (inf_type = \"conformal\"), not by ", name,
               class = "synthcontrol_spec_error")
    }
    if (name %in% c("conformal", "none", "placebo") && length(dots)) {
      .sc_stop("summary(inf_type = \"", inf_type, "\") does not use the argument(s) ",
               paste0("`", if (is.null(names(dots))) "(unnamed)" else names(dots), "`", collapse = ", "),
               class = "synthcontrol_spec_error")
    }
    if (is.null(alpha) && name %in% c("conformal", "jackknife_plus")) lvl <- list(alpha = 0.05)
    if (name == "conformal") {
      conf <- tryCatch(
        do.call("conformal", c(list(quote(object)), lvl, list(type = type, q = q, grid_size = grid_size,
                                                             ns = ns, seed = seed, stat_func = stat_func))),
        synthcontrol_error = function(e) {
          if (!defaulted) stop(e)
          # the default inference cannot run on this fit: say so, and summarise without it
          warning(structure(class = c("synthcontrol_inference_skipped", "synthcontrol_warning", "warning",
                                      "condition"),
                            list(message = paste0("summary(): the default conformal inference is not available ",
                                                  "for this fit (", conditionMessage(e), "); the summary has no ",
                                                  "intervals. Pass inf_type = \"none\" to skip it quietly, or ",
                                                  "choose another method (inference_methods())"),
                                 call = NULL)))
          note <<- paste0("none: the default conformal inference could not run (", conditionMessage(e), ")")
          NULL
        })
    } else if (name == "scpi") {
      # (do.call by name, the fit by symbol: the calls in error messages stay short)
      modern$scpi <- do.call("scpi", c(list(quote(object)), lvl, list(sims = sims, e_method = e_method,
                                                                      seed = seed), dots))
    } else if (name == "lto") {
      modern$lto <- do.call("lto", c(list(quote(object)), lvl, list(max_pairs = max_pairs, seed = seed)))
    } else if (name == "ttest") {
      modern$ttest <- do.call("ttest", c(list(quote(object), K = K), lvl, list(oracle_weights = oracle_weights)))
    } else if (name == "jackknife_plus") {
      modern$jackknife_plus <- do.call("jackknife_plus", c(list(quote(object)), lvl))
    } else if (name == "placebo") {
      if (is.null(inference)) inference <- "placebo"
    } else if (name %in% c("leave_one_out", "in_time_placebo")) {
      takes <- setdiff(names(formals(get(name))), "fit")
      if (length(dots) && (is.null(names(dots)) || !all(names(dots) %in% takes))) {
        .sc_stop("summary(inf_type = \"", inf_type, "\") passes only ", paste(takes, collapse = ", "),
                 " on to ", name, "()", class = "synthcontrol_spec_error")
      }
      other <- do.call(name, c(list(quote(object)), dots))
    } else if (name != "none") {
      # any other registered method (a plug-in): infer(), with the options given here (in the
      # method's own names) and `...`; the rest take the method's own defaults
      given <- intersect(.summary_options, names(match.call()))
      opts <- mget(given, envir = environment())
      py <- ifelse(given %in% method$parameters | !given %in% names(.r_to_py_names), given,
                   .r_to_py_names[given])
      bad <- given[!py %in% method$parameters]
      if (length(bad)) {
        .sc_stop("summary(inf_type = \"", inf_type, "\") does not use the argument(s) ",
                 paste(bad, collapse = ", "), "; ", name, " takes ",
                 if (length(method$parameters)) paste(method$parameters, collapse = ", ") else "no arguments",
                 class = "synthcontrol_spec_error")
      }
      names(opts) <- py
      other <- do.call("infer", c(list(quote(object), name), opts, dots))
    }
  }
  if (is.null(inf_type)) {  # summary(fit, inference = "placebo")
    unused <- c(if (!is.null(stat_func)) "stat_func", names(list(...)))
    if (length(list(...)) && is.null(names(list(...)))) unused <- c(unused, "(unnamed)")
    if (length(unused)) {
      .sc_stop("summary(inference = \"placebo\") does not use the argument(s) ",
               paste0("`", unused, "`", collapse = ", "),
               if ("stat_func" %in% unused) "; stat_func is the statistic of conformal inference: add inf_type = \"conformal\"" else "",
               class = "synthcontrol_spec_error")
    }
  }
  if (!is.null(inference)) {
    if (!identical(inference, "placebo")) {
      .sc_stop("summary(inference =) takes \"placebo\" or, the same as inf_type = ..., the name of an ",
               "inference method (see inference_methods()); got ", paste(format(inference), collapse = ", "),
               class = "synthcontrol_spec_error")
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
    n_active = sum(abs(object$weights) > 1e-3),
    att = .att_frame(object, conf, if (is.null(modern$scpi)) modern$jackknife_plus else modern$scpi),
    average_att = .average_att(object, conf, if (is.null(modern$scpi)) modern$jackknife_plus else modern$scpi,
                               modern$ttest),
    pre_rmse = object$pre_rmse,
    pre_mean = mean(tr$observed[!tr$post]),
    post_mean = mean(tr$observed[tr$post]),
    weights = w,
    effects = tr[tr$post, c("period", "observed", "counterfactual", "effect")],
    diagnostics = object$diagnostics,
    V = object$V,
    placebo = inf,
    progfunc = if (is.null(object$progfunc)) "none" else object$progfunc,
    ridge = if (.is_ridge(object)) object[c("lambda", "lambda_path", "l2_imbalance", "scaled_l2_imbalance",
                                            "l2_imbalance_scm", "estimated_bias", "extrapolation",
                                            "covariate_l2_imbalance", "scaled_covariate_l2_imbalance")] else NULL,
    conformal = conf,
    scpi = modern$scpi,
    lto = modern$lto,
    ttest = modern$ttest,
    jackknife_plus = modern$jackknife_plus,
    inf_type = if (is.list(method)) method$name else NULL,
    inference = other,
    inference_note = note,
    covariate_l2_imbalance = object$covariate_l2_imbalance,
    scaled_covariate_l2_imbalance = object$scaled_covariate_l2_imbalance
  )
  rownames(out$effects) <- NULL
  class(out) <- "summary.synthcontrol"
  out
}

# augsynth's summary()$att: one row per period (pre and post) with Time, Estimate (the gap),
# lower_bound, upper_bound and p_val, the last three NA where no inference gives them (the
# pre-period, and every period without per-period inference).  `sc` is an scpi() or
# jackknife_plus() result (intervals, no p-values).
.att_frame <- function(fit, conf, sc) {
  tr <- fit$trajectory
  out <- data.frame(Time = tr$period, Estimate = tr$effect, lower_bound = NA_real_, upper_bound = NA_real_,
                    p_val = NA_real_, stringsAsFactors = FALSE)
  fill <- function(tab, lo, hi, p) {
    at <- match(as.character(tab$Time), as.character(out$Time))
    out$lower_bound[at] <<- lo
    out$upper_bound[at] <<- hi
    if (!is.null(p)) out$p_val[at] <<- p
  }
  if (!is.null(conf)) {
    fill(conf$table, conf$table$lower_bound, conf$table$upper_bound, conf$table$p_val)
  } else if (!is.null(sc)) {
    t <- sc$table
    fill(data.frame(Time = t$period), t$effect_lower, t$effect_upper, NULL)
  }
  out
}

# augsynth's summary()$average_att: one row (Value, Estimate, Std.Error, p_val, lower_bound,
# upper_bound); the estimate is the mean post-period gap, or the t-test's debiased ATT.
.average_att <- function(fit, conf, sc, tt) {
  row <- function(value, est, p = NA_real_, lo = NA_real_, hi = NA_real_, se = NA_real_) {
    data.frame(Value = value, Estimate = est, Std.Error = se, p_val = p, lower_bound = lo, upper_bound = hi,
               stringsAsFactors = FALSE)
  }
  if (!is.null(conf)) return(row("Average Post-Treatment Effect", conf$average_att, conf$p_value,
                                 conf$att_lower, conf$att_upper))
  if (!is.null(sc)) return(row("Average Post-Treatment Effect", sc$att, NA_real_, sc$att_lower, sc$att_upper))
  if (!is.null(tt)) return(row("Average Post-Treatment Effect (debiased)", tt$att, tt$p_value,
                               tt$ci_lower, tt$ci_upper, tt$se))
  row("Average Post-Treatment Effect", fit$att)
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
    "ATT (mean post gap)" = .fmt(mean(x$effects$effect), digits),
    "Pre-period RMSE" = .fmt(x$pre_rmse, digits),
    "Post/pre RMSPE ratio" = if (!is.null(d$rmspe_ratio)) .fmt(d$rmspe_ratio, 3) else "NA"
  )
  if (!is.null(x$ridge)) {
    r <- x$ridge
    r$diagnostics <- d
    rows <- c(rows, .ridge_lines(r, digits))
  } else {
    rows <- c(rows, .scm_cov_lines(list(diagnostics = d, covariate_l2_imbalance = x$covariate_l2_imbalance,
                                        scaled_covariate_l2_imbalance = x$scaled_covariate_l2_imbalance), digits))
  }
  if (!is.null(x$conformal)) {
    cf <- x$conformal
    rows <- c(rows,
      "Average ATT Estimate (p Value for Joint Null)" = paste0(.fmt(cf$average_att, digits), "   ( ",
                                                                format(signif(cf$p_value, 3)), " )"),
      "Inference type" = paste0("Conformal inference (", cf$type, ")"),
      "ATT interval (constant effect)" = paste0(format(100 * (1 - cf$alpha)), "%: [",
                                                .fmt(cf$att_lower, digits), ", ", .fmt(cf$att_upper, digits), "]"))
  }
  if (!is.null(x$inference_note)) rows <- c(rows, "Inference" = x$inference_note)
  if (!is.null(x$scpi)) rows <- c(rows, .scpi_lines(x$scpi, digits))
  if (!is.null(x$lto)) rows <- c(rows, .lto_lines(x$lto, digits))
  if (!is.null(x$ttest)) rows <- c(rows, .ttest_lines(x$ttest, digits))
  if (!is.null(x$jackknife_plus)) rows <- c(rows, .jackknife_lines(x$jackknife_plus, digits))
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
  cat(if (identical(x$progfunc, "ridge")) "Donor weights |w| > 0.001 (" else "Donor weights > 0.001 (",
      length(x$weights), "):\n", sep = "")
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
  if (!is.null(x$conformal)) {
    cat("Effects by post-treatment period, conformal ", format(100 * (1 - x$conformal$alpha)),
        "% intervals (", x$conformal$type, "):\n", sep = "")
    .print_conformal_table(x$conformal, digits = digits)
  } else if (!is.null(x$scpi)) {
    cat("Effects by post-treatment period, SCPI ", .level(x$scpi$alpha), " prediction intervals (",
        x$scpi$e_method, "):\n  the synthetic counterfactual's band (CF Lower, CF Upper) and the effect's ",
        "interval (Lower Bound, Upper Bound)\n", sep = "")
    .print_scpi_table(x$scpi, digits = digits)
    if (!identical(x$scpi$fit_kind, "outcome")) cat("Note: ", x$scpi$design, "\n", sep = "")
  } else if (!is.null(x$jackknife_plus)) {
    jk <- x$jackknife_plus
    cat("Effects by post-treatment period, jackknife+ ", .level(jk$alpha), " intervals (guaranteed >= ",
        format(100 * jk$guaranteed_coverage), "%", if (jk$bounded) "" else "; unbounded at this alpha",
        "):\n  the synthetic counterfactual's band (CF Lower, CF Upper) and the effect's ",
        "interval (Lower Bound, Upper Bound)\n", sep = "")
    .print_scpi_table(jk, digits = digits)
  } else {
    cat("Effects by post-treatment period:\n")
    eff <- x$effects
    eff$period <- as.character(eff$period)
    for (k in c("observed", "counterfactual", "effect")) eff[[k]] <- formatC(eff[[k]], digits = digits, format = "f")
    print(eff, row.names = FALSE, right = TRUE)
  }
  if (!is.null(x$ttest)) {
    cat(strrep("-", nchar(bar)), "\n", sep = "")
    cat("Cross-fitting folds (tau = post gap - held-out gap; debiased ATT = mean tau):\n")
    .print_ttest_folds(x$ttest, digits = digits)
  }
  if (!is.null(x$inference)) {  # leave_one_out, in_time_placebo or any other registered method
    cat(strrep("-", nchar(bar)), "\n", sep = "")
    if (is.data.frame(x$inference)) {
      cat("Leave-one-out donors (ATT with each donor of weight > ", format(attr(x$inference, "threshold")),
          " dropped; full fit ", .fmt(attr(x$inference, "att"), digits), "):\n", sep = "")
      print(x$inference, row.names = FALSE, digits = digits)
    } else {
      print(x$inference, digits = digits)
    }
  }
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

predict.synthcontrol <- function(object, newdata = NULL, att = FALSE, ...) {
  if (!is.null(newdata)) {
    .sc_stop("predict() for a synthetic control returns the fitted counterfactual of the treated ",
             "unit; `newdata` is not supported", class = "synthcontrol_spec_error")
  }
  dots <- list(...)
  if (length(dots)) {
    .sc_stop("predict() does not use the argument(s) ",
             paste0("`", if (is.null(names(dots))) "(unnamed)" else names(dots), "`", collapse = ", "),
             class = "synthcontrol_spec_error")
  }
  # as augsynth's predict(): the counterfactual by period, or with att = TRUE the effect
  # (observed minus counterfactual) by period
  if (isTRUE(att)) stats::setNames(object$trajectory$effect, names(object$counterfactual)) else object$counterfactual
}

as.data.frame.synthcontrol <- function(x, row.names = NULL, optional = FALSE, ...) {
  out <- x$trajectory
  if (!is.null(row.names)) rownames(out) <- row.names
  out
}
