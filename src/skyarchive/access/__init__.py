"""Access rules: exclusive-access periods, data rights, (later) users, tokens and grants."""
