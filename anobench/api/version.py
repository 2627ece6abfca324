"""The package version (``anobench.__version__``), here so that any layer can name it."""

__version__ = "0.1.0"
