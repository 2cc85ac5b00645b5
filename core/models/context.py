"""What a library lends the parts it holds: its data folder, its catalog, its current
model (loaded on first use) and that model's search index.

The parts (scores and tags, searching, index runs) take any object with these members:
:class:`core.library.Library` is the one the fronts use (as Anki's managers hold the
collection they belong to), and a test may hand them a smaller one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.models.embedder import Embedder
    from core.store.catalog import Catalog
    from core.store.index_base import AnyIndex


class ModelContext(Protocol):
    data_dir: Path
    catalog: Catalog
    model_name: str

    @property
    def embedder(self) -> Embedder:
        """The current model, loaded on first use (raises ModelUnavailableError)."""
        ...

    @property
    def model_loaded(self) -> bool:
        """Whether :attr:`embedder` is ready without loading anything."""
        ...

    def model_key(self) -> tuple[int, int]:
        """``(model id, dim)`` of the current model in the catalog."""
        ...

    def vector_index(self, *, writable: bool = False) -> AnyIndex:
        """The current model's index, in step with the catalog."""
        ...
