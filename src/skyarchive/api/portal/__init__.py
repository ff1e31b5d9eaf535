"""JSON endpoints behind the portal pages (under /api/portal)."""
