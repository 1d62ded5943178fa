# install_synthcontrol() / synthcontrol_sitrep(): no installation is run here.

test_that("the default install source is the bundled core, a checkout, or none (never a PyPI guess)", {
  src <- synthcontrol:::.default_source()
  expect_true(identical(src, "") || file.exists(file.path(src, "pyproject.toml")))
  if (!nzchar(src)) {
    expect_error(install_synthcontrol(envname = tempfile()), "Give `path`", class = "synthcontrol_install_error")
  }
  expect_error(install_synthcontrol(path = file.path(tempdir(), "no", "such", "dir"), envname = tempfile()),
               "does not exist", class = "synthcontrol_install_error")
  old <- options(synthcontrol.source = "/some/where/synthcontrol.whl")
  on.exit(options(old))
  expect_identical(synthcontrol:::.default_source(), "/some/where/synthcontrol.whl")
})

test_that("synthcontrol_sitrep reports the Python and the package version", {
  skip_if_no_python_core()
  expect_output(st <- synthcontrol_sitrep(), "synthcontrol imports   : yes")
  expect_true(st$ok)
  expect_match(st$version, "^[0-9]+\\.[0-9]+")
  expect_output(synthcontrol_sitrep(), "Python used")
})
