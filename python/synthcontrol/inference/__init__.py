"""Inference methods: each is one module that registers one function of a fitted result.

``names()`` lists them; ``res.infer(name, **kwargs)`` runs one; ``register`` adds one (see
:mod:`synthcontrol.inference.base`).
"""
from .base import Inference, InferenceMethod, get_method, infer, methods, names, register, unregister
from .placebo import placebo_test  # noqa: I001 -- the order of registration is the order methods are listed
from .in_time import in_time_placebo
from .loo import leave_one_out
from .conformal import conformal_inference
from .scpi import scpi_inference
from .lto import lto_test
from .ttest import debiased_ttest
from .jackknife import jackknife_plus
from .bootstrap import cluster_bootstrap

__all__ = ["Inference", "InferenceMethod", "register", "unregister", "get_method", "methods", "names", "infer",
           "placebo_test", "in_time_placebo", "leave_one_out", "cluster_bootstrap", "conformal_inference",
           "scpi_inference", "lto_test", "debiased_ttest", "jackknife_plus"]
