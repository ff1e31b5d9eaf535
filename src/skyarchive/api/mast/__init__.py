"""The MAST wire protocol as astroquery.mast speaks it."""
