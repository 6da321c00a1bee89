"""Checking uploaded files (DESIGN §9): size, type from the content, cleaned names.

``inspect_upload(stream, filename, accepted, max_bytes)`` reads an upload once, in chunks,
and either returns an :class:`UploadInfo` (cleaned name with the extension of the detected
type, content type, size, SHA-256 and the bytes) or raises :class:`UploadRejected` whose
``message`` is a French sentence to show next to the field. The name is never trusted:
the type is what the bytes are (magic numbers read by puremagic, then the structure of
the format checked here), so an executable or a script renamed ``.pdf`` is refused.

``send_stored_file(key, filename, content_type)`` is the download response of a stored
file: streamed, ``Content-Disposition: attachment``, ``nosniff``, not cached.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, NoReturn

import puremagic
from babel.numbers import format_decimal

from grants.calls.models import FILE_TYPES

#: every accepted type (the keys of ``FILE_TYPES``: pdf, odt, docx, xlsx, ods, png, jpeg)
ACCEPTED_ALL: frozenset[str] = frozenset(FILE_TYPES)

#: the MIME type stored and sent for each accepted type
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "png": "image/png",
    "jpeg": "image/jpeg",
}
#: file-name suffixes of each type; the first is given to a name that has none of them
SUFFIXES = {
    "pdf": ("pdf",),
    "odt": ("odt",),
    "docx": ("docx",),
    "xlsx": ("xlsx",),
    "ods": ("ods",),
    "png": ("png",),
    "jpeg": ("jpg", "jpeg", "jpe", "jfif"),
}
#: suffixes that are replaced (not kept before the new one) when the content says otherwise
_KNOWN_SUFFIXES = {s for suffixes in SUFFIXES.values() for s in suffixes} | {
    "doc", "docm", "dot", "dotx", "xls", "xlsm", "xlsb", "xlt", "odp", "odg", "ppt", "pptx",
    "rtf", "txt", "csv", "html", "htm", "xml", "svg", "gif", "bmp", "tif", "tiff", "webp",
    "heic", "zip", "rar", "7z", "gz", "exe", "dll", "msi", "bat", "cmd", "com", "scr", "ps1",
    "vbs", "js", "jar", "sh", "py", "php", "pl", "rb", "elf", "bin", "apk", "dmg", "iso",
}  # fmt: skip

CHUNK_SIZE = 64 * 1024
MAX_STEM = 150
MAX_SUFFIX = 10
#: office documents: bounds on what their ZIP container may expand to (ZIP bombs)
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
MAX_RATIO = 200
#: office parts read to check the structure are small; never read more than this
_MAX_PART_READ = 2 * 1024 * 1024

#: OOXML: the folder of the main part and its content type in ``[Content_Types].xml``
#: (macro-enabled documents and templates declare another one and are refused)
_OOXML_MAIN = {
    "docx": ("word/", CONTENT_TYPES["docx"] + ".main+xml"),
    "xlsx": ("xl/", CONTENT_TYPES["xlsx"] + ".main+xml"),
}
_ODF_MIMETYPES = {
    CONTENT_TYPES["odt"].encode(): "odt",
    CONTENT_TYPES["ods"].encode(): "ods",
}
#: what puremagic may call each type (it cannot tell the ZIP-based formats apart reliably)
_PUREMAGIC_FAMILY = {
    "pdf": {"application/pdf"},
    "png": {"image/png"},
    "jpeg": {"image/jpeg", "image/jpg", "image/pjpeg"},
}
_ZIP_FAMILY_HINTS = ("zip", "openxmlformats", "opendocument", "ms-excel", "ms-word", "ms-office")
_EXECUTABLE_HINTS = ("executable", "x-elf", "x-mach", "x-msdownload", "x-dosexec", "x-sharedlib")

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{prefix}{n}" for prefix in ("COM", "LPT") for n in "123456789"
}
_FORBIDDEN_CHARS = set('<>:"|?*')
_SUFFIX_RE = re.compile(rf"^(.*)\.([A-Za-z0-9]{{1,{MAX_SUFFIX}}})$", re.S)
FALLBACK_STEM = "fichier"


class UploadRejected(ValueError):
    """An upload that cannot be kept; ``message`` says why, in French, to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UploadInfo:
    #: cleaned original name, ending with the suffix of the detected type
    clean_name: str
    #: the detected type, a key of ``FILE_TYPES`` (``pdf``, ``jpeg``…)
    extension: str
    #: MIME type of the detected type
    content_type: str
    size: int
    #: hex SHA-256 of the content (64 characters)
    sha256: str
    data: bytes

    @property
    def label(self) -> str:
        return FILE_TYPES[self.extension]


# --- names -------------------------------------------------------------------------------


def clean_filename(name: str | None) -> str:
    """A safe, readable version of a user's file name, accents kept.

    Keeps only the last path component (``C:\\…\\devis.pdf`` → ``devis.pdf``), drops
    control and format characters (NUL, right-to-left overrides), replaces the characters
    Windows forbids, collapses spaces, strips leading and trailing dots and spaces, lowers
    the suffix, limits the stem to 150 characters and never returns an empty name
    (``fichier``). Idempotent: cleaning a clean name changes nothing.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace() or category in {"Zs", "Zl", "Zp"}:
            kept.append(" ")
        elif category.startswith("C"):
            continue
        elif char in _FORBIDDEN_CHARS:
            kept.append("_")
        else:
            kept.append(char)
    text = re.sub(r" {2,}", " ", "".join(kept)).strip(" ")
    match = _SUFFIX_RE.match(text)
    stem, suffix = (match.group(1), match.group(2).lower()) if match else (text, "")
    stem = stem.strip(" .")[:MAX_STEM].rstrip(" .")
    if not stem:
        stem = FALLBACK_STEM
    if stem.upper() in _WINDOWS_RESERVED:
        stem += "_"
    return f"{stem}.{suffix}" if suffix else stem


def _with_suffix(clean_name: str, extension: str) -> str:
    """``clean_name`` ending with a suffix of ``extension`` (kept if it already has one)."""
    match = _SUFFIX_RE.match(clean_name)
    stem, suffix = (match.group(1), match.group(2).lower()) if match else (clean_name, "")
    if suffix in SUFFIXES[extension]:
        return clean_name
    if suffix and suffix not in _KNOWN_SUFFIXES:
        stem = clean_name  # "rapport v1.2" is a name, not a suffix
    stem = stem[:MAX_STEM].rstrip(" .") or FALLBACK_STEM
    return f"{stem}.{SUFFIXES[extension][0]}"


# --- French wording ----------------------------------------------------------------------


def format_size(size: int) -> str:
    """``10485760`` → ``10 Mo``, ``1572864`` → ``1,5 Mo``, ``2048`` → ``2 Ko``."""
    for unit, factor in (("Go", 1024**3), ("Mo", 1024**2), ("Ko", 1024)):
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.#', locale='fr_FR')} {unit}"
    return f"{size} octet" + ("s" if size > 1 else "")


def types_sentence(extensions) -> str:
    """The labels of ``extensions`` in ``FILE_TYPES`` order: ``PDF, Image PNG ou Image JPEG``."""
    labels = [label for ext, label in FILE_TYPES.items() if ext in set(extensions)]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " ou " + labels[-1]


def too_large_message(max_bytes: int) -> str:
    """The French message of a file over the limit; also for the 413 that werkzeug raises
    when the whole request is over ``MAX_CONTENT_LENGTH`` (catch ``RequestEntityTooLarge``
    around ``request.files`` and show this next to the field)."""
    return f"Le fichier dépasse la taille maximale de {format_size(max_bytes)}."


# --- detection ---------------------------------------------------------------------------


def _puremagic_types(head: bytes) -> set[str]:
    try:
        return {m.mime_type.lower() for m in puremagic.magic_string(head) if m.mime_type}
    except puremagic.PureError:
        return set()


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-4096:]


def _is_png(data: bytes) -> bool:
    # signature, then the IHDR chunk (length 13) that must come first
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data[8:16] == b"\x00\x00\x00\x0dIHDR"


def _is_jpeg(data: bytes) -> bool:
    # start-of-image, then a marker (APPn, DQT, SOF…)
    return len(data) > 4 and data[:3] == b"\xff\xd8\xff" and data[3] not in (0x00, 0xFF)


def _read_part(archive: zipfile.ZipFile, name: str, limit: int = _MAX_PART_READ) -> bytes:
    with archive.open(name) as fh:
        return fh.read(limit)


def _zip_kind(data: bytes) -> str | None:
    """docx, xlsx, odt or ods when ``data`` is such a document, else None.

    Raises UploadRejected for a document whose container would expand too much.
    """
    if not data.startswith(b"PK\x03\x04"):  # a ZIP appended to an executable starts with MZ
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None
    with archive:
        entries = archive.infolist()
        if not entries:
            return None
        if len(entries) > MAX_ZIP_ENTRIES:
            _too_expanded()
        total = sum(info.file_size for info in entries)
        if total > MAX_UNCOMPRESSED or any(
            info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1)
            for info in entries
        ):
            _too_expanded()
        names = {info.filename for info in entries}
        try:
            first = entries[0]
            if first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED:
                kind = _ODF_MIMETYPES.get(_read_part(archive, "mimetype", 100).strip())
                return kind if kind and "content.xml" in names else None
            if "[Content_Types].xml" in names:
                content_types = _read_part(archive, "[Content_Types].xml")
                for kind, (folder, main) in _OOXML_MAIN.items():
                    has_part = any(name.startswith(folder) for name in names)
                    if has_part and main.encode() in content_types:
                        return kind
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError):
            return None
    return None


def _too_expanded() -> NoReturn:
    raise UploadRejected(
        "Ce document est une archive anormalement volumineuse une fois décompressée : "
        "il ne peut pas être accepté. Enregistrez-le de nouveau depuis votre logiciel "
        "ou envoyez-le au format PDF."
    )


def detect_type(data: bytes) -> str | None:
    """The accepted type (a key of ``FILE_TYPES``) that ``data`` really is, or None.

    puremagic names the family from the magic numbers; the structure is then checked here,
    and both must agree. Executables are never anything.
    """
    magic = _puremagic_types(data[:8192])
    if any(hint in mime for mime in magic for hint in _EXECUTABLE_HINTS):
        return None
    if data.startswith((b"MZ", b"\x7fELF", b"#!")):
        return None
    for kind, check in (("pdf", _is_pdf), ("png", _is_png), ("jpeg", _is_jpeg)):
        if check(data):
            return kind if magic & _PUREMAGIC_FAMILY[kind] else None
    kind = _zip_kind(data)
    if kind and any(hint in mime for mime in magic for hint in _ZIP_FAMILY_HINTS):
        return kind
    return None


def _claimed_type(clean_name: str) -> str | None:
    match = _SUFFIX_RE.match(clean_name)
    suffix = match.group(2).lower() if match else ""
    return next((kind for kind, suffixes in SUFFIXES.items() if suffix in suffixes), None)


# --- the check ---------------------------------------------------------------------------


def read_limited(stream: BinaryIO, max_bytes: int) -> tuple[bytes, str]:
    """Read ``stream`` in chunks; ``(data, sha256)``. Stops reading as soon as more than
    ``max_bytes`` arrived and raises UploadRejected: a 30 MB upload is never read whole."""
    digest = hashlib.sha256()
    buffer = bytearray()
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        if len(buffer) + len(chunk) > max_bytes:
            raise UploadRejected(too_large_message(max_bytes))
        buffer += chunk
        digest.update(chunk)
    return bytes(buffer), digest.hexdigest()


def inspect_upload(
    stream: BinaryIO, filename: str, accepted: set[str] | frozenset[str] | None, max_bytes: int
) -> UploadInfo:
    """Check an upload and describe it; raises UploadRejected with a French message.

    ``stream``: anything with ``read(n)`` (a werkzeug ``FileStorage`` or its ``.stream``);
    ``filename``: the name the browser sent; ``accepted``: keys of ``FILE_TYPES`` (a
    required document's ``accepted_types``), None or empty meaning every type
    (``ACCEPTED_ALL``); ``max_bytes``: the ``UPLOAD_MAX_BYTES`` setting.
    """
    accepted = (set(accepted) & ACCEPTED_ALL) if accepted else set(ACCEPTED_ALL)
    name = clean_filename(filename)
    data, sha256 = read_limited(stream, max_bytes)
    if not data:
        raise UploadRejected("Le fichier est vide : choisissez un fichier qui a un contenu.")
    allowed = types_sentence(accepted)
    kind = detect_type(data)
    if kind is None:
        claimed = _claimed_type(name)
        if claimed:
            raise UploadRejected(
                f"Le contenu de ce fichier n'est pas celui d'un fichier {FILE_TYPES[claimed]} "
                f"valide (le type est vérifié d'après le contenu, pas d'après le nom). "
                f"Types acceptés : {allowed}."
            )
        raise UploadRejected(f"Ce type de fichier n'est pas accepté. Types acceptés : {allowed}.")
    if kind not in accepted:
        raise UploadRejected(
            f"Ce fichier est de type {FILE_TYPES[kind]}, qui n'est pas accepté ici. "
            f"Types acceptés : {allowed}."
        )
    return UploadInfo(
        clean_name=_with_suffix(name, kind),
        extension=kind,
        content_type=CONTENT_TYPES[kind],
        size=len(data),
        sha256=sha256,
        data=data,
    )


# --- downloads ---------------------------------------------------------------------------


def send_stored_file(key: str, filename: str, content_type: str, storage=None):
    """The response that downloads a stored file — only after the route checked the
    permission. Streamed from the storage; always an attachment (never rendered inline),
    ``nosniff``, ``Cache-Control: private, no-store``. Raises StoredFileNotFound (404 it)."""
    from flask import Response
    from werkzeug.http import dump_options_header

    from grants.core.storage import get_storage

    storage = storage or get_storage()
    chunks = storage.iter_chunks(key)
    ascii_name = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "fichier"
    ).replace('"', "")
    disposition = dump_options_header("attachment", {"filename": ascii_name})
    if ascii_name != filename:
        from urllib.parse import quote

        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    response = Response(chunks, mimetype=content_type)
    response.headers["Content-Disposition"] = disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
