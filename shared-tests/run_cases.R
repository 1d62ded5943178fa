# Run every fixture case through the R package (R -> reticulate -> Python) and write the numbers as JSON.
# Usage: Rscript run_cases.R <fixtures dir> <data dir> <out.json>
args <- commandArgs(trailingOnly = TRUE)
fixtures <- args[1]; data_dir <- args[2]; out_file <- args[3]
suppressPackageStartupMessages(library(synthcontrol))
run_synth_case <- function(case, df) {
  a <- case$spec$dataprep
  num <- function(x) as.numeric(unlist(x))
  uv <- a$unit_variable; names_col <- a$unit_names_variable
  tr <- unlist(a$treatment_identifier); ctrl <- unlist(a$controls_identifier); labs <- NULL
  if (!is.numeric(df[[uv]])) {  # Synth wants numeric unit ids: number the units alphabetically
    labs <- sort(unique(df[[uv]])); df$unit_id <- match(df[[uv]], labs)
    names_col <- uv; uv <- "unit_id"; tr <- match(tr, labs); ctrl <- match(ctrl, labs)
  }
  sp <- lapply(a$special_predictors, function(x) list(x[[1]], num(x[[2]]), x[[3]]))
  dataprep.out <- dataprep(foo = df, predictors = unlist(a$predictors), predictors.op = "mean",
    special.predictors = sp, dependent = a$dependent, unit.variable = uv, time.variable = a$time_variable,
    treatment.identifier = tr, controls.identifier = num(ctrl), time.predictors.prior = num(a$time_predictors_prior),
    time.optimize.ssr = num(a$time_optimize_ssr), time.plot = num(a$time_plot), unit.names.variable = names_col)
  if (identical(case$spec$postprocess, "synth_basque_schooling")) {  # verbatim from example(synth)
    dataprep.out$X1["school.high",] <- dataprep.out$X1["school.high",] + dataprep.out$X1["school.post.high",]
    dataprep.out$X1 <- as.matrix(dataprep.out$X1[-which(rownames(dataprep.out$X1)=="school.post.high"),])
    dataprep.out$X0["school.high",] <- dataprep.out$X0["school.high",] + dataprep.out$X0["school.post.high",]
    dataprep.out$X0 <- dataprep.out$X0[-which(rownames(dataprep.out$X0)=="school.post.high"),]
    lowest  <- which(rownames(dataprep.out$X0)=="school.illit")
    highest <- which(rownames(dataprep.out$X0)=="school.high")
    dataprep.out$X1[lowest:highest,] <- (100 * dataprep.out$X1[lowest:highest,]) / sum(dataprep.out$X1[lowest:highest,])
    dataprep.out$X0[lowest:highest,] <- 100 * scale(dataprep.out$X0[lowest:highest,], center=FALSE,
                                                    scale=colSums(dataprep.out$X0[lowest:highest,]))
  }
  synth.out <- synth(data.prep.obj = dataprep.out, backend = case$spec$backend, seed = case$spec$seed)
  w <- synth.out$solution.w[, 1]
  ids <- rownames(synth.out$solution.w)
  names(w) <- if (is.null(labs)) ids else labs[as.integer(ids)]
  list(loss_v = as.numeric(synth.out$loss.v), lower_bound = synth.out$lower.bound,
       bound_gap = synth.out$bound.gap, weights = as.list(w))
}

# lto() / ttest() / scpi() with a case's options; the names are those of cases.run_modern_inference.
`%or%` <- function(x, y) if (is.null(x)) y else x
run_modern_inference <- function(fit, inf) {
  out <- list()
  if (!is.null(inf$lto)) {
    o <- inf$lto
    l <- lto(fit, alpha = o$alpha %or% 0.05, max_pairs = o$max_pairs, seed = o$seed %or% 0)
    out <- c(out, list(lto_p_naive = l$p_value, lto_p_powered = l$p_powered, lto_treated_losses = l$treated_losses,
                       lto_treated_wins = l$treated_wins, lto_n_pairs = l$n_pairs, lto_type_i_bound = l$type_i_bound))
  }
  if (!is.null(inf$ttest)) {
    o <- inf$ttest
    ow <- if (is.null(o$oracle_weights)) NULL else unlist(o$oracle_weights)
    t <- ttest(fit, K = o$K %or% 3, alpha = o$alpha %or% 0.05, oracle_weights = ow)
    out <- c(out, list(ttest_att = t$att, ttest_se = t$se, ttest_tstat = t$tstat, ttest_df = t$df,
                       ttest_ci_lower = t$ci_lower, ttest_ci_upper = t$ci_upper, ttest_p_value = t$p_value,
                       ttest_fold_estimates = I(t$fold_estimates)))
  }
  if (!is.null(inf$scpi)) {
    o <- inf$scpi
    s <- scpi(fit, alpha = o$alpha %or% 0.05, sims = o$sims %or% 200, e_method = o$e_method %or% "gaussian",
              seed = o$seed %or% 0)
    tab <- s$table
    out <- c(out, list(scpi_att = s$att, scpi_att_lower = s$att_lower, scpi_att_upper = s$att_upper,
                       scpi_alpha = s$alpha, scpi_rho = s$rho, scpi_e_mean = I(tab$e_mean)))
    for (k in c("cf_lower", "cf_upper", "effect_lower", "effect_upper", "out_of_sample_lower",
                "out_of_sample_upper")) out[[paste0("scpi_", k)]] <- I(tab[[k]])
  }
  out
}

results <- list()
for (f in sort(list.files(fixtures, pattern = "\\.json$", full.names = TRUE))) {
  case <- jsonlite::fromJSON(f, simplifyVector = TRUE)
  spec <- case$spec; d <- case$data
  df <- utils::read.csv(file.path(data_dir, d$file), check.names = FALSE, stringsAsFactors = FALSE)
  if (!is.null(d$exclude)) df <- df[!(df[[d$exclude$column]] %in% d$exclude$values), ]
  if (identical(case$method, "synth")) {  # a Synth script: dataprep() -> (post-processing) -> synth()
    results[[case$case]] <- run_synth_case(jsonlite::fromJSON(f, simplifyVector = FALSE), df)
    next
  }
  if (identical(d$kind, "events")) {
    # an R user's aggregation of the event log: mean outcome per unit and period inside the window
    df <- df[df[[spec$time]] >= d$window[1] & df[[spec$time]] < d$window[2], ]
    df <- stats::aggregate(df[[spec$outcome]], by = list(df[[spec$unit]], df[[spec$time]]), FUN = mean)
    names(df) <- c(spec$unit, spec$time, spec$outcome)
  }
  # augsynth's formula transforms (log(x)) become columns, as an R user would write them
  for (col in names(d$derive)) {
    expr <- d$derive[[col]]
    df[[col]] <- if (startsWith(expr, "log(")) log(df[[sub("^log\\((.*)\\)$", "\\1", expr)]]) else df[[expr]]
  }
  if (!is.null(spec$augment)) {  # augsynth's vocabulary: progfunc, lambda, residualize, covariates after |
    rhs <- spec$treat
    if (!is.null(spec$covariates)) rhs <- paste(rhs, "|", paste(spec$covariates, collapse = " + "))
    fml <- stats::as.formula(paste(spec$outcome, "~", rhs))
    fit <- synthcontrol(fml, unit = spec$unit, time = spec$time, data = df, progfunc = spec$augment,
                        lambda = spec$ridge_lambda, residualize = isTRUE(spec$residualize))
  } else if (!is.null(spec$treat)) {
    fml <- stats::as.formula(paste(spec$outcome, "~", spec$treat))
    fit <- synthcontrol(fml, unit = spec$unit, time = spec$time, data = df)
  } else {
    fml <- stats::as.formula(paste(spec$outcome, "~ 1"))
    fit <- synthcontrol(fml, unit = spec$unit, time = spec$time, data = df,
                        treated = spec$treated, treatment_time = spec$treatment_time)
  }
  w <- coef(fit)
  out <- list(att = fit$att, pre_rmse = fit$pre_rmse, weights = as.list(stats::setNames(as.numeric(w), names(w))))
  if (!is.null(fit$diagnostics$ridge_lambda)) out[["ridge_lambda"]] <- fit$diagnostics$ridge_lambda
  pl <- case$inference$placebo
  if (!is.null(pl)) {
    inf <- placebo(fit, statistic = pl$statistic, donor_pool = pl$donor_pool)
    out[["placebo.p_value"]] <- inf$p_value
  }
  out <- c(out, run_modern_inference(fit, case$inference))
  results[[case$case]] <- out
}
jsonlite::write_json(results, out_file, digits = NA, auto_unbox = TRUE)
