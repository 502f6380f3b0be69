"""The hardening loop's weekly reliability standup, for one repository.

"Review overdue hardening items, review items with weak evidence links, reassign blocked items
immediately", plus the adoption check ("a control is not complete at merge time"). The job:

1. refreshes the tracking comment of every incident that still has an open or in-progress item,
   so its "overdue" flags flip on the day after a due date even when nobody edits anything;
2. computes the review (rules.review.weekly_review) over the repository's hardening items;
3. upserts one comment per item with something to flag, mentioning who should act and naming
   the command that fixes each flag. The comment's marker carries the ISO week
   (``<!-- hardening-bot:weekly-review 2026-W48 -->``): running the job again that week edits it
   in place (and writes nothing when nothing changed); next week's review is a new comment, so
   the owner is notified again while the item stays flagged. An item with nothing to flag gets
   nothing.
"""

from __future__ import annotations

from bot import ledger
from bot.handlers.loop import refresh_summary
from bot.item_issues import list_items, refresh_incident_tracking
from bot.jobs.job import (
    Job,
    JobReport,
    adoption_check_passed,
    comment_on_items,
    facts_of,
)
from bot.permissions import leads_of
from bot.scope import Scope
from rules.cadence import Cadence
from rules.config import Config
from rules.review import ACTIVE_STATUSES, render_weekly_comment, weekly_marker, weekly_review

NAME = "weekly-review"


async def run(scope: Scope) -> JobReport:
    ctx = scope.ctx
    config = (await scope.config()).config
    today = ctx.now().date()
    # An item whose template a person deleted shows as "template missing" in its incident's
    # tracking comment; there is nothing here to review on it.
    listed = await list_items(scope, config)
    loaded = [one for one in listed if one.item is not None]

    incidents = sorted(
        {
            one.incident
            for one in loaded
            if one.incident is not None
            and one.item is not None
            and one.item.status in ACTIVE_STATUSES
        }
    )
    for number in incidents:
        await refresh_incident_tracking(scope, number)
        # Sprint day 14 may have come without any change to the incident.
        await refresh_summary(scope, number, config)

    reviewed = [one for one in loaded if one.item is not None and one.item.status != "retired"]
    facts = await facts_of(
        scope,
        reviewed,
        config,
        with_pulls=lambda item: adoption_check_passed(item, today),
    )
    ledger_facts = await ledger.read_facts(scope)
    review = weekly_review(
        facts,
        today,
        leads=leads_of(config),
        adoption_threshold=config.thresholds.adoption,
        risks=ledger_facts.risks,
    )
    written = await comment_on_items(
        scope,
        NAME,
        review.items,
        weekly_marker(review.week),
        lambda entry: render_weekly_comment(review, entry),
    )
    # Overdue flags and passed revisit dates change with the day, not with an event.
    await ledger.update_ledger(scope, outside_inbox=True)
    return JobReport(
        job=NAME,
        repository=scope.full_name,
        period=review.week,
        items=len(reviewed),
        flagged=tuple(entry.number for entry in review.items),
        written=written,
        tracking=tuple(incidents),
    )


def cadence(config: Config) -> Cadence | None:
    weekday = config.schedules.weekly_review
    return Cadence.weekly(weekday) if weekday else None


JOB = Job(name=NAME, run=run, cadence=cadence)
