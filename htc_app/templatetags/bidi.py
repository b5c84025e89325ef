"""Template filters for bidi isolation (htc_app.bidi), built into every template (settings.TEMPLATES):

- `{{ node.name|bdi }}`: <bdi>escaped name</bdi>, in HTML content;
- `{{ names|bdi_path }}`: each name in its own <bdi>, the separators (" › " by default) in <span class="sep">;
- `{{ node.name|isolate }}`: FSI name PDI (escaped), in a <title>, an <option>, an attribute, SVG <text>;
- `{{ names|isolate_path:" > " }}`: each name isolated with FSI ... PDI, joined by the separator.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from htc_app import bidi as bidi_text

register = template.Library()


@register.filter
def bdi(value: object) -> str:
    """The value escaped inside <bdi> (an empty value gives an empty string)."""
    if value is None or value == "":
        return ""
    return format_html("<bdi>{}</bdi>", value)


@register.filter
def bdi_path(value, separator: str = bidi_text.PATH_SEPARATOR) -> str:
    """A sequence of names as HTML: each name in its own <bdi>, the separators between them in a span."""
    sep = format_html('<span class="sep">{}</span>', separator)
    parts = [format_html("<bdi>{}</bdi>", name) for name in value or []]
    return mark_safe(sep.join(parts))  # every part is escaped by format_html


@register.filter
def isolate(value: object) -> str:
    """The value between the Unicode isolates FSI and PDI, for places where no element is allowed."""
    return bidi_text.isolate(value)


@register.filter
def isolate_path(value, separator: str = bidi_text.PATH_SEPARATOR) -> str:
    """A sequence of names, each isolated, joined by the separator."""
    return bidi_text.isolate_path(value or [], separator)
