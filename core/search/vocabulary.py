"""The built-in caption vocabulary: everyday descriptions that photos are tagged with.

``resources/vocabulary.tsv`` lists what people photograph: people and family situations,
pets and wildlife, food and drinks, landscapes, places, vehicles, sports and hobbies,
holidays and events, weather, times of day and seasons, photo types (screenshots,
receipts, whiteboards, memes) and art. Each row is one term in lower-case English, its
category and its Simplified Chinese translation, so a multilingual model can be given the
Chinese words and the user can be shown them.

A term is turned into a few prompts ("a photo of a dog.", "a close-up photo of a dog.", ...)
rather than embedded bare: CLIP was trained on captions, not single words, and averaging
the text vectors of several templates (prompt ensembling) measurably improves zero-shot
accuracy. This module only writes the prompts; the caller embeds each term's prompts,
averages the vectors (and normalises the mean) and ranks the terms against a photo.

English prompts need the right article: countable things get "a"/"an" ("a dog", "an apple",
"an x-ray", "a unicorn"), while mass nouns, plurals, activities and the like stay bare
("hiking", "snow", "rice", "fireworks", "sunset over the sea"). The category gives the
default, the head noun can override it (small word lists below), and the TSV stays clean:
its terms never carry an article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

VOCABULARY_PATH = Path(__file__).resolve().parents[2] / "resources" / "vocabulary.tsv"
HEADER = ("term", "category", "zh")
CATEGORIES = (
    "object", "animal", "food", "plant", "vehicle", "scene", "place", "activity", "event",
    "people", "photo_type", "weather", "time", "art",
)

# "{}" is the term: with its article in English, as written in Chinese.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": (
        "a photo of {}.",
        "a good photo of {}.",
        "a close-up photo of {}.",
        "a picture of {}.",
    ),
    "zh": (
        "一张{}的照片。",
        "{}的照片。",
        "{}的特写照片。",
        "一张关于{}的图片。",
    ),
}


@dataclass(frozen=True, slots=True)
class Term:
    """One vocabulary entry: the English text, its category and its Chinese text."""

    text: str
    category: str
    zh: str


# --- articles -------------------------------------------------------------------------

# Categories whose terms are counted ("a dog", "a beach", "a wedding", "a screenshot");
# the others (activity, weather, time) are bare ("hiking", "snow", "sunset").
_COUNTABLE_CATEGORIES = frozenset(CATEGORIES) - {"activity", "weather", "time"}

# Whole terms or head nouns that take no article: mass nouns, irregular plurals, holidays.
_BARE = frozenset({
    # food and drink
    "breakfast", "brunch", "lunch", "dinner", "food", "dining", "meat", "seafood", "salmon",
    "shrimp", "bacon", "rice", "congee", "bread", "toast", "soup", "stew", "curry", "tofu",
    "kimchi", "cheese", "yogurt", "honey", "popcorn", "chocolate", "candy", "cream",
    "spaghetti", "lasagna", "ramen", "pho", "paella", "risotto", "sushi", "sashimi",
    "falafel", "bibimbap", "broccoli", "lettuce", "garlic", "spinach", "asparagus", "celery",
    "corn", "coffee", "espresso", "cappuccino", "tea", "milk", "juice", "lemonade", "wine",
    "champagne", "beer", "whiskey", "soda", "water",
    "fried chicken", "dim sum", "hot pot", "pad thai", "peking duck", "grilled fish",
    # things and materials
    "jewelry", "laundry", "makeup", "cutlery", "soap", "polish", "music", "confetti",
    "firewood", "driftwood", "scaffolding", "code", "footage", "handwriting", "hanfu",
    # plants and land
    "bamboo", "grass", "moss", "ivy", "seaweed", "coral", "wheat", "lavender", "jasmine",
    "farmland", "countryside", "foliage", "sunlight", "chinatown",
    # light and time
    "sunrise", "sunset", "hour", "milky way",
    # art
    "art", "graffiti", "porcelain", "origami", "embroidery", "calligraphy", "architecture",
    "opera",
    # irregular plurals
    "people", "children", "men", "women", "feet", "teeth", "geese", "mice", "dice", "skis",
    # names of holidays and people
    "christmas", "halloween", "easter", "chinese new year", "new year's eve",
    "mid-autumn festival", "lantern festival", "diwali", "hanukkah", "holi festival",
    "valentine's day", "mother's day", "father's day", "first day of school", "santa claus",
})

# Whole terms or head nouns that are counted although their category or head says
# otherwise ("a rainbow", "a rainy day", "a video call", "a wedding toast").
_COUNTED = frozenset({
    "rainbow", "storm", "thunderstorm", "blizzard", "tornado", "hurricane", "flood", "wave",
    "sky", "day", "call", "fight", "ceremony",
    "wedding toast", "family dinner", "qr code",
})

# Words ending in "s" that are singular.
_SINGULAR_S = frozenset({"bus", "lens", "canvas", "atlas", "gas", "rhinoceros", "series",
                         "thermos"})

# A phrase's head noun is the last word before its first preposition:
# "cup of coffee" -> "cup", "sunset over the sea" -> "sunset", "birthday cake" -> "cake".
_PREPOSITIONS = frozenset({
    "of", "in", "on", "at", "over", "under", "with", "through", "from", "for", "by", "near",
    "into", "across", "around", "during", "along", "behind", "above", "below",
})

# First words that are said with a vowel sound although spelled with a consonant...
_AN_WORDS = frozenset({"x-ray", "x-rays", "mri", "suv", "sd", "hdmi", "led", "lcd", "mp3",
                       "nba", "nfl", "rv", "fm", "sms", "html", "f1"})
_SILENT_H = ("hour", "honest", "honor", "honour", "heir")
# ... and spelled with a vowel but said with a consonant ("a unicorn", "a european").
_A_WORDS = frozenset({"one", "once", "usb", "ufo", "uv", "u-turn"})
_A_PREFIXES = ("eu", "ewe", "one-")
_U_AS_YOU = re.compile(r"u[bcfgjkqrstvxz][aeiou]")  # usual, utensil, ukulele, urinal


def _head(term: str) -> str:
    words = term.split()
    for index, word in enumerate(words[1:], start=1):
        if word in _PREPOSITIONS:
            return words[index - 1]
    return words[-1]


def _is_plural(word: str) -> bool:
    return (word.endswith("s") and not word.endswith(("ss", "us", "is", "'s"))
            and word not in _SINGULAR_S)


def _takes_article(term: str, category: str) -> bool:
    if term in _BARE:
        return False
    if term in _COUNTED:
        return True
    head = _head(term)
    if head in _BARE:
        return False
    if head in _COUNTED:
        return True
    if _is_plural(head):
        return False
    return category in _COUNTABLE_CATEGORIES


def indefinite_article(word: str) -> str:
    """The article ("a" or "an") for a phrase starting with ``word``, chosen by sound."""
    w = word.lower()
    if not w:
        raise ValueError("no word to choose an article for")
    if w in _AN_WORDS or w.startswith(_SILENT_H):
        return "an"
    if w in _A_WORDS or w.startswith(_A_PREFIXES):
        return "a"
    if w[0].isdigit():
        number = re.match(r"\d+", w)
        digits = number.group() if number else w
        return "an" if digits.startswith("8") or digits in ("11", "18") else "a"
    if w.startswith("uni"):  # unicorn, uniform, university; but uninhabited, unimpressed
        return "an" if w.startswith(("unin", "unim", "unid")) else "a"
    if _U_AS_YOU.match(w):
        return "a"
    return "an" if w[0] in "aeiou" else "a"


def with_article(term: str, category: str) -> str:
    """``term`` as it reads after "a photo of": "a dog", "an apple", "hiking", "snow"."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    if not _takes_article(term, category):
        return term
    return f"{indefinite_article(term.split()[0])} {term}"


# --- prompts and display --------------------------------------------------------------


def _language(language: str) -> str:
    """The base language of ``language``: "en-US" -> "en", "zh_CN" or "zh-Hans" -> "zh"."""
    base = language.lower().replace("_", "-").split("-")[0]
    if base not in TEMPLATES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(TEMPLATES)}")
    return base


def display(term: Term, language: str = "en") -> str:
    """The text to show the user for ``term``: the English term or the Chinese one."""
    return term.zh if _language(language) == "zh" else term.text


def prompts(term: Term, language: str = "en") -> list[str]:
    """``term`` written into each of ``language``'s templates, for the text encoder."""
    lang = _language(language)
    subject = term.zh if lang == "zh" else with_article(term.text, term.category)
    return [template.format(subject) for template in TEMPLATES[lang]]


# --- loading --------------------------------------------------------------------------


def load_vocabulary(path: Path | None = None) -> tuple[Term, ...]:
    """The terms of ``path`` (by default the built-in vocabulary, read once and cached).

    Raises ``ValueError`` naming the file and line for a malformed file: a wrong header,
    a wrong number of columns, an empty cell, an unknown category, a term that is not lower
    case or starts with an article, or a duplicate term or translation. ``OSError`` when
    the file cannot be read.
    """
    if path is None or Path(path) == VOCABULARY_PATH:
        return _default_vocabulary()
    return _read(Path(path))


@lru_cache(maxsize=1)
def _default_vocabulary() -> tuple[Term, ...]:
    return _read(VOCABULARY_PATH)


def _read(path: Path) -> tuple[Term, ...]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if tuple(lines[0].split("\t")) != HEADER:
        raise ValueError(f"{path}:1: the first line must be the header {chr(9).join(HEADER)!r}")
    terms: list[Term] = []
    first_lines: dict[str, dict[str, int]] = {"term": {}, "translation": {}}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        term = _parse_line(line, f"{path}:{number}")
        for what, key in (("term", term.text), ("translation", term.zh)):
            seen = first_lines[what]
            if key in seen:
                raise ValueError(f"{path}:{number}: duplicate {what} {key!r} "
                                 f"(first on line {seen[key]})")
            seen[key] = number
        terms.append(term)
    return tuple(terms)


def _parse_line(line: str, where: str) -> Term:
    cells = [cell.strip() for cell in line.split("\t")]
    if len(cells) != len(HEADER):
        raise ValueError(f"{where}: expected {len(HEADER)} tab-separated columns "
                         f"({', '.join(HEADER)}), found {len(cells)}")
    for name, cell in zip(HEADER, cells, strict=True):
        if not cell:
            raise ValueError(f"{where}: empty {name}")
    text, category, zh = cells
    if category not in CATEGORIES:
        raise ValueError(f"{where}: unknown category {category!r}; "
                         f"expected one of {', '.join(CATEGORIES)}")
    if text != text.lower():
        raise ValueError(f"{where}: term {text!r} must be lower case")
    if text.split()[0] in ("a", "an", "the"):
        raise ValueError(f"{where}: term {text!r} must not start with an article")
    return Term(text=text, category=category, zh=zh)
