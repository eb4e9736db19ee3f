"""Reassembly end to end: the search problem of a partition, and the candidate pipeline."""
