from .synthetic_control import SyntheticControl

__all__ = ["SyntheticControl"]
