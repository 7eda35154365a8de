"""Acknowledgments: the hash-chained ledger, device sync records, the supervisor's dashboard and evidence."""
