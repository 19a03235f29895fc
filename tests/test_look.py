"""Small things a user notices (issue 20): the desk's icon in the browser's tab on the desk's and the
customers' portal's pages, and moments written the British way, in London time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.web.formatting import local_time

from web_client import text

ICONS = (
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">',
    '<link rel="icon" href="/static/favicon.ico"',
)


@pytest.mark.parametrize("path", ["/login", "/portal/new-link"])
def test_the_desk_and_the_portal_pages_link_the_favicon(client, path):
    page = text(client.get(path))
    assert all(icon in page for icon in ICONS), path


def test_the_favicon_is_served_as_svg_and_as_ico(client):
    svg = client.get("/static/favicon.svg")
    assert (svg.status_code, svg.mimetype) == (200, "image/svg+xml")
    assert b"<title>Support desk</title>" in svg.data
    ico = client.get("/static/favicon.ico")
    assert ico.status_code == 200
    assert ico.data[:4] == b"\x00\x00\x01\x00"  # an icon resource, one image: 32x32, a PNG inside
    assert ico.data[6:8] == b"\x20\x20"
    assert ico.data[22:26] == b"\x89PNG"


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 11, 29, 14, 5, tzinfo=UTC), "29 Nov 2026, 14:05"),  # GMT: London reads UTC
        (datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "01 Jul 2026, 10:00"),  # BST: an hour on
        (datetime(2026, 10, 23, 16, 0, tzinfo=UTC), "23 Oct 2026, 17:00"),  # the Friday before the clocks go back
        (datetime(2026, 10, 26, 8, 30, tzinfo=UTC), "26 Oct 2026, 08:30"),  # and the Monday after
    ],
)
def test_moments_read_the_en_gb_way_in_london_time(moment, shown):
    assert local_time(moment) == shown
