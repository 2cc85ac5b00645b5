"""CLIP-family models: finding their files, loading them on a device and precision, embedding
text and pixels, and the int8 image tower for CPU indexing.

Lowest first: :mod:`~core.models.sources` (a folder, the hub cache or a download; a
fine-tuned version's record), :mod:`~core.models.model_files` (a folder's files checked),
:mod:`~core.models.hardware` (device and precision), :mod:`~core.models.families` (CLIP,
SigLIP, SigLIP 2, Chinese-CLIP: what differs), :mod:`~core.models.outputs` (a model's
output read as vectors), :mod:`~core.models.fast_images` (the int8 image tower), and
:mod:`~core.models.embedder`, the :class:`~core.models.embedder.Embedder` that uses them
all and the names callers import. Only functions import torch and transformers.
"""
