"""Pull request checks (docs/checks.md): ``hardening/controls`` and
``hardening/scorecard``, with the hardening loop's rollout modes, and the item lifecycle a linked pull
request drives.

From docs/hardening-loop.md: the 24–72h artifact "one automation control + one regression test", "Control rollout
sequencing" (shadow → warn → enforce), and the reliability scorecard, quality rubric and
adoption score of every linked item. A pull request is in scope when it carries a
``failure-class:<slug>`` label or its description says ``Hardens #N`` for a hardening issue N.

Every evaluation reads the configuration of the pull request's BASE branch, so a pull request can
never loosen the rules that judge it; a pull request that edits ``.github/hardening.yml`` has its
version validated and the difference it would make shown. Writes go through :mod:`bot.checks`,
which skips no-ops and finishes runs a crash left behind. Re-runs from the GitHub UI
(``check_run.rerequested``, ``check_suite.rerequested``) and the **Re-check** button create a new
completed run on the same commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot import item_issues as items_api
from bot import ledger
from bot.checks import complete_if_present, current_runs, publish, pull_numbers_for_check
from bot.context import (
    ORG_CONFIG_PATH,
    ORG_CONFIG_REPO,
    REPO_CONFIG_PATH,
    Context,
    fetch_text,
)
from bot.facts import (
    Fanout,
    FileCache,
    LinkedPulls,
    files_head,
    linked_pulls,
    load_items,
    publish_scorecard,
    pull_files,
    record_links,
    refresh_after_changes,
    scorecard_for,
    scorecard_lock,
)
from bot.item_issues import LoadedItem
from bot.scope import Scope
from bot.writes import label_names
from rules.check_output import (
    CHECK_NAMES,
    CONTROLS_CHECK,
    RECHECK,
    ConfigProposal,
    ControlsInput,
    config_error_output,
    controls_output,
    out_of_scope_output,
    requirement_results,
    shadow_failures,
    superseded_output,
)
from rules.config import ConfigResult, diff_configs, load_config
from rules.edits import in_progress, with_merge_evidence
from rules.ledger_facts import verdict_fact
from rules.linked_pulls import (
    controls_input,
    hardens_references,
    is_failure_class_label,
    judging_classes,
    merge_evidence,
    pull_verdict,
)
from rules.model import HardeningItem
from rules.override import Override, not_covered_output, overridden_output, parse_marker

router = Router()

EVALUATED_ACTIONS = (
    "opened",
    "synchronize",
    "reopened",
    "labeled",
    "unlabeled",
    "edited",
    "ready_for_review",
)
# Actions after which a pull request may have left scope (so a stale run must be completed).
_SCOPE_ACTIONS = frozenset({"labeled", "unlabeled", "edited"})


@router.register("pull_request")
async def on_pull_request(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    action = event.data.get("action")
    if action == "closed":
        await on_closed(event, gh, ctx)
        return
    if action not in EVALUATED_ACTIONS:
        return
    changes = event.data.get("changes") or {}
    if action == "edited" and not ({"body", "base"} & set(changes)):
        return  # a new title changes neither the scope nor the configuration
    scope = Scope.of_payload(gh, ctx, event.data)
    if action in ("labeled", "unlabeled") and not await _class_label(event.data, scope):
        return  # a label that is no failure class changes nothing here
    # The payload carries the whole pull request (as ``pulls/get`` shows it): no need to read it
    # again. Its events are one subject, taken in order, so a later push is a later delivery;
    # evaluate() checks that the file list it reads is still of this head.
    pull = dict(event.data["pull_request"])
    if pull.get("state") != "open":
        return
    await evaluate(scope, pull, scope_may_change=action in _SCOPE_ACTIONS)


@router.register("check_run", action="rerequested")
@router.register("check_run", action="requested_action")
async def on_check_run(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    run = event.data.get("check_run") or {}
    if run.get("name") not in CHECK_NAMES or not _ours(run.get("app"), ctx):
        return
    if event.data.get("action") == "requested_action":
        identifier = (event.data.get("requested_action") or {}).get("identifier")
        if identifier != RECHECK:
            return
    await _rerun(event, gh, ctx, run, names=(str(run["name"]),))


@router.register("check_suite", action="rerequested")
async def on_check_suite(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    suite = event.data.get("check_suite") or {}
    if not _ours(suite.get("app"), ctx):
        return
    await _rerun(event, gh, ctx, suite, names=CHECK_NAMES)


async def _rerun(
    event: Event, gh: GitHubAPI, ctx: Context, check: Mapping[str, Any], names: Sequence[str]
) -> None:
    """A re-run from the UI: a new completed run of ``names`` on the same commit."""
    scope = Scope.of_payload(gh, ctx, event.data)
    sha = str(check.get("head_sha") or "")
    key = ctx.delivery_id or event.delivery_id or sha
    numbers = await pull_numbers_for_check(scope, dict(check))
    if not numbers:
        ctx.log.warning("re-run of %s: no pull request found for commit %s", names, sha)
        return
    for number in numbers:
        pull = await _fresh_pull(scope, number)
        if pull.get("state") != "open":
            continue
        if pull["head"]["sha"] != sha:
            for name in names:
                await publish(
                    scope,
                    sha,
                    superseded_output(name, pull["head"]["sha"]),
                    pull_number=number,
                    rerun=key,
                    opened_at=str(pull.get("created_at") or ""),
                )
            continue
        await evaluate(scope, pull, fresh=frozenset(names), rerun=key, scope_may_change=True)


async def _class_label(payload: Mapping[str, Any], scope: Scope) -> bool:
    """Whether a ``labeled``/``unlabeled`` event's label is (or looks like) a failure class."""
    name = str((payload.get("label") or {}).get("name") or "")
    base = str(((payload.get("pull_request") or {}).get("base") or {}).get("ref") or "") or None
    config = (await scope.config(ref=base)).config
    return is_failure_class_label(name, config)


async def _fresh_pull(scope: Scope, number: int) -> dict[str, Any]:
    """The pull request as it is now: a queued delivery's payload may be older than its head."""
    return dict(
        await scope.gh.getitem(
            "/repos/{owner}/{repo}/pulls/{number}",
            {"owner": scope.owner, "repo": scope.repo, "number": number},
        )
    )


# --- evaluation ------------------------------------------------------------------------------


async def evaluate(
    scope: Scope,
    pull: dict[str, Any],
    *,
    fresh: Collection[str] = (),
    rerun: str | None = None,
    scope_may_change: bool = False,
    override: Override | None = None,
    moved: bool = False,
) -> None:
    """Post both check runs for the pull request's head commit (``fresh``: as new runs).

    ``pull`` may be a delivery's copy: when its file list turns out to be of a newer head
    (``moved``: already re-read once), the pull request is read again and judged as it is now.
    A break-glass ``override`` (or one recorded earlier on this commit's controls run) passes
    ``hardening/controls`` while it lasts; every verdict is counted for the ledger."""
    ctx = scope.ctx
    number, sha = int(pull["number"]), str(pull["head"]["sha"])
    opened_at = str(pull.get("created_at") or "")
    result = await scope.config(ref=str(pull["base"]["ref"]))
    config = result.config
    read, unread = hardens_references(pull.get("body"), config.limits.hardens_references)
    loaded, _ = await load_items(scope, read, config)
    sources = judging_classes(label_names(pull), _linked(loaded), config)
    log = ctx.log.bind(pull=number, head_sha=sha)

    async def post(output: Any, *, locked: bool = False) -> None:
        key = rerun if output.name in fresh else None
        write = await publish(
            scope, sha, output, pull_number=number, rerun=key, locked=locked, opened_at=opened_at
        )
        log.info("%s: %s (%s)", output.name, write.action, output.conclusion)

    if not sources and not loaded and not unread:
        if scope_may_change:
            await record_links(scope, pull, (), (), False, config)  # links none now
        if scope_may_change or fresh:
            for name in CHECK_NAMES:
                out = out_of_scope_output(
                    name, failure_class_prefix=config.labels.failure_class_prefix
                )
                if name in fresh:
                    await post(out)
                else:
                    await complete_if_present(
                        scope, sha, out, pull_number=number, opened_at=opened_at
                    )
        return

    files_cache: FileCache = {}
    links: dict[int, LinkedPulls] = {}
    files, truncated = await pull_files(scope, number, files_cache)
    listed = files_head(files)
    if listed is not None and listed != sha and not moved:
        # Pushed to since this delivery was sent: the file list is of a newer head. Judge the
        # pull request as it is now rather than post a newer diff's verdict on an older commit.
        now = await _fresh_pull(scope, number)
        if now.get("state") != "open" or str(now["head"]["sha"]) == sha:
            return
        log.info("head moved to %s since the delivery; evaluating that", now["head"]["sha"])
        await evaluate(
            scope,
            now,
            fresh=fresh,
            rerun=rerun,
            scope_may_change=scope_may_change,
            override=override,
            moved=True,
        )
        return
    proposal = await _proposal(scope, pull, files, result)
    if result.errors:
        for name in CHECK_NAMES:
            await post(
                config_error_output(
                    name,
                    result.errors,
                    repo_config_path=REPO_CONFIG_PATH,
                    base_ref=str(pull["base"]["ref"]),
                    proposal=proposal if name == CONTROLS_CHECK else None,
                )
            )
        log.warning("invalid configuration: %s", result.error_report())
        return

    stale: list[int] = []  # other pull requests' scorecards left as they were, beyond the limit
    loaded = await _start_work(
        scope, pull, loaded, result, files=files_cache, links=links, stale=stale
    )
    if sources:
        data = controls_input(pull, files, truncated, config, sources, _linked(loaded), proposal)
        _record_shadow(ctx, log, scope.full_name, number, data)
        output = controls_output(data)
        verdicts = {r.requirement: r.met for r in requirement_results(data)}
        if not await ledger.records_verdict(scope, number, verdicts):
            ledger.request_update(scope, verdict_fact(number, verdicts))
        if output is not None and output.conclusion != "success":
            active = override or await recorded_override(scope, sha, opened_at)
            if active is not None and active.covers(number, sha, ctx.now()):
                output = overridden_output(output, active)
            elif active is not None and active.covers(active.pull, sha, ctx.now()):
                output = not_covered_output(output, active)  # another pull request's
        if output is not None:
            await post(output)
    # Read the items again, under the scorecard's lock: an item's own delivery may have changed
    # it and refreshed this scorecard since ``loaded`` was read, and must not be overwritten.
    async with scorecard_lock(scope, pull):
        await post(
            await scorecard_for(
                scope,
                pull,
                result,
                # Read again under the lock, but only the numbers that were items.
                candidates=[one.number for one in loaded],
                not_items=[n for n in read if n not in {one.number for one in loaded}],
                failure_classes=tuple(sources),
                files=files_cache,
                links=links,
                fanout=Fanout(stale=stale),
            ),
            locked=True,
        )
    # What the other pull requests' scorecards read of this one (bot.pull_links).
    await record_links(scope, pull, loaded, files, truncated, config)


def _record_shadow(ctx: Context, log: Any, repo: str, number: int, data: ControlsInput) -> None:
    """Shadow mode posts nothing: its verdicts go to the log and the metrics instead."""
    shadowed = [c for c, mode in data.modes.items() if mode == "shadow"]
    if not shadowed:
        return
    failing = shadow_failures(data)
    for judged in data.judged:
        verdict = "would have failed" if judged.failure_class in failing else "would have passed"
        log.info(
            "shadow mode: pull request #%s %s %s (%s)",
            number,
            verdict,
            judged.failure_class,
            ", ".join(shadowed),
            extra={
                "failure_class": judged.failure_class,
                "shadow": shadowed,
                "missing": list(judged.verdict.missing),
            },
        )
    for slug in failing:
        ctx.metrics.shadow_would_fail.inc(repo=repo, failure_class=slug)


def _linked(loaded: Sequence[LoadedItem]) -> list[tuple[int, HardeningItem | None]]:
    return [(one.number, one.item) for one in loaded]


async def _proposal(
    scope: Scope,
    pull: Mapping[str, Any],
    files: Sequence[Mapping[str, Any]],
    base: ConfigResult,
) -> ConfigProposal | None:
    """The ``.github/hardening.yml`` this pull request proposes, validated, with its effect."""
    entry = next(
        (f for f in files if REPO_CONFIG_PATH in (f.get("filename"), f.get("previous_filename"))),
        None,
    )
    if entry is None:
        return None
    gh, owner, repo = scope.gh, scope.owner, scope.repo
    org_source = f"{owner}/{ORG_CONFIG_REPO}/{ORG_CONFIG_PATH}"
    org_text = await fetch_text(gh, owner, ORG_CONFIG_REPO, ORG_CONFIG_PATH)
    removed = entry.get("status") == "removed" or entry.get("filename") != REPO_CONFIG_PATH
    text = (
        None
        if removed
        else await fetch_text(gh, owner, repo, REPO_CONFIG_PATH, ref=str(pull["head"]["sha"]))
    )
    proposed = load_config([(org_source, org_text), (REPO_CONFIG_PATH, text)])
    errors = tuple(e for e in proposed.errors if e.file == REPO_CONFIG_PATH)
    differences = () if errors else tuple(diff_configs(base.config, proposed.config))
    return ConfigProposal(REPO_CONFIG_PATH, errors, differences, removed=removed)


# --- item lifecycle --------------------------------------------------------------------------


async def _start_work(
    scope: Scope,
    pull: Mapping[str, Any],
    loaded: list[LoadedItem],
    result: ConfigResult,
    *,
    files: FileCache,
    links: dict[int, LinkedPulls],
    stale: list[int],
) -> list[LoadedItem]:
    """An open linked pull request moves its ``open`` items to ``in_progress``.

    Every item is changed first, then each incident's tracking comment and each other open
    pull request's scorecard that shows them is refreshed once (``fanout``): refreshing after
    each item would read every item again for every pull request linking it."""
    moved = []
    for one in loaded:
        item = one.item
        if item is None or item.status != "open":
            continue
        saved = await items_api.save_item(scope, one, in_progress(item), config=result.config)
        scope.ctx.log.info(
            "item #%s in_progress: linked pull request #%s opened (%s)",
            one.number,
            pull["number"],
            "saved" if saved else "unchanged",
        )
        moved.append(one)
    if not moved:
        return loaded
    fanout = Fanout()
    for one in moved:  # as they are now, for this scorecard and the others'
        fanout.items[one.number] = await items_api.get_item(scope, one.number, config=result.config)
    await refresh_after_changes(
        scope,
        [(one.number, one.incident) for one in moved],
        files=files,
        links=links,
        except_pull=int(pull["number"]),  # evaluate() writes its scorecard next
        fanout=fanout,
    )
    if fanout.stale:
        scope.ctx.log.warning(
            "pull request #%s: %s other scorecards not refreshed, beyond the limit of %s: %s",
            pull["number"],
            len(fanout.stale),
            result.config.limits.linked_pulls_per_item,
            fanout.stale,
        )
    stale.extend(fanout.stale)
    return [fanout.items.get(one.number) or one for one in loaded]


async def on_closed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """A merged linked pull request that satisfied its controls is recorded on each item as
    implementation evidence (and ``test`` / ``runbook`` evidence for the files that prove them),
    once; the items' scorecards are refreshed."""
    pull = dict(event.data.get("pull_request") or {})
    scope = Scope.of_payload(gh, ctx, event.data)
    owner, repo = scope.owner, scope.repo
    if not pull.get("merged"):
        # Closed unmerged: it counts for no item any more (reopening judges it again).
        if ctx.links is not None:
            await ctx.links.record(owner, repo, int(pull["number"]), {})
        return
    result = await scope.config(ref=str(pull["base"]["ref"]))
    read, _ = hardens_references(pull.get("body"), result.config.limits.hardens_references)
    loaded, _ = await load_items(scope, read, result.config)
    if ctx.links is not None:
        # The items it links from now on: its description may be edited after the merge.
        await ctx.links.record_merge(
            owner, repo, int(pull["number"]), [one.number for one in loaded]
        )
    if not loaded:
        return
    if result.errors:
        ctx.log.warning(
            "merged #%s: invalid configuration, no evidence recorded: %s",
            pull["number"],
            result.error_report(),
        )
        return
    files_cache: FileCache = {}
    links: dict[int, LinkedPulls] = {}
    files, truncated = await pull_files(scope, int(pull["number"]), files_cache)
    changed: list[LoadedItem] = []  # whose scorecards are refreshed
    for one in loaded:
        item = one.item
        if item is None:
            continue  # only the bot's marker is left: nothing to record evidence in
        verdict = pull_verdict(files, truncated, result.config, item.failure_class or "")
        if verdict is None or not verdict.satisfied:
            ctx.log.info(
                "merged #%s does not satisfy the controls of #%s: no evidence",
                pull["number"],
                one.number,
            )
            continue
        updated, added = with_merge_evidence(item, merge_evidence(pull, verdict))
        if updated != item:
            await items_api.save_item(scope, one, updated, config=result.config)
            ctx.log.info(
                "merged #%s recorded %s evidence on #%s",
                pull["number"],
                ", ".join(str(e.kind) for e in added),
                one.number,
            )
        changed.append(one)
    await record_links(scope, pull, loaded, files, truncated, result.config)
    # Every item changed first, then each scorecard showing them refreshed once (_start_work).
    fanout = Fanout()
    await refresh_after_changes(
        scope,
        [(one.number, one.incident) for one in changed],
        files=files_cache,
        links=links,
        except_pull=int(pull["number"]),  # written next
        fanout=fanout,
    )
    # The merged pull request's own scorecard shows the evidence it just recorded.
    async with scorecard_lock(scope, pull):
        refreshed = await scorecard_for(
            scope, pull, result, files=files_cache, links=links, fanout=Fanout(stale=fanout.stale)
        )
        await publish_scorecard(scope, pull, refreshed, locked=True)


# --- small helpers ---------------------------------------------------------------------------


async def refresh_controls(scope: Scope, item_number: int) -> None:
    """Re-evaluate the open pull requests linked to an item after the item changed (its owner
    is named in ``hardening/controls``), so no check shows an older state of the item."""
    for linked in await linked_pulls(scope, item_number):
        if linked.get("state") == "open":  # ``pulls/get`` objects, read just now
            await evaluate(scope, linked)


async def recorded_override(
    scope: Scope, sha: str, opened_at: str | None = None
) -> Override | None:
    """The break-glass override recorded on ``sha``'s newest controls run, if the App wrote it
    (``opened_at``: the pull request's ``created_at``, see ``bot.checks.current_runs``)."""
    runs = await current_runs(scope, sha, CONTROLS_CHECK, opened_at)
    for run in runs:
        if not _ours(run.get("app"), scope.ctx):
            continue
        return parse_marker(str((run.get("output") or {}).get("summary") or ""))
    return None


def _ours(app: Any, ctx: Context) -> bool:
    """Whether a check run or suite belongs to this App (others' re-runs are not ours to do)."""
    if not isinstance(app, dict) or not app.get("slug"):
        return True  # older payloads omit it; the name and our marker decide then
    return str(app["slug"]).lower() == ctx.bot_login.lower().removesuffix("[bot]")
