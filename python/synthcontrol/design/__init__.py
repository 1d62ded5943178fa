"""Synthetic experimental design (SYNDES): choosing which units to treat, and what the chosen design
can detect.

A fitted design reduces to a contrast vector ``c`` over the ``N`` units; the per-period effect
estimate is ``g_t = y_t' c``.  :mod:`synthcontrol.design.power` holds the inference and
minimum-detectable-effect calculations on that contrast series.
"""
