"""The built-in caption vocabulary: the shipped file, its prompts, and clear errors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from core.search.vocabulary import (
    CATEGORIES,
    TEMPLATES,
    VOCABULARY_PATH,
    Term,
    display,
    indefinite_article,
    load_vocabulary,
    prompts,
    with_article,
)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
DOUBLE_ARTICLE = re.compile(r"\b(a|an|the) (a|an|the)\b")

# Shipped terms whose article is not the one their first letter suggests.
SOUND_EXCEPTIONS = {
    "x-ray": "an", "hourglass": "an", "ukulele": "a", "uniform": "a", "school uniform": "a",
    "university campus": "a", "usb cable": "a", "eucalyptus tree": "a",
}


@pytest.fixture(scope="module")
def terms() -> tuple[Term, ...]:
    return load_vocabulary()


def test_the_shipped_vocabulary_is_large_unique_and_uses_every_category(terms) -> None:
    assert VOCABULARY_PATH.is_file()
    assert len(terms) >= 1000
    assert len({t.text for t in terms}) == len(terms)
    assert len({t.zh for t in terms}) == len(terms)
    used = Counter(t.category for t in terms)
    assert set(used) == set(CATEGORIES)
    assert min(used.values()) >= 15, used


def test_every_term_is_clean_english_with_a_chinese_translation(terms) -> None:
    for term in terms:
        assert term.text == term.text.strip().lower(), term
        assert term.text.split()[0] not in ("a", "an", "the"), term
        assert "  " not in term.text and "\t" not in term.text, term
        assert CJK.search(term.zh), term


def test_the_default_vocabulary_is_read_once(terms) -> None:
    assert load_vocabulary() is terms
    assert load_vocabulary(VOCABULARY_PATH) is terms


def test_templates_are_a_few_per_language_with_one_placeholder() -> None:
    assert set(TEMPLATES) == {"en", "zh"}
    for templates in TEMPLATES.values():
        assert 3 <= len(templates) <= 5
        assert len(set(templates)) == len(templates)
        assert all(t.count("{}") == 1 for t in templates)


def test_every_prompt_is_well_formed(terms) -> None:
    for term in terms:
        english = prompts(term)
        chinese = prompts(term, "zh")
        assert len(english) == len(TEMPLATES["en"]) and len(chinese) == len(TEMPLATES["zh"])
        for prompt in english:
            assert "{" not in prompt and "}" not in prompt, prompt
            assert term.text in prompt, prompt
            assert not DOUBLE_ARTICLE.search(prompt), prompt
        for prompt in chinese:
            assert "{" not in prompt and term.zh in prompt, prompt


def test_counted_terms_get_a_or_an_by_sound(terms) -> None:
    counted = 0
    for term in terms:
        phrase = with_article(term.text, term.category)
        if phrase == term.text:
            continue
        counted += 1
        article = phrase.split()[0]
        expected = "an" if term.text[0] in "aeiou" else "a"
        assert article == SOUND_EXCEPTIONS.get(term.text, expected), phrase
    assert counted > len(terms) // 2


@pytest.mark.parametrize(("term", "category", "expected"), [
    ("dog", "animal", "a dog"),
    ("apple", "food", "an apple"),
    ("golden retriever", "animal", "a golden retriever"),
    ("elephant", "animal", "an elephant"),
    ("x-ray", "photo_type", "an x-ray"),
    ("hourglass", "object", "an hourglass"),
    ("unicorn", "animal", "a unicorn"),
    ("european city", "place", "a european city"),
    ("umbrella", "object", "an umbrella"),
    ("ukulele", "object", "a ukulele"),
    ("uninhabited island", "place", "an uninhabited island"),
    ("usb cable", "object", "a usb cable"),
    ("one-way street", "place", "a one-way street"),
    ("8-ball", "object", "an 8-ball"),
    ("3d render", "art", "a 3d render"),
    ("bus", "vehicle", "a bus"),
    ("cactus", "plant", "a cactus"),
    ("cup of coffee", "food", "a cup of coffee"),
    ("birthday party", "event", "a birthday party"),
    ("screenshot", "photo_type", "a screenshot"),
    ("rainbow", "weather", "a rainbow"),
    ("rainy day", "weather", "a rainy day"),
    ("sunset over the sea", "scene", "sunset over the sea"),
    ("hiking", "activity", "hiking"),
    ("snow", "weather", "snow"),
    ("rice", "food", "rice"),
    ("fried rice", "food", "fried rice"),
    ("fireworks", "event", "fireworks"),
    ("children", "people", "children"),
    ("christmas", "event", "christmas"),
    ("valentine's day", "event", "valentine's day"),
    ("golden hour", "time", "golden hour"),
])
def test_with_article(term: str, category: str, expected: str) -> None:
    assert with_article(term, category) == expected


@pytest.mark.parametrize(("word", "article"), [
    ("hour", "an"), ("honest", "an"), ("heir", "an"), ("house", "a"), ("honeymoon", "a"),
    ("unicorn", "a"), ("university", "a"), ("user", "a"), ("utensil", "a"), ("urban", "an"),
    ("ugly", "an"), ("european", "a"), ("ewe", "a"), ("one", "a"), ("owl", "an"),
    ("ice", "an"), ("11", "an"), ("18th", "an"), ("80", "an"), ("1", "a"), ("mri", "an"),
])
def test_indefinite_article(word: str, article: str) -> None:
    assert indefinite_article(word) == article


def test_examples_read_naturally() -> None:
    dog = Term("dog", "animal", "狗")
    sea = Term("sunset over the sea", "scene", "海上日落")
    assert prompts(dog)[0] == "a photo of a dog."
    assert prompts(sea)[0] == "a photo of sunset over the sea."
    assert prompts(sea, "zh")[0] == "一张海上日落的照片。"
    assert prompts(dog, "zh-CN") == prompts(dog, "zh")


def test_display_shows_the_language_asked_for() -> None:
    dog = Term("dog", "animal", "狗")
    assert display(dog) == "dog"
    assert display(dog, "en-US") == "dog"
    assert display(dog, "zh") == "狗"
    assert display(dog, "zh_Hans") == "狗"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        display(dog, "fr")
    with pytest.raises(ValueError, match="unknown language"):
        prompts(dog, "fr")


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown category 'animals'"):
        with_article("dog", "animals")


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "words.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_custom_file_loads_skipping_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    path.write_bytes("term\tcategory\tzh\r\ndog\tanimal\t狗\r\n\r\nhiking\tactivity\t徒步\r\n"
                     .encode())
    assert load_vocabulary(path) == (Term("dog", "animal", "狗"),
                                     Term("hiking", "activity", "徒步"))


@pytest.mark.parametrize(("lines", "line", "message"), [
    (["term\tzh", "dog\t狗"], 1, "header"),
    (["dog\tanimal\t狗"], 1, "header"),
    ([], 1, "header"),
    (["term\tcategory\tzh", "dog\tanimal"], 2, "expected 3 tab-separated columns"),
    (["term\tcategory\tzh", "cat\tanimal\t猫", "dog\tanimal\t狗\textra"], 3, "found 4"),
    (["term\tcategory\tzh", "dog\tanimal\t "], 2, "empty zh"),
    (["term\tcategory\tzh", "\tanimal\t狗"], 2, "empty term"),
    (["term\tcategory\tzh", "dog\tanimals\t狗"], 2, "unknown category 'animals'"),
    (["term\tcategory\tzh", "dog\tanimal\t狗", "cat\tanimal\t猫", "dog\tanimal\t犬"],
     4, "duplicate term 'dog' (first on line 2)"),
    (["term\tcategory\tzh", "dog\tanimal\t狗", "puppy\tanimal\t狗"],
     3, "duplicate translation '狗'"),
    (["term\tcategory\tzh", "Dog\tanimal\t狗"], 2, "lower case"),
    (["term\tcategory\tzh", "a dog\tanimal\t狗"], 2, "article"),
])
def test_a_malformed_file_names_the_file_and_line(tmp_path: Path, lines: list[str],
                                                  line: int, message: str) -> None:
    path = _write(tmp_path, *lines)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        load_vocabulary(path)
    assert f"{path}:{line}:" in str(caught.value)


def test_a_file_that_is_not_utf8_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "words.tsv"
    path.write_bytes("term\tcategory\tzh\ndog\tanimal\t狗\n".encode("gbk"))
    with pytest.raises(ValueError, match="not UTF-8") as caught:
        load_vocabulary(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_vocabulary(tmp_path / "absent.tsv")
