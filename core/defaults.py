"""Pictor's defaults, in a module that imports nothing: the window reads them before its
first paint, without loading numpy, torch or the rest of the engine."""

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
"""The model a new library uses (OpenAI's CLIP ViT-B/32)."""
DEFAULT_MODEL_SIZE = "about 600 MB"
"""What downloading :data:`DEFAULT_MODEL` costs, as the window tells the user."""
DEFAULT_MIN_SCORE = 50.0
"""Photos found by meaning alone that score under this (0-100) are hidden; a calibrated
50 means clearly related (core.search.calibration)."""
