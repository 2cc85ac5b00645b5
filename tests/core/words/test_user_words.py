"""The user's own words: EXIF, XMP, IPTC, sidecars and album folders, read without harm."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from PIL import ExifTags, Image, IptcImagePlugin, PngImagePlugin

from core.photos.decoding import ALLOWED_FORMATS
from core.words.cleaning import album_name
from core.words.embedded import user_comment
from core.words.user_words import read_user_texts

# --- building test files -------------------------------------------------------------------

NS = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:lr="http://ns.adobe.com/lightroom/1.0/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
)


def xmp_packet(body: str, *, attrs: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {NS}>'
        f'<rdf:Description rdf:about="" {attrs}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def alt(tag: str, *items: tuple[str, str]) -> str:
    lis = "".join(f'<rdf:li xml:lang="{lang}">{text}</rdf:li>' for lang, text in items)
    return f"<{tag}><rdf:Alt>{lis}</rdf:Alt></{tag}>"


def bag(tag: str, *items: str) -> str:
    return f"<{tag}><rdf:Bag>{''.join(f'<rdf:li>{i}</rdf:li>' for i in items)}</rdf:Bag></{tag}>"


def app13(records: list[tuple[int, int, bytes]]) -> bytes:
    """A JPEG APP13 segment: Photoshop 3.0 resources holding one IPTC-NAA block (8BIM 0x0404)."""
    iptc = b"".join(
        b"\x1c" + bytes([rec, ds]) + len(value).to_bytes(2, "big") + value
        for rec, ds, value in records
    )
    resource = b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc
    resource += b"\x00" * (len(iptc) % 2)
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload


def jpeg(
    *,
    exif: Image.Exif | None = None,
    xmp: bytes | None = None,
    iptc: list[tuple[int, int, bytes]] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    Image.new("RGB", (16, 12), "olive").save(buffer, "JPEG", **options)
    data = buffer.getvalue()
    if iptc is not None:
        data = data[:2] + app13(iptc) + data[2:]  # right after SOI
    return data


def photo(tmp_path: Path, data: bytes, *folders: str, name: str = "IMG_1.jpg") -> Path:
    """Write ``data`` under a generic "Pictures" root (so no album name unless asked for)."""
    folder = tmp_path.joinpath("Pictures", *folders)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def words(path: Path, *, root: Path | None) -> list[tuple[str, str]]:
    return [(item.text, item.source) for item in read_user_texts(path, root=root)]


def in_pictures(path: Path) -> Path:
    return next(p for p in path.parents if p.name == "Pictures")


def texts(path: Path, *, data: bytes | None = None) -> list[tuple[str, str]]:
    found = read_user_texts(path, data=data, root=in_pictures(path))
    return [(item.text, item.source) for item in found]


# --- EXIF ---------------------------------------------------------------------------------


def test_exif_description_and_windows_tags(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = "Café by the lake".encode()
    exif[0x9C9B] = "Sunset".encode("utf-16-le") + b"\x00\x00"  # XPTitle
    exif[0x9C9E] = "dog; beach;".encode("utf-16-le")  # XPKeywords
    exif[0x9C9C] = "with Rosa".encode("utf-16-le")  # XPComment
    path = photo(tmp_path, jpeg(exif=exif))
    assert texts(path) == [
        ("Sunset", "title"),
        ("Café by the lake", "description"),
        ("dog", "keyword"),
        ("beach", "keyword"),
        ("with Rosa", "comment"),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"ASCII\x00\x00\x00Picnic at noon\x00\x00", "Picnic at noon"),
        (b"UNICODE\x00" + "Grandma Rosa".encode("utf-16-le"), "Grandma Rosa"),
        (b"UNICODE\x00" + "Grandma Rosa".encode("utf-16-be"), "Grandma Rosa"),
        (b"UNICODE\x00" + "外婆的生日".encode("utf-16-be"), "外婆的生日"),
        (b"UNICODE\x00" + "Ölberg".encode("utf-16"), "Ölberg"),  # with a BOM
        (b"JIS\x00\x00\x00\x00\x00" + "東京タワー".encode("iso2022_jp"), "東京タワー"),
        (b"\x00" * 8 + "Fête".encode(), "Fête"),
        (b"no prefix at all", "no prefix at all"),
    ],
)
def test_user_comment_charsets(raw: bytes, expected: str) -> None:
    assert user_comment(raw) == expected


def test_user_comment_unicode_follows_the_file_byte_order_for_cjk() -> None:
    little = b"UNICODE\x00" + "生日快乐".encode("utf-16-le")
    assert user_comment(little, "<") == "生日快乐"
    big = b"UNICODE\x00" + "生日快乐".encode("utf-16-be")
    assert user_comment(big, ">") == "生日快乐"


def test_user_comment_in_the_exif_ifd_and_chinese_round_trips(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = "长城上的日出".encode()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = (
        b"UNICODE\x00" + "和外婆一起".encode("utf-16-le")
    )
    path = photo(tmp_path, jpeg(exif=exif))
    assert texts(path) == [("长城上的日出", "description"), ("和外婆一起", "comment")]


def test_camera_junk_is_ignored(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"OLYMPUS DIGITAL CAMERA         \x00"
    exif[0x9C9B] = "IMG_1".encode("utf-16-le")  # the photo's own name
    exif[0x9C9C] = "   ".encode("utf-16-le")
    exif[0x9C9E] = "????".encode("utf-16-le")
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00" + b"\x00" * 40
    path = photo(tmp_path, jpeg(exif=exif))
    assert texts(path) == []

    for junk in (b"SONY DSC", b"  default ", b"Untitled", b"DSC01234.JPG", b"\x01\x02\x03\x04"):
        exif = Image.Exif()
        exif[ExifTags.Base.ImageDescription] = junk
        assert texts(path, data=jpeg(exif=exif)) == [], junk

    phone = b"filter: 0; fileterIntensity: 0.0; filterMask: 0; module: photo; sceneMode: Auto"
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = phone
    assert texts(path, data=jpeg(exif=exif)) == []


def test_screenshot_is_words_not_junk(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Screenshot"
    path = photo(tmp_path, jpeg(exif=exif))
    assert texts(path) == [("Screenshot", "description")]


# --- XMP ----------------------------------------------------------------------------------


def test_embedded_xmp(tmp_path: Path) -> None:
    body = (
        alt("dc:title", ("fr-FR", "Plage"), ("x-default", "Beach day 海滩"))
        + alt("dc:description", ("en", "Bella runs after the ball"))
        + bag("dc:subject", "dog", "beach", "Rosa")
        + bag("lr:hierarchicalSubject", "People|Family|Rosa", "Places|Italy|Liguria")
    )
    data = jpeg(xmp=xmp_packet(body, attrs='photoshop:Headline="Summer holiday"'))
    path = photo(tmp_path, data)
    assert texts(path) == [
        ("Beach day 海滩", "title"),
        ("Summer holiday", "title"),
        ("Bella runs after the ball", "description"),
        ("dog", "keyword"),
        ("beach", "keyword"),
        ("Rosa", "keyword"),
        ("Liguria", "keyword"),
    ]


def test_xmp_face_names_and_tag_trees(tmp_path: Path) -> None:
    regions = (
        '<mwg-rs:Regions xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
        'rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>'
        '<rdf:li mwg-rs:Name="Rosa" mwg-rs:Type="Face"/>'
        '<rdf:li><rdf:Description><mwg-rs:Name>Luca</mwg-rs:Name></rdf:Description></rdf:li>'
        "</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>"
        '<digiKam:TagsList xmlns:digiKam="http://www.digikam.org/ns/1.0/"><rdf:Seq>'
        "<rdf:li>Places/Italy/Genova</rdf:li></rdf:Seq></digiKam:TagsList>"
    )
    path = photo(tmp_path, jpeg(xmp=xmp_packet(regions)))
    assert texts(path) == [("Genova", "keyword"), ("Rosa", "keyword"), ("Luca", "keyword")]


def test_a_title_repeating_the_file_name(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x9C9B] = "Rosa".encode("utf-16-le")
    path = photo(tmp_path, jpeg(exif=exif), name="Rosa.jpg")  # a name a person chose
    assert texts(path) == [("Rosa", "title")]
    exif[0x9C9B] = "DSC_0042.JPG".encode("utf-16-le")
    path = photo(tmp_path, jpeg(exif=exif), name="DSC_0042.JPG")  # a camera's counter
    assert texts(path) == []


def test_thousands_of_keywords_are_cut_short(tmp_path: Path) -> None:
    path = photo(tmp_path, jpeg())
    keywords = bag("dc:subject", *(f"k{i}" for i in range(5000)))
    path.with_suffix(".xmp").write_bytes(xmp_packet(keywords))
    found = texts(path)
    assert len(found) == 200 and found[0] == ("k0", "keyword")


def test_xmp_with_a_dtd_is_refused_but_other_sources_still_count(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 9))
        + ']><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        '"http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<rdf:Description><dc:subject><rdf:Bag><rdf:li>&lol8;</rdf:li></rdf:Bag></dc:subject>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Kept anyway"
    path = photo(tmp_path, jpeg(exif=exif, xmp=laughs))
    path.with_suffix(".xmp").write_bytes(laughs)
    external = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + xmp_packet("&e;")
    path.with_name(path.name + ".xmp").write_bytes(external)
    assert texts(path) == [("Kept anyway", "description")]


def test_broken_xmp_is_skipped(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Still here"
    path = photo(tmp_path, jpeg(exif=exif, xmp=b"<x:xmpmeta><rdf:RDF><unclosed"))
    assert texts(path) == [("Still here", "description")]


def test_png_text_exif_and_xmp_without_decoding_pixels(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Harbour at dawn")
    info.add_itxt("XML:com.adobe.xmp", xmp_packet(bag("dc:subject", "boats")).decode())
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Fishing boats"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG", pnginfo=info, exif=exif)
    path = photo(tmp_path, buffer.getvalue(), name="harbour.png")
    assert texts(path) == [
        ("Harbour at dawn", "title"),
        ("Fishing boats", "description"),
        ("boats", "keyword"),
    ]


def other_format(fmt: str) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Red square"
    xmp = xmp_packet(bag("dc:subject", "red"))
    buffer = io.BytesIO()
    image = Image.new("RGB", (16, 16), "red")
    if fmt == "TIFF":
        image.save(buffer, fmt, tiffinfo={270: "Red square", 700: xmp})
    elif fmt == "GIF":  # Pillow neither writes nor exposes GIF's XMP: splice its extension
        image.save(buffer, fmt)
        return buffer.getvalue()[:-1] + b"!\xff\x0bXMP DataXMP" + xmp + b"\x01\x00;"
    else:
        image.save(buffer, fmt, exif=exif, xmp=xmp)
    return buffer.getvalue()


OTHER_FORMATS = [f for f in ("WEBP", "TIFF", "HEIF", "GIF") if f in ALLOWED_FORMATS]


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_other_formats(tmp_path: Path, fmt: str) -> None:
    path = photo(tmp_path, other_format(fmt), name=f"square.{fmt.lower()}")
    expected = [("red", "keyword")]
    if fmt != "GIF":
        expected.insert(0, ("Red square", "description"))
    assert texts(path) == expected


# --- IPTC ---------------------------------------------------------------------------------


def test_iptc_keywords_caption_and_title(tmp_path: Path) -> None:
    records = [
        (1, 90, b"\x1b%G"),  # UTF-8
        (2, 5, "Zürich trip".encode()),
        (2, 25, b"lake"),
        (2, 25, "Zürichsee".encode()),
        (2, 25, b"Caf\xe9"),  # Latin-1 from an old tool
        (2, 120, "Boats on the lake, 湖".encode()),
    ]
    data = jpeg(iptc=records)
    with Image.open(io.BytesIO(data)) as image:  # the helper builds what Pillow reads
        assert IptcImagePlugin.getiptcinfo(image) is not None
    path = photo(tmp_path, data)
    assert texts(path) == [
        ("Zürich trip", "title"),
        ("Boats on the lake, 湖", "description"),
        ("lake", "keyword"),
        ("Zürichsee", "keyword"),
        ("Café", "keyword"),
    ]


def test_duplicates_across_sources_keep_the_first(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Beach Day"  # description, but a title has it
    exif[0x9C9E] = "BEACH;dog".encode("utf-16-le")
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00dog"
    xmp = xmp_packet(alt("dc:title", ("x-default", "beach  day")) + bag("dc:subject", "beach"))
    path = photo(tmp_path, jpeg(exif=exif, xmp=xmp, iptc=[(2, 25, b"Dog"), (2, 5, b"BEACH DAY")]))
    assert texts(path) == [("beach day", "title"), ("beach", "keyword"), ("Dog", "keyword")]


def test_long_text_is_cut_and_whitespace_collapsed(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = (" word\t\n" * 400).encode()
    path = photo(tmp_path, jpeg(exif=exif))
    [(text, source)] = texts(path)
    assert source == "description"
    assert 400 < len(text) <= 500
    assert text.startswith("word word") and text.endswith("word") and "  " not in text


# --- sidecars -----------------------------------------------------------------------------


def test_sidecar_xmp_and_txt(tmp_path: Path) -> None:
    path = photo(tmp_path, jpeg())
    path.with_name("IMG_1.jpg.xmp").write_bytes(xmp_packet(bag("dc:subject", "darktable tag")))
    path.with_name("IMG_1.xmp").write_bytes(
        xmp_packet(alt("dc:description", ("x-default", "Lightroom caption")))
    )
    path.with_name("IMG_1.txt").write_text("Grandma's 80th\n\n birthday 🎂", encoding="utf-8")
    path.with_name("IMG_1.jpg.txt").write_bytes(b"\xef\xbb\xbfsecond note")
    path.with_name("IMG_2.txt").write_text("another photo's note", encoding="utf-8")
    assert texts(path) == [
        ("Lightroom caption", "description"),
        ("darktable tag", "keyword"),
        ("second note", "sidecar"),
        ("Grandma's 80th birthday 🎂", "sidecar"),
    ]


def test_big_txt_sidecar_is_read_only_in_part(tmp_path: Path) -> None:
    path = photo(tmp_path, jpeg())
    path.with_suffix(".txt").write_text("é" * 20_000, encoding="utf-8")  # 40 KB
    [(text, source)] = texts(path)
    assert source == "sidecar" and set(text) == {"é"} and len(text) <= 500


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_sidecars_are_skipped_without_blocking(tmp_path: Path) -> None:
    path = photo(tmp_path, jpeg())
    os.mkfifo(path.with_suffix(".txt"))  # opening a pipe for reading would wait for a writer
    path.with_suffix(".xmp").mkdir()
    assert texts(path) == []


# --- albums -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "album"),
    [
        ("bella_the_dog", "bella the dog"),
        ("Italy-2019", "Italy 2019"),
        ("Rome_2019_06", "Rome"),
        ("2019-06-01 Rome trip", "Rome trip"),
        ("Screenshots", "Screenshots"),
        ("WhatsApp Images", "WhatsApp Images"),
        ("Cafe\u0301", "Café"),  # macOS spells names decomposed
        ("DCIM", None),
        ("Camera Roll", None),
        ("camera_roll", None),
        ("100CANON", None),
        ("101APPLE", None),
        ("100_FUJI", None),
        ("100canon", None),
        ("2019", None),
        ("2019-06-01", None),
        ("20190601", None),
        (".thumbnails", None),
        ("@eaDir", None),
        ("", None),
    ],
)
def test_album_name(folder: str, album: str | None) -> None:
    assert album_name(folder) == album


def test_album_names_between_root_and_photo(tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    path = photo(tmp_path, jpeg(), "Holidays", "DCIM", "100CANON", "2019-06-01", "bella_the_dog")
    assert words(path, root=root) == [("Holidays", "album"), ("bella the dog", "album")]
    # A meaningful root counts too; without a root only the photo's own folder does.
    archive = tmp_path / "Family Archive"
    other = archive / "Screenshots" / "IMG_2.jpg"
    other.parent.mkdir(parents=True)
    other.write_bytes(jpeg())
    assert words(other, root=archive) == [("Family Archive", "album"), ("Screenshots", "album")]
    assert words(path, root=None) == [("bella the dog", "album")]
    assert words(other, root=root) == [("Screenshots", "album")]  # not under that root


# --- bad files and no harm ----------------------------------------------------------------


def garbage_files() -> list[bytes]:
    good = jpeg(exif=Image.Exif(), xmp=xmp_packet(bag("dc:subject", "x")))
    broken_exif = good[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\xff\xff" + good[2:]
    broken_iptc = jpeg(iptc=[(2, 25, b"ok")]).replace(b"\x1c\x02\x19", b"\x1c\xee\x19")
    return [
        b"",
        b"\xff\xd8\xff",
        good[:40],
        os.urandom(3000),
        b"\x89PNG\r\n\x1a\n" + os.urandom(200),
        b"II*\x00" + os.urandom(500),
        broken_exif,
        broken_iptc,
        b"just some text <x:xmpmeta>",
    ]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("data", garbage_files())
def test_garbage_never_raises(tmp_path: Path, data: bytes) -> None:
    path = photo(tmp_path, data)
    result = texts(path)
    assert result in ([], [("x", "keyword")])
    assert texts(path, data=data) == result


def test_missing_file_and_data_given_without_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "Pictures" / "gone.jpg"
    assert texts(missing) == []
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"From memory"
    assert texts(missing, data=jpeg(exif=exif)) == [("From memory", "description")]


def test_nothing_is_modified_or_created(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = b"Untouched"
    path = photo(tmp_path, jpeg(exif=exif, xmp=xmp_packet(bag("dc:subject", "a"))))
    path.with_suffix(".txt").write_text("note", encoding="utf-8")
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
              for p in tmp_path.rglob("*") if p.is_file()}
    assert len(texts(path)) == 3
    after = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
             for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
