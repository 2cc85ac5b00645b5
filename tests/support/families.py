"""Offline tiny checkpoints of the other model families: SigLIP, SigLIP 2 and Chinese-CLIP.

Like :mod:`tests.support.models` for CLIP, each is a real transformers model with a real
tokenizer class, written with ``save_pretrained`` so the code under test loads it through
``AutoModel`` / ``AutoProcessor`` the way it loads a downloaded checkpoint. Weights are random:
these are for plumbing and parity with the reference transformers path, never for ranking.

The tokenizers are built from small vocabularies:

- SigLIP: a T5 Unigram tokenizer (SigLIP's English vocabulary is T5's), ``</s>`` as both end
  and padding token and ``input_ids`` as its only output, as google/siglip-* checkpoints
  declare.
- SigLIP as published (google/siglip-*): the same, but as a real SentencePiece model
  (``spiece.model``) trained here on generated captions and read by ``SiglipTokenizer``, in
  the hub's layout (no processor_config.json, no tokenizer.json).
- SigLIP 2 (fixed resolution, model_type "siglip"): a Gemma byte-fallback BPE tokenizer set
  up as google/siglip2-base-patch16-224's (``<eos>`` appended, right padding, ids only).
- Chinese-CLIP: a BERT WordPiece vocabulary (``vocab.txt``) holding every CJK Unified
  Ideograph (U+4E00..U+9FFF), ASCII, word pieces and some English words, as the
  chinese-roberta-wwm-ext vocabulary of OFA-Sys/chinese-clip-* does.
- SigLIP 2 NaFlex (model_type "siglip2"): the Gemma tokenizer above, and photos that keep
  their shape, in patches.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

IMAGE_SIZE = 32
PATCH = 8
HIDDEN = 32
LAYERS = 2
SIGLIP_TEXT_LENGTH = 64  # what SigLIP and SigLIP 2 were trained with
CJK_FIRST, CJK_LAST = 0x4E00, 0x9FFF  # CJK Unified Ideographs: 20,992 characters

ENGLISH_WORDS = (
    "a", "an", "the", "of", "on", "in", "at", "over", "by", "with", "and", "photo", "picture",
    "dog", "cat", "sea", "beach", "sunset", "sun", "sky", "red", "green", "blue", "yellow",
    "circle", "square", "star", "grass", "sand", "night", "tree", "mountain", "city", "snow",
)


def _tower(**extra: Any) -> dict[str, Any]:
    """Settings both towers share: 2 layers of width 32 with 2 heads."""
    return {"hidden_size": HIDDEN, "intermediate_size": HIDDEN * 2, "num_hidden_layers": LAYERS,
            "num_attention_heads": 2, **extra}


def _seeded(seed: int, make: Any) -> Any:
    """``make()`` under a fixed torch seed, leaving the caller's random state alone."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _save(model: Any, processor: Any, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    processor.save_pretrained(dest)
    return dest


# --- SigLIP ----------------------------------------------------------------------------------


def t5_tokenizer() -> Any:
    """A small T5 Unigram tokenizer shaped like SigLIP's: ``</s>`` ends and pads."""
    from transformers import T5Tokenizer

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0),
                                       ("▁", -2.0)]
    pieces += [(c, -8.0) for c in string.ascii_lowercase + string.digits + ".,!?'-"]
    pieces += [("▁" + word, -4.0) for word in ENGLISH_WORDS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, pad_token="</s>",
                       model_input_names=["input_ids"], model_max_length=SIGLIP_TEXT_LENGTH)


def gemma_tokenizer() -> Any:
    """A small Gemma byte-fallback BPE tokenizer: words, single characters, raw bytes."""
    from transformers import GemmaTokenizer

    vocab: dict[str, int] = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for char in "▁" + string.ascii_letters + string.digits + ".,!?'-" + "大海边的日落狗猫":
        vocab.setdefault(char, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in ENGLISH_WORDS:
        token = "▁" + word
        for end in range(2, len(token) + 1):
            if token[:end] not in vocab:
                vocab[token[:end]] = len(vocab)
                merges.append((token[: end - 1], token[end - 1]))
    # As google/siglip2-base-patch16-224's tokenizer_config.json: no <bos>, <eos> added,
    # right padding, no attention mask.
    return GemmaTokenizer(vocab=vocab, merges=merges, add_bos_token=False, add_eos_token=True,
                          padding_side="right", model_input_names=["input_ids"])


def _siglip_parts(tokenizer: Any, *, seed: int, resample: int) -> tuple[Any, Any]:
    """A random SigLIP sized for ``tokenizer``, and its image processor."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    config = SiglipConfig(
        text_config=_tower(vocab_size=len(tokenizer), max_position_embeddings=SIGLIP_TEXT_LENGTH,
                           pad_token_id=tokenizer.pad_token_id,
                           eos_token_id=tokenizer.eos_token_id, bos_token_id=None),
        vision_config=_tower(image_size=IMAGE_SIZE, patch_size=PATCH),
    )
    model = _seeded(seed, lambda: SiglipModel(config))
    return model, SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                       resample=resample)


def _siglip(dest: Path, tokenizer: Any, *, seed: int, resample: int) -> Path:
    from transformers import SiglipProcessor

    model, image_processor = _siglip_parts(tokenizer, seed=seed, resample=resample)
    return _save(model, SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer),
                 dest)


def build_tiny_siglip(dest: Path, *, seed: int = 0) -> Path:
    """An untrained SigLIP: square resize (bicubic, no crop), mean = std = 0.5."""
    return _siglip(dest, t5_tokenizer(), seed=seed, resample=3)


def train_spiece_model(dest: Path, *, vocab_size: int = 200) -> Path:
    """A SentencePiece Unigram model trained on generated captions, with T5's (and so
    SigLIP's) special ids: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, no ``<s>``."""
    import random

    import sentencepiece as spm

    rng = random.Random(0)
    templates = ("a photo of {}", "a picture of the {}", "{} at night", "{} by the sea", "{}")
    lines = [rng.choice(templates).format(" ".join(rng.choices(ENGLISH_WORDS, k=rng.randint(1, 6))))
             for _ in range(3000)]
    lines += [" ".join(string.ascii_lowercase), " ".join(string.digits)]  # every character
    with dest.open("wb") as model_file:
        # hard_vocab_limit off: a few dozen words hold fewer pieces than vocab_size.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model_file, vocab_size=vocab_size,
            hard_vocab_limit=False, model_type="unigram", character_coverage=1.0,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, minloglevel=2)
    return dest


def build_tiny_siglip_sentencepiece(dest: Path, *, seed: int = 3) -> Path:
    """An untrained SigLIP laid out like google/siglip-base-patch16-224: config.json,
    model.safetensors, preprocessor_config.json, spiece.model and tokenizer_config.json
    (SiglipTokenizer: lower-cases, drops punctuation, appends ``</s>``, pads with it)."""
    import json

    from transformers import SiglipTokenizer

    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = SiglipTokenizer(vocab_file=str(train_spiece_model(dest / "spiece.model")),
                                model_input_names=["input_ids"],
                                model_max_length=SIGLIP_TEXT_LENGTH)
    model, image_processor = _siglip_parts(tokenizer, seed=seed, resample=3)
    model.save_pretrained(dest)
    image_processor.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    # As the hub's files, written by transformers 4: both name the processor; no "backend".
    for name in ("tokenizer_config.json", "preprocessor_config.json"):
        config = json.loads((dest / name).read_text(encoding="utf-8"))
        config.pop("backend", None)
        config["processor_class"] = "SiglipProcessor"
        (dest / name).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return dest


def build_tiny_siglip2(dest: Path, *, seed: int = 1) -> Path:
    """An untrained fixed-resolution SigLIP 2 (model_type "siglip", Gemma tokenizer);
    bilinear resize like google/siglip2-base-patch16-224."""
    return _siglip(dest, gemma_tokenizer(), seed=seed, resample=2)


def build_tiny_siglip2_naflex(dest: Path, *, seed: int = 2) -> Path:
    """An untrained SigLIP 2 NaFlex (model_type "siglip2", Gemma tokenizer): photos keep
    their shape, at most 16 patches of 8 pixels (google/siglip2-base-patch16-naflex: 256 of
    16), bilinear."""
    from transformers import (
        Siglip2Config,
        Siglip2ImageProcessor,
        Siglip2Model,
        Siglip2Processor,
    )

    tokenizer = gemma_tokenizer()
    config = Siglip2Config(
        text_config=_tower(vocab_size=len(tokenizer), max_position_embeddings=SIGLIP_TEXT_LENGTH,
                           pad_token_id=tokenizer.pad_token_id,
                           eos_token_id=tokenizer.eos_token_id, bos_token_id=None),
        vision_config=_tower(patch_size=PATCH, num_patches=16),
    )
    model = _seeded(seed, lambda: Siglip2Model(config))
    image_processor = Siglip2ImageProcessor(patch_size=PATCH, max_num_patches=16)
    return _save(model, Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer),
                 dest)


# --- Chinese-CLIP ----------------------------------------------------------------------------


def chinese_vocab() -> list[str]:
    """A WordPiece vocabulary: specials, ASCII, ``##`` pieces, English words, all of CJK."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [chr(c) for c in range(0x21, 0x7F)]  # printable ASCII (BERT splits punctuation)
    tokens += ["##" + c for c in string.ascii_lowercase + string.digits]
    tokens += [w for w in ENGLISH_WORDS if len(w) > 1]
    tokens += [chr(c) for c in (0xFF0C, 0x3002, 0x3001, 0xFF01, 0xFF1F)]  # CJK punctuation
    tokens += [chr(c) for c in range(CJK_FIRST, CJK_LAST + 1)]
    return list(dict.fromkeys(tokens))


def build_tiny_chinese_clip(dest: Path, *, seed: int = 0) -> Path:
    """An untrained Chinese-CLIP with a BERT text tower and a CJK WordPiece vocabulary.

    The image processor is laid out like OFA-Sys/chinese-clip-vit-base-patch16's: a square
    resize (no aspect kept) with a centre crop of the same size; the text tower has BERT's 512
    positions while the model was trained on 52 tokens (Chinese-CLIP's context length).
    """
    from transformers import (
        BertTokenizer,
        ChineseCLIPConfig,
        ChineseCLIPImageProcessor,
        ChineseCLIPModel,
        ChineseCLIPProcessor,
    )

    vocab = chinese_vocab()
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})
    config = ChineseCLIPConfig(
        text_config=_tower(vocab_size=len(vocab), max_position_embeddings=512,
                           type_vocab_size=2, pad_token_id=0),
        vision_config=_tower(image_size=IMAGE_SIZE, patch_size=PATCH),
        projection_dim=HIDDEN,
    )
    model = _seeded(seed, lambda: ChineseCLIPModel(config))
    square = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    image_processor = ChineseCLIPImageProcessor(size=square, crop_size=square,
                                                do_center_crop=True, resample=3)
    _save(model, ChineseCLIPProcessor(image_processor=image_processor, tokenizer=tokenizer),
          dest)
    (dest / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return dest
