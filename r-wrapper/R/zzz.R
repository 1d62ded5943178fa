# Package state and load hook.

# The Python core, imported lazily (keras / tensorflow style): nothing touches Python
# until the first call that needs it, so library(synthcontrol) always works.
sc <- NULL

# Mutable package state: the bridge module and the cached availability check.
.state <- new.env(parent = emptyenv())

# The repository checkout this package was installed from, if any.  R code is evaluated
# at install time with the package source as working directory; when the source is the
# `r-wrapper/` folder of a synthcontrol checkout, its parent holds the Python package
# and install_synthcontrol() installs from there by default.
.source_checkout <- local({
  dir <- tryCatch(dirname(getwd()), error = function(e) "")
  toml <- file.path(dir, "pyproject.toml")
  ok <- nzchar(dir) && file.exists(toml) &&
    any(grepl('^name *= *"synthcontrol"', tryCatch(readLines(toml, warn = FALSE),
                                                    error = function(e) character())))
  if (ok) normalizePath(dir, mustWork = FALSE) else ""
})

.onLoad <- function(libname, pkgname) {
  # Prefer the virtualenv made by install_synthcontrol() unless the user chose a Python.
  if (!nzchar(Sys.getenv("RETICULATE_PYTHON")) && !reticulate::py_available(initialize = FALSE)) {
    envname <- getOption("synthcontrol.envname", "r-synthcontrol")
    has_env <- tryCatch(reticulate::virtualenv_exists(envname), error = function(e) FALSE)
    if (isTRUE(has_env)) {
      try(reticulate::use_virtualenv(envname, required = FALSE), silent = TRUE)
    }
  }
  sc <<- reticulate::import("synthcontrol", delay_load = TRUE, convert = FALSE)
  invisible()
}
