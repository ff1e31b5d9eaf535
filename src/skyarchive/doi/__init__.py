"""Data sets of observations with a DOI: building them, their metadata, their registration."""
