"""Guidance: content/ loading and checks, provenance, releases, drafts and review, base updates, diff, search."""
