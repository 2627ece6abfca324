"""The ``anobench`` command line (click + rich): one module per command, the root group in
:mod:`anobench.cli.root`, what the commands share in :mod:`anobench.cli.common`."""

from .root import cli, main

__all__ = ["cli", "main"]
