"""skyarchive: a self-hostable, MAST-compatible archive for space-telescope observations."""

__version__ = "0.1.0"
