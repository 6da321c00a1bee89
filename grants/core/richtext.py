"""Rich text typed by staff (Markdown) → sanitised HTML, for the ``richtext`` Jinja filter.

Markdown lets staff paste raw HTML; whatever comes out of it goes through nh3 (ammonia)
with a short allow-list: no script, no style, no event handler, no image (the CSP would
block remote ones anyway), links only to http(s) and mailto, with
``rel="noopener noreferrer"``. Headings are moved one level down so that a ``# Titre``
in the text never competes with the page's own ``<h1>``.
"""

from __future__ import annotations

import re

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "del",
    "ins",
    "sub",
    "sup",
    "small",
    "mark",
    "abbr",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "caption",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_HEADING = re.compile(r"<(/?)h([1-5])>")


def sanitise_html(html: str) -> str:
    """Keep only the allow-listed tags and attributes; drop scripts and styles with their text."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(text: str | None) -> Markup:
    """Markdown source → safe HTML (a ``Markup``, so Jinja doesn't escape it again)."""
    if not text:
        return Markup("")
    html = markdown.markdown(text, extensions=["tables", "sane_lists", "fenced_code"])
    clean = sanitise_html(html)
    clean = _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}>", clean)
    return Markup(clean)  # noqa: S704 (sanitised by nh3 just above)


def register(app) -> None:
    app.jinja_env.filters["richtext"] = render_markdown
