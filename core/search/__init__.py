"""Answering a query: parsing it, scoring against the vectors, calibrated scores, captions
and the vocabulary of tags."""
