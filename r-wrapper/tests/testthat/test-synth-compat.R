# Synth-compatible front end: dataprep() -> synth() -> synth.tab() / path.plot() / gaps.plot().
# Reference numbers: R Synth 1.1-8 (shared/reference/basque_synth.json, prop99_synth.json), MSCMT
# 1.4.3's improveSynth (shared/reference/mscmt.json) and the Python core's fixtures
# (fixtures/basque_synth_covariates.json, fixtures/prop99_synth_covariates.json).

synth_data <- function(file) {
  dir <- Sys.getenv("SYNTHCONTROL_DATA")
  if (!nzchar(dir)) skip("SYNTHCONTROL_DATA is not set")
  path <- file.path(dir, file)
  if (!file.exists(path)) skip(paste("no", file, "in", dir))
  read.csv(path, stringsAsFactors = FALSE)
}

# Synth's own Basque example (example(synth)), dataprep() part, verbatim.
basque_dataprep <- function(basque) {
  dataprep(foo = basque,
    predictors = c("school.illit","school.prim","school.med","school.high","school.post.high","invest"),
    predictors.op = "mean", dependent = "gdpcap", unit.variable = "regionno", time.variable = "year",
    special.predictors = list(
      list("gdpcap", 1960:1969, "mean"),
      list("sec.agriculture", seq(1961,1969,2), "mean"),
      list("sec.energy", seq(1961,1969,2), "mean"),
      list("sec.industry", seq(1961,1969,2), "mean"),
      list("sec.construction", seq(1961,1969,2), "mean"),
      list("sec.services.venta", seq(1961,1969,2), "mean"),
      list("sec.services.nonventa", seq(1961,1969,2), "mean"),
      list("popdens", 1969, "mean")),
    treatment.identifier = 17, controls.identifier = c(2:16,18),
    time.predictors.prior = 1964:1969, time.optimize.ssr = 1960:1969,
    unit.names.variable = "regionname", time.plot = 1955:1997)
}

.synth_cache <- new.env()

basque_run <- function() {
  skip_if_no_python_core()
  if (is.null(.synth_cache$basque)) {
    basque <- synth_data("basque.csv")
    # ---- the script of Synth's manual, unchanged ------------------------------------------
    dataprep.out <- basque_dataprep(basque)
    raw <- dataprep.out
    dataprep.out$X1["school.high",] <- dataprep.out$X1["school.high",] + dataprep.out$X1["school.post.high",]
    dataprep.out$X1 <- as.matrix(dataprep.out$X1[-which(rownames(dataprep.out$X1)=="school.post.high"),])
    dataprep.out$X0["school.high",] <- dataprep.out$X0["school.high",] + dataprep.out$X0["school.post.high",]
    dataprep.out$X0 <- dataprep.out$X0[-which(rownames(dataprep.out$X0)=="school.post.high"),]
    lowest  <- which(rownames(dataprep.out$X0)=="school.illit")
    highest <- which(rownames(dataprep.out$X0)=="school.high")
    dataprep.out$X1[lowest:highest,] <- (100 * dataprep.out$X1[lowest:highest,]) / sum(dataprep.out$X1[lowest:highest,])
    dataprep.out$X0[lowest:highest,] <- 100 * scale(dataprep.out$X0[lowest:highest,], center=FALSE, scale=colSums(dataprep.out$X0[lowest:highest,]))
    synth.out <- suppressMessages(synth(data.prep.obj = dataprep.out, method = "BFGS"))
    # ------------------------------------------------------------------------------------------
    .synth_cache$basque <- list(data = basque, raw = raw, dataprep.out = dataprep.out,
                                synth.out = synth.out)
  }
  .synth_cache$basque
}

prop99_dataprep <- function() {
  sm <- synth_data("smoking.csv")
  sm$state.id <- match(sm$state, sort(unique(sm$state)))
  dataprep(foo = sm, predictors = c("lnincome", "retprice", "age15to24"), predictors.op = "mean",
           time.predictors.prior = 1980:1988,
           special.predictors = list(list("beer", 1984:1988, "mean"),
                                     list("cigsale", 1975, "mean"),
                                     list("cigsale", 1980, "mean"),
                                     list("cigsale", 1988, "mean")),
           dependent = "cigsale", unit.variable = "state.id", unit.names.variable = "state",
           time.variable = "year", treatment.identifier = 3, controls.identifier = c(1:2, 4:39),
           time.optimize.ssr = 1970:1988, time.plot = 1970:2000)
}

prop99_run <- function() {
  skip_if_no_python_core()
  if (is.null(.synth_cache$prop99)) {
    dp <- prop99_dataprep()
    .synth_cache$prop99 <- list(dp = dp, out = synth(dp))
  }
  .synth_cache$prop99
}

# ---- dataprep() --------------------------------------------------------------------------------

test_that("dataprep() returns Synth's dataprep.out shape, names and values", {
  b <- basque_run()
  dp <- b$raw
  expect_named(dp, c("X0", "X1", "Z0", "Z1", "Y0plot", "Y1plot", "names.and.numbers", "tag"))
  preds <- c("school.illit", "school.prim", "school.med", "school.high", "school.post.high", "invest",
             "special.gdpcap.1960.1969", "special.sec.agriculture.1961.1969",
             "special.sec.energy.1961.1969", "special.sec.industry.1961.1969",
             "special.sec.construction.1961.1969", "special.sec.services.venta.1961.1969",
             "special.sec.services.nonventa.1961.1969", "special.popdens.1969")
  ctrl <- as.character(c(2:16, 18))
  expect_true(is.matrix(dp$X0) && is.numeric(dp$X0))
  expect_identical(dimnames(dp$X0), list(preds, ctrl))
  expect_identical(dimnames(dp$X1), list(preds, "17"))
  expect_identical(dimnames(dp$Z0), list(as.character(1960:1969), ctrl))
  expect_identical(dimnames(dp$Z1), list(as.character(1960:1969), "17"))
  expect_identical(dimnames(dp$Y0plot), list(as.character(1955:1997), ctrl))
  expect_identical(dimnames(dp$Y1plot), list(as.character(1955:1997), "17"))
  expect_false(has_py_object(dp))

  # spot values computed by hand from the data
  d <- b$data
  sel <- function(unit, years) d$regionno == unit & d$year %in% years
  expect_equal(dp$X0["invest", "2"], mean(d$invest[sel(2, 1964:1969)], na.rm = TRUE), tolerance = 1e-12)
  expect_equal(dp$X1["school.high", "17"], mean(d$school.high[sel(17, 1964:1969)], na.rm = TRUE),
               tolerance = 1e-12)
  expect_equal(dp$X0["special.popdens.1969", "5"], d$popdens[sel(5, 1969)], tolerance = 1e-12)
  expect_equal(dp$X1["special.popdens.1969", "17"], d$popdens[sel(17, 1969)], tolerance = 1e-12)
  expect_equal(dp$X0["special.sec.energy.1961.1969", "10"],
               mean(d$sec.energy[sel(10, seq(1961, 1969, 2))], na.rm = TRUE), tolerance = 1e-12)
  expect_equal(dp$X0["special.gdpcap.1960.1969", "18"], mean(d$gdpcap[sel(18, 1960:1969)]),
               tolerance = 1e-12)
  expect_equal(unname(dp$Z0["1965", "14"]), d$gdpcap[sel(14, 1965)], tolerance = 1e-12)
  expect_equal(unname(dp$Y1plot["1990", "17"]), d$gdpcap[sel(17, 1990)], tolerance = 1e-12)

  nn <- dp$names.and.numbers
  expect_s3_class(nn, "data.frame")
  expect_named(nn, c("unit.names", "unit.numbers"))
  expect_identical(nn$unit.numbers, c(17L, 2:16, 18L))
  expect_identical(nn$unit.names[1L], "Basque Country (Pais Vasco)")
  expect_identical(dp$tag$treatment.identifier, 17L)
  expect_identical(dp$tag$time.plot, 1955:1997)
})

test_that("dataprep() takes column numbers and unit names as Synth does", {
  skip_if_no_python_core()
  sm <- synth_data("smoking.csv")
  sm$state.id <- match(sm$state, sort(unique(sm$state)))
  by_number <- prop99_dataprep()
  by_name <- dataprep(foo = sm, predictors = match(c("lnincome", "retprice", "age15to24"), names(sm)),
           time.predictors.prior = 1980:1988,
           special.predictors = list(list(which(names(sm) == "beer"), 1984:1988, "mean"),
                                     list("cigsale", 1975, "mean"),
                                     list("cigsale", 1980, "mean"),
                                     list("cigsale", 1988, "mean")),
           dependent = which(names(sm) == "cigsale"), unit.variable = which(names(sm) == "state.id"),
           unit.names.variable = "state", time.variable = 2, treatment.identifier = "California",
           controls.identifier = setdiff(sort(unique(sm$state)), "California"),
           time.optimize.ssr = 1970:1988, time.plot = 1970:2000)
  for (k in c("X0", "X1", "Z0", "Z1", "Y0plot", "Y1plot", "names.and.numbers")) {
    expect_identical(by_name[[k]], by_number[[k]], label = k)
  }
  expect_identical(rownames(by_number$X0)[1:4], c("lnincome", "retprice", "age15to24",
                                                   "special.beer.1984.1988"))
})

# ---- synth() on Synth's Basque example -----------------------------------------------------------

test_that("the Basque script of Synth's manual runs unchanged and beats Synth and MSCMT", {
  b <- basque_run()
  out <- b$synth.out
  expect_s3_class(out, "synthcontrol_synth")
  # the post-processed matrices were used (13 predictors, schooling as shares), not the data
  preds <- rownames(b$dataprep.out$X0)
  expect_length(preds, 13L)
  expect_false("school.post.high" %in% preds)
  ctrl <- as.character(c(2:16, 18))
  expect_identical(dim(out$solution.v), c(1L, 13L))
  expect_identical(colnames(out$solution.v), preds)
  expect_identical(dimnames(out$solution.w), list(ctrl, "w.weight"))
  expect_equal(sum(out$solution.w), 1, tolerance = 1e-10)
  expect_true(all(out$solution.w >= 0))
  expect_equal(sum(out$solution.v), 1, tolerance = 1e-10)
  expect_true(all(out$solution.v >= 0))

  expect_lte(out$loss.v, 0.00886462893320414)          # R Synth 1.1-8 (basque_synth.json)
  expect_lte(out$loss.v, 0.004286071453668608 + 1e-9)  # MSCMT improveSynth (mscmt.json)
  expect_lt(abs(out$outcome.only.bound - 0.0041263497), 1e-8)
  # With the schooling rows post-processed, the outcome-only bound is not attainable (LP
  # certificate margin -1.9e-5). The optimum is the corner V = e_gdpcap, 0.0041272514, and the
  # global bound (corners + SCIP MIQP) certifies it (fixtures/basque_synth_covariates.json).
  expect_lt(abs(out$loss.v - 0.004127251416330897), 1e-12)
  expect_lt(abs(out$lower.bound - 0.004127251416330897), 1e-11)
  expect_lt(out$bound.gap, 1e-11)
  expect_true(out$bound.attained)
  expect_identical(out$bound.method, "global (corners + MIQP)")
  expect_equal(max(0, out$loss.v - out$lower.bound), out$bound.gap, tolerance = 1e-12)
  w <- out$solution.w[, 1]
  expect_lt(abs(w[["5"]] - 0.3702642162336546), 1e-6)
  expect_lt(abs(w[["14"]] - 0.4407810153317782), 1e-6)
  expect_lt(abs(w[["18"]] - 0.1889547683560493), 1e-6)

  for (k in c("loss.v", "loss.w", "lower.bound", "bound.gap", "v.agreement", "inner.gap", "seconds")) {
    expect_true(is.double(out[[k]]) && length(out[[k]]) == 1L, label = k)
  }
  expect_identical(out$backend, "auto")
  expect_type(out$n.evals, "integer")
  expect_null(out$custom.v)
  expect_false(has_py_object(unclass(out)[setdiff(names(out), "call")]))
  expect_output(print(out), "lower bound")
  expect_output(print(out), "certified gap")
})

test_that("on the unprocessed Basque matrices the lower bound is attained and certified", {
  b <- basque_run()
  out <- synth(b$raw)
  expect_lt(abs(out$loss.v - 0.0041263497), 1e-8)
  expect_lt(abs(out$lower.bound - 0.0041263497), 1e-8)
  expect_lt(out$bound.gap, 1e-12)
  expect_true(out$bound.attained)
  expect_equal(sum(out$solution.w), 1, tolerance = 1e-10)
  expect_identical(colnames(out$solution.v), rownames(b$raw$X0))
  expect_output(print(out), "certified optimum")
})

test_that("synth() takes X1, X0, Z1, Z0 directly, and Synth's tuning arguments are ignored", {
  b <- basque_run()
  dp <- b$dataprep.out
  st <- synthcontrol:::.state
  st$synth_dots_message <- NULL
  expect_message(out <- synth(X1 = dp$X1, X0 = dp$X0, Z1 = dp$Z1, Z0 = dp$Z0, optimxmethod = "All",
                              genoud = TRUE, quadopt = "LowRankQP", Margin.ipop = 5e-4, Sigf.ipop = 5,
                              Bound.ipop = 10, verbose = TRUE),
                 "not needed.*exact")
  expect_equal(out$loss.v, b$synth.out$loss.v, tolerance = 1e-12)
  expect_equal(out$solution.w, b$synth.out$solution.w, tolerance = 1e-10)
  expect_no_message(synth(dp, optimxmethod = "BFGS"))  # once per session
})

# ---- synth.tab(), path.plot(), gaps.plot() -------------------------------------------------------

test_that("synth.tab() returns Synth's four tables plus the bound", {
  b <- basque_run()
  tab <- synth.tab(synth.res = b$synth.out, dataprep.res = b$dataprep.out)
  expect_named(tab, c("tab.pred", "tab.v", "tab.w", "tab.loss"))
  preds <- rownames(b$dataprep.out$X0)
  expect_identical(dimnames(tab$tab.pred), list(preds, c("Treated", "Synthetic", "Sample Mean")))
  expect_equal(tab$tab.pred[, "Treated"], round(b$dataprep.out$X1[, 1], 3))
  expect_equal(unname(tab$tab.pred[, "Synthetic"]),
               round(as.double(b$dataprep.out$X0 %*% b$synth.out$solution.w), 3))
  expect_equal(unname(tab$tab.pred[, "Sample Mean"]), round(unname(rowMeans(b$dataprep.out$X0)), 3))
  expect_identical(dimnames(tab$tab.v), list(preds, "v.weights"))
  expect_s3_class(tab$tab.w, "data.frame")
  expect_named(tab$tab.w, c("w.weights", "unit.names", "unit.numbers"))
  expect_identical(nrow(tab$tab.w), 16L)
  expect_identical(tab$tab.w$unit.numbers, c(2:16, 18L))
  expect_identical(tab$tab.w$unit.names[tab$tab.w$unit.numbers == 14], "Madrid (Comunidad De)")
  expect_identical(dim(tab$tab.loss), c(1L, 4L))
  expect_identical(colnames(tab$tab.loss), c("Loss W", "Loss V", "Lower bound", "Bound gap"))
  expect_equal(unname(tab$tab.loss[1, "Loss V"]), b$synth.out$loss.v)
  expect_equal(unname(tab$tab.loss[1, "Lower bound"]), b$synth.out$lower.bound)
})

test_that("path.plot() and gaps.plot() draw with Synth's arguments", {
  b <- basque_run()
  f <- tempfile(fileext = ".png")
  grDevices::png(f)
  r1 <- path.plot(synth.res = b$synth.out, dataprep.res = b$dataprep.out,
                  Ylab = "real per-capita GDP (1986 USD, thousand)", Xlab = "year",
                  Ylim = c(0, 12), Legend = c("Basque country", "synthetic Basque country"),
                  Legend.position = "bottomright")
  r2 <- gaps.plot(synth.res = b$synth.out, dataprep.res = b$dataprep.out,
                  Ylab = "gap in real per-capita GDP (1986 USD, thousand)", Xlab = "year",
                  Ylim = c(-1.5, 1.5), Main = NA)
  path.plot(b$synth.out, b$dataprep.out, tr.intake = 1970, Z.plot = TRUE)
  gaps.plot(b$synth.out, b$dataprep.out, tr.intake = 1970)
  grDevices::dev.off()
  expect_gt(file.size(f), 0)
  unlink(f)
  expect_identical(r1$time, 1955:1997)
  expect_equal(r2$gap, r1$treated - r1$synthetic)
})

# ---- Prop 99 with ADH 2010's predictors ----------------------------------------------------------

test_that("Prop 99 (ADH 2010 predictors): below Synth, the corner solution, certified optimal", {
  p <- prop99_run()
  out <- p$out
  expect_lt(out$loss.v, 3.209078)                      # R Synth 1.1-8 (prop99_synth.json)
  expect_lt(abs(out$loss.v - 2.74408932191598), 1e-8)  # the exact corner (cvxpy + Clarabel)
  expect_lt(abs(out$outcome.only.bound - 2.7436616455), 1e-8)
  expect_lt(abs(out$lower.bound - 2.74408932191598), 1e-8)
  expect_lt(out$bound.gap, 1e-6)
  expect_true(out$bound.attained)
  expect_equal(sum(out$solution.w), 1, tolerance = 1e-10)
  expect_identical(rownames(out$solution.w), as.character(c(1:2, 4:39)))
  expect_identical(colnames(out$solution.v),
                   c("lnincome", "retprice", "age15to24", "special.beer.1984.1988",
                     "special.cigsale.1975", "special.cigsale.1980", "special.cigsale.1988"))
  tab <- synth.tab(out, p$dp)
  expect_identical(tab$tab.w$unit.names[tab$tab.w$unit.numbers == 34], "Utah")
})

test_that("Synth's recorded V as custom.v: our exact inner solve beats Synth's own W", {
  p <- prop99_run()
  cv <- c(0.0005834245430553168, 0.031174117063068628, 0.0033669733096576508, 0.012432306853963218,
          0.49252277024458063, 0.3917451413744591, 0.0681752666112154)
  out <- synth(p$dp, custom.v = cv)
  expect_lt(out$loss.v, 3.20908)
  expect_lt(abs(out$loss.v - 3.19328), 1e-4)
  expect_identical(out$custom.v, cv)
  expect_equal(as.double(out$solution.v), cv / sum(cv), tolerance = 1e-12)
  expect_gte(out$loss.v, out$lower.bound)
  # Synth's V is 0.449 above the certified optimum
  expect_lt(abs(out$bound.gap - (out$loss.v - 2.74408932191598)), 1e-7)
})

# ---- errors ---------------------------------------------------------------------------------------

test_that("dataprep() errors name the culprit and have class synthcontrol_error", {
  skip_if_no_python_core()
  sm <- synth_data("smoking.csv")
  sm$state.id <- match(sm$state, sort(unique(sm$state)))
  dp <- function(...) {
    args <- list(foo = sm, predictors = c("lnincome", "retprice"), time.predictors.prior = 1980:1988,
                 dependent = "cigsale", unit.variable = "state.id", unit.names.variable = "state",
                 time.variable = "year", treatment.identifier = 3, controls.identifier = c(1:2, 4:39),
                 time.optimize.ssr = 1970:1988, time.plot = 1970:2000)
    new <- list(...)
    args[names(new)] <- new
    tryCatch(do.call(dataprep, args), error = function(e) e)
  }
  e <- dp(predictors = c("lnincome", "no.such.col"))
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "no.such.col", fixed = TRUE)
  e <- dp(dependent = "cigsales")
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "'cigsales'", fixed = TRUE)
  e <- dp(special.predictors = list(list("bear", 1984:1988, "mean")))
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "'bear'", fixed = TRUE)

  e <- dp(treatment.identifier = 99)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "treatment.identifier 99", fixed = TRUE)
  e <- dp(treatment.identifier = "Atlantis")
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "Atlantis", fixed = TRUE)
  e <- dp(controls.identifier = c(1:2, 4:39, 77))
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "77", fixed = TRUE)

  e <- dp(time.optimize.ssr = 1965:1988)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "time.optimize.ssr", fixed = TRUE)
  expect_match(conditionMessage(e), "1965", fixed = TRUE)
  e <- dp(special.predictors = list(list("beer", 1950, "mean")))
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "1950", fixed = TRUE)
  # raised by the Python core: no beer data at all in 1970-1975
  e <- dp(special.predictors = list(list("beer", 1970:1975, "mean")))
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "beer", fixed = TRUE)
  expect_false(grepl("Traceback", conditionMessage(e)))

  e <- dp(predictors.op = "median")
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "median", fixed = TRUE)
})

test_that("synth() checks its matrices", {
  p <- prop99_run()
  dp <- p$dp
  e <- tryCatch(synth(X1 = dp$X1[-1, , drop = FALSE], X0 = dp$X0, Z1 = dp$Z1, Z0 = dp$Z0),
                error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "X1", fixed = TRUE)
  e <- tryCatch(synth(dp, custom.v = c(1, 2)), error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "custom.v", fixed = TRUE)
  e <- tryCatch(synth(), error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  bad <- dp
  bad$X0[1, 1] <- NA
  e <- tryCatch(synth(bad), error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "X0", fixed = TRUE)
})

# ---- synthcontrol() with covariates ---------------------------------------------------------------

test_that("synthcontrol() fits ADH 2010's predictors through covariates / outcome_lags", {
  skip_if_no_python_core()
  fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                      treated = "California", treatment_time = 1989, backend = "auto",
                      covariates = list(lnincome = c(1980, 1988), retprice = c(1980, 1988),
                                        age15to24 = c(1980, 1988), beer = c(1984, 1988)),
                      outcome_lags = c(1975, 1980, 1988))
  d <- fit$diagnostics
  expect_lt(abs(d$loss_v - 2.74408932191598), 1e-8)
  expect_lt(abs(d$outcome_only_bound - 2.7436616455), 1e-8)
  expect_lt(d$bound_gap, 1e-6)
  expect_true(d$bound_attained)
  expect_true(is.numeric(d$loss_w) && is.numeric(d$v_agreement))
  expect_named(fit$V, c("special.lnincome.1980.1988", "special.retprice.1980.1988",
                        "special.age15to24.1980.1988", "special.beer.1984.1988",
                        "special.cigsale.1975", "special.cigsale.1980", "special.cigsale.1988"))
  expect_equal(sum(fit$V), 1, tolerance = 1e-10)
  expect_equal(sum(coef(fit)), 1, tolerance = 1e-10)
  expect_false(has_py_object(unclass(fit)[setdiff(names(fit), "call")]))
  expect_output(print(fit), "lower bound")
  s <- capture.output(print(summary(fit)))   # no default inference for a Synth-style fit: said
  expect_true(any(grepl("Inference +none by default \\(conformal inference", s)))
  expect_true(any(grepl("Lower bound (proven)", s, fixed = TRUE)))
  expect_true(any(grepl("Predictor weights V", s, fixed = TRUE)))

  # a list of covariates averaged over predictor_window gives the same predictors' values
  fit2 <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                       treated = "California", treatment_time = 1989,
                       covariates = c("lnincome", "retprice"), predictor_window = c(1980, 1988),
                       outcome_lags = c(1975, 1980, 1988))
  expect_named(fit2$V, c("lnincome", "retprice", "special.cigsale.1975", "special.cigsale.1980",
                         "special.cigsale.1988"))
  expect_true(fit2$diagnostics$loss_v >= fit2$diagnostics$lower_bound)

  e <- tryCatch(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                             treated = "California", treatment_time = 1989, covariates = "incomes"),
                error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "incomes", fixed = TRUE)
  e <- tryCatch(synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                             treated = "California", treatment_time = 1989, backend = "genoud"),
                error = function(e) e)
  expect_s3_class(e, "synthcontrol_error")
  expect_match(conditionMessage(e), "backend", fixed = TRUE)
})

test_that("print(synth()) says when the certified optimum is below what Synth's optimiser can stop at", {
  skip_if_no_python_core()
  b <- basque_run()
  out <- capture.output(print(b$synth.out))
  if (isTRUE(b$synth.out$bound.attained)) {
    expect_true(any(grepl("smallest loss any V can", out)))
    expect_true(any(grepl("custom.v", out)))
  } else {
    expect_false(any(grepl("smallest loss any V can", out)))
  }
  cv <- synth(data.prep.obj = b$dataprep.out, custom.v = rep(1, nrow(b$dataprep.out$X1)))
  expect_false(any(grepl("smallest loss any V can", capture.output(print(cv)))))
})
