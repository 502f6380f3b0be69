"""rules.logins: logins compared, mentioned and read as GitHub does."""

from __future__ import annotations

from rules.logins import login_key, mention, parse_team, parse_user, same_login


def test_logins_compare_like_github() -> None:
    assert same_login("@Alice", "alice")
    assert not same_login(None, None)
    assert not same_login("", "")
    assert mention("@bob") == "@bob"
    assert login_key(" @Bob ") == "bob"


def test_users_and_teams_are_read_with_or_without_the_at() -> None:
    assert parse_user("@alice") == parse_user("alice") == "alice"
    assert parse_user("not a login") is None
    assert parse_team("@acme/reliability-leads") == parse_team("acme/reliability-leads")
    assert parse_team("alice") is None
