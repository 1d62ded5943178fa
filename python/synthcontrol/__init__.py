"""synthcontrol: synthetic control with exact estimators and honest inference.

>>> import synthcontrol as sc
>>> panel = sc.Panel(df, unit="state", time="year", outcome="cigsale",
...                  treated="California", treatment_time=1989)       # doctest: +SKIP
>>> res = sc.SyntheticControl().fit(panel)                            # doctest: +SKIP
>>> print(res.summary()); res.placebo().p_value                      # doctest: +SKIP
"""
from .errors import DataError, InfeasibleDesignError, SolverError, SpecificationError, SynthError, SynthWarning
from .estimators import SyntheticControl
from .estimators.design import SyntheticDesign
from .design.results import power_analysis
from .design.compare import compare_methods
from .panel import Panel
from .events import panel_from_events
from .inference import Inference
from .results import SCResult
from . import inference
from .parallel import parallel_backend
from .synth_compat import SynthData, SynthOutput, from_synth_dataprep, synth, synth_dataprep, synth_tab

from ._version import __version__
from .versions import show_versions
from .inference.ttest import rae


def __getattr__(name):  # lazy: `sc.datasets` without importing it at package import
    if name == "datasets":
        import importlib
        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module 'synthcontrol' has no attribute {name!r}")


__all__ = [
    "Panel", "panel_from_events", "SyntheticControl", "SyntheticDesign", "power_analysis", "compare_methods", "SCResult", "Inference", "datasets", "inference", "parallel_backend",
    "SynthError", "SynthWarning", "DataError", "SpecificationError", "SolverError", "InfeasibleDesignError",
    "synth_dataprep", "from_synth_dataprep", "synth", "synth_tab", "SynthData", "SynthOutput",
    "show_versions", "rae", "__version__",
]
