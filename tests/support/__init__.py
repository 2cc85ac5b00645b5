"""Test support: offline CLIP models (models.py, tokenizer.py) and generated photos (toyworld.py).

Nothing here downloads anything; see tests/conftest.py for the fixtures built on it.
"""
