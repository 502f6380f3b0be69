"""Hand edits of a hardening item, judged by who made them (docs/commands.md, "Who may change
what").

The body of an item is the readable view of the App's record plus the plain fields. When a
person edits it (``issues.edited``, ``changes.body.from`` holding what it said before):

- a gate field (status, verification, evidence, acknowledgements, retirement rationale) typed
  differently from the record is put back, whoever typed it, with one comment naming the command
  that changes it;
- a plain field (proposed control, owners, dates, ...) is taken from someone with write access
  or a lead, and put back for anyone else, with the same comment;
- a template deleted altogether is written back, whoever deleted it (the item stays an item);
- a record removed or broken by the edit is written back from the App's last known copy or from
  the previous body GitHub sends (its signature is checked, so only the App's own record is
  restored); an item from before records gets its record from the body *before* the edit.

The App's own edits come back as ``issues.edited`` too and are skipped, so nothing loops; a
redelivered edit finds the body already put back and writes nothing.

The App's own marked comments (tracking comment, gate comments, replies, bundles) are its word:
anyone with write access can edit them on GitHub, so an edit by someone else is put back from
``changes.body.from``, and a marker typed into one never becomes the App's.
"""

from __future__ import annotations

from dataclasses import replace

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.item_issues import app_authored, get_issue, is_hardening, load, save_item
from bot.permissions import leads_of, lookup_caller
from bot.records import read
from bot.scope import Scope
from bot.writes import same_text, upsert_comment
from rules import markers
from rules.authorization import WRITE, is_app_account, role_rank
from rules.edits import judge_hand_edit
from rules.item_template import parse_item
from rules.model import HardeningItem
from rules.record import plain_edits, with_gate
from rules.replies import hand_edit_comment, template_removed_comment

router = Router()


@router.register("issues", action="edited")
async def on_item_edited(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    data = event.data
    sender = data.get("sender") or {}
    editor = str(sender.get("login") or "")
    if "pull_request" in data["issue"] or editor.casefold() == ctx.bot_login.casefold():
        return  # the App's own edit
    before_body = ((data.get("changes") or {}).get("body") or {}).get("from")
    if not isinstance(before_body, str):
        return  # the title or another field changed, not the body
    scope = Scope.of_payload(gh, ctx, data)
    config = (await scope.config()).config
    fresh = await get_issue(scope, int(data["issue"]["number"]))
    if fresh is None or not is_hardening(fresh, config):
        return
    trust = scope.trust
    loaded = await load(fresh, config, trust=trust)
    if loaded is None:
        return  # not an item (a person's issue not adopted): nothing of the App's to keep
    before = parse_item(before_body).item
    record = loaded.record
    if record is None:
        record = (await read(fresh, trust, body=before_body)).record  # the record the edit broke
    after = loaded.typed
    if record is not None:
        recorded_item = with_gate(after or before or HardeningItem(), record)
    elif loaded.source == "upgrade":
        recorded_item = before or after or HardeningItem()  # read once, from before the edit
    else:
        recorded_item = with_gate(after or before or HardeningItem(), None)  # fail closed
    changed = plain_edits(before, after) if before is not None and after is not None else ()
    may_edit = True
    if changed or after is None:
        caller = await lookup_caller(scope, editor, leads_of(config))
        may_edit = role_rank(caller.role) >= WRITE or caller.is_lead
    number = int(fresh["number"])
    keep = replace(loaded, record=record, issue=fresh)
    if after is None:
        # The template is gone. It is the item's view and its gate lines are the App's to write,
        # so it comes back whoever removed it, with the plain fields as they were and the rest
        # of the person's text kept; the item's marker too, so it stays its finding's item.
        if loaded.marker is None and app_authored(fresh, ctx.bot_login):
            marker = parse_item(before_body).marker  # only the App's own bodies carry one
            keep = replace(keep, parse=replace(keep.parse, marker=marker))
        await save_item(scope, keep, recorded_item, config=config)
        await _removed(scope, number, editor, may_edit)
        return
    verdict = judge_hand_edit(recorded_item, before, after, may_edit_plain=may_edit)
    await save_item(scope, keep, verdict.item, config=config)
    ctx.log.info(
        "#%s edited by @%s: gate fields put back %s, plain fields put back %s, taken %s",
        number,
        editor,
        list(verdict.undone_gate),
        list(verdict.undone_plain),
        list(verdict.taken_plain),
    )
    if verdict.undone:
        await _say(scope, number, editor, verdict.undone_gate, verdict.undone_plain, may_edit)


@router.register("issue_comment", action="edited")
async def on_app_comment_edited(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    data = event.data
    comment = data["comment"]
    if not is_app_account(comment.get("user"), ctx.bot_login):
        return
    if is_app_account(data.get("sender"), ctx.bot_login):
        return  # the App's own edit
    before = ((data.get("changes") or {}).get("body") or {}).get("from")
    if not isinstance(before, str) or not markers.first_line(before).startswith(
        "<!-- " + markers.PREFIX
    ):
        return
    scope = Scope.of_payload(gh, ctx, data)
    owner, repo = scope.owner, scope.repo
    number = int(data["issue"]["number"])
    async for current in gh.getiter(
        "/repos/{owner}/{repo}/issues/{number}/comments{?per_page}",
        {"owner": owner, "repo": repo, "number": number, "per_page": 100},
    ):
        if current.get("id") != comment.get("id"):
            continue
        # Only the person's text is put back: a newer write of the App's own stays.
        if same_text(current.get("body"), comment.get("body")) and not same_text(
            current.get("body"), before
        ):
            await gh.patch(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                {"owner": owner, "repo": repo, "comment_id": comment["id"]},
                data={"body": before},
            )
            ctx.log.info(
                "#%s: the App's comment %s edited by @%s, put back",
                number,
                comment["id"],
                (data.get("sender") or {}).get("login"),
            )
        return


async def _say(
    scope: Scope,
    number: int,
    editor: str,
    gate: tuple[str, ...],
    plain: tuple[str, ...],
    can_write: bool,
) -> None:
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    body = hand_edit_comment(editor, gate, plain, can_write=can_write)
    await upsert_comment(gh, owner, repo, number, markers.HAND_EDIT, body, bot_login=ctx.bot_login)


async def _removed(scope: Scope, number: int, editor: str, can_write: bool) -> None:
    body = template_removed_comment(editor, can_write=can_write)
    await upsert_comment(
        scope.gh,
        scope.owner,
        scope.repo,
        number,
        markers.HAND_EDIT,
        body,
        bot_login=scope.ctx.bot_login,
    )
