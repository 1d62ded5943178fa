"""Inference methods: each is a function of a fitted :class:`~synthcontrol.results.SCResult`."""
from .bootstrap import cluster_bootstrap
from .in_time import in_time_placebo
from .loo import leave_one_out
from .placebo import placebo_test

__all__ = ["placebo_test", "in_time_placebo", "leave_one_out", "cluster_bootstrap"]
