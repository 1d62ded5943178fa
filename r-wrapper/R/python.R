# Python binding: availability check, the bridge module, error translation,
# install_synthcontrol() and synthcontrol_sitrep().

# ---- conditions --------------------------------------------------------------------------------

.sc_condition <- function(message, class, call = NULL, ...) {
  structure(
    class = unique(c(class, "synthcontrol_error", "error", "condition")),
    list(message = message, call = call, ...)
  )
}

.sc_stop <- function(..., class = character(), call = NULL) {
  # one name for a bad specification, whichever side found it (the core: ..._specification_error)
  if ("synthcontrol_spec_error" %in% class) class <- c(class, "synthcontrol_specification_error")
  stop(.sc_condition(paste0(...), class = class, call = call))
}

# ---- is Python there? --------------------------------------------------------------------------

# The message shown when the Python core cannot be used.  Kept separate so that it can be
# tested without a second Python (reticulate binds one Python per R session).
.python_missing_message <- function(python = NA_character_, problem = NULL,
                                    envname = getOption("synthcontrol.envname", "r-synthcontrol")) {
  python <- if (is.null(python) || is.na(python) || !nzchar(python)) "(none found)" else python
  paste0(
    "The Python package 'synthcontrol' is not available to R.\n",
    "  Python used by reticulate: ", python, "\n",
    if (!is.null(problem) && nzchar(problem)) paste0("  Problem: ", problem, "\n"),
    "To fix it, either\n",
    "  * run synthcontrol::install_synthcontrol() once (it creates the virtualenv '", envname,
    "' and installs the Python core there), then restart R; or\n",
    "  * set RETICULATE_PYTHON to a Python that has it, e.g.\n",
    "    Sys.setenv(RETICULATE_PYTHON = \"/path/to/venv/bin/python\") in a fresh R session ",
    "before loading synthcontrol (or in ~/.Renviron).\n",
    "Run synthcontrol::synthcontrol_sitrep() for details."
  )
}

.first_line <- function(x) {
  x <- trimws(unlist(strsplit(as.character(x), "\n", fixed = TRUE)))
  x <- x[nzchar(x) & !grepl("py_last_error", x, fixed = TRUE)]
  if (length(x)) x[[1]] else ""
}

# Check (without raising) whether the Python core can be used.  Returns a list:
# ok, python (path or NA), version (of synthcontrol or NA), file, problem.
.python_status <- function() {
  out <- list(ok = FALSE, python = NA_character_, version = NA_character_,
              file = NA_character_, problem = "")
  init <- tryCatch({ reticulate::py_config(); "" }, error = function(e) conditionMessage(e))
  if (nzchar(init)) {
    out$python <- Sys.getenv("RETICULATE_PYTHON", NA_character_)
    out$problem <- paste("Python could not be started:", .first_line(init))
    return(out)
  }
  cfg <- reticulate::py_config()
  out$python <- cfg$python
  bridge <- tryCatch(.bridge(), error = function(e) e)
  if (inherits(bridge, "error")) {
    out$problem <- .first_line(conditionMessage(bridge))
    return(out)
  }
  st <- tryCatch(reticulate::py_to_r(bridge$status()), error = function(e) {
    list(ok = FALSE, type = "Error", message = conditionMessage(e))
  })
  if (!isTRUE(st$ok)) {
    out$problem <- paste0(st$type, ": ", .first_line(st$message))
    return(out)
  }
  out$ok <- TRUE
  out$version <- st$version
  out$file <- st$file
  out
}

# Raise a "synthcontrol_python_missing" error unless the Python core imports.
.require_python <- function(call = NULL, status = NULL) {
  if (is.null(status) && isTRUE(.state$available)) return(invisible(TRUE))
  st <- if (is.null(status)) .python_status() else status
  if (!st$ok) {
    stop(.sc_condition(.python_missing_message(st$python, st$problem),
                       class = "synthcontrol_python_missing", call = call,
                       python = st$python, problem = st$problem))
  }
  if (is.null(status)) .state$available <- TRUE
  invisible(TRUE)
}

# The bridge module shipped in inst/python (plain-builtin results, no exceptions).
.bridge <- function() {
  if (is.null(.state$bridge)) {
    path <- system.file("python", package = "synthcontrol")
    if (!nzchar(path)) .sc_stop("internal: inst/python of the R package is missing; reinstall it")
    .state$bridge <- reticulate::import_from_path("synthcontrol_rbridge", path = path, convert = FALSE)
  }
  .state$bridge
}

# Call a bridge function; return its value as a Python object (convert = FALSE).  Python
# exceptions come back as R errors: SynthError -> class c("synthcontrol_<type>",
# "synthcontrol_error") with the Python message and no traceback.
.py_call <- function(name, ..., call = NULL) {
  .require_python(call = call)
  out <- .bridge()$call(name, ...)
  ok <- reticulate::py_to_r(reticulate::py_get_item(out, "ok"))
  if (isTRUE(ok)) {
    said <- reticulate::py_to_r(reticulate::py_get_item(out, "warnings"))
    for (w in said) {  # the core's SynthWarnings become R warnings, with a class to catch them by
      warning(structure(class = c(paste0("synthcontrol_", .snake(as.character(w$type))),
                                  "synthcontrol_warning", "warning", "condition"),
                        list(message = .r_speak(as.character(w$message)), call = call)))
    }
    return(reticulate::py_get_item(out, "value"))
  }
  info <- reticulate::py_to_r(out)
  type <- as.character(info$type)
  msg <- as.character(info$message)
  if (identical(info$kind, "synth")) {
    cls <- paste0("synthcontrol_", .snake(type))
    # one name for a bad specification, whichever side found it (R: synthcontrol_spec_error)
    if (identical(cls, "synthcontrol_specification_error")) cls <- c(cls, "synthcontrol_spec_error")
    stop(.sc_condition(.r_speak(msg), class = c(cls, "synthcontrol_py_error"),
                       call = call, python_type = type))
  }
  if (identical(info$kind, "missing")) {
    .state$available <- FALSE
    stop(.sc_condition(.python_missing_message(reticulate::py_config()$python, paste0(type, ": ", msg)),
                       class = "synthcontrol_python_missing", call = call))
  }
  stop(.sc_condition(
    paste0("unexpected error in the Python core (", type, "): ", .first_line(msg),
           "\nThis is a bug or an input the core does not handle; the Python traceback is in ",
           "the condition's $traceback field (tryCatch(..., error = function(e) e$traceback))."),
    class = "synthcontrol_internal_error", call = call, python_type = type,
    traceback = info$traceback))
}

.snake <- function(x) tolower(gsub("([a-z0-9])([A-Z])", "\\1_\\2", x))

# The core's messages in R's words: its option names and Python literals as an R user writes
# them (augment='ridge' -> progfunc = "ridge", ridge_lambda -> lambda, residualize=True ->
# residualize = TRUE, name='x' -> name = "x", None -> NULL).
.r_speak <- function(msg) {
  subs <- list(
    c("augment *= *['\"]ridge['\"]", "progfunc = \"ridge\""),
    c("without augment\\b", "with progfunc = \"none\""),
    c("augment *= *None", "progfunc = \"none\""),
    c("\\bridge_lambda\\b", "lambda"),
    c("\\b([A-Za-z_][A-Za-z0-9_.]*) *= *True\\b", "\\1 = TRUE"),
    c("\\b([A-Za-z_][A-Za-z0-9_.]*) *= *False\\b", "\\1 = FALSE"),
    c("\\b([A-Za-z_][A-Za-z0-9_.]*) *= *None\\b", "\\1 = NULL"),
    c("\\b([A-Za-z_][A-Za-z0-9_.]*)='([^' ]*)'", "\\1 = \"\\2\""),
    c("\\b([A-Za-z_][A-Za-z0-9_.]*)=([0-9.eE+-]+)\\b", "\\1 = \\2"),
    c("\\bNone\\b", "NULL"), c("\\bTrue\\b", "TRUE"), c("\\bFalse\\b", "FALSE"))
  for (s in subs) msg <- gsub(s[[1L]], s[[2L]], msg, perl = TRUE)
  msg
}

# ---- install / sitrep --------------------------------------------------------------------------

.default_source <- function() {
  opt <- getOption("synthcontrol.source", Sys.getenv("SYNTHCONTROL_SOURCE", ""))
  if (nzchar(opt)) return(opt)
  bundled <- .bundled_core()
  if (nzchar(bundled)) return(bundled)
  if (nzchar(.source_checkout) && file.exists(file.path(.source_checkout, "pyproject.toml"))) {
    return(.source_checkout)
  }
  ""
}

# The Python core shipped inside this R package (inst/core, put there by tools/bundle-core.sh
# before R CMD build), or "".
.bundled_core <- function() {
  dir <- system.file("core", package = "synthcontrol")
  if (nzchar(dir) && file.exists(file.path(dir, "pyproject.toml"))) dir else ""
}

# Documented in man/install_synthcontrol.Rd.
install_synthcontrol <- function(path = NULL, envname = "r-synthcontrol", python = NULL,
                                 editable = FALSE, extra_packages = NULL, pip_options = character(), ...) {
  source <- if (is.null(path)) .default_source() else path
  if (!nzchar(source)) {
    .sc_stop("install_synthcontrol(): no Python core to install -- this R package was built without ",
             "one (tools/bundle-core.sh puts it in inst/core before R CMD build) and was not installed ",
             "from a synthcontrol checkout. Give `path`: a checkout (the folder with pyproject.toml), ",
             "a wheel or an sdist of synthcontrol", class = "synthcontrol_install_error")
  }
  is_local <- file.exists(source)
  if (is_local) source <- normalizePath(source)
  if (!is_local && grepl("[/\\\\]", source) && !grepl("://| @ ", source)) {  # a path, not a URL requirement
    .sc_stop("install_synthcontrol(): `path` ", source, " does not exist", class = "synthcontrol_install_error")
  }
  if (is_local && dir.exists(source) && !file.exists(file.path(source, "pyproject.toml"))) {
    .sc_stop("install_synthcontrol(): ", source, " has no pyproject.toml; give the folder of a ",
             "synthcontrol checkout (or a wheel / sdist file)", class = "synthcontrol_install_error")
  }
  pkgs <- c(if (is_local && isTRUE(editable)) c("-e", source) else source, extra_packages)
  if (reticulate::py_available(initialize = FALSE)) {
    message("Note: this R session is already bound to ", reticulate::py_config()$python,
            "; restart R after the installation to use the new environment.")
  }
  if (!isTRUE(tryCatch(reticulate::virtualenv_exists(envname), error = function(e) FALSE))) {
    message("Creating the virtualenv '", envname, "' ...")
    reticulate::virtualenv_create(envname, python = python, ...)
  }
  what <- if (identical(source, .bundled_core())) paste0("the Python core shipped with this R package (", source, ")")
          else if (is_local) paste0("the Python core from ", source) else paste0("'", source, "' from PyPI")
  message("Installing ", what, " into '", envname, "' ...")
  reticulate::virtualenv_install(envname, packages = pkgs, ignore_installed = is_local,
                                 pip_options = pip_options)
  options(synthcontrol.envname = envname)
  message("Done. Restart R; library(synthcontrol) then uses the virtualenv '", envname,
          "' unless RETICULATE_PYTHON points elsewhere.")
  invisible(list(envname = envname, source = source))
}

# Documented in man/synthcontrol_sitrep.Rd.
synthcontrol_sitrep <- function() {
  st <- .python_status()
  env_py <- Sys.getenv("RETICULATE_PYTHON")
  cat("synthcontrol situation report\n")
  cat("  R package version      :", as.character(utils::packageVersion("synthcontrol")), "\n")
  cat("  RETICULATE_PYTHON      :", if (nzchar(env_py)) env_py else "(not set)", "\n")
  cat("  Python used            :", if (is.na(st$python)) "(none)" else st$python, "\n")
  if (!is.na(st$python) && reticulate::py_available(initialize = FALSE)) {
    cat("  Python version         :", as.character(reticulate::py_config()$version), "\n")
  }
  cat("  synthcontrol imports   :", if (st$ok) "yes" else "no", "\n")
  if (st$ok) {
    cat("  synthcontrol version   :", st$version, "\n")
    cat("  synthcontrol location  :", st$file, "\n")
  } else {
    cat("\n", .python_missing_message(st$python, st$problem), "\n", sep = "")
  }
  src <- .default_source()
  cat("  install source default :", if (nzchar(src)) src else "(none: give install_synthcontrol(path =))", "\n")
  invisible(st)
}

# Documented in man/synthcontrol_sitrep.Rd: TRUE when the Python core can be used (examples and
# scripts test it before calling Python; never raises).
synthcontrol_available <- function() {
  isTRUE(.state$available) || isTRUE(tryCatch(.python_status()$ok, error = function(e) FALSE))
}
