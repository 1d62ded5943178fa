# Synthetic experimental design (SYNDES) from R: synthetic_design() builds the long columns, the
# Python core's SyntheticDesign chooses the treated units, and the result comes back through the
# one result schema (DesignResult.to_dict()).  Documented in man/synthetic_design.Rd.

synthetic_design <- function(formula, unit, time, data, K = 3, mode = "two_way_global", lam = NULL,
                             solver = "auto", gap_limit = 0.05, time_limit = 60, alpha = 0.1,
                             permutation = "refit", seed = 0,
                             costs = NULL, budget = NULL, arm = NULL, T0 = NULL,
                             to_be_treated = NULL, not_to_be_treated = NULL, cluster_col = NULL,
                             adjacency = NULL, spillover_threshold = NULL, stratum_col = NULL,
                             min_per_stratum = NULL, max_per_stratum = NULL, size_col = NULL,
                             min_size = NULL, max_size = NULL, donor_region_col = NULL,
                             exclude_bordering_donors = FALSE, donor_exclusion = NULL,
                             top_K = 1, selection = NULL, holdout_frac = NULL,
                             power_weight = 0.51, fit_weight = 0.49) {
  cl <- match.call()
  spec <- .parse_formula(formula)
  if (missing(data) || !is.data.frame(data)) {
    .sc_stop("`data` must be a data frame in long format, one row per unit and period",
             class = "synthcontrol_data_error")
  }
  env <- parent.frame()
  unit_col <- .column_name(if (missing(unit)) NULL else substitute(unit), env, data, "unit")
  time_col <- .column_name(if (missing(time)) NULL else substitute(time), env, data, "time")
  prep <- .prepare_data(data, unit_col, time_col, spec$outcome, spec$treat)
  for (col in c(costs, arm, cluster_col, stratum_col, size_col, donor_region_col)) {
    if (!is.character(col) || length(col) != 1L || !col %in% names(data)) {
      .sc_stop("`costs`, `arm` and the restriction columns name a column of `data`; got ", paste(format(col), collapse = ", "),
               class = "synthcontrol_spec_error")
    }
    prep$columns[[col]] <- if (is.numeric(data[[col]])) as.double(data[[col]]) else as.character(data[[col]])
  }
  opts <- list(K = if (is.null(K)) NULL else as.double(K), mode = mode, solver = solver,
               gap_limit = gap_limit, time_limit = time_limit, alpha = as.double(alpha), permutation = permutation,
               seed = as.double(seed))
  if (!is.null(lam)) opts$lam <- as.double(lam)
  if (!is.null(costs)) opts$costs <- costs
  if (!is.null(budget)) opts$budget <- as.double(budget)
  if (!is.null(arm)) opts$arm <- arm
  for (nm in c("cluster_col", "stratum_col", "size_col", "donor_region_col", "selection")) {
    v <- get(nm)
    if (!is.null(v)) opts[[nm]] <- v
  }
  for (nm in c("to_be_treated", "not_to_be_treated")) {
    v <- get(nm)
    if (!is.null(v)) opts[[nm]] <- as.list(as.character(v))
  }
  for (nm in c("spillover_threshold", "min_size", "max_size", "holdout_frac", "min_per_stratum",
               "max_per_stratum")) {
    v <- get(nm)
    if (!is.null(v)) opts[[nm]] <- as.double(v)
  }
  for (nm in c("adjacency", "donor_exclusion")) {
    v <- get(nm)
    if (!is.null(v)) opts[[nm]] <- .unit_matrix(v, nm)
  }
  opts$top_K <- as.double(top_K)
  opts$power_weight <- as.double(power_weight)
  opts$fit_weight <- as.double(fit_weight)
  opts$exclude_bordering_donors <- isTRUE(exclude_bordering_donors)
  v <- .py_call("design", columns = prep$columns, unit = unit_col, time = time_col, outcome = spec$outcome,
                post_col = spec$treat, datetime_cols = prep$datetime_cols, options = opts,
                T0 = if (is.null(T0)) NULL else as.double(T0), call = cl)
  d <- reticulate::py_to_r(reticulate::py_get_item(v, "data"))
  text <- reticulate::py_to_r(reticulate::py_get_item(v, "summary"))
  one <- function(x) {
    out <- list(treated = unlist(x$treated), objective = x$objective, bound = x$bound, mip_gap = x$mip_gap,
                proven_optimal = isTRUE(x$proven_optimal), status = x$status, mode = x$mode, K = x$K,
                lam = x$lam, pre_fit_rmse = x$pre_fit_rmse,
                weights = data.frame(unit = unlist(x$units), treated = unlist(x$treated_weights),
                                     control = unlist(x$control_weights), contrast = unlist(x$contrast),
                                     stringsAsFactors = FALSE),
                power_curve = as.data.frame(lapply(x$power_curve$data, unlist), stringsAsFactors = FALSE),
                post_fit = x$post_fit, certificate = x$certificate, selection = x$selection)
    if (!is.null(x$pool)) {
      out$pool <- do.call(rbind, lapply(x$pool, function(e) {
        data.frame(rank = e$rank, design_id = e$design_id, markets = paste(unlist(e$markets), collapse = ", "),
                   control_group = paste(unlist(e$control_group), collapse = ", "), objective = e$objective,
                   pre_fit_rmse = e$pre_fit_rmse, mde_pct = e$mde_pct, cost = if (is.null(e$cost)) NA else e$cost,
                   gap = e$gap, proven_optimal = isTRUE(e$proven_optimal),
                   oos_rmse = if (is.null(e$oos_rmse)) NA else e$oos_rmse, ic = if (is.null(e$ic)) NA else e$ic,
                   df = e$df, stringsAsFactors = FALSE)
      }))
      rec <- x$recommendation
      out$recommendation <- list(status = rec$status, winner = rec$winner, pareto_ids = unlist(rec$pareto_ids),
                                 weights = rec$weights,
                                 table = as.data.frame(lapply(rec$table$data, unlist), stringsAsFactors = FALSE))
    }
    if (!is.null(x$inference)) {
      out$p_value <- x$inference$p_value
      out$ci <- c(lower = x$inference$ci_lower, upper = x$inference$ci_upper)
      out$level <- x$inference$level
    }
    out
  }
  res <- if (!is.null(d$arms)) lapply(d$arms, one) else one(d)
  structure(list(design = res, arms = !is.null(d$arms), summary_text = text, call = cl),
            class = "synthcontrol_design")
}

print.synthcontrol_design <- function(x, ...) {
  cat(x$summary_text, "\n", sep = "")
  invisible(x)
}

# A unit-by-unit matrix (matrix or data frame with unit labels as row and column names) for the
# core: list(labels, values) with the values row by row.
.unit_matrix <- function(m, what) {
  m <- as.matrix(m)
  if (nrow(m) != ncol(m) || is.null(rownames(m)) || is.null(colnames(m)) ||
      !identical(as.character(rownames(m)), as.character(colnames(m)))) {
    .sc_stop("`", what, "` must be a square matrix whose row and column names are the same unit labels",
             class = "synthcontrol_spec_error")
  }
  storage.mode(m) <- "double"
  list(labels = as.list(as.character(rownames(m))), values = as.list(as.vector(t(m))))
}
