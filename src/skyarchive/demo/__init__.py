"""Synthetic JWST pipeline output (and a few other missions' files) for demos and benchmarks.

``generate(out_dir, seed=1, scale=1)`` writes the archive and returns a :class:`DemoSummary`
listing exactly what was written, so tests can derive expected counts from it.
"""

from skyarchive.demo.generate import DemoSummary, L3Info, ProgramInfo, generate

__all__ = ["DemoSummary", "L3Info", "ProgramInfo", "generate"]
