"""Delivery: single files with ranges, bundles, cURL scripts, baskets and staging."""
