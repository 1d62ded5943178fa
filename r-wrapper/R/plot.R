# plot(fit, type = ...): ggplot2 when installed (and engine = "auto"), base graphics otherwise.

utils::globalVariables(c("period", "value", "series", "effect", "donor", "weight", "unit", "gap",
                         "lower", "upper", "lambda", "cv_error", "cv_se"))

# Documented in man/plot.synthcontrol.Rd.
plot.synthcontrol <- function(x, type = c("trajectory", "gap", "weights", "placebo"),
                              engine = c("auto", "base", "ggplot2"), inference = NULL, cv = FALSE,
                              inf_type = NULL, mspe_cut = 20, plot_type = NULL, ...) {
  type_given <- !missing(type)
  type <- match.arg(type)
  engine <- match.arg(engine)
  cv <- .flag(cv, "cv")
  if (!is.null(plot_type)) {   # augsynth's names for the plot types
    if (type_given) .sc_stop("give the plot either as type = or as plot_type = (augsynth's name), not both",
                             class = "synthcontrol_spec_error")
    map <- c("estimate" = "gap", "estimate only" = "gap", "outcomes" = "trajectory", "placebo" = "placebo")
    if (!is.character(plot_type) || length(plot_type) != 1L || !plot_type %in% names(map)) {
      .sc_stop("`plot_type` must be one of ", paste0("\"", names(map), "\"", collapse = ", "),
               " (augsynth's \"outcomes raw average\" is not available: the donors' raw average is not kept ",
               "with the fit); got ", paste(format(plot_type), collapse = ", "), class = "synthcontrol_spec_error")
    }
    type <- map[[plot_type]]
    if (plot_type == "estimate only") inf_type <- "none"
    if (plot_type == "estimate" && is.null(inf_type)) inf_type <- "conformal"
    type_given <- TRUE
  }
  band <- NULL
  if (!is.null(inf_type)) {
    if (!type_given) type <- "gap"
    if (type != "gap") {
      .sc_stop("`inf_type` draws intervals on the gap plot (type = \"gap\"); type = \"", type,
               "\" has none", class = "synthcontrol_spec_error")
    }
    band <- .band_for(x, inf_type)
  } else if (type == "gap") {
    band <- .conformal_band(x)   # the last conformal() run on this fit, if any
  }
  if (!is.numeric(mspe_cut) || length(mspe_cut) != 1L || is.na(mspe_cut) || mspe_cut <= 0) {
    .sc_stop("`mspe_cut` must be one positive number (Inf shows every placebo); got ",
             paste(format(mspe_cut), collapse = ", "), class = "synthcontrol_spec_error")
  }
  if (engine == "auto") engine <- if (.has_ggplot2()) "ggplot2" else "base"
  if (cv && is.null(x$lambda_path)) {
    .sc_stop("plot(cv = TRUE) draws the cross-validation curve of a ridge fit's lambda; this fit has none ",
             "(progfunc = \"ridge\" with lambda = NULL has one)", class = "synthcontrol_spec_error")
  }
  if (engine == "ggplot2" && !.has_ggplot2()) {
    .sc_stop("engine = \"ggplot2\" needs the ggplot2 package; install it or use engine = \"base\"",
             class = "synthcontrol_spec_error")
  }
  shown <- NULL
  if (type == "placebo") {
    if (is.null(inference)) inference <- x$inference$placebo
    if (is.null(inference)) inference <- placebo(x)
    if (!inherits(inference, "synthcontrol_inference") || is.null(inference$gaps)) {
      .sc_stop("`inference` must be the result of placebo(fit)", class = "synthcontrol_spec_error")
    }
    shown <- .placebo_shown(inference, mspe_cut)
    attr(shown, "cut") <- mspe_cut
  }
  if (engine == "ggplot2") {
    dots <- list(...)
    if (length(dots)) {
      .sc_stop("plot() with ggplot2 does not use the argument(s) ",
               paste0("`", if (is.null(names(dots))) "(unnamed)" else names(dots), "`", collapse = ", "),
               "; add layers or a theme to the returned ggplot instead (engine = \"base\" passes ",
               "graphical parameters to base graphics)", class = "synthcontrol_spec_error")
    }
    # returned, not printed: `p <- plot(fit) + theme_bw(); print(p)` draws once, when printed
    if (cv) return(.gg_cv(x))
    return(.gg_plot(x, type, inference, band, shown))
  }
  if (cv) {
    .base_cv(x, ...)
    return(invisible(x))
  }
  switch(type,
    trajectory = .base_trajectory(x, ...),
    gap = .base_gap(x, band, ...),
    weights = .base_weights(x, ...),
    placebo = .base_placebo(x, inference, shown, ...))
  invisible(x)
}

# The per-period effect intervals of one inference method, for the gap plot: a data frame
# (i, period, lower, upper, label) or NULL for inf_type = "none".  augsynth's names are accepted.
.band_for <- function(x, inf_type) {
  if (!is.character(inf_type) || length(inf_type) != 1L || is.na(inf_type)) {
    .sc_stop("`inf_type` must be one method name, e.g. \"conformal\"", class = "synthcontrol_spec_error")
  }
  name <- switch(tolower(inf_type), "none" = "none", "conformal" = "conformal", "jackknife+" = ,
                 "jackknife_plus" = "jackknife_plus", "scpi" = "scpi", NA_character_)
  if (is.na(name)) {
    .sc_stop("plot(inf_type =) draws per-period effect intervals of \"conformal\", \"jackknife+\" or \"scpi\" ",
             "(or \"none\"); got \"", inf_type, "\"",
             if (tolower(inf_type) %in% c("jackknife", "permutation", "permutation_rstat"))
               " (augsynth's; for permutation inference use type = \"placebo\")" else "",
             class = "synthcontrol_spec_error")
  }
  if (name == "none") return(NULL)
  tr <- x$trajectory
  if (name == "conformal") {
    r <- conformal(x, alpha = 0.05)
    t <- r$table
    per <- t$Time; lo <- t$lower_bound; hi <- t$upper_bound
    label <- "conformal 95%"
  } else {
    r <- if (name == "scpi") scpi(x) else jackknife_plus(x, alpha = 0.05)
    t <- r$table
    per <- t$period; lo <- t$effect_lower; hi <- t$effect_upper
    label <- paste(if (name == "scpi") "SCPI" else "jackknife+", .level(r$alpha))
  }
  i <- match(as.character(per), as.character(tr$period))
  data.frame(i = i, period = tr$period[i], lower = lo, upper = hi, label = label, stringsAsFactors = FALSE)
}

# Which placebo columns to draw: the treated (first) always; a placebo whose pre-period MSPE is
# more than `mspe_cut` times the treated's is left out (ADH 2010's figures: 20, 5, 2).
.placebo_shown <- function(inf, mspe_cut) {
  G <- inf$gaps
  pre <- !inf$post
  if (length(pre) != nrow(G) || !any(pre)) return(rep(TRUE, ncol(G)))
  mspe <- colMeans(G[pre, , drop = FALSE]^2)
  keep <- mspe <= mspe_cut * mspe[1L]
  keep[!is.finite(mspe)] <- FALSE
  keep[1L] <- TRUE
  keep
}

.placebo_caption <- function(inf, shown, mspe_cut) {
  n_out <- sum(!shown)
  if (!n_out) return(NULL)
  paste0(n_out, " placebo", if (n_out > 1L) "s" else "", " with pre-period MSPE > ", format(mspe_cut),
         "x the treated's not shown (mspe_cut = Inf: all)")
}

# ggplot2 available? (the option lets the tests take the no-ggplot2 path on a machine that has it)
.has_ggplot2 <- function() {
  !isFALSE(getOption("synthcontrol.use_ggplot2")) && requireNamespace("ggplot2", quietly = TRUE)
}

# x positions: numbers and dates plot as themselves; text periods by position.
.xpos <- function(periods) if (.is_text_period(periods)) seq_along(periods) else periods

.treat_line <- function(x, xs) {
  post <- x$trajectory$post
  i <- which(post)[1L]
  if (is.na(i)) return(invisible())
  # midway between the last pre and the first post period
  at <- if (i > 1L) (as.numeric(xs[i]) + as.numeric(xs[i - 1L])) / 2 else as.numeric(xs[i])
  graphics::abline(v = at, lty = 2, col = "grey40")
}

.is_text_period <- function(periods) !(is.numeric(periods) || inherits(periods, c("Date", "POSIXt")))
.xaxt <- function(periods) if (.is_text_period(periods)) "n" else "s"

.text_axis <- function(periods) {
  if (.is_text_period(periods)) {
    graphics::axis(1, at = seq_along(periods), labels = as.character(periods))
  }
}

.base_trajectory <- function(x, main = NULL, ...) {
  tr <- x$trajectory
  xs <- .xpos(tr$period)
  yl <- range(c(tr$observed, tr$counterfactual), finite = TRUE)
  plot(xs, tr$observed, type = "l", lwd = 2, col = "black", ylim = yl,
       xaxt = .xaxt(tr$period),
       xlab = x$time, ylab = x$outcome,
       main = if (is.null(main)) paste0(x$treated_label, ": observed vs synthetic") else main, ...)
  .text_axis(tr$period)
  graphics::lines(xs, tr$counterfactual, lwd = 2, lty = 2, col = "firebrick")
  .treat_line(x, xs)
  graphics::legend("bottomleft", legend = c(x$treated_label, paste("synthetic", x$treated_label)),
                   lty = c(1, 2), lwd = 2, col = c("black", "firebrick"), bty = "n")
}

# The per-period conformal intervals of the last conformal() run on this fit, or NULL.
.conformal_band <- function(x) {
  e <- attr(x, ".py")
  cf <- if (is.environment(e)) e$conformal_last else NULL
  if (is.null(cf)) return(NULL)
  tr <- x$trajectory
  i <- match(as.character(cf$table$Time), as.character(tr$period))
  if (anyNA(i)) return(NULL)
  data.frame(i = i, period = tr$period[i], lower = cf$table$lower_bound, upper = cf$table$upper_bound,
             label = paste0("conformal ", format(100 * (1 - cf$alpha)), "%"), stringsAsFactors = FALSE)
}

.gap_title <- function(x, band) {
  paste0("Gap: ", x$treated_label, " (ATT ", .fmt(x$att), ")",
         if (!is.null(band)) paste0(", ", band$label[1L], " intervals") else "")
}

.base_gap <- function(x, band = NULL, main = NULL, ylim = NULL, ...) {
  tr <- x$trajectory
  xs <- .xpos(tr$period)
  if (is.null(ylim)) ylim <- range(c(tr$effect, band$lower, band$upper), finite = TRUE)
  plot(xs, tr$effect, type = "l", lwd = 2, xlab = x$time, ylim = ylim,
       xaxt = .xaxt(tr$period),
       ylab = paste("gap in", x$outcome, "(observed - synthetic)"),
       main = if (is.null(main)) .gap_title(x, band) else main, ...)
  .text_axis(tr$period)
  if (!is.null(band)) {
    bx <- as.numeric(xs[band$i])
    ok <- is.finite(band$lower) & is.finite(band$upper)
    graphics::polygon(c(bx[ok], rev(bx[ok])), c(band$lower[ok], rev(band$upper[ok])),
                      col = grDevices::adjustcolor("steelblue", alpha.f = 0.3), border = NA)
    graphics::lines(xs, tr$effect, lwd = 2)
  }
  graphics::abline(h = 0, col = "grey40")
  .treat_line(x, xs)
}

.base_weights <- function(x, threshold = 1e-3, main = NULL, ...) {
  w <- x$weights[abs(x$weights) > threshold]
  w <- w[order(w)]
  op <- graphics::par(mar = c(4, max(4, 0.6 * max(nchar(names(w)), 1) + 1.5), 3, 1))
  on.exit(graphics::par(op))
  graphics::barplot(w, horiz = TRUE, las = 1, col = "steelblue", xlab = "donor weight",
                    xlim = c(min(c(w, 0)), max(c(w, 0.01))) * 1.08,
                    main = if (is.null(main)) paste0("Donor weights ", if (any(w < 0)) "|w| " else "",
                                                     "> ", threshold) else main, ...)
}

.base_placebo <- function(x, inf, shown = NULL, main = NULL, ...) {
  G <- inf$gaps
  if (is.null(shown)) shown <- rep(TRUE, ncol(G))
  periods <- inf$periods
  xs <- .xpos(periods)
  treated_col <- 1L
  yl <- range(G[, shown, drop = FALSE], finite = TRUE)
  plot(xs, G[, treated_col], type = "n", ylim = yl, xlab = x$time,
       xaxt = .xaxt(periods),
       ylab = paste("gap in", x$outcome),
       sub = .placebo_caption(inf, shown, attr(shown, "cut")),
       main = if (is.null(main)) paste0("In-space placebos (p = ", .fmt(inf$p_value), ")") else main, ...)
  .text_axis(periods)
  grey <- grDevices::adjustcolor("grey55", alpha.f = 0.6)
  for (j in which(shown)[-1L]) graphics::lines(xs, G[, j], col = grey)
  graphics::lines(xs, G[, treated_col], lwd = 2, col = "black")
  graphics::abline(h = 0, col = "grey40")
  .treat_line(x, xs)
  graphics::legend("bottomleft", legend = c(x$treated_label, "placebos"), lty = 1, lwd = c(2, 1),
                   col = c("black", grey), bty = "n")
}

.gg_plot <- function(x, type, inf, band = NULL, shown = NULL) {
  gg <- asNamespace("ggplot2")
  # ggplot2 >= 3.4 calls a line's width `linewidth`, older versions `size`
  lw_name <- if (utils::packageVersion("ggplot2") >= "3.4.0") "linewidth" else "size"
  line <- function(width, ...) {
    args <- list(...)
    args[[lw_name]] <- width
    do.call(gg$geom_line, args)
  }
  tr <- x$trajectory
  post <- tr$period[tr$post]
  vline <- if (length(post) && (is.numeric(post) || inherits(post, c("Date", "POSIXt"))))
    gg$geom_vline(xintercept = as.numeric(post[1L]), linetype = 2, colour = "grey40") else NULL
  if (type == "trajectory") {
    df <- rbind(data.frame(period = tr$period, value = tr$observed, series = x$treated_label),
                data.frame(period = tr$period, value = tr$counterfactual,
                           series = paste("synthetic", x$treated_label)))
    return(gg$ggplot(df, gg$aes(x = period, y = value, linetype = series, group = series)) +
             line(0.9) + vline + gg$labs(x = x$time, y = x$outcome, linetype = NULL,
                                         title = paste0(x$treated_label, ": observed vs synthetic")) +
             gg$theme_minimal())
  }
  if (type == "gap") {
    ribbon <- if (is.null(band) || .is_text_period(tr$period)) NULL else
      gg$geom_ribbon(data = band, mapping = gg$aes(x = period, ymin = lower, ymax = upper),
                     inherit.aes = FALSE, fill = "steelblue", alpha = 0.3)
    return(gg$ggplot(tr, gg$aes(x = period, y = effect, group = 1)) + ribbon + gg$geom_hline(yintercept = 0) +
             line(0.9) + vline +
             gg$labs(x = x$time, y = paste("gap in", x$outcome), title = .gap_title(x, band)) +
             gg$theme_minimal())
  }
  if (type == "weights") {
    w <- x$weights[abs(x$weights) > 1e-3]
    df <- data.frame(donor = factor(names(w), levels = names(w)[order(w)]), weight = unname(w))
    return(gg$ggplot(df, gg$aes(x = weight, y = donor)) + gg$geom_col(fill = "steelblue") +
             gg$labs(x = "donor weight", y = NULL,
                     title = paste0("Donor weights ", if (any(w < 0)) "|w| " else "", "> 0.001")) +
             gg$theme_minimal())
  }
  G <- inf$gaps
  cap <- .placebo_caption(inf, shown, attr(shown, "cut"))
  if (!is.null(shown)) G <- G[, shown, drop = FALSE]
  df <- data.frame(period = rep(inf$periods, ncol(G)), gap = as.vector(G),
                   unit = rep(colnames(G), each = nrow(G)),
                   series = rep(c(x$treated_label, rep("placebo", ncol(G) - 1L)), each = nrow(G)))
  gg$ggplot(df, gg$aes(x = period, y = gap, group = unit, colour = series)) +
    line(0.4, data = df[df$series == "placebo", ]) +
    line(1, data = df[df$series != "placebo", ]) +
    gg$geom_hline(yintercept = 0) + vline +
    gg$scale_colour_manual(values = stats::setNames(c("black", "grey75"), c(x$treated_label, "placebo"))) +
    gg$labs(x = x$time, y = paste("gap in", x$outcome), colour = NULL,
            title = paste0("In-space placebos (p = ", .fmt(inf$p_value), ")"), caption = cap) +
    gg$theme_minimal()
}

# The ridge penalty's cross-validation curve: CV error (+- one SE) against lambda (log scale), the
# chosen lambda marked (augsynth's plot(fit, cv = TRUE)).
.cv_title <- function(x) paste0("Ridge lambda by CV: ", formatC(x$lambda, digits = 4, format = "g"),
                                " (one-SE rule)")

.gg_cv <- function(x) {
  gg <- asNamespace("ggplot2")
  lp <- x$lambda_path
  gg$ggplot(lp, gg$aes(x = lambda, y = cv_error)) +
    gg$geom_errorbar(gg$aes(ymin = cv_error - cv_se, ymax = cv_error + cv_se), width = 0.05, colour = "grey50") +
    gg$geom_point() + gg$geom_line() + gg$scale_x_log10() +
    gg$geom_vline(xintercept = x$lambda, linetype = 2, colour = "firebrick") +
    gg$labs(x = "lambda (log scale)", y = "CV error (mean squared, held-out pre-period)", title = .cv_title(x)) +
    gg$theme_minimal()
}

.base_cv <- function(x, ...) {
  lp <- x$lambda_path
  lo <- lp$cv_error - lp$cv_se
  hi <- lp$cv_error + lp$cv_se
  graphics::plot(lp$lambda, lp$cv_error, log = "x", type = "b", pch = 19, ylim = range(lo, hi),
                 xlab = "lambda (log scale)", ylab = "CV error", main = .cv_title(x), ...)
  graphics::segments(lp$lambda, lo, lp$lambda, hi, col = "grey50")
  graphics::abline(v = x$lambda, lty = 2, col = "firebrick")
}
