"""Product rules: JWST file naming, product metadata, product lists."""
