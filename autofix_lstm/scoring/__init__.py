"""Judging a model: metrics in the target's original units (``metrics``) and the search objective (``objective``)."""
