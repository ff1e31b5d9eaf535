"""Protocol adapters: they translate wire formats and call the service layer."""
