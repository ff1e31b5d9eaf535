"""Performance benchmarks of skyarchive: ``python -m benchmarks.run`` (``make bench``)."""
