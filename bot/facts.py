"""Facts about hardening items read from their linked pull requests, and the scorecard check.

The hardening loop's reliability scorecard, quality rubric and adoption score (rules.scores) are computed
from :class:`~rules.model.ItemFacts`: the item itself plus what its linked pull requests did.
A pull request is linked to item N when its description says ``Hardens #N``
(:func:`rules.linked_pulls.hardens_numbers`).

How a linked pull request's facts are read: recomputed from its file list with
:func:`rules.linked_pulls.pull_facts` under the failure class's control paths and the test paths of
the configuration, never read back from a ``hardening/controls`` check run. A check run belongs
to one commit and is absent in shadow mode, while the file list of a pull request (merged or
open) is always its final diff, so recomputing is the one source that is always there.

Shared API (other handlers call these):

- ``linked_pulls(gh, owner, repo, item_number)``: the pull requests linked to an item;
- ``item_facts(gh, ctx, owner, repo, loaded, config)``: the ItemFacts of one item;
- ``refresh_scorecards(gh, ctx, owner, repo, item_number)``: after a command changed an item,
  edit the ``hardening/scorecard`` run of each open linked pull request in place;
- ``refresh_after_change(...)``: that, and the item's incident's tracking comment;
  ``refresh_after_changes(...)`` the same for many items changed by one delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import cachetools
import gidgethub

from bot import item_issues as items_api
from bot.checks import publish, run_lock
from bot.context import REPO_CONFIG_PATH
from bot.permissions import PermissionLookupError, collaborator_role
from bot.pull_links import Link
from bot.scope import Scope
from bot.writes import Write
from rules.check_output import (
    SCORECARD_CHECK,
    CheckOutput,
    config_error_output,
    item_scores,
    scorecard_output,
)
from rules.config import (
    CONTROLS,
    Config,
    ConfigResult,
    Limits,
    config_as_data,
    default_config,
    mode_for,
)
from rules.diff import MAX_PULL_FILES
from rules.linked_pulls import hardens_references, pull_facts
from rules.model import HardeningItem, ItemFacts, PullFacts

if TYPE_CHECKING:
    from bot.item_issues import LoadedItem

__all__ = [
    "Fanout",
    "FileCache",
    "LinkedPulls",
    "files_head",
    "item_facts",
    "linked_pulls",
    "load_items",
    "publish_scorecard",
    "pull_files",
    "record_links",
    "refresh_after_change",
    "refresh_after_changes",
    "refresh_scorecards",
    "scorecard_for",
    "scorecard_lock",
]


class LinkedPulls(list[dict[str, Any]]):
    """The pull requests linked to an item; ``more``: others link it too, beyond
    ``limits.linked_pulls_per_item``, and were not read; ``left_out``: those found (by
    number; there may be more than the search showed)."""

    more: bool = False
    left_out: tuple[int, ...] = ()


# Search hits read per item: one page. Beyond it, a second search finds the merged ones.
_SEARCH_HITS = 100
# author_association values of people who may have write access (the others cannot).
_MAY_WRITE = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
_WRITE_ROLES = frozenset({"admin", "maintain", "write"})


# (owner, repo, number) -> (files, truncated): one delivery reads a pull request's files once.
FileCache = dict[tuple[str, str, int], tuple[list[dict[str, Any]], bool]]


@dataclass
class Fanout:
    """What one delivery read and refreshed beyond its own subject, so that its fan-out stays
    linear: an item linked by many pull requests, each linking many items, would otherwise be
    read once per pair (items x pull requests x items requests for one event).

    ``items``: issue number -> the item as read in this delivery (None: not an item);
    ``pulls``: the other pull requests read, by number; ``refreshed``: the pull requests whose
    scorecard this delivery wrote, each at most once; ``stale``: the ones it left as they were,
    beyond the limit (``limits.linked_pulls_per_item``), to be reported; ``judged``: each pull
    request's facts, judged once per item class and configuration (its diff is parsed once,
    not once per scorecard showing it).
    """

    items: dict[int, LoadedItem | None] = field(default_factory=dict)
    judged: dict[tuple[Any, ...], PullFacts] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    refreshed: set[int] = field(default_factory=set)
    stale: list[int] = field(default_factory=list)


async def pull_files(
    scope: Scope, number: int, cache: FileCache | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Every file of a pull request (paginated) and whether GitHub's 3,000-file cap cut it."""
    key = (scope.owner.lower(), scope.repo.lower(), number)
    if cache is not None and key in cache:
        return cache[key]
    files = [
        dict(entry)
        async for entry in scope.gh.getiter(
            "/repos/{owner}/{repo}/pulls/{number}/files{?per_page}",
            {"owner": scope.owner, "repo": scope.repo, "number": number, "per_page": 100},
        )
    ]
    result = (files, len(files) >= MAX_PULL_FILES)
    if cache is not None:
        cache[key] = result
    return result


def files_head(files: Sequence[Mapping[str, Any]]) -> str | None:
    """The head commit a pull request's file list was read at: GitHub names it in every entry's
    ``contents_url`` (``...?ref=<sha>``). None for an empty list or an entry without one."""
    for entry in files[:1]:
        query = urlsplit(str(entry.get("contents_url") or "")).query
        refs = parse_qs(query).get("ref")
        return refs[0] if refs else None
    return None


def _links(body: str | None, item_number: int, limits: Limits) -> bool:
    # Only the references a pull request's own delivery reads link it (limits.hardens_references).
    return item_number in hardens_references(body, limits.hardens_references)[0]


async def linked_pulls(
    scope: Scope,
    item_number: int,
    limits: Limits | None = None,
    *,
    known: Mapping[int, Mapping[str, Any]] | None = None,
) -> LinkedPulls:
    """The pull requests (``pulls/get`` objects, open or closed) whose description says
    ``Hardens #item_number``, by number: at most ``limits.linked_pulls_per_item`` of them,
    with ``more`` set when others were found and not read.

    Found with the issue search, then confirmed by reading each description, since a search
    for ``#12`` also finds ``#123`` and a quoted mention. ``known``: pull requests already read
    in this delivery (by number), not read again.

    When more link the item than the limit, anyone could have opened the others: merged pull
    requests are kept first (the scores that need one are then not pushed out), then those by
    people with write access, then the newest of the rest.
    """
    limits = limits or default_config().limits
    limit = limits.linked_pulls_per_item
    gh = scope.gh
    query = f"repo:{scope.full_name} is:pr in:body hardens #{item_number}"
    hits = await _search_hits(scope, query, item_number, limits)
    cut = len(hits) >= _SEARCH_HITS
    if cut:  # the merged ones may be older than the first page shows
        merged = await _search_hits(scope, f"{query} is:merged", item_number, limits)
        for number, hit in merged.items():
            hits.setdefault(number, hit)
    writers: frozenset[str] = frozenset()
    if len(hits) > limit:  # who has write access decides only which are left out
        writers = await _writers(scope, [hit for hit in hits.values() if not _merged(hit)])
    ranked = sorted(hits, key=lambda n: _rank(hits[n], writers))
    pulls = LinkedPulls()
    pulls.more = cut or len(ranked) > limit
    pulls.left_out = tuple(sorted(ranked[limit:]))
    at_merge = await _links_at_merge(scope, [n for n in ranked[:limit] if _merged(hits[n])])
    for number in sorted(ranked[:limit]):
        pull = (known or {}).get(number) or await gh.getitem(
            "/repos/{owner}/{repo}/pulls/{number}",
            {"owner": scope.owner, "repo": scope.repo, "number": number},
        )
        merge = at_merge(pull)  # a merged one links what it linked when merged
        if merge is None:
            linked = _links(pull.get("body"), item_number, limits)
        else:
            linked = item_number in merge
        if linked:
            pulls.append(dict(pull))
    return pulls


async def _links_at_merge(
    scope: Scope, numbers: Sequence[int]
) -> Callable[[Mapping[str, Any]], frozenset[int] | None]:
    """For a merged pull request, the items it linked when it was merged, as its close delivery
    recorded them (bot.pull_links): a ``Hardens #N`` written into its description afterwards
    links nothing. None: read its description (open, or merged before merges were recorded)."""
    record = scope.ctx.links
    if record is None or not numbers:
        return lambda pull: None
    merges, since = await record.merges(scope.owner, scope.repo, numbers)

    def at_merge(pull: Mapping[str, Any]) -> frozenset[int] | None:
        number = int(pull["number"])
        if not _merged(pull):
            return None
        if number in merges:
            return merges[number]
        merged_at = items_api.github_time(pull.get("merged_at"))
        if since is None or merged_at is None or merged_at.timestamp() < since:
            return None  # merged before the App recorded merges
        return frozenset()  # merged since, yet its close was never recorded: links nothing

    return at_merge


async def _search_hits(
    scope: Scope, query: str, item_number: int, limits: Limits
) -> dict[int, Mapping[str, Any]]:
    """The first page of the search's hits whose description links the item, by number."""
    hits: dict[int, Mapping[str, Any]] = {}
    seen = 0
    async for hit in scope.gh.getiter(
        "/search/issues{?q,per_page}", {"q": query, "per_page": _SEARCH_HITS}
    ):
        seen += 1
        if _links(hit.get("body"), item_number, limits) and isinstance(hit.get("number"), int):
            hits[int(hit["number"])] = hit
        if seen >= _SEARCH_HITS:
            break
    return hits


def _merged(hit: Mapping[str, Any]) -> bool:
    return bool(hit.get("merged") or (hit.get("pull_request") or {}).get("merged_at"))


def _author(hit: Mapping[str, Any]) -> str:
    return str((hit.get("user") or {}).get("login") or "")


def _rank(hit: Mapping[str, Any], writers: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Merged first, then by people with write access, then the rest; newest first within."""
    tier = 0 if _merged(hit) else 1 if _author(hit).lower() in writers else 2
    return tier, -int(hit["number"])


async def _writers(scope: Scope, hits: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The authors of ``hits`` with write access. Only people GitHub names as the owner, a
    member or a collaborator can have it, so outsiders cost no lookup; each login once."""
    logins = {
        _author(hit).lower()
        for hit in hits
        if str(hit.get("author_association") or "").upper() in _MAY_WRITE and _author(hit)
    }
    writers = set()
    for login in sorted(logins):
        try:
            if await collaborator_role(scope, login) in _WRITE_ROLES:
                writers.add(login)
        except PermissionLookupError:
            continue  # logged there; only the order of the others depends on it
    return frozenset(writers)


async def item_facts(
    scope: Scope,
    loaded: LoadedItem,
    config: Config,
    *,
    pulls: Sequence[Mapping[str, Any]] | None = None,
    files: FileCache | None = None,
    known: Mapping[int, PullFacts] | None = None,
    judged: dict[tuple[Any, ...], PullFacts] | None = None,
) -> ItemFacts:
    """Everything observable on GitHub that the scores and gates of one item depend on.

    The linked pull requests are searched (``pulls`` skips the search: pass what is already
    known, e.g. a pull request the search index may not have yet); closed unmerged ones are
    left out. ``known``: the facts of some of them, already judged (their files are not read).
    ``control_mode`` is the rollout mode of the ``control-change`` control. ``judged``: facts
    this delivery judged already (``Fanout.judged``), kept and reused.
    """
    # An item whose template a person deleted (only the bot's marker is left) scores as empty.
    item = loaded.item or HardeningItem()
    if pulls is None:
        pulls = await linked_pulls(scope, loaded.number, config.limits)
    more = bool(getattr(pulls, "more", False))
    facts = []
    for pull in sorted(pulls, key=lambda p: int(p["number"])):
        merged = bool(pull.get("merged") or pull.get("merged_at"))
        if pull.get("state") == "closed" and not merged:
            continue
        if known and int(pull["number"]) in known:
            facts.append(known[int(pull["number"])])
            continue
        key = (
            int(pull["number"]),
            str((pull.get("head") or {}).get("sha") or ""),
            pull.get("state"),
            merged,
            str(pull.get("html_url") or ""),
            item.failure_class,
            config_key(config),
        )
        if judged is not None and key in judged:
            facts.append(judged[key])
            continue
        listed, truncated = await pull_files(scope, int(pull["number"]), files)
        found = pull_facts(pull, listed, truncated, config, item.failure_class)
        if judged is not None:
            judged[key] = found
        facts.append(found)
    issue = loaded.issue
    return ItemFacts(
        number=loaded.number,
        item=item,
        title=str(issue.get("title") or ""),
        state="closed" if issue.get("state") == "closed" else "open",
        pulls=tuple(facts),
        control_mode=mode_for(config, CONTROLS[1]),
        pulls_limit=config.limits.linked_pulls_per_item if more else None,
        pulls_left_out=tuple(getattr(pulls, "left_out", ())),
    )


async def load_items(
    scope: Scope,
    numbers: Iterable[int],
    config: Config | None = None,
    *,
    cache: dict[int, LoadedItem | None] | None = None,
) -> tuple[list[LoadedItem], list[int]]:
    """The hardening items among ``numbers``, and the numbers that are not hardening items.
    ``cache``: the items this delivery read already (``Fanout.items``), not read again."""
    found: list[LoadedItem] = []
    others: list[int] = []
    for number in numbers:
        if cache is not None and number in cache:
            loaded = cache[number]
        else:
            try:
                loaded = await items_api.get_item(scope, number, config=config)
            except gidgethub.BadRequest as exc:
                if int(exc.status_code) not in (404, 410):
                    raise
                loaded = None
            if cache is not None:
                cache[number] = loaded
        if loaded is None or loaded.issue.get("pull_request"):
            others.append(number)
        else:
            found.append(loaded)
    return found, others


async def scorecard_for(
    scope: Scope,
    pull: Mapping[str, Any],
    result: ConfigResult,
    *,
    loaded: Sequence[LoadedItem] | None = None,
    candidates: Sequence[int] | None = None,
    not_items: Sequence[int] = (),
    failure_classes: Sequence[str] = (),
    files: FileCache | None = None,
    links: dict[int, LinkedPulls] | None = None,
    fanout: Fanout | None = None,
) -> CheckOutput:
    """The ``hardening/scorecard`` output of one pull request under its base configuration.

    ``files`` and ``links`` (item number -> its linked pull requests) are caches shared by the
    callers of one delivery, so each file list is read and each search made once; ``fanout``
    the items read already (and the scorecards it left stale, reported here).
    ``loaded``: the items, already read; ``candidates``: the only references to read (the
    others are ``not_items``); by default every reference within the limit is read.
    """
    if result.errors:
        return config_error_output(
            SCORECARD_CHECK,
            result.errors,
            repo_config_path=REPO_CONFIG_PATH,
            base_ref=str(pull["base"]["ref"]),
        )
    limits = result.config.limits
    read, unread = hardens_references(pull.get("body"), limits.hardens_references)
    if loaded is None:
        known = () if candidates is None else tuple(not_items)
        loaded, not_items = await load_items(
            scope,
            read if candidates is None else candidates,
            result.config,
            cache=None if fanout is None else fanout.items,
        )
        not_items = [*known, *not_items]
    scores = []
    links = {} if links is None else links
    for one in loaded:
        facts = await _linked_facts(scope, one, pull, result.config, files, links, fanout)
        scores.append(item_scores(facts, result.config.thresholds))
    return scorecard_output(
        scores,
        not_items=not_items,
        failure_classes=failure_classes,
        unread=unread,
        references_limit=limits.hardens_references,
        stale=() if fanout is None else fanout.stale,
        refresh_limit=limits.linked_pulls_per_item,
    )


async def _linked_facts(
    scope: Scope,
    one: LoadedItem,
    pull: Mapping[str, Any],
    config: Config,
    files: FileCache | None,
    links: dict[int, LinkedPulls],
    fanout: Fanout | None = None,
) -> ItemFacts:
    """The facts of one item for ``pull``'s scorecard: the other pull requests linking it as
    the App recorded them (``ctx.links``, bot.pull_links), else as the search finds them (then
    recorded); ``pull`` itself as it is now, since the search index may lag behind it."""
    limits = config.limits
    number = int(pull["number"])
    item_class = one.item.failure_class if one.item else None
    key = config_key(config)
    reused = None if fanout is None else fanout.judged
    owner, repo = scope.owner, scope.repo
    record = scope.ctx.links
    held = None
    if record is not None and one.number not in links:
        held = await record.linked(owner, repo, one.number)
    if held is None:
        if one.number not in links:
            read = {} if fanout is None else fanout.pulls
            links[one.number] = await linked_pulls(
                scope, one.number, limits, known={**read, number: pull}
            )
        found = links[one.number]
        linked = LinkedPulls(p for p in found if int(p["number"]) != number)
        linked.more = found.more
        linked.append(dict(pull))
        facts = await item_facts(scope, one, config, pulls=linked, files=files, judged=reused)
        if record is not None:
            judged = {f.number: f for f in facts.pulls if f.number != number}
            await record.searched(
                owner,
                repo,
                one.number,
                [
                    Link(int(p["number"]), str(p.get("state")), item_class, key, judged[n])
                    for p in found
                    if (n := int(p["number"])) in judged
                ],
            )
        return facts
    # Merged pull requests first, as the search keeps them (see linked_pulls).
    ordered = sorted(held, key=lambda link: not link.facts.merged)
    kept = ordered[: limits.linked_pulls_per_item]
    chosen = sorted((link for link in kept if link.pull != number), key=lambda link: link.pull)
    linked = LinkedPulls(link.as_pull() for link in chosen)
    linked.more = len(held) > limits.linked_pulls_per_item
    linked.left_out = tuple(sorted(link.pull for link in ordered[limits.linked_pulls_per_item :]))
    linked.append(dict(pull))
    known = {
        link.pull: link.facts
        for link in chosen
        if link.failure_class == item_class and link.config == key
    }
    return await item_facts(
        scope,
        one,
        config,
        pulls=linked,
        files=files,
        known=known,
        judged=reused,
    )


async def record_links(
    scope: Scope,
    pull: Mapping[str, Any],
    loaded: Sequence[LoadedItem],
    files: Sequence[Mapping[str, Any]],
    truncated: bool,
    config: Config,
) -> None:
    """Record what this delivery judged of ``pull`` for each item it links (bot.pull_links);
    ``loaded`` empty: it links none now."""
    links = scope.ctx.links
    if links is None:
        return
    key = config_key(config)
    state = "closed" if pull.get("state") == "closed" else "open"
    judged = {}
    for one in loaded:
        item_class = one.item.failure_class if one.item else None
        facts = pull_facts(pull, files, truncated, config, item_class)
        judged[one.number] = Link(int(pull["number"]), state, item_class, key, facts)
    await links.record(scope.owner, scope.repo, int(pull["number"]), judged)


# Configuration -> its key: configurations are parsed once per text (bot.context.ConfigCache),
# so the same object comes back while the texts are unchanged.
_CONFIG_KEYS: cachetools.LRUCache[int, tuple[Config, str]] = cachetools.LRUCache(maxsize=256)


def config_key(config: Config) -> str:
    """A short key of everything in ``config``: facts judged under another are judged again."""
    held = _CONFIG_KEYS.get(id(config))
    if held is not None and held[0] is config:
        return held[1]
    text = json.dumps(config_as_data(config), sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    _CONFIG_KEYS[id(config)] = (config, key)
    return key


async def publish_scorecard(
    scope: Scope,
    pull: Mapping[str, Any],
    output: CheckOutput,
    *,
    rerun: str | None = None,
    locked: bool = False,
) -> Write:
    """Write the scorecard run on the pull request's head commit (edited in place).
    ``locked``: the caller holds :func:`scorecard_lock` and computed ``output`` under it."""
    return await publish(
        scope,
        str(pull["head"]["sha"]),
        output,
        pull_number=int(pull["number"]),
        rerun=rerun,
        locked=locked,
        opened_at=str(pull.get("created_at") or ""),
    )


def scorecard_lock(scope: Scope, pull: Mapping[str, Any]) -> asyncio.Lock:
    """Held while a scorecard is computed and written. Two deliveries (a pull request's, an
    item's) may both be refreshing one scorecard; whichever writes last must also have read
    the items last, or an older reading would overwrite a newer one."""
    return run_lock(scope, str(pull["head"]["sha"]), SCORECARD_CHECK)


async def refresh_scorecards(
    scope: Scope,
    item_number: int,
    *,
    files: FileCache | None = None,
    links: dict[int, LinkedPulls] | None = None,
    except_pull: int | None = None,
    fanout: Fanout | None = None,
) -> None:
    """Bring the ``hardening/scorecard`` run of every open pull request linked to an item up to
    date, after a command or an edit changed the item. Runs are edited in place; a pull request
    whose scorecard is already current gets no write. ``files`` and ``links``: see
    :func:`scorecard_for`. ``except_pull``: a pull request whose own delivery writes its
    scorecard next anyway.

    ``fanout``: what this delivery read and refreshed already, for a delivery that changed many
    items. Each scorecard is then written at most once, after every item was changed (the caller
    changes them all first), at most ``limits.linked_pulls_per_item`` of them per delivery; the
    others are listed in ``fanout.stale``."""
    files = {} if files is None else files
    links = {} if links is None else links
    fanout = Fanout() if fanout is None else fanout
    limits = (await scope.config()).config.limits
    if item_number not in links:
        links[item_number] = await linked_pulls(scope, item_number, limits, known=fanout.pulls)
    for pull in links[item_number]:
        fanout.pulls.setdefault(int(pull["number"]), pull)
    for pull in links[item_number]:
        number = int(pull["number"])
        if pull.get("state") != "open" or number == except_pull or number in fanout.refreshed:
            continue
        if len(fanout.refreshed) >= limits.linked_pulls_per_item:
            if number not in fanout.stale:
                fanout.stale.append(number)
            continue
        fanout.refreshed.add(number)
        result = await scope.config(ref=str(pull["base"]["ref"]))
        async with scorecard_lock(scope, pull):
            output = await scorecard_for(
                scope, pull, result, files=files, links=links, fanout=fanout
            )
            write = await publish_scorecard(scope, pull, output, locked=True)
        scope.ctx.log.info(
            "scorecard of #%s for item #%s: %s",
            pull["number"],
            item_number,
            write.action,
            extra={"pull": pull["number"], "item": item_number},
        )


async def refresh_after_change(scope: Scope, item_number: int, incident: int | None) -> None:
    """What every change to an item is followed by: its incident's tracking comment and the
    scorecards of its open linked pull requests (see :func:`refresh_scorecards`)."""
    await refresh_after_changes(scope, [(item_number, incident)])


async def refresh_after_changes(
    scope: Scope,
    changed: Sequence[tuple[int, int | None]],
    *,
    files: FileCache | None = None,
    links: dict[int, LinkedPulls] | None = None,
    except_pull: int | None = None,
    fanout: Fanout | None = None,
) -> None:
    """:func:`refresh_after_change` for many items (number, incident) changed by one delivery,
    once every one of them was changed: each incident's tracking comment once, then each
    scorecard showing them at most once (one ``fanout`` for all). ``files``, ``links`` and
    ``except_pull``: see :func:`refresh_scorecards`."""
    files = {} if files is None else files
    links = {} if links is None else links
    fanout = Fanout() if fanout is None else fanout
    for incident in sorted({incident for _, incident in changed if incident is not None}):
        await items_api.refresh_incident_tracking(scope, incident)
    for number, _ in changed:
        await refresh_scorecards(
            scope, number, files=files, links=links, except_pull=except_pull, fanout=fanout
        )
