"""The SQLite results store."""

from .store import Store

__all__ = ["Store"]
