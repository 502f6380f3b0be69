"""rules.markers: every hidden-marker format, recognised only at its fixed place."""

from __future__ import annotations

import pytest

from rules import markers
from rules.model import ItemMarker


def test_comment_markers_count_only_on_the_first_line() -> None:
    mark = markers.reply(42)
    assert mark == "<!-- hardening-bot:reply comment=42 -->"
    assert markers.carries(f"{mark}\nbody", mark)
    assert markers.carries(f"\r\n{mark}\r\nbody", mark)
    # A title or finding the App quoted further down cannot make another comment this one.
    assert not markers.carries(f"{markers.tracking(1)}\n- [ ] #3 {mark}", mark)
    assert not markers.carries(f"x {mark}", mark)


def test_every_comment_format_is_distinct() -> None:
    formats = {
        markers.RETIREMENT,
        markers.CONFIG_ERRORS,
        markers.CLOSURE_GATE,
        markers.INCIDENT_CLOSE_GATE,
        markers.ITEM_BUNDLE,
        markers.INCIDENT_BUNDLE,
        markers.HAND_EDIT,
        markers.ADOPTION,
        markers.tracking(1),
        markers.reply(1),
        markers.weekly_review("2026-W10"),
        markers.monthly_audit("2026-03"),
    }
    assert len(formats) == 12
    assert all(f.startswith("<!-- hardening-bot:") and f.endswith(" -->") for f in formats)


@pytest.mark.parametrize("bad", ["", "a-->b", "x>y", "a--b", "new\nline"])
def test_marker_names_cannot_close_the_comment(bad: str) -> None:
    with pytest.raises(ValueError):
        markers.comment_marker(bad)


def test_item_markers_are_lines_of_their_own() -> None:
    mark = ItemMarker(12, "abc")
    assert markers.item_in(f"intro\n{markers.item(mark)}\n### Hardening Item") == mark
    assert markers.item_in(f"title says {markers.item(mark)}") is None
    assert markers.without_item_markers(f"a\n{markers.item(mark)}\nb") == "a\nb"


def test_check_markers_are_the_last_line_of_the_summary() -> None:
    mark = markers.check({"name": "hardening/controls", "pull": "7", "digest": "d"})
    assert markers.check_fields(f"summary\n\n{mark}\n") == {
        "name": "hardening/controls",
        "pull": "7",
        "digest": "d",
    }
    # A PR title in the summary cannot stand in for the App's marker.
    assert markers.check_fields(f"{mark}\nPR title") is None


def test_override_markers_count_only_as_the_first_line_of_the_summary() -> None:
    line = markers.override("eyJhIjoxfQ==")
    assert markers.override_in(f"{line}\n**Break-glass override** by @lead") == "eyJhIjoxfQ=="
    assert markers.override_in(f"{line}\r\nrest") == "eyJhIjoxfQ=="
    # Copied text further down (a test name, a file path) cannot stand in for the App's line.
    assert markers.override_in(f"**Judged as** x\n| Proof | `{line}` |") is None
    assert markers.override_in(f"intro\n{line}") is None
    assert markers.override_in(f"x {line}\nrest") is None
