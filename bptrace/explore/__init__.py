"""`bptrace explore`: the walk as a full-screen terminal app (Textual). Only that command imports this package."""

from .app import Explorer

__all__ = ["Explorer"]
