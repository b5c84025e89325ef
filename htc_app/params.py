"""Reading numbers from query strings and form fields without letting hostile values reach the database.

`str.isdigit()` is true for '²' and for digits of other scripts ('١٢'), which `int()` then rejects or reads
as another number, and a database integer column overflows on a 30-digit id. These helpers accept plain
ASCII digits within the range of a 64-bit primary key and give `default` otherwise.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
MAX_PAGE = 1_000_000
_DIGITS = re.compile(r"[0-9]{1,19}")


def id_param(value: object, default: int | None = None) -> int | None:
    """A positive database id from a request value ('12', or an int from JSON), else `default`."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else default
    if not isinstance(value, str) or not _DIGITS.fullmatch(value.strip()):
        return default
    number = int(value.strip())
    return number if 0 < number <= MAX_ID else default


def page_param(value: object) -> int:
    """A page number: 1 for anything unreadable, at most MAX_PAGE."""
    number = id_param(value, 1)
    return min(number, MAX_PAGE)


def local_next(request, value: object) -> str | None:
    """`value` when it is a path on this site ('/projects/1/'), else None: other hosts in any spelling
    ('//evil', '/\\evil', 'https://evil') and bare words (which `redirect()` would try as a view name) are refused."""
    from django.utils.http import url_has_allowed_host_and_scheme

    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if not url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return value


def text_param(value: object, max_length: int) -> str:
    """A search string: stripped, cut to `max_length`, without NUL characters (PostgreSQL refuses them in a
    query parameter: '?q=%00' was a 500 there)."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:max_length]
