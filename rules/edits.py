"""Changes the bot makes to a hardening item: pure functions from an item to the next item.

From docs/hardening-loop.md: "ownership confirmations recorded" (``/harden ack``), one execution owner and one
different verifier owner, "close items only with proof artifact links" (evidence, recorded by
hand or by a merged linked pull request), the Hardening QA gate's ``verified`` and the control
sunset protocol's ``retired``. Each edit *sets* state, so applying it twice changes nothing the
second time; the handlers save what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rules.item_template import parse_item, render_item
from rules.logins import mention, same_login
from rules.model import Evidence, HardeningItem
from rules.record import gate_edits, plain_edits, with_plain


def in_progress(item: HardeningItem) -> HardeningItem:
    """Work has started on an open item (docs/hardening-loop.md: "missing any one keeps status at in_progress")."""
    return replace(item, status="in_progress") if item.status == "open" else item


def same_url(a: str, b: str) -> bool:
    """Two evidence links are one when they differ only by a trailing slash."""
    return a.rstrip("/") == b.rstrip("/")


def with_evidence(item: HardeningItem, new: Evidence) -> HardeningItem:
    """``item`` with ``new`` added; an URL already there is updated in place, never repeated.

    Re-filing a link under another kind replaces its note and timing: a ``behavioral`` "paged in
    1m" must not become the time of a rollback.
    """
    evidence = list(item.evidence)
    for index, old in enumerate(evidence):
        if same_url(old.url, new.url):
            refiled = bool(new.kind and old.kind and new.kind != old.kind)
            evidence[index] = Evidence(
                url=old.url,
                kind=new.kind or old.kind,
                note=new.note or ("" if refiled else old.note),
                duration_seconds=new.duration_seconds
                or (None if refiled else old.duration_seconds),
            )
            break
    else:
        evidence.append(new)
    return in_progress(replace(item, evidence=tuple(evidence)))


def with_merge_evidence(
    item: HardeningItem, evidence: Sequence[Evidence]
) -> tuple[HardeningItem, tuple[Evidence, ...]]:
    """``item`` with the links of a merged pull request that it does not list yet, and those
    links. Work has started once a linked pull request merged."""
    listed = {e.url for e in item.evidence}
    added = tuple(e for e in evidence if e.url not in listed)
    return in_progress(replace(item, evidence=item.evidence + added)), added


def acknowledged(item: HardeningItem, login: str) -> HardeningItem:
    """``login`` recorded among the owners who acknowledged the runbook (once)."""
    if not any(same_login(who, login) for who in item.acknowledged_by):
        item = replace(item, acknowledged_by=(*item.acknowledged_by, login))
    return in_progress(item)


def owner_conflict(item: HardeningItem, login: str) -> str | None:
    """Why ``login`` cannot become the execution owner, or None when it can."""
    if same_login(login, item.verifier) and not same_login(login, item.owner):
        return (
            f"{mention(login)} is the verifier owner; the execution owner must be "
            "someone else (an item has one execution owner and a different verifier owner, so no "
            "one verifies their own work). Set another "
            "verifier first with `/harden verifier @user`"
        )
    return None


def verifier_conflict(item: HardeningItem, login: str) -> str | None:
    """Why ``login`` cannot become the verifier owner, or None when it can."""
    if same_login(login, item.owner):
        return (
            f"{mention(login)} is the execution owner, and nobody verifies their own "
            "work: name a different verifier owner"
        )
    return None


def verified(item: HardeningItem, *, by: str, at: datetime, link: str) -> HardeningItem:
    """The QA gate passed: ``item`` verified by ``by`` at ``at`` (seconds), in comment ``link``."""
    return replace(
        item,
        status="verified",
        verified_by=by,
        verified_at=at.replace(microsecond=0),
        verified_link=link,
    )


def retired(item: HardeningItem, rationale: str) -> HardeningItem:
    """The sunset protocol: ``item`` retired for ``rationale``."""
    return replace(item, status="retired", retired_rationale=rationale)


def adopted(typed: HardeningItem, *, keep_evidence: bool) -> HardeningItem:
    """The item the App adopts from a template a person typed (docs/commands.md, "Who may change
    what"): its plain fields as typed, and none of its gate facts, which only commands record.

    Evidence links the author typed are kept when the author could have recorded them by command
    (write access or a lead, the case of an issue form a maintainer filled in); a status,
    verification, acknowledgement or retirement typed into the template never is.
    """
    item = replace(
        typed,
        status="open",
        evidence=typed.evidence if keep_evidence else (),
        acknowledged_by=(),
        verified_by=None,
        verified_at=None,
        verified_link=None,
        retired_rationale=None,
    )
    return in_progress(item) if item.evidence else item


@dataclass(frozen=True)
class HandEdit:
    """What a person's edit of an item's body comes to (docs/commands.md, "Who may change
    what"): the item the body must show, and which typed changes are undone or taken."""

    item: HardeningItem
    undone_gate: tuple[str, ...] = ()
    undone_plain: tuple[str, ...] = ()
    taken_plain: tuple[str, ...] = ()

    @property
    def undone(self) -> bool:
        return bool(self.undone_gate or self.undone_plain)


def judge_hand_edit(
    recorded_item: HardeningItem,
    before: HardeningItem | None,
    after: HardeningItem,
    *,
    may_edit_plain: bool,
) -> HandEdit:
    """Judge the template ``after`` a person's edit, against the App's record.

    ``recorded_item`` carries the recorded gate facts; ``before`` is the template as it read
    before the edit (None when unknown: nothing to put back). A gate field typed differently
    from the record is always undone: only commands change it. A plain field is taken from
    ``after`` when the editor may (write access or a lead), else put back as it was.
    """
    shown = parse_item(render_item(recorded_item)).item or recorded_item
    undone_gate = gate_edits(shown, after)
    changed = plain_edits(before, after) if before is not None else ()
    if may_edit_plain or before is None:
        item = with_plain(recorded_item, after)
        return HandEdit(item, undone_gate, (), changed)
    return HandEdit(with_plain(recorded_item, before), undone_gate, changed, ())
