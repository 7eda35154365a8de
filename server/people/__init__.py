"""People: accounts, passwords and sessions, sign-in throttling, the audit log."""
