"""The package version (pyproject.toml states the same number; a test checks they agree)."""
__version__ = "0.1.0"
