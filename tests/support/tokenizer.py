"""Build the real CLIP BPE tokenizer files offline.

The test models must tokenise text exactly like a downloaded CLIP checkpoint, or tests of
query handling would pass on a toy vocabulary and fail on the real one. ``open_clip`` ships
OpenAI's BPE merge list; this module turns it into the ``vocab.json`` + ``merges.txt`` pair
that transformers' ``CLIPTokenizer`` reads, in the same order OpenAI's vocabulary uses.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
VOCAB_SIZE = 49408
N_MERGES = 49152 - 256 - 2  # what OpenAI's SimpleTokenizer keeps: 48894


def _bytes_to_unicode() -> list[str]:
    """The 256 printable stand-ins for raw bytes, in GPT-2/CLIP order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def bpe_source() -> Path:
    """Location of the gzipped BPE merges installed with ``open_clip``."""
    # find_spec locates the package without importing it (importing open_clip loads torch).
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("open_clip (open_clip_torch) is needed for the CLIP vocabulary")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


@lru_cache(maxsize=1)
def clip_vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    """The token->id map and the merge lines, exactly as OpenAI CLIP builds them."""
    lines = gzip.decompress(bpe_source().read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : N_MERGES + 1]  # line 0 is a version header
    byte_chars = _bytes_to_unicode()
    tokens = byte_chars + [c + "</w>" for c in byte_chars]
    tokens += ["".join(merge.split()) for merge in merges]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise RuntimeError(f"CLIP vocabulary has {len(vocab)} tokens, expected {VOCAB_SIZE}")
    return vocab, merges


def write_clip_tokenizer(dest: Path) -> None:
    """Write ``vocab.json`` and ``merges.txt`` for ``CLIPTokenizer`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_vocab_and_merges()
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (dest / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
