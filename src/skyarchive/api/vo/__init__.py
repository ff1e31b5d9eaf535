"""The Virtual Observatory face: thin HTTP adapters over ``skyarchive.vo`` (one module per
service), each installed by ``web.py``."""
