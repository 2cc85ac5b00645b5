"""Reading a model's output: the feature tensor its towers give, and unit vectors from it.

Below both the embedder and the int8 image tower (:mod:`core.models.fast_images`), which
exports the image side as the embedder runs it. torch is imported only for type checking:
the functions are handed its tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from core.types import Vector

if TYPE_CHECKING:
    import torch


def features(output: Any) -> torch.Tensor:
    """The final vectors of ``get_image_features``/``get_text_features``: transformers 5
    returns a ModelOutput whose pooler_output is that vector (CLIP, Chinese-CLIP: projected;
    SigLIP: the text head at the last position, the image attention-pooling head); older
    releases returned the tensor itself."""
    tensor: torch.Tensor = output if hasattr(output, "float") else output.pooler_output
    return tensor


def unit_vectors(tensor: torch.Tensor) -> Vector:
    """Rows of ``tensor`` as L2-normalised float32 vectors (a zero row stays zero)."""
    array = tensor.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Vector = (array / np.maximum(norms, 1e-12)).astype(np.float32)
    return result
