"""Where a model's files come from: hub ids from the cache or a download (only safe files,
with progress), clear errors offline, and the record of a fine-tuned version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ModelUnavailableError
from core.models.sources import VERSION_PARTS, VERSION_RECORD, resolve_model, version_record


def test_a_folder_is_its_own_source(tmp_path: Path) -> None:
    assert resolve_model(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(ModelUnavailableError, match="model folder not found"):
        resolve_model(str(tmp_path / "no-such-model"))


def test_uncached_hub_id_offline_names_the_model_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailableError) as caught:
        resolve_model("someone/not-a-cached-model")
    message = str(caught.value)
    assert "someone/not-a-cached-model" in message and "--model" in message


def test_hub_download_fetches_only_safe_files_and_reports_progress(
    monkeypatch: pytest.MonkeyPatch, tiny_clip_dir: Path
) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    asked: list[list[str]] = []

    def fake_download(repo_id, *, allow_patterns, local_files_only=False, tqdm_class=None):
        assert repo_id == "org/model"
        if local_files_only:
            raise FileNotFoundError("not cached")
        asked.append(allow_patterns)
        bar = tqdm_class(total=100)
        bar.update(40)
        bar.update(60)
        bar.close()
        return str(tiny_clip_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    seen: list[tuple[int, int]] = []
    folder = resolve_model("org/model", on_download=lambda done, total: seen.append((done, total)))
    assert folder == tiny_clip_dir
    assert seen == [(40, 100), (100, 100)]
    assert "*.safetensors" in asked[0] and not any(p.endswith((".bin", ".pt", ".py"))
                                                   for p in asked[0])


def test_a_failed_download_names_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def no_network(repo_id, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    with pytest.raises(ModelUnavailableError, match=r"org/model.*--model"):
        resolve_model("org/model")


def test_a_fine_tuned_version_is_told_by_its_parts_and_needs_its_record(
        tmp_path: Path) -> None:
    assert version_record(tmp_path, "whole") is None  # a whole model: no trained parts
    (tmp_path / VERSION_PARTS).write_bytes(b"")
    with pytest.raises(ModelUnavailableError, match=VERSION_RECORD):
        version_record(tmp_path, "mine")
    (tmp_path / VERSION_RECORD).write_text(json.dumps({"base_model": "org/base"}))
    assert version_record(tmp_path, "mine") == {"base_model": "org/base"}
