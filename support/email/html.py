"""An e-mail's HTML: sanitised for the console (nh3: no script, no event handlers, no remote
styles; the layout kept: tables, alignment, colours, widths), inline images (`cid:`) pointed at
their stored attachments, and turned into plain text (html2text) when an e-mail has no text part."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import html2text
import nh3

# Layout e-mail HTML relies on, beyond nh3's defaults (which already keep tables and lists).
EXTRA_TAGS = {"font", "center"}
LAYOUT_ATTRIBUTES = {
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "color",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "dir",
    "style",
    "face",
    "size",
}
# Inline CSS properties that shape a message; positioning and anything that loads a URL are out.
STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "vertical-align",
    "line-height",
    "white-space",
    "width",
    "max-width",
    "min-width",
    "height",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-collapse",
    "border-color",
    "border-style",
    "border-width",
    "direction",
}
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def _attribute_filter(cid_urls: Mapping[str, str]) -> Callable[[str, str, str], str | None]:
    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute == "src" and value[:4].lower() == "cid:":
            # Inline image: its stored attachment, or nothing (no broken reference to a part
            # we did not keep).
            return cid_urls.get(value[4:].strip().strip("<>"))
        return value

    return keep


def sanitise(html: str, cid_urls: Mapping[str, str] | None = None) -> str:
    """HTML safe to show in the console; `cid_urls` maps an inline part's Content-ID (without
    brackets) to the URL it is served from."""
    if not html.strip():
        return ""
    tags = set(nh3.ALLOWED_TAGS) | EXTRA_TAGS
    attributes = {tag: set(nh3.ALLOWED_ATTRIBUTES.get(tag, set())) for tag in tags}
    attributes["*"] = LAYOUT_ATTRIBUTES
    return nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=attributes,
        attribute_filter=_attribute_filter(cid_urls or {}),
        url_schemes=URL_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
    )


# html2text writes Markdown; an e-mail's text is not Markdown, so its escapes and rules go.
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")
# One line's spaces: `^\s*` read a run of blank lines again from each of its line starts.
_RULE = re.compile(r"^[^\S\n]*(\* \* \*|- - -)[^\S\n]*$", re.MULTILINE)


def to_text(html: str) -> str:
    """The text a reader sees in the HTML: paragraphs and line breaks kept, links as their
    text, images dropped, no Markdown."""
    converter = html2text.HTML2Text()
    converter.body_width = 0  # the writer's lines, not re-wrapped
    converter.ignore_images = True
    converter.ignore_links = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True  # “quotes” and non-breaking spaces as written
    converter.ul_item_mark = "-"
    text = converter.handle(html)
    text = _RULE.sub("", text)
    text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    return text.replace("\xa0", " ")
