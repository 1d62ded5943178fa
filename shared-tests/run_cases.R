# Run every fixture case through the R package (R -> reticulate -> Python) and write the numbers as JSON.
# Usage: Rscript run_cases.R <fixtures dir> <data dir> <out.json>
args <- commandArgs(trailingOnly = TRUE)
fixtures <- args[1]; data_dir <- args[2]; out_file <- args[3]
suppressPackageStartupMessages(library(synthcontrol))
results <- list()
for (f in sort(list.files(fixtures, pattern = "\\.json$", full.names = TRUE))) {
  case <- jsonlite::fromJSON(f, simplifyVector = TRUE)
  spec <- case$spec; d <- case$data
  df <- utils::read.csv(file.path(data_dir, d$file), check.names = FALSE, stringsAsFactors = FALSE)
  if (!is.null(d$exclude)) df <- df[!(df[[d$exclude$column]] %in% d$exclude$values), ]
  if (identical(d$kind, "events")) {
    # an R user's aggregation of the event log: mean outcome per unit and period inside the window
    df <- df[df[[spec$time]] >= d$window[1] & df[[spec$time]] < d$window[2], ]
    df <- stats::aggregate(df[[spec$outcome]], by = list(df[[spec$unit]], df[[spec$time]]), FUN = mean)
    names(df) <- c(spec$unit, spec$time, spec$outcome)
  }
  if (!is.null(spec$treat)) {
    fml <- stats::as.formula(paste(spec$outcome, "~", spec$treat))
    fit <- synthcontrol(fml, unit = spec$unit, time = spec$time, data = df)
  } else {
    fml <- stats::as.formula(paste(spec$outcome, "~ 1"))
    fit <- synthcontrol(fml, unit = spec$unit, time = spec$time, data = df,
                        treated = spec$treated, treatment_time = spec$treatment_time)
  }
  w <- coef(fit)
  out <- list(att = fit$att, pre_rmse = fit$pre_rmse, weights = as.list(stats::setNames(as.numeric(w), names(w))))
  pl <- case$inference$placebo
  if (!is.null(pl)) {
    inf <- placebo(fit, statistic = pl$statistic, donor_pool = pl$donor_pool)
    out[["placebo.p_value"]] <- inf$p_value
  }
  results[[case$case]] <- out
}
jsonlite::write_json(results, out_file, digits = NA, auto_unbox = TRUE)
