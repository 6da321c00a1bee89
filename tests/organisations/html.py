"""Small readers of the rendered HTML, for assertions a user would make on the page."""

from __future__ import annotations

import html
import re


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def field_errors(response, field_id: str) -> list[str]:
    """The error messages shown next to the field ``field_id``."""
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-erreurs">(.*?)</ul>', text(response), re.S
    )
    if not match:
        return []
    return [m.strip() for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def input_value(response, name: str) -> str | None:
    """The value an input shows (what the user typed is kept after an error)."""
    for tag in re.findall(r"<input[^>]*>", text(response)):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return value.group(1) if value else ""
    return None


def is_checked(response, name: str) -> bool:
    for tag in re.findall(r"<input[^>]*>", text(response)):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            return bool(re.search(r"\bchecked\b", tag))
    return False


def select_options(response, name: str) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` of each option of the select ``name``."""
    match = re.search(
        rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', text(response), re.S
    )
    assert match, f"no select {name}"
    options = []
    for attrs, label in re.findall(r"<option([^>]*)>(.*?)</option>", match.group(1), re.S):
        value = re.search(r'\bvalue="([^"]*)"', attrs)
        options.append(
            (
                value.group(1) if value else "",
                label.strip(),
                bool(re.search(r"\bselected\b", attrs)),
            )
        )
    return options
