"""The repository-level facts the Hardening ledger keeps, and how each change applies to them.

Deferrals and the other facts of one item live on that item. What belongs to the repository as
a whole is kept with the ledger issue, as the App's signed record (a person can edit the issue,
never forge the record):

- the residual risk register (entries ``R1``, ``R2``, … numbered in order of registration);
- break-glass overrides of ``hardening/controls``;
- recurrences (an item verified earlier whose failure class struck again);
- the latest ``hardening/controls`` verdict of each control on each judged pull request, from
  which the would-have-blocked counts come.

Changes arrive as *facts* (plain JSON, built by :func:`risk_fact` and friends) and are applied
in order by :func:`apply`, which is idempotent: a fact applied twice changes nothing the second
time (a registration is keyed by the comment that made it, an override by pull request and
commit, a recurrence by its two items). Pure: JSON in, JSON out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from rules.override import Override
from rules.recurrence import Recurrence, by_incident
from rules.risk import ResidualRisk, RiskEntry

MAX_PULLS = 500  # judged pull requests remembered (the newest), to bound the record's size
MAX_OVERRIDES = 200


@dataclass(frozen=True)
class LedgerFacts:
    risks: tuple[RiskEntry, ...] = ()
    risk_comments: Mapping[int, int] = field(default_factory=dict)  # comment id -> entry
    overrides: tuple[Override, ...] = ()
    recurrences: tuple[Recurrence, ...] = ()
    verdicts: Mapping[int, Mapping[str, bool]] = field(default_factory=dict)

    def risks_of(self, incident: int) -> tuple[RiskEntry, ...]:
        return tuple(r for r in self.risks if r.incident == incident or r.source == incident)


@dataclass(frozen=True)
class Applied:
    """The facts after one change, and the reply owed to the comment that asked, if any:
    ``(issue number, comment id, text, ok)``."""

    facts: LedgerFacts
    reply: tuple[int, int, str, bool] | None = None


# --- facts, as handlers build them -----------------------------------------------------------


def risk_fact(
    risk: ResidualRisk, *, source: int, incident: int | None, by: str, on: date, comment: int
) -> dict[str, Any]:
    return {
        "kind": "risk",
        "source": source,
        "incident": incident,
        "by": by,
        "on": on.isoformat(),
        "comment": comment,
        "risk": _risk_json(risk),
    }


def resolve_fact(number: int, *, source: int, by: str, on: date, comment: int) -> dict[str, Any]:
    return {
        "kind": "resolve",
        "number": number,
        "source": source,
        "by": by,
        "on": on.isoformat(),
        "comment": comment,
    }


def override_fact(override: Override) -> dict[str, Any]:
    return {"kind": "override", "override": _override_json(override)}


def recurrence_fact(recurrence: Recurrence) -> dict[str, Any]:
    return {"kind": "recurrence", "recurrence": _recurrence_json(recurrence)}


def verdict_fact(pull: int, verdicts: Mapping[str, bool]) -> dict[str, Any]:
    return {"kind": "verdict", "pull": pull, "verdicts": dict(verdicts)}


# --- applying a fact ----------------------------------------------------------------------------


def apply(facts: LedgerFacts, fact: Mapping[str, Any]) -> Applied:
    """``facts`` with ``fact`` applied. A malformed fact changes nothing."""
    try:
        kind = fact.get("kind")
        if kind == "risk":
            return _register(facts, fact)
        if kind == "resolve":
            return _resolve(facts, fact)
        if kind == "override":
            override = _override_from(fact["override"])
            kept = [
                o
                for o in facts.overrides
                if (o.pull, o.head_sha) != (override.pull, override.head_sha)
            ]
            return Applied(replace(facts, overrides=(*kept, override)[-MAX_OVERRIDES:]))
        if kind == "recurrence":
            recurrence = _recurrence_from(fact["recurrence"])
            recurrences = tuple(by_incident([*facts.recurrences, recurrence]))
            if recurrences == facts.recurrences:
                return Applied(facts)
            return Applied(replace(facts, recurrences=recurrences))
        if kind == "verdict":
            pull = int(fact["pull"])
            verdicts = {str(k): bool(v) for k, v in dict(fact["verdicts"]).items()}
            merged = {k: v for k, v in facts.verdicts.items() if k != pull}
            merged[pull] = verdicts
            newest = dict(sorted(merged.items())[-MAX_PULLS:])
            return Applied(replace(facts, verdicts=newest))
    except (KeyError, TypeError, ValueError):
        pass
    return Applied(facts)


def _register(facts: LedgerFacts, fact: Mapping[str, Any]) -> Applied:
    comment, source = int(fact["comment"]), int(fact["source"])
    known = facts.risk_comments.get(comment)
    if known is not None:
        entry = next(r for r in facts.risks if r.number == known)
        return Applied(facts, (source, comment, _registered(entry), True))
    number = max((r.number for r in facts.risks), default=0) + 1
    incident = fact.get("incident")
    entry = RiskEntry(
        number=number,
        risk=_risk_from(fact["risk"]),
        source=source,
        incident=int(incident) if incident is not None else None,
        registered_by=str(fact["by"]),
        registered_on=date.fromisoformat(str(fact["on"])),
    )
    facts = replace(
        facts,
        risks=(*facts.risks, entry),
        risk_comments={**facts.risk_comments, comment: number},
    )
    return Applied(facts, (source, comment, _registered(entry), True))


def _resolve(facts: LedgerFacts, fact: Mapping[str, Any]) -> Applied:
    number, source, comment = int(fact["number"]), int(fact["source"]), int(fact["comment"])
    entry = next((r for r in facts.risks if r.number == number), None)
    if entry is None:
        known = ", ".join(f"R{r.number}" for r in facts.risks if r.open) or "none"
        return Applied(
            facts,
            (
                source,
                comment,
                f"There is no residual risk R{number} (open entries: {known}).",
                False,
            ),
        )
    if not entry.open:
        return Applied(facts, (source, comment, _resolved(entry), True))
    done = replace(
        entry, resolved_by=str(fact["by"]), resolved_on=date.fromisoformat(str(fact["on"]))
    )
    risks = tuple(done if r.number == number else r for r in facts.risks)
    return Applied(replace(facts, risks=risks), (source, comment, _resolved(done), True))


def _registered(entry: RiskEntry) -> str:
    return (
        f"Registered as residual risk **R{entry.number}**, owner @{entry.risk.owner}, target "
        f"{entry.risk.target.isoformat()}. It is listed in the Hardening ledger; the weekly "
        f"review flags it after its target date. Close it with `/harden risk resolve "
        f"{entry.number}`."
    )


def _resolved(entry: RiskEntry) -> str:
    when = entry.resolved_on.isoformat() if entry.resolved_on else "?"
    return f"Residual risk **R{entry.number}** is resolved (by @{entry.resolved_by} on {when})."


# --- JSON ------------------------------------------------------------------------------------------


def to_json(facts: LedgerFacts) -> dict[str, Any]:
    return {
        "risks": [
            {
                "n": r.number,
                "risk": _risk_json(r.risk),
                "source": r.source,
                "incident": r.incident,
                "by": r.registered_by,
                "on": r.registered_on.isoformat(),
                "resolved_by": r.resolved_by,
                "resolved_on": r.resolved_on.isoformat() if r.resolved_on else None,
            }
            for r in facts.risks
        ],
        "risk_comments": {str(k): v for k, v in facts.risk_comments.items()},
        "overrides": [_override_json(o) for o in facts.overrides],
        "recurrences": [_recurrence_json(r) for r in facts.recurrences],
        "verdicts": {str(k): dict(v) for k, v in facts.verdicts.items()},
    }


def from_json(data: Any) -> LedgerFacts:
    """The facts of a record's JSON; what cannot be read is left out, never raised."""
    if not isinstance(data, Mapping):
        return LedgerFacts()
    risks = []
    for raw in _list(data.get("risks")):
        try:
            risks.append(
                RiskEntry(
                    number=int(raw["n"]),
                    risk=_risk_from(raw["risk"]),
                    source=int(raw["source"]),
                    incident=int(raw["incident"]) if raw.get("incident") is not None else None,
                    registered_by=str(raw["by"]),
                    registered_on=date.fromisoformat(str(raw["on"])),
                    resolved_by=raw.get("resolved_by"),
                    resolved_on=date.fromisoformat(raw["resolved_on"])
                    if raw.get("resolved_on")
                    else None,
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    overrides = [
        o for o in (_maybe(_override_from, raw) for raw in _list(data.get("overrides"))) if o
    ]
    recurrences = [
        r for r in (_maybe(_recurrence_from, raw) for raw in _list(data.get("recurrences"))) if r
    ]
    verdicts: dict[int, dict[str, bool]] = {}
    raw_verdicts = data.get("verdicts")
    if isinstance(raw_verdicts, Mapping):
        for key, value in raw_verdicts.items():
            if str(key).isdigit() and isinstance(value, Mapping):
                verdicts[int(key)] = {str(k): bool(v) for k, v in value.items()}
    comments: dict[int, int] = {}
    raw_comments = data.get("risk_comments")
    if isinstance(raw_comments, Mapping):
        for key, value in raw_comments.items():
            if str(key).isdigit() and isinstance(value, int):
                comments[int(key)] = value
    # Recorded before one incident counted once: one entry per later item, merged here.
    merged = tuple(by_incident(recurrences))
    return LedgerFacts(tuple(risks), comments, tuple(overrides), merged, verdicts)


def _risk_json(risk: ResidualRisk) -> dict[str, Any]:
    return {
        "statement": risk.statement,
        "why": risk.why,
        "temporary": risk.temporary,
        "trigger": risk.trigger,
        "owner": risk.owner,
        "target": risk.target.isoformat(),
    }


def _risk_from(raw: Mapping[str, Any]) -> ResidualRisk:
    return ResidualRisk(
        statement=str(raw["statement"]),
        why=str(raw.get("why") or ""),
        temporary=str(raw.get("temporary") or ""),
        trigger=str(raw["trigger"]),
        owner=str(raw["owner"]),
        target=date.fromisoformat(str(raw["target"])),
    )


def _override_json(o: Override) -> dict[str, Any]:
    return {
        "pull": o.pull,
        "sha": o.head_sha,
        "by": o.by,
        "reason": o.reason,
        "at": o.at.isoformat(),
        "until": o.until.isoformat(),
    }


def _override_from(raw: Mapping[str, Any]) -> Override:
    return Override(
        pull=int(raw["pull"]),
        head_sha=str(raw["sha"]),
        by=str(raw["by"]),
        reason=str(raw["reason"]),
        at=datetime.fromisoformat(str(raw["at"])),
        until=datetime.fromisoformat(str(raw["until"])),
    )


def _recurrence_json(r: Recurrence) -> dict[str, Any]:
    return {
        "earlier": r.earlier,
        "later": r.later,
        "incident": r.incident,
        "class": r.failure_class,
        "control": r.control,
        "others": list(r.others),
    }


def _recurrence_from(raw: Mapping[str, Any]) -> Recurrence:
    return Recurrence(
        earlier=int(raw["earlier"]),
        later=int(raw["later"]),
        incident=int(raw["incident"]),
        failure_class=str(raw["class"]),
        control=str(raw.get("control") or ""),
        others=tuple(int(n) for n in _list(raw.get("others"))),
    )


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _maybe(read: Any, raw: Any) -> Any:
    try:
        return read(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
