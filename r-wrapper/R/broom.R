# Standard model methods: broom-style tidy() / glance() / augment() (registered for the generics
# package when it is installed: S3method(generics::tidy, ...) in NAMESPACE), and stats' fitted(),
# residuals(), nobs(), confint(), vcov().  Documented in man/tidy.synthcontrol.Rd.

.no_dots <- function(what, ...) {
  dots <- list(...)
  if (length(dots)) {
    .sc_stop(what, " does not use the argument(s) ",
             paste0("`", if (is.null(names(dots))) "(unnamed)" else names(dots), "`", collapse = ", "),
             class = "synthcontrol_spec_error")
  }
}

# One row per donor: its weight (the model's "coefficients"); component = "effects": one row per
# period with the observed outcome, the counterfactual and the effect.
tidy.synthcontrol <- function(x, component = c("weights", "effects"), ...) {
  .no_dots("tidy()", ...)
  component <- match.arg(component)
  if (component == "effects") {
    tr <- x$trajectory
    return(data.frame(period = tr$period, observed = tr$observed, counterfactual = tr$counterfactual,
                      estimate = tr$effect, post = tr$post, stringsAsFactors = FALSE))
  }
  data.frame(term = names(x$weights), estimate = unname(x$weights), stringsAsFactors = FALSE)
}

# One row: the fit's headline numbers.
glance.synthcontrol <- function(x, ...) {
  .no_dots("glance()", ...)
  data.frame(att = x$att, pre_rmse = x$pre_rmse, n_pre = x$n_pre, n_post = x$n_post,
             n_donors = length(x$weights), n_active = sum(abs(x$weights) > 1e-3),
             progfunc = if (is.null(x$progfunc)) "none" else x$progfunc,
             lambda = if (is.null(x$lambda)) NA_real_ else x$lambda,
             l2_imbalance = if (is.null(x$l2_imbalance)) NA_real_ else x$l2_imbalance,
             stringsAsFactors = FALSE)
}

# One row per period: broom's .fitted (the counterfactual) and .resid (observed - counterfactual).
augment.synthcontrol <- function(x, ...) {
  .no_dots("augment()", ...)
  tr <- x$trajectory
  data.frame(period = tr$period, observed = tr$observed, .fitted = tr$counterfactual, .resid = tr$effect,
             post = tr$post, stringsAsFactors = FALSE)
}

fitted.synthcontrol <- function(object, ...) {
  .no_dots("fitted()", ...)
  object$counterfactual
}

residuals.synthcontrol <- function(object, ...) {
  .no_dots("residuals()", ...)
  stats::setNames(object$trajectory$effect, names(object$counterfactual))
}

# The periods the weights were fitted on.
nobs.synthcontrol <- function(object, ...) {
  .no_dots("nobs()", ...)
  as.integer(object$n_pre)
}

# The ATT's interval from conformal inference (augsynth's, for outcome-only and ridge fits), at
# `level`; other fits have no interval method here and say so.
confint.synthcontrol <- function(object, parm = "att", level = 0.95, ...) {
  .no_dots("confint()", ...)
  if (!identical(parm, "att")) {
    .sc_stop("confint() gives the interval of the ATT only (parm = \"att\"); per-period intervals are in ",
             "conformal(fit)$table", class = "synthcontrol_spec_error")
  }
  .check_number(level, "level", "a number in (0, 1), e.g. 0.95", function(v) v > 0 && v < 1)
  ci <- conformal(object, alpha = 1 - level)
  out <- matrix(c(ci$att_lower, ci$att_upper), nrow = 1,
                dimnames = list("att", paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE),
                                             "%")))
  attr(out, "method") <- "conformal inference (Chernozhukov, Wuthrich & Zhu), the average-effect test inverted"
  out
}

vcov.synthcontrol <- function(object, ...) {
  .sc_stop("vcov() is not defined for a synthetic control: the weights are a constrained fit with no ",
           "sampling variance matrix. Use an inference method for uncertainty: confint(fit), ",
           "summary(fit, inf_type = \"conformal\"), placebo(fit)", class = "synthcontrol_spec_error")
}
