"""One exception family: the CLI turns any of these into one line with the fix, exit code 2."""

from __future__ import annotations


class AnobenchError(Exception):
    """Base class of every error anobench reports to a user instead of a traceback."""


class ConfigError(AnobenchError):
    """A bad option, profile, suite file or command-line value."""


class DataError(AnobenchError):
    """A dataset that cannot be read or does not match what it promises."""


class PluginError(AnobenchError):
    """A plugin that cannot be found, imported or that broke its contract."""


class StoreError(AnobenchError):
    """The results store cannot be opened, read or written."""


class MethodFailure(PluginError):
    """A method raised or returned invalid output during a run."""


class TrainingDiverged(MethodFailure):
    """A loss became NaN or infinite; names the step and the loss."""
