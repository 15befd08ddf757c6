"""Diagnosis: why an LSTM output collapsed."""
