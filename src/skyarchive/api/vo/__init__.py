"""The Virtual Observatory face: thin adapters over ``skyarchive.vo`` (one module per service)."""
