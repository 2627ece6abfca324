"""The SQLite results store."""

from .store import NoStore, Store

__all__ = ["NoStore", "Store"]
