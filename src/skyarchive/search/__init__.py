"""Observation queries: criteria to SQL, cone searches on footprints, paging, summaries."""
