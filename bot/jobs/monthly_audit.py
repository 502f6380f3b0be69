"""The hardening loop's monthly control audit, for one repository.

"Confirm controls are still running (not silently bypassed), confirm owners are still valid
(team changes happen), retire controls that no longer reduce observed risk." The job reads:

- every hardening item that is not retired, and the linked pull requests of the verified ones
  whose adoption check date has passed (their adoption score decides "retire or re-verify");
- the repository role of each execution and verifier owner (a 404, no longer a collaborator,
  means the owner must be reassigned; any other failure is an error and the run is retried);
- the status checks the default branch requires (``repos/get-status-checks-protection``), when
  there is a verified item: 404 means nothing is required; 403 means the optional
  ``administration: read`` permission is not granted, which is reported in the comments and
  the logs, not treated as a failure.

Where it writes: one comment per hardening item with something to flag, keyed by month
(``<!-- hardening-bot:monthly-audit 2026-12 -->``). Per item rather than per incident because
the commands that fix a finding (``/harden owner``, ``/harden retire``, ``/harden verify``)
are run on the item itself, and because an item need not belong to an incident. Running the
job again in the same month edits those comments in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import gidgethub

from bot import ledger
from bot.item_issues import list_items
from bot.jobs.job import (
    Job,
    JobReport,
    adoption_check_passed,
    comment_on_items,
    facts_of,
)
from bot.permissions import collaborator_role, describe_error, leads_of
from bot.scope import Scope
from rules.cadence import Cadence
from rules.config import CONTROLS, Config, mode_for
from rules.logins import login_key
from rules.recurrence import recurrence_counts
from rules.review import monthly_audit, monthly_marker, render_monthly_comment

NAME = "monthly-audit"


@dataclass(frozen=True)
class Protection:
    """What the default branch requires. ``required`` None: branch protection is unreadable."""

    branch: str
    protected: bool
    required: tuple[str, ...] | None
    # Required checks whose source is not this App (any source, or another App), where GitHub
    # says (``checks[].app_id``; a server that lists only ``contexts`` does not).
    any_source: tuple[str, ...] = ()


async def run(scope: Scope) -> JobReport:
    ctx = scope.ctx
    config = (await scope.config()).config
    today = ctx.now().date()
    loaded = [
        one
        for one in await list_items(scope, config)
        if one.item is not None and one.item.status != "retired"
    ]
    facts = await facts_of(
        scope,
        loaded,
        config,
        with_pulls=lambda item: item.status == "verified" and adoption_check_passed(item, today),
    )
    collaborators: dict[str, str | None] = {}
    for one in facts:
        for login in (one.item.owner, one.item.verifier):
            if login_key(login) and login_key(login) not in collaborators:
                collaborators[login_key(login)] = await collaborator_role(scope, login_key(login))
    if any(one.item.status == "verified" for one in facts):
        protection = await read_protection(scope)
    else:  # nothing shipped yet, so no control to find bypassed
        protection = Protection("the default branch", True, ())

    recorded = await ledger.read_facts(scope)
    audit = monthly_audit(
        facts,
        collaborators=collaborators,
        required_checks=protection.required,
        modes={control: mode_for(config, control) for control in CONTROLS},
        today=today,
        leads=leads_of(config),
        adoption_threshold=config.thresholds.adoption,
        branch=protection.branch,
        branch_protected=protection.protected,
        recurrences=recurrence_counts(recorded.recurrences),
        any_source=protection.any_source,
        overrides=tuple(
            f"#{o.pull} by {o.by} on {o.at.date().isoformat()}: {o.reason}"
            for o in recorded.overrides
            if 0 <= (today - o.at.date()).days < 31  # since the last audit
        ),
    )
    written = await comment_on_items(
        scope,
        NAME,
        audit.items,
        monthly_marker(audit.month),
        lambda entry: render_monthly_comment(audit, entry),
    )
    return JobReport(
        job=NAME,
        repository=scope.full_name,
        period=audit.month,
        items=len(facts),
        flagged=tuple(entry.number for entry in audit.items),
        written=written,
        notes=audit.notes,
    )


async def read_protection(scope: Scope) -> Protection:
    """The status checks the default branch requires (``contexts`` and ``checks``)."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    data = await gh.getitem("/repos/{owner}/{repo}", {"owner": owner, "repo": repo})
    branch = str(data.get("default_branch") or "main")
    try:
        policy = await gh.getitem(
            "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
            {"owner": owner, "repo": repo, "branch": branch},
        )
    except gidgethub.BadRequest as exc:
        status = int(exc.status_code)
        if status == 404:  # not protected, or protected without required status checks
            return Protection(branch, False, ())
        if status == 403 and "rate limit" not in str(exc).lower():
            ctx.log.warning(
                "could not read branch protection of %s/%s (%s); grant administration: read "
                "to audit required checks",
                owner,
                repo,
                describe_error(exc),
            )
            return Protection(branch, True, None)
        raise
    names = [str(name) for name in policy.get("contexts") or []]
    names += [
        str(check.get("context"))
        for check in policy.get("checks") or []
        if isinstance(check, dict) and check.get("context")
    ]
    own = scope.ctx.settings.app_id
    any_source = [
        str(check.get("context"))
        for check in policy.get("checks") or []
        if isinstance(check, dict) and check.get("context") and check.get("app_id") != own
    ]
    return Protection(branch, True, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(any_source)))


def cadence(config: Config) -> Cadence | None:
    day = config.schedules.monthly_audit_day
    return Cadence.monthly(day) if day else None


JOB = Job(name=NAME, run=run, cadence=cadence)
