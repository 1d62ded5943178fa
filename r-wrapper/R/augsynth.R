# augsynth's entry point, for code written for augsynth: the same call, answered by synthcontrol().
# Documented in man/augsynth.Rd.

augsynth <- function(form, unit, time, data, t_int = NULL, ..., progfunc = "ridge", scm = TRUE,
                     fixedeff = FALSE, cov_agg = NULL) {
  cl <- match.call()
  if (!is.null(cov_agg)) {
    .sc_stop("`cov_agg` is not supported: covariates after | are averaged over the pre-period ",
             "(augsynth's default, NAs omitted); compute another aggregate into a column first",
             class = "synthcontrol_spec_error")
  }
  if (missing(form)) .sc_stop("`form` is required: outcome ~ treatment | covariates, as augsynth's",
                              class = "synthcontrol_spec_error")
  # the same call to synthcontrol(): form -> formula, t_int -> treatment_time (with a treatment
  # column in the formula, t_int must be its first treated period), augsynth's default progfunc
  call <- cl
  call[[1L]] <- quote(synthcontrol::synthcontrol)
  nm <- names(call)
  nm[nm == "form"] <- "formula"
  names(call) <- nm
  call$t_int <- NULL
  call$progfunc <- progfunc
  fit <- eval(call, parent.frame())
  if (!is.null(t_int)) {
    tt <- fit$treatment_time
    if (!isTRUE(all.equal(as.character(t_int), as.character(tt))) &&
        !isTRUE(suppressWarnings(as.numeric(t_int) == as.numeric(tt)))) {
      .sc_stop("t_int = ", format(t_int), " is not the first treated period of the treatment column (",
               format(tt), "); synthcontrol takes the treatment from the column. Drop t_int, or pass ",
               "outcome ~ 1 with treated = and treatment_time = to synthcontrol()",
               class = "synthcontrol_spec_error")
    }
  }
  fit$call <- cl
  fit
}
