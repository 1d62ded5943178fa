"""Build hook for the one compiled piece: the exact solver of SCPI's conic programmes
(python/synthcontrol/solvers/_ballsimplex.c, loaded with ctypes).  Everything else is configured in
pyproject.toml.  The extension is optional: without a C compiler the package installs and SCPI uses
the Clarabel conic solver instead (slower, same answers)."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "synthcontrol.solvers._ballsimplex",
            sources=["python/synthcontrol/solvers/_ballsimplex.c"],
            define_macros=[("SYNTHCONTROL_BUILD_PYMODULE", "1")],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ],
)
