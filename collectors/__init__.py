"""Collectors: read meters over their protocols into acknowledged, journaled batches."""
