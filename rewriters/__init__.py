"""Rewriters: one per file; each maps a parsed page to training records of one format."""
