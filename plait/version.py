"""The version of plait (one place; `plait.__version__` and saved files read it)."""
__version__ = "0.1.0"
