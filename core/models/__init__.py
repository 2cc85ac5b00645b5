"""CLIP-family models: finding their files, loading them on a device and precision, embedding
text and pixels, and the int8 image tower for CPU indexing."""
