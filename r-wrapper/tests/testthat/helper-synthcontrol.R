# Shared helpers for the tests.

skip_if_no_python_core <- function() {
  st <- synthcontrol:::.python_status()
  if (!isTRUE(st$ok)) {
    skip(paste("Python core not available:", st$problem,
               "(set RETICULATE_PYTHON to a Python with synthcontrol)"))
  }
}

# Prop 99 (Abadie, Diamond & Hainmueller 2010) from $SYNTHCONTROL_DATA/smoking.csv.
prop99 <- function() {
  dir <- Sys.getenv("SYNTHCONTROL_DATA")
  if (!nzchar(dir)) skip("SYNTHCONTROL_DATA is not set")
  path <- file.path(dir, "smoking.csv")
  if (!file.exists(path)) skip(paste("no smoking.csv in", dir))
  read.csv(path, stringsAsFactors = FALSE)
}

.cache <- new.env()
prop99_fit <- function() {
  skip_if_no_python_core()
  if (is.null(.cache$fit)) {
    .cache$fit <- synthcontrol(cigsale ~ 1, unit = state, time = year, data = prop99(),
                               treated = "California", treatment_time = 1989)
  }
  .cache$fit
}

# A small panel with a known answer: T = 0.3 A + 0.7 B before 2005, +5 from 2005 on.
toy_panel <- function() {
  years <- 2000:2009
  A <- c(10, 12, 11, 14, 13, 15, 16, 15, 17, 18)
  B <- c(20, 19, 22, 21, 23, 22, 24, 26, 25, 27)
  C <- c(5, 9, 4, 8, 3, 7, 2, 6, 1, 5)
  Tr <- 0.3 * A + 0.7 * B + ifelse(years >= 2005, 5, 0)
  data.frame(unit = rep(c("A", "B", "C", "T"), each = length(years)),
             year = rep(years, 4L),
             y = c(A, B, C, Tr),
             d = c(rep(0L, 30L), as.integer(years >= 2005)),
             stringsAsFactors = FALSE)
}

# reticulate 1.28 does not export is_py_object(); this is its definition.
is_py_object <- function(x) inherits(x, "python.builtin.object")

# TRUE if any element, at any depth, is a Python object.
has_py_object <- function(x) {
  if (is_py_object(x)) return(TRUE)
  if (is.list(x)) return(any(vapply(x, has_py_object, logical(1))))
  FALSE
}

# The post-treatment rows of summary()$att (augsynth's shape: every period, bounds NA before).
att_post <- function(s) {
  out <- s$att[as.character(s$att$Time) %in% as.character(s$effects$period), , drop = FALSE]
  rownames(out) <- NULL
  out
}

# |object - expected| <= tol elementwise (an absolute tolerance, NA where expected is NA)
expect_near <- function(object, expected, tol) {
  expect_identical(length(object), length(expected))
  expect_identical(is.na(object), is.na(expected))
  ok <- !is.na(expected)
  expect_lte(max(c(0, abs(object[ok] - expected[ok]))), tol)
}

reference_json <- function(name) {
  skip_if_not_installed("jsonlite")
  data_dir <- Sys.getenv("SYNTHCONTROL_DATA")
  dir <- Sys.getenv("SYNTHCONTROL_REFERENCE",
                    if (nzchar(data_dir)) file.path(dirname(data_dir), "reference") else "")
  path <- file.path(dir, name)
  if (!file.exists(path)) skip(paste("no", name, "in", dir))
  jsonlite::fromJSON(path, simplifyVector = FALSE)
}
