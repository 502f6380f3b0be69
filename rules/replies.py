"""What the bot says in issue comments: command replies, ``/harden status``, the retirement note,
the configuration-error notice and the closing gates' comments.

From docs/hardening-loop.md: the "Hardening QA gate" (a failing ``/harden verify`` lists each missing thing with its
next step), the "Control sunset protocol" ("retirement requires a short note with replacement or
rationale"), the "Hardening closure gate" and the anti-pattern "Recovery declared 'done' with no
hardening backlog" (a close that is not ready is reopened with what is missing). Every refusal
names the missing thing and the command that supplies it. Each text carries a hidden marker so
the bot finds its earlier comment and edits it instead of posting again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rules import markers
from rules.commands import Command, CommandError
from rules.gates import GateResult
from rules.logins import mention
from rules.model import ItemFacts
from rules.record import GATE_FIELDS, PLAIN_FIELDS
from rules.scores import Score, Scores
from rules.text import inert, inert_line, inert_url

RETIREMENT_MARKER = markers.RETIREMENT
CONFIG_ERROR_MARKER = markers.CONFIG_ERRORS

COULD_NOT_CHECK = (
    "Could not check your permission ({why}); nothing was changed. Try again in a minute."
)


def reply_marker(comment_id: int) -> str:
    """The marker of the bot's one reply to the command comment ``comment_id``."""
    return markers.reply(comment_id)


# --- command replies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one command did: ``ok`` decides the reaction; ``reply`` (markdown) goes in the reply."""

    ok: bool
    reply: str | None = None


def refused(reason: str, usage: str) -> Outcome:
    return Outcome(False, f"Refused: {reason}.\n\nUsage: `{usage}`")


def could_not_check(why: str) -> Outcome:
    """A permission lookup failed: an error to retry, never a refusal."""
    return Outcome(False, COULD_NOT_CHECK.format(why=why))


def not_adopted(number: int) -> str:
    """The refusal reason on a person's issue with the template that the App has not adopted."""
    return (
        f"#{number} is not a hardening item yet: a person without write access opened it, and "
        "only the App, people with write access and leads make items. A maintainer can comment "
        "`/harden adopt` to make it one"
    )


def no_template(number: int) -> str:
    """The refusal reason on a hardening issue whose template is missing."""
    return (
        f"#{number} has the hardening label but no `### Hardening Item` block to read; "
        "add the template (see the issue forms in `.github/ISSUE_TEMPLATE`)"
    )


def retired_not_verified(number: int, rationale: str | None) -> str:
    """The refusal reason of ``/harden verify`` on a retired item."""
    return (
        f"#{number} is retired ({rationale or 'no rationale'}); a retired control is not verified"
    )


def adoption_moved(before: date, after: date, gap: int) -> str:
    """``/harden due`` moved the adoption check date to ``gap`` days after the new due date."""
    return (
        f"The adoption check date moved from {before.isoformat()} to {after.isoformat()}, "
        f"{gap} day{'' if gap == 1 else 's'} after the new due date "
        "(`deadlines.adoption_after_due_days`), so adoption is checked after the work is due."
    )


def qa_gate_failed(number: int, scores: Scores, gate: GateResult) -> str:
    """``/harden verify`` before the QA gate passes: each failing item and its next step."""
    return "\n".join(
        [
            f"The QA gate does not pass yet, so #{number} stays `in_progress` "
            f"({scores.label}). Each failing item and its next step:",
            "",
            gate.markdown(),
        ]
    )


def render_reply(
    actor: str, answered: Sequence[tuple[Command | CommandError, Outcome]]
) -> str | None:
    """The reply to one command comment, or None when every command succeeded silently."""
    sections = [
        f"**`{_code(command.text)}`**\n\n{outcome.reply}"
        for command, outcome in answered
        if outcome.reply
    ]
    if not sections:
        return None
    return f"{mention(actor)}\n\n" + "\n\n".join(sections)


def config_errors_comment(error_report: str) -> str:
    """Said once on an issue: the configuration is broken and the defaults apply meanwhile."""
    return "\n".join(
        [
            CONFIG_ERROR_MARKER,
            "### `.github/hardening.yml` has errors",
            "",
            "Commands on this issue use the configuration without the broken file until it is "
            "fixed:",
            "",
            "```",
            error_report,
            "```",
        ]
    )


def _code(text: str) -> str:
    return inert(text.replace("`", "'"))


# --- /harden status ---------------------------------------------------------------------------


def _score_line(score: Score, *, advisory: bool = False) -> str:
    verdict = "passes" if score.passed else f"needs {score.threshold}"
    note = ", advisory" if advisory else ""
    return f"**{score.label}** ({verdict}{note})"


def _rows(score: Score) -> list[str]:
    lines = []
    for row in score.rows:
        mark = "✅" if row.met else "⬜"
        step = f" → {row.next_step}" if row.next_step and not row.met else ""
        lines.append(
            f"| {score.title} | {mark} {row.name} | {row.points}/{row.max_points} "
            f"| {row.signal}{step} |"
        )
    return lines


def status_text(facts: ItemFacts, scores: Scores, gate: GateResult) -> str:
    """``/harden status``: fields, the three scores with their rows, and the closure gate."""
    item = facts.item
    evidence = len(item.evidence)
    lines = [
        f"#{facts.number} is `{item.status}` · execution owner "
        f"{mention(item.owner) if item.owner else '—'} · verifier owner "
        f"{mention(item.verifier) if item.verifier else '—'} · due "
        f"{item.due.isoformat() if item.due else '—'} · {evidence} evidence "
        f"link{'' if evidence == 1 else 's'}",
        "",
        " · ".join(
            [
                _score_line(scores.scorecard),
                _score_line(scores.rubric),
                _score_line(scores.adoption, advisory=True),
            ]
        ),
        "",
        "<details><summary>Every row and the signal that decided it</summary>",
        "",
        "| score | row | points | signal → next step |",
        "|---|---|---|---|",
        *_rows(scores.scorecard),
        *_rows(scores.rubric),
        *_rows(scores.adoption),
        "",
        "</details>",
        "",
    ]
    if gate.passed:
        lines.append("**Closure gate:** passes; this item may close.")
    else:
        lines += [
            "**Closure gate:** not yet. Missing, with the command for each:",
            "",
            gate.markdown(),
        ]
    return "\n".join(lines)


# --- the retirement note ----------------------------------------------------------------------


def _text(value: str | None) -> str:
    """User text on one line, mentioning no one and unable to forge a hidden marker."""
    return inert_line(value or "")


def retirement_note(facts: ItemFacts, *, retired_by: str, link: str, scores: Scores) -> str:
    """The sunset protocol's "short note with replacement or rationale", bundle-shaped."""
    item = facts.item
    title = f" {_text(facts.title)}" if facts.title.strip() else ""
    evidence = [
        f"- {inert_url(e.url)}"
        + (f" ({e.kind})" if e.kind else "")
        + (f": {_text(e.note)}" if e.note else "")
        for e in item.evidence
    ]
    return "\n".join(
        [
            RETIREMENT_MARKER,
            f"## Retired: #{facts.number}{title}",
            "",
            f"- **Rationale:** {_text(item.retired_rationale)}",
            f"- **Retired by:** {mention(retired_by)} ([comment]({link}))",
            f"- **Incident:** {'#' + str(item.incident) if item.incident else '—'}",
            f"- **Failure class:** {_text(item.failure_class) or '—'} · **Proposed control:** "
            f"{_text(item.proposed_control) or '—'}",
            f"- **Execution owner:** {mention(item.owner) if item.owner else '—'} · "
            f"**Verifier owner:** {mention(item.verifier) if item.verifier else '—'}",
            f"- **Scores at retirement:** {scores.label}",
            "",
            "### Evidence on record",
            *(evidence or ["_none_"]),
            "",
            "Retirement follows the sunset protocol: the control no longer improves its target "
            "metric, duplicates a stronger control, or costs more than the risk it removes. "
            "The residual risk stays with the incident's owners.",
        ]
    )


# --- the closing gates ------------------------------------------------------------------------


@dataclass(frozen=True)
class GateNotice:
    """How one closing gate speaks when it holds a close: its comment's marker, title and the
    advice on how the issue closes the right way."""

    gate: str
    marker: str
    title: str
    advice: str


ITEM_GATE = GateNotice(
    gate="closure gate",
    marker=markers.CLOSURE_GATE,
    title="this hardening item cannot close yet",
    advice=(
        "The bot closes the item itself once the verifier owner's `/harden verify` passes. "
        "To end it without verification, a lead can comment `/harden retire RATIONALE` "
        "(sunset protocol: the control no longer improves its metric, duplicates a stronger "
        "one, or costs more than the risk it removes)."
    ),
)
INCIDENT_GATE = GateNotice(
    gate="incident close gate",
    marker=markers.INCIDENT_CLOSE_GATE,
    title="this incident cannot close yet",
    advice=(
        "Each hardening item takes its owners and due date with `/harden owner @user`, "
        "`/harden verifier @user` and `/harden due YYYY-MM-DD` in a comment on that item. "
        "An item nobody will own can be retired by a lead with `/harden retire RATIONALE` "
        "(sunset protocol); a retired item does not hold the incident open."
    ),
)


def gate_comment(notice: GateNotice, *, closed_by: str, gate: GateResult, held: int) -> str:
    """The reopening comment: what is missing, the command for each, and how often it held."""
    times = "once" if held <= 1 else f"{held} times"
    return "\n".join(
        [
            notice.marker,
            f"### Reopened: {notice.title}",
            "",
            f"{mention(closed_by)} closed this issue, but it is not ready to close. Missing:",
            "",
            gate.markdown(),
            "",
            notice.advice,
            "",
            f"_Closed {times} before it was ready; each time the bot reopened it and updated this "
            "comment._",
        ]
    )


def gate_resolved(outcome: str) -> str:
    """The item's gate comment once it closed the right way: nothing is missing any more."""
    return "\n".join(
        [
            ITEM_GATE.marker,
            f"### Resolved: {outcome}",
            "",
            "The closure gate passes now; the earlier closes were held because it did not.",
        ]
    )


# --- who makes an item ------------------------------------------------------------------------


def adoption_hint(author: str, label: str) -> str:
    """The one reply on a person-opened issue with the hardening label that is not an item yet."""
    return "\n".join(
        [
            markers.ADOPTION,
            "### Not a hardening item yet",
            "",
            f"{mention(author)} opened this issue with the `{_text(label)}` label, but hardening "
            "items are made by the App or by people with write access to the repository (or a "
            "lead). A maintainer can comment `/harden adopt` to make it one; until then the bot "
            "does nothing else with it.",
            "",
            "Whatever the template says about status, verification, evidence or "
            "acknowledgements is not taken on adoption: those are recorded only by `/harden` "
            "commands.",
        ]
    )


def head_moved(sha: str) -> str:
    """Why an override was not granted: the head is not one its author could have seen."""
    return (
        f"the pull request's head is now `{sha[:12]}`, which `hardening/controls` had not "
        "judged when this comment was written (the head moved after it, or the check had not "
        "run yet), so the override would pass a commit you may not have seen. Nothing was "
        "overridden: once the check has judged this head, comment the override again"
    )


def incident_refused(author: str, label: str) -> str:
    """The one reply on an issue someone without triage access labelled as an incident."""
    return "\n".join(
        [
            markers.INCIDENT_ACCESS,
            "### Not an incident for the bot yet",
            "",
            f"{mention(author)} opened this issue with the `{_text(label)}` label, but an "
            "incident opens hardening items for the whole team, so the bot acts on one only when "
            "it was opened, or labelled, by someone with triage access or more to the repository "
            "(or a lead). Until then it creates no items, tracks nothing and holds no close.",
            "",
            f"A maintainer can make it an incident by removing the `{_text(label)}` label and "
            "adding it again.",
        ]
    )


def incident_made(by: str) -> str:
    """The same reply once someone who may has made the issue an incident."""
    return "\n".join(
        [
            markers.INCIDENT_ACCESS,
            f"### Made an incident by {mention(by)}",
            "",
            f"{mention(by)} made this issue an incident: its findings become hardening items.",
        ]
    )


def adopted_note(by: str, command_link: str | None = None) -> str:
    """The hint comment once the issue is an item."""
    how = f" with [`/harden adopt`]({command_link})" if command_link else ""
    return "\n".join(
        [
            markers.ADOPTION,
            f"### Adopted by {mention(by)}{how}",
            "",
            "This issue is a hardening item now. Its status, verification, evidence and "
            "acknowledgements start empty and change only through `/harden` commands; "
            "`/harden status` shows what it still needs.",
        ]
    )


# --- hand edits of an item ----------------------------------------------------------------------


def hand_edit_comment(
    editor: str, undone_gate: Sequence[str], undone_plain: Sequence[str], *, can_write: bool
) -> str:
    """The one comment (edited in place) saying which typed changes the App put back, and the
    command that makes each change instead."""
    lines = [
        markers.HAND_EDIT,
        "### Edit undone",
        "",
        f"{mention(editor)} edited the Hardening Item by hand; the bot put these fields back:",
        "",
    ]
    seen: set[str] = set()
    for name in undone_gate:
        label = _FIELD_LABELS.get(name, name)
        if label in seen:
            continue
        seen.add(label)
        lines.append(f"- **{label}** changes only through {GATE_FIELDS[name]}")
    for name in undone_plain:
        label = _FIELD_LABELS.get(name, name)
        if label in seen:
            continue
        seen.add(label)
        command = PLAIN_FIELDS.get(name)
        how = f" (by hand or with {command})" if command else ""
        lines.append(f"- **{label}** is changed only by people with write access or a lead{how}")
    lines += [
        "",
        "Status, verification, evidence, acknowledgements and a retirement rationale are the "
        "facts the closing gates decide on, so only commands and the App record them; the body "
        "shows what is recorded." + (" Other fields you may edit by hand." if can_write else ""),
    ]
    return "\n".join(lines)


def template_removed_comment(editor: str, *, can_write: bool) -> str:
    """The one hand-edit comment (edited in place) when a person deleted an item's template: the
    item stays an item, and its template is written back."""
    plain = (
        "Its plain fields (owners, dates, proposed control) you may edit in place."
        if can_write
        else "Its plain fields are changed by people with write access or a lead."
    )
    return "\n".join(
        [
            markers.HAND_EDIT,
            "### Edit undone",
            "",
            f"{mention(editor)} removed the Hardening Item template; the bot put it back (the "
            "text around it is kept).",
            "",
            "This issue is still a hardening item: the App's record of it does not depend on the "
            "body, and a close is judged by the closing gate whatever the body says. The "
            "template shows that record, so status, verification, evidence, acknowledgements and "
            "a retirement rationale change only through `/harden` commands. " + plain,
            "",
            "To stop tracking it, a lead can `/harden retire RATIONALE`.",
        ]
    )


_FIELD_LABELS = {
    "status": "Status",
    "evidence": "Evidence link(s)",
    "acknowledged_by": "Runbook acknowledged by",
    "verified_by": "Verified by",
    "verified_at": "Verified by",
    "verified_link": "Verified by",
    "retired_rationale": "Retirement rationale",
    "incident": "Incident reference",
    "failure_class": "Failure class",
    "proposed_control": "Proposed control",
    "priority": "Priority band",
    "owner": "Execution owner",
    "verifier": "Verifier owner",
    "due": "Due date",
    "adoption_check": "Adoption check date",
    "verification_style": "Verification style",
}
