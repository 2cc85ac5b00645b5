"""Device and precision choice: the bf16 verdict is measured once per model and weights,
kept in the cache, and a cache that cannot be written only costs the measurement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelUnavailableError
from core.models.hardware import MIN_PRECISION_COSINE, bf16_verdict, pick_device, probe_pixels


def test_the_bf16_verdict_is_measured_once_per_weights(tmp_path: Path) -> None:
    measured: list[float] = []

    def worst(value: float) -> float:
        measured.append(value)
        return value

    cache = tmp_path / "precision"
    assert bf16_verdict(name="org/m", weights_key="a", cache=cache,
                        worst_cosine=lambda: worst(0.9999))
    assert bf16_verdict(name="org/m", weights_key="a", cache=cache,
                        worst_cosine=lambda: worst(0.5))  # remembered: not measured
    assert measured == [0.9999]
    assert not bf16_verdict(name="org/m", weights_key="b", cache=cache,
                            worst_cosine=lambda: worst(MIN_PRECISION_COSINE - 1e-4))
    [record] = cache.glob("*.json")
    assert json.loads(record.read_text())["weights"] == "b"


def test_a_cache_that_cannot_be_written_only_costs_the_measurement(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert bf16_verdict(name="m", weights_key="a", cache=blocked, worst_cosine=lambda: 1.0)
    assert bf16_verdict(name="m", weights_key="a", cache=None, worst_cosine=lambda: 1.0)


def test_probe_images_are_deterministic() -> None:
    first = probe_pixels(32)
    assert first.shape == (4, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, probe_pixels(32))


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(ModelUnavailableError, match="unknown device"):
        pick_device("tpu")
    assert pick_device("cpu") == "cpu"
