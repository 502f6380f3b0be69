"""Recurrence: the same failure class striking again after its control was verified.

From docs/hardening-loop.md: "Recovery declared 'done' with no hardening backlog — this guarantees recurring
incidents", and the monthly audit's "retire controls that no longer reduce observed risk". When
an incident's new item has the failure class of an item verified earlier in the same repository
(for another incident), the control did not hold: the new item links the earlier one, the
earlier item gets one comment and the ``recurrence`` label, and the ledger and the monthly audit
count the recurrences of each control, as the evidence a lead weighs when retiring or replacing
it.

Pure: items in, recurrences out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from rules.model import HardeningItem
from rules.text import inert_line

RECURRENCE_LABEL = "recurrence"


@dataclass(frozen=True)
class Recurrence:
    """Item ``later`` (of incident ``incident``) repeats the failure class of verified item
    ``earlier``, whose control is ``control``; ``others`` are further items of the same incident
    that repeat it (one incident is one recurrence, however many of its findings repeat it)."""

    earlier: int
    later: int
    incident: int
    failure_class: str
    control: str = ""
    others: tuple[int, ...] = ()

    @property
    def laters(self) -> tuple[int, ...]:
        """Every item of the incident that repeats the earlier one, by number."""
        return tuple(sorted({self.later, *self.others}))


def by_incident(recurrences: Iterable[Recurrence]) -> list[Recurrence]:
    """One recurrence per earlier item and incident, listing every later item of that incident
    (in the order each pair first appears)."""
    groups: dict[tuple[int, int], Recurrence] = {}
    for one in recurrences:
        key = (one.earlier, one.incident)
        held = groups.get(key)
        laters = set(one.laters) | set(held.laters if held else ())
        first = min(laters)
        groups[key] = replace(held or one, later=first, others=tuple(sorted(laters - {first})))
    return list(groups.values())


COMPONENT_PREFIX = "component:"


def components_of(labels: Iterable[str], named: Iterable[str]) -> frozenset[str]:
    """The configured components an incident's ``component:<name>`` labels name."""
    known = {name.lower() for name in named}
    found = (
        label[len(COMPONENT_PREFIX) :].strip().lower()
        for label in labels
        if label.lower().startswith(COMPONENT_PREFIX)
    )
    return frozenset(name for name in found if name in known)


def find_recurrences(
    new: Sequence[tuple[int, HardeningItem]],
    known: Iterable[tuple[int, HardeningItem]],
    components: Mapping[int, frozenset[str]] | None = None,
) -> list[Recurrence]:
    """For each new item, the most recently verified earlier item of its failure class from
    another incident, if any. An item never recurs against itself or its own incident.

    ``components`` (incident number -> its components): when both incidents name components,
    the earlier item counts only if they share one; an incident naming none matches any.
    """
    components = components or {}

    def same_component(a: int | None, b: int | None) -> bool:
        mine = components.get(a or 0, frozenset())
        theirs = components.get(b or 0, frozenset())
        return not mine or not theirs or bool(mine & theirs)

    verified = [
        (number, item) for number, item in known if item.status == "verified" and item.failure_class
    ]
    found: list[Recurrence] = []
    for number, item in new:
        if not item.failure_class or item.incident is None:
            continue
        earlier = [
            (other.verified_at.isoformat() if other.verified_at else "", n, other)
            for n, other in verified
            if n != number
            and n < number
            and other.failure_class == item.failure_class
            and other.incident != item.incident
            and same_component(item.incident, other.incident)
        ]
        if not earlier:
            continue
        _, earlier_number, earlier_item = max(earlier, key=lambda e: (e[0], e[1]))
        found.append(
            Recurrence(
                earlier=earlier_number,
                later=number,
                incident=item.incident,
                failure_class=item.failure_class,
                control=" ".join(earlier_item.proposed_control.split()),
            )
        )
    return found


def recurrence_counts(recurrences: Iterable[Recurrence]) -> dict[int, int]:
    """How many times each earlier item's control did not hold: the incidents that repeated
    its failure class (several findings of one incident count once)."""
    return dict(Counter(r.earlier for r in by_incident(recurrences)))


def earlier_item_comment(recurrence: Recurrence, times: int) -> str:
    """The one comment on the earlier, verified item."""
    control = f" (“{_quiet(recurrence.control)}”)" if recurrence.control else ""
    again = f" This is recurrence number {times} of this control." if times > 1 else ""
    return (
        f"**The control did not hold.** Incident #{recurrence.incident} has "
        f"{_findings(len(recurrence.laters))} `{recurrence.failure_class}` again, now "
        f"{_items(recurrence.laters)}, after this item's control{control} was verified.{again}\n\n"
        "Re-verify the control against the new incident, or, if it no longer reduces observed "
        "risk, a lead retires it with `/harden retire RATIONALE` naming what replaces it. "
        "Recurrences per control are counted in the Hardening ledger and the monthly control "
        "audit."
    )


def later_item_comment(recurrence: Recurrence) -> str:
    """The one comment on the new item, linking the earlier one."""
    return (
        f"**Recurrence of #{recurrence.earlier}**: that item hardened the same failure class "
        f"(`{recurrence.failure_class}`) and was verified, yet incident #{recurrence.incident} "
        f"happened. Start from what #{recurrence.earlier} shipped and why it did not hold."
    )


def _findings(count: int) -> str:
    return "a finding of" if count == 1 else f"{count} findings of"


def _items(numbers: Sequence[int]) -> str:
    listed = ", ".join(f"#{n}" for n in numbers)
    return f"item {listed}" if len(numbers) == 1 else f"items {listed}"


def _quiet(text: str) -> str:
    """Text a person wrote, copied: one line, no hidden markers, no mentions."""
    return inert_line(text)
