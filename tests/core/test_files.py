"""Upload checks: the type comes from the content, sizes are bounded, names are cleaned."""

from __future__ import annotations

import hashlib
import io
import struct
import unicodedata
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.core.files import (
    ACCEPTED_ALL,
    CHUNK_SIZE,
    UploadRejected,
    clean_filename,
    detect_type,
    format_size,
    inspect_upload,
    send_stored_file,
    too_large_message,
)

MB = 1024 * 1024


# --- real small files of each type -------------------------------------------------------


def make_pdf(text: str = "Statuts de l'association") -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def make_png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_jpeg() -> bytes:
    from PIL import Image  # installed with reportlab

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _zip(parts: list[tuple[str, bytes | str]], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, content) in enumerate(parts):
            method = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return buffer.getvalue()


def _content_types(main: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/main.xml" ContentType="{main}"/></Types>'
    )


WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
EXCEL_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def make_docx(main: str = WORD_MAIN) -> bytes:
    return _zip(
        [
            ("[Content_Types].xml", _content_types(main)),
            ("_rels/.rels", "<Relationships/>"),
            ("word/document.xml", "<w:document><w:body>Projet</w:body></w:document>"),
        ]
    )


def make_xlsx() -> bytes:
    return _zip(
        [
            ("[Content_Types].xml", _content_types(EXCEL_MAIN)),
            ("_rels/.rels", "<Relationships/>"),
            ("xl/workbook.xml", "<workbook/>"),
            ("xl/worksheets/sheet1.xml", "<worksheet/>"),
        ]
    )


def make_odf(mimetype: str) -> bytes:
    return _zip(
        [
            ("mimetype", mimetype),
            ("content.xml", "<office:document-content/>"),
            ("META-INF/manifest.xml", "<manifest:manifest/>"),
        ],
        stored_first=True,
    )


SAMPLES = {
    "pdf": (make_pdf, "statuts.pdf", "application/pdf"),
    "png": (make_png, "logo.png", "image/png"),
    "jpeg": (make_jpeg, "photo.jpg", "image/jpeg"),
    "docx": (
        make_docx,
        "projet.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": (
        make_xlsx,
        "budget.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "odt": (
        lambda: make_odf("application/vnd.oasis.opendocument.text"),
        "projet.odt",
        "application/vnd.oasis.opendocument.text",
    ),
    "ods": (
        lambda: make_odf("application/vnd.oasis.opendocument.spreadsheet"),
        "budget.ods",
        "application/vnd.oasis.opendocument.spreadsheet",
    ),
}

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + b"\x00" * 50
    + b"PE\x00\x00"
    + b"\x00" * 200
)


def inspect(data: bytes, name: str, accepted=None, max_bytes: int = 10 * MB):
    return inspect_upload(io.BytesIO(data), name, accepted, max_bytes)


def test_every_accepted_type_is_in_the_samples():
    assert set(SAMPLES) == ACCEPTED_ALL


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_accepted_type_is_recognised_from_its_content(kind):
    make, name, content_type = SAMPLES[kind]
    data = make()
    info = inspect(data, name)
    assert info.extension == kind
    assert info.content_type == content_type
    assert info.clean_name == name
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.data == data


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_type_is_refused_when_the_document_does_not_accept_it(kind):
    make, name, _ = SAMPLES[kind]
    others = ACCEPTED_ALL - {kind}
    with pytest.raises(UploadRejected, match="qui n'est pas accepté ici. Types acceptés :"):
        inspect(make(), name, accepted=others)


def test_the_accepted_types_are_listed_in_french():
    with pytest.raises(UploadRejected) as caught:
        inspect(make_png(), "logo.png", accepted={"pdf", "docx", "odt"})
    assert caught.value.message == (
        "Ce fichier est de type Image PNG, qui n'est pas accepté ici. "
        "Types acceptés : PDF, Texte OpenDocument (ODT) ou Word (DOCX)."
    )


# --- the name lies -----------------------------------------------------------------------


def test_an_executable_renamed_pdf_is_refused():
    with pytest.raises(UploadRejected) as caught:
        inspect(ELF, "rapport.pdf")
    assert "n'est pas celui d'un fichier PDF valide" in caught.value.message
    assert "d'après le contenu, pas d'après le nom" in caught.value.message


@pytest.mark.parametrize(
    "data, name",
    [
        (PE, "budget.pdf"),
        (PE, "projet.docx"),
        (PE + make_docx(), "projet.docx"),  # a self-extracting archive: ZIP after an .exe
        (b"#!/bin/sh\nrm -rf ~\n%PDF-1.4\n%%EOF\n", "statuts.pdf"),
        (b"<script>alert(1)</script>", "logo.png"),
        (b"<?php system($_GET['c']); ?>", "photo.jpg"),
        (b"\x00" * 100, "document"),
        (b"%PDF-1.7\n1 0 obj\n", "tronque.pdf"),  # truncated: no %%EOF
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "logo.png"),  # no IHDR
        (b"PK\x03\x04" + b"\x00" * 60, "projet.docx"),  # broken zip
    ],
)
def test_content_that_is_not_an_accepted_type_is_refused(data, name):
    with pytest.raises(UploadRejected):
        inspect(data, name)
    assert detect_type(data) is None


def test_an_unknown_name_and_content_gets_the_generic_message():
    with pytest.raises(UploadRejected) as caught:
        inspect(ELF, "programme", accepted={"pdf"})
    assert caught.value.message == "Ce type de fichier n'est pas accepté. Types acceptés : PDF."


@pytest.mark.parametrize(
    "data",
    [
        _zip([("[Content_Types].xml", _content_types(WORD_MAIN)), ("xl/workbook.xml", "x")]),
        _zip([("word/document.xml", "<w/>")]),  # no [Content_Types].xml
        make_docx(main="application/vnd.ms-word.document.macroEnabled.main+xml"),  # .docm
        make_odf("application/vnd.oasis.opendocument.presentation"),
        _zip(  # mimetype not the first entry
            [("content.xml", "x"), ("mimetype", "application/vnd.oasis.opendocument.text")]
        ),
        _zip([("hello.txt", "a plain zip")]),
    ],
)
def test_zip_files_that_are_not_real_office_documents_are_refused(data):
    with pytest.raises(UploadRejected):
        inspect(data, "document.docx")


def test_a_zip_bomb_dressed_as_a_document_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types(WORD_MAIN))
        archive.writestr("word/document.xml", "<w/>")
        with archive.open("word/media/padding.bin", "w") as fh:
            zeros = b"\x00" * MB
            for _ in range(210):  # 210 MB of zeros, a few hundred KB compressed
                fh.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 2 * MB
    with pytest.raises(UploadRejected, match="anormalement volumineuse"):
        inspect(data, "projet.docx")


def test_the_clean_name_takes_the_suffix_of_the_detected_type():
    assert inspect(make_png(), "photo.pdf").clean_name == "photo.png"
    assert inspect(make_docx(), "rapport.doc").clean_name == "rapport.docx"
    assert inspect(make_jpeg(), "scan").clean_name == "scan.jpg"
    assert inspect(make_jpeg(), "scan.JPEG").clean_name == "scan.jpeg"
    assert inspect(make_pdf(), "Statuts v1.2").clean_name == "Statuts v1.2.pdf"
    assert inspect(make_pdf(), "../../etc/passwd").clean_name == "passwd.pdf"


def test_a_werkzeug_upload_is_read_directly():
    from werkzeug.datastructures import FileStorage

    data = make_pdf()
    upload = FileStorage(io.BytesIO(data), filename="Relevé d'identité bancaire.pdf")
    info = inspect_upload(upload, upload.filename, {"pdf"}, 10 * MB)
    assert info.clean_name == "Relevé d'identité bancaire.pdf"
    assert info.sha256 == hashlib.sha256(data).hexdigest()


# --- sizes -------------------------------------------------------------------------------


def test_an_empty_file_is_refused():
    with pytest.raises(UploadRejected, match="Le fichier est vide"):
        inspect(b"", "vide.pdf")


class CountingStream(io.RawIOBase):
    """``size`` bytes of a PDF-looking stream, produced on demand; counts what was read."""

    def __init__(self, size: int):
        self.size = size
        self.position = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.size - self.position)
        if n <= 0:
            return 0
        start = b"%PDF-1.4\n" if self.position == 0 else b""
        buffer[:n] = (start + b"0" * n)[:n]
        self.position += n
        return n


def test_a_30_mb_upload_is_refused_without_being_read_whole():
    stream = CountingStream(30 * MB)
    with pytest.raises(UploadRejected) as caught:
        inspect_upload(stream, "gros.pdf", None, 10 * MB)
    assert caught.value.message == "Le fichier dépasse la taille maximale de 10 Mo."
    assert stream.position <= 10 * MB + CHUNK_SIZE


def test_the_size_limit_is_inclusive_and_formatted_the_french_way():
    data = make_pdf()
    assert inspect(data, "a.pdf", max_bytes=len(data)).size == len(data)
    with pytest.raises(UploadRejected) as caught:
        inspect(data, "a.pdf", max_bytes=len(data) - 1)
    assert caught.value.message.startswith("Le fichier dépasse la taille maximale de ")
    limit = int(1.5 * MB)
    with pytest.raises(UploadRejected) as caught:
        inspect(b"%PDF-" + b"0" * limit, "a.pdf", max_bytes=limit)
    assert caught.value.message == "Le fichier dépasse la taille maximale de 1,5 Mo."


def test_the_too_large_message_follows_the_configured_limit(app):
    assert too_large_message(app.config["UPLOAD_MAX_BYTES"]) == (
        "Le fichier dépasse la taille maximale de 10 Mo."
    )
    # the request limit leaves room for the form around a file at the limit
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["UPLOAD_MAX_BYTES"]


@pytest.mark.parametrize(
    "size, text",
    [
        (10 * MB, "10 Mo"),
        (int(1.5 * MB), "1,5 Mo"),
        (2048, "2 Ko"),
        (1536, "1,5 Ko"),
        (500, "500 octets"),
        (1, "1 octet"),
        (3 * 1024 * MB, "3 Go"),
    ],
)
def test_format_size(size, text):
    assert format_size(size) == text


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Budget prévisionnel 2016 (v2).xlsx", "Budget prévisionnel 2016 (v2).xlsx"),
        ("Relevé d'identité bancaire.PDF", "Relevé d'identité bancaire.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Élodie\\Bilan 2015.ods", "Bilan 2015.ods"),
        ("compte\x00rendu.pdf", "compterendu.pdf"),
        ("facture\u202egpj.exe", "facturegpj.exe"),  # right-to-left override dropped
        ("  a \t\n  b  .pdf", "a b.pdf"),
        ("facture : janvier ?.pdf", "facture _ janvier _.pdf"),
        (".htaccess", "fichier.htaccess"),
        ("...", "fichier"),
        ("", "fichier"),
        (None, "fichier"),
        ("con.pdf", "con_.pdf"),
        ("Statuts v1.2", "Statuts v1.2"),
        ("e\u0301le\u0300ve.pdf", "élève.pdf"),  # decomposed accents recomposed
    ],
)
def test_clean_filename_examples(raw, clean):
    assert clean_filename(raw) == clean


def test_clean_filename_limits_the_stem_to_150_characters():
    name = clean_filename("é" * 400 + ".docx")
    assert name == "é" * 150 + ".docx"


@given(st.text())
def test_clean_filename_is_always_safe(raw):
    name = clean_filename(raw)
    assert name
    assert not any(char in name for char in "/\\\x00")
    assert not any(unicodedata.category(char).startswith("C") for char in name)
    assert not name.startswith((".", " ")) and not name.endswith(" ")
    assert len(name) <= 150 + 1 + 10
    assert clean_filename(name) == name  # idempotent


@given(st.text(min_size=1), st.sampled_from(sorted(SAMPLES)))
def test_an_accepted_upload_name_is_clean_and_ends_with_its_type(raw, kind):
    make, _, _ = SAMPLES[kind]
    info = inspect(make(), raw)
    assert info.clean_name == clean_filename(info.clean_name)
    assert len(info.clean_name) <= 150 + 1 + 4
    suffix = info.clean_name.rsplit(".", 1)[1]
    assert suffix in {"pdf", "png", "jpg", "jpeg", "jpe", "jfif", "docx", "xlsx", "odt", "ods"}


# --- downloads ---------------------------------------------------------------------------


def test_a_stored_file_is_downloaded_as_an_attachment(app, tmp_path):
    from grants.core.storage import LocalStorage, StoredFileNotFound, new_key

    storage = LocalStorage(tmp_path)
    key = new_key("attachments")
    data = make_pdf()
    storage.put(key, data)
    with app.test_request_context("/"):
        response = send_stored_file(key, "Relevé d'identité.pdf", "application/pdf", storage)
        assert response.get_data() == data
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert 'filename="Releve d\'identite.pdf"' in disposition
        assert "filename*=UTF-8''Relev%C3%A9%20d%27identit%C3%A9.pdf" in disposition
        assert response.mimetype == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
        response.close()
        with pytest.raises(StoredFileNotFound):
            send_stored_file(new_key("attachments"), "x.pdf", "application/pdf", storage)
