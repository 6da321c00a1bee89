"""Helpers of the applicant's journey in the browser: small real PDFs, form sections,
screenshots, the console messages a journey may legitimately log."""

from __future__ import annotations

import io
import re

#: where the screenshots of the journey go (looked at by a person, not asserted)
SCREENSHOT_DIR = "/tmp"

#: Chromium logs a failed main-document load ("status of 422") for a form page returned
#: with its validation errors: that is the app saying "fix these fields", not a bug.
_FORM_ERROR_STATUS = re.compile(
    r"Failed to load resource: the server responded with a status of 422"
)


def make_pdf(title: str, lines: list[str] | tuple[str, ...] = ()) -> bytes:
    """A small real PDF document (one A4 page) made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(title)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(72, 770, title)
    pdf.setFont("Helvetica", 11)
    for n, line in enumerate(lines):
        pdf.drawString(72, 740 - 16 * n, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def field_box(page, label: str, exact: bool = True):
    """The ``.field`` block of the control labelled ``label``: label, input, help, errors."""
    control = page.get_by_label(label, exact=exact)
    return page.locator("div.field").filter(has=control)


def section(page, heading: str, exact: bool = True):
    """The ``<section>`` labelled by its heading ``heading`` (a landmark region)."""
    return page.get_by_role("region", name=heading, exact=exact)


def unexpected_console_errors(errors: list[str]) -> list[str]:
    """Console errors, less the 422 status of a form page shown again with its errors."""
    return [text for text in errors if not _FORM_ERROR_STATUS.search(text)]


def screenshot(page, name: str) -> str:
    path = f"{SCREENSHOT_DIR}/journey-{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
