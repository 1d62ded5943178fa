library(testthat)
library(synthcontrol)

test_check("synthcontrol")
