"""Ten days later: the weekly review flags an overdue item once, the monthly audit reports.

From docs/hardening-loop.md: "Ownership operating rhythm" (weekly reliability standup, monthly control audit). A new
incident's item gets its owners and is left open past its due date; the jobs then run as the
scheduler would, with a clock ten days ahead (the sandbox keeps the real time, since it checks
the App's JWT with it): one review comment mentioning the owner, the incident's tracking comment
marked overdue, nothing written by a second run in the same week, and an audit comment on the
verified item of the earlier steps (when there is one) whose control branch protection does not
require.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.context import Context, bound_log
from bot.github import GitHubApp
from bot.jobs import monthly_audit, weekly_review
from bot.scope import Scope
from rules.item_template import parse_item
from rules.model import HardeningItem

BOT = "hardening-bot[bot]"
OWNER, VERIFIER, LEAD = "erin", "victor", "carol"
LATER = timedelta(days=10)

INCIDENT_BODY = """\
### Severity

sev-2

### Summary

Card refunds stalled for 35 minutes after a database failover.

### Findings

- slow recovery: promoting the replica by hand took 30 minutes
"""


def _item(world: Any, number: int) -> HardeningItem | None:
    return parse_item(world.sandbox.issue(world.repo, number)["body"] or "").item


def _marked(world: Any, number: int, mark: str) -> list[dict[str, Any]]:
    return [
        c
        for c in world.sandbox.comments(world.repo, number)
        if c["user"]["login"] == BOT and mark in (c["body"] or "")
    ]


def _writes(world: Any) -> int:
    return sum(1 for c in world.sandbox.writes() if "/access_tokens" not in c.path)


async def _open_incident(world: Any) -> tuple[int, int | None]:
    """A new incident with one finding; (incident, its item) once the bot planned it."""
    sandbox, repo = world.sandbox, world.repo
    incident = int(
        sandbox.open_issue(
            repo,
            title="Refunds stalled after failover",
            body=INCIDENT_BODY,
            labels=("incident", "sev-2"),
            user=OWNER,
        )["number"]
    )
    await world.deliver("issues", sandbox.issue_event(repo, incident, "opened", sender=OWNER))
    await world.settle()
    items = [
        int(issue["number"])
        for issue in sandbox.issues(repo)
        if (marker := parse_item(issue["body"] or "").marker) is not None
        and marker.incident == incident
    ]
    return incident, (items[0] if len(items) == 1 else None)


async def run(world: Any) -> None:
    sandbox, repo = world.sandbox, world.repo
    owner_name, repo_name = repo.split("/")

    # 1. A fresh item that will be overdue ten days from now: the earlier ones are closed.
    incident, number = await _open_incident(world)
    if not world.check(number is not None, f"incident #{incident} got one hardening item"):
        return
    assert number is not None
    world.say(
        f"{OWNER} opens incident #{incident}; the bot opens item #{number}. {OWNER} takes "
        f"it with `/harden owner @{OWNER}` and `/harden verifier @{VERIFIER}`, then "
        "nobody touches it."
    )
    comment = sandbox.add_comment(
        repo, number, f"/harden owner @{OWNER}\n/harden verifier @{VERIFIER}", user=OWNER
    )
    await world.deliver("issue_comment", sandbox.issue_comment_event(repo, number, comment["id"]))
    await world.settle()
    item = _item(world, number) or HardeningItem()
    moment = time.time() + LATER.total_seconds()  # "ten days later", fixed for every run below
    later = datetime.fromtimestamp(moment, UTC)
    world.check(
        (item.owner, item.verifier) == (OWNER, VERIFIER)
        and item.due is not None
        and item.due < later.date()
        and item.status == "open",
        f"#{number} is open, owned by @{OWNER}, due {item.due} (before "
        f"{later.date()}, ten days from now)",
    )

    # 2. Ten days later, the weekly review, run as the scheduler runs it.
    github = GitHubApp(world.settings)  # real time: the sandbox checks the JWT with it
    try:
        installation = await github.repo_installation_id(owner_name, repo_name)
        if not world.check(installation is not None, "the App is installed on the repository"):
            return
        assert installation is not None
        gh = await github.installation_api(installation)
        ctx = Context(
            settings=world.settings,
            metrics=github.metrics,
            log=bound_log("demo", step="review_steps"),
            bot_login=await github.bot_login(),
            clock=lambda: moment,
        )
        scope = Scope(gh, ctx, owner_name, repo_name)
        world.say(f"Ten days later ({later.date()}): the weekly review runs.")
        report = await weekly_review.run(scope)
        await world.settle()
        world.say(report.summary)
        reviews = _marked(world, number, "hardening-bot:weekly-review")
        body = reviews[0]["body"] if reviews else ""
        world.check(
            number in report.flagged
            and number in report.written
            and len(reviews) == 1
            and "**Overdue**" in body
            and f"@{OWNER}" in body,
            f"one weekly-review comment ({report.period}) on #{number}: **Overdue**, "
            f"mentioning @{OWNER}",
        )
        tracking = _marked(world, incident, "hardening-bot:tracking")
        line = next(
            (
                ln
                for ln in (tracking[0]["body"] if tracking else "").splitlines()
                if f"#{number}" in ln
            ),
            "",
        )
        world.check(
            incident in report.tracking and "**overdue**" in line,
            f"incident #{incident}'s tracking comment marks #{number} overdue",
        )

        before = _writes(world)
        again = await weekly_review.run(scope)
        await world.settle()
        world.check(
            again.written == ()
            and _writes(world) == before
            and len(_marked(world, number, "hardening-bot:weekly-review")) == 1,
            f"running the review again in {again.period} writes nothing "
            f"({_writes(world) - before} writes)",
        )

        # 3. The monthly control audit.
        world.say("The monthly control audit runs.")
        audit = await monthly_audit.run(scope)
        await world.settle()
        world.say(audit.summary)
        verified = [
            n
            for n in (world.state.get("items") or {}).values()
            if (_item(world, n) or HardeningItem()).status == "verified"
        ]
        comments = {n: _marked(world, n, "hardening-bot:monthly-audit") for n in audit.flagged}
        world.check(
            bool(audit.flagged)
            and set(audit.written) == set(audit.flagged)
            and all(len(found) == 1 for found in comments.values()),
            f"one audit comment ({audit.period}) on each flagged item "
            f"({', '.join(f'#{n}' for n in audit.flagged) or 'none'})",
        )
        if verified:
            body = (comments.get(verified[0]) or [{"body": ""}])[0]["body"]
            world.check(
                "**Control not running**" in body
                and "`hardening/controls` is not required" in body
                and f"@{OWNER}" in body
                and f"@{VERIFIER}" in body
                and "@acme/reliability-leads" in body,
                f"verified #{verified[0]}: the default branch does not require "
                "`hardening/controls`; owners and leads mentioned",
            )
        else:
            world.say("No verified item from the earlier steps: no control to audit.")
    finally:
        await github.close()
