"""The GitHub sandbox: an in-process GitHub REST API that every test and the demo talk to.

A test seeds the world (installations, repositories, people, files, issues, pull requests),
points the bot at :attr:`Sandbox.app` (or :meth:`Sandbox.serve` on loopback), feeds it webhook
payloads built here, then inspects what the bot did (:attr:`calls`, :meth:`writes`, the state
accessors) and that it made no call the sandbox does not know (:attr:`unknown_calls`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from aiohttp import web

from .auth import Authenticator
from .faults import Fault, Faults
from .keys import generate_app_key
from .model import Role, User, UserType
from .pipeline import Call, Pipeline
from .ratelimit import RateLimiter
from .record import Record, wrap
from .registration import Registrations
from .render import WEB, Renderer
from .routes import ENDPOINTS
from .webhooks import Emitter, PayloadBuilder, WebhookSink
from .world import World

FileSpec = Mapping[str, Any]


class Sandbox:
    """One fake GitHub with one App registered on it."""

    def __init__(
        self,
        app_id: int = 1,
        public_key_pem: str | None = None,
        app_slug: str = "hardening-bot",
        clock: Callable[[], float] = time.time,
        *,
        app_name: str = "Hardening Bot",
        permissions: Mapping[str, str] | None = None,
        events: Sequence[str] | None = None,
        api_url: str = "https://api.github.com",
    ) -> None:
        self.private_key_pem: str | None = None
        if public_key_pem is None:
            self.private_key_pem, public_key_pem = generate_app_key()
        self.app_id = app_id
        self.app_slug = app_slug
        self.public_key_pem = public_key_pem
        self._clock = clock
        #: Base of the API URLs inside webhook payloads; :meth:`serve` sets it to its address.
        self.api_url = api_url.rstrip("/")
        #: Base of ``html_url`` links (GitHub's website); the stand-in (``python -m sandbox``)
        #: serves a few of its pages itself.
        self.web_url = WEB
        self.world = World(
            app_id=app_id,
            app_slug=app_slug,
            app_name=app_name,
            clock=self._now,
            app_permissions=permissions,
            app_events=events,
        )
        self.auth = Authenticator(app_id, public_key_pem, self._now)
        self.limiter = RateLimiter(self._now)
        self.faults = Faults()
        self.calls: list[Call] = []
        self.unknown_calls: list[Call] = []
        #: ``async (event_name, payload[, delivery_id=...])``: receives the webhooks the bot's
        #: own writes cause, as GitHub would send them. ``None`` (default) sends nothing.
        self.webhook_sink: WebhookSink | None = None
        self.emitter = Emitter(self)
        self._builder = PayloadBuilder(self)
        self._pipeline = Pipeline(self, ENDPOINTS)
        self._app: web.Application | None = None
        #: Apps registered through the manifest flow (``/settings/apps/new``), by code.
        self.registrations = Registrations(self)
        #: The App's webhook, as registered (the manifest flow sets both).
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None

    # --- clock and serving --------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def _now(self) -> float:
        return float(self._clock())

    @property
    def app(self) -> web.Application:
        """The aiohttp application serving the REST API (built once, on first use)."""
        if self._app is None:
            self._app = self.make_app()
        return self._app

    def make_app(self, pages: Iterable[web.RouteDef] = ()) -> web.Application:
        """A fresh application over the same state, for a second server; ``pages``: more of
        GitHub's website (``sandbox.site``)."""
        return self._pipeline.build_app([*self.registrations.routes(), *pages])

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the API on a loopback port; yields its base URL and uses it in payloads."""
        runner = web.AppRunner(self.make_app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        previous = self.api_url
        self.api_url = f"http://{host}:{bound}"
        try:
            yield self.api_url
        finally:
            self.api_url = previous
            await runner.cleanup()

    @property
    def _render(self) -> Renderer:
        return Renderer(self.world, self.api_url, self.web_url)

    # --- the App ------------------------------------------------------------------------------

    def become_app(
        self,
        *,
        app_id: int,
        slug: str,
        name: str,
        public_key_pem: str,
        private_key_pem: str | None,
        permissions: Mapping[str, str],
        events: Sequence[str],
        owner: User,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        """Serve another App from now on (the manifest flow registered it): its JWTs are the
        ones accepted, tokens issued to the previous App stop working."""
        world = self.world
        world.app_id, world.app_slug, world.app_name = app_id, slug, name
        world.app_permissions = dict(permissions)
        world.app_events = list(events)
        world.app_created_at = world.now()
        world.owner = owner
        world.bot = world.add_user(f"{slug}[bot]", type="Bot")
        self.app_id, self.app_slug = app_id, slug
        self.public_key_pem, self.private_key_pem = public_key_pem, private_key_pem
        self.auth = Authenticator(app_id, public_key_pem, self._now)
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret

    # --- seeding ------------------------------------------------------------------------------

    def add_installation(
        self,
        account: str,
        *,
        id: int,
        account_type: UserType = "Organization",
        permissions: Mapping[str, str] | None = None,
    ) -> Record:
        inst = self.world.add_installation(
            account, id=id, account_type=account_type, permissions=permissions
        )
        return wrap(self._render.installation(inst))

    def add_repo(
        self,
        full_name: str,
        *,
        installation_id: int,
        default_branch: str = "main",
        private: bool = False,
        description: str | None = None,
    ) -> Record:
        repo = self.world.add_repo(
            full_name,
            installation_id=installation_id,
            default_branch=default_branch,
            private=private,
            description=description,
        )
        return wrap(self._render.full_repo(repo))

    def add_user(self, login: str, *, type: UserType = "User", name: str | None = None) -> Record:
        return wrap(self._render.user(self.world.add_user(login, type=type, name=name)))

    def set_permission(self, repo: str, login: str, role: Role) -> None:
        """Make ``login`` a collaborator with ``role`` (read|triage|write|maintain|admin)."""
        self.world.set_permission(self.world.repo(repo), login, role)

    def grant_team(self, repo: str, org: str, slug: str, role: Role) -> None:
        """Give team ``org/slug`` ``role`` on ``repo``; its members get it as GitHub computes
        access (the highest of their direct and team grants)."""
        self.world.grant_team(self.world.repo(repo), org, slug, role)

    def add_team(
        self,
        org: str,
        slug: str,
        *,
        members: Iterable[str] = (),
        maintainers: Iterable[str] = (),
    ) -> Record:
        team = self.world.add_team(org, slug, members=members, maintainers=maintainers)
        return Record(id=team.id, slug=team.slug, name=team.name, members=dict(team.members))

    def put_file(
        self, repo: str, path: str, text: str | bytes | None, ref: str | None = None
    ) -> None:
        """Write a file at ``ref`` (a branch or sha; default branch when None); None deletes it."""
        self.world.put_file(self.world.repo(repo), path, text, ref)

    def add_commit(self, repo: str, sha: str | None = None, *, branch: str | None = None) -> str:
        """Make a commit known (check runs need one); moves ``branch`` to it when given."""
        return self.world.add_commit(self.world.repo(repo), sha, branch=branch)

    def protect_branch(
        self,
        repo: str,
        branch: str,
        *,
        contexts: Sequence[str] = (),
        strict: bool = False,
        checks: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Require status checks on ``branch``, as ``repos/get-status-checks-protection`` reads."""
        r = self.world.repo(repo)
        if branch not in r.branches:
            self.world.add_commit(r, branch=branch)
        r.protections[branch] = {
            "contexts": list(contexts),
            "strict": strict,
            "checks": [dict(c) for c in checks] if checks is not None else None,
        }

    def open_issue(
        self,
        repo: str,
        *,
        title: str,
        body: str | None = "",
        labels: Sequence[str] = (),
        user: str = "alice",
        assignees: Sequence[str] = (),
        via: Literal["form", "api"] = "form",
    ) -> Record:
        """A person opens an issue. ``via="form"`` (the default) is the web form or an issue
        form, whose template labels GitHub applies whatever the author's role; ``via="api"`` is
        ``POST /issues``, where labels (and assignees) from an author without push access are
        silently dropped, as GitHub documents."""
        r = self.world.repo(repo)
        author = self.world.user(user)
        if via == "api" and not self.world.can_push(r, author):
            labels, assignees = (), ()
        issue, _ = self.world.create_issue(
            r, title=title, body=body, user=author, labels=labels, assignees=assignees
        )
        return wrap(self._render.issue(issue))

    def edit_issue(
        self,
        repo: str,
        number: int,
        *,
        user: str,
        body: str | None = None,
        title: str | None = None,
    ) -> Record:
        """``user`` edits the issue's body (and/or title) in the web UI, and the ``issues.edited``
        payload GitHub sends for it: ``changes`` holds what was there before, ``sender`` is the
        editor. Only the author, or someone with write access or more, may edit an issue (a
        triager may not); anyone else gets GitHub's 403.
        """
        r = self.world.repo(repo)
        editor = self.world.user(user)
        issue = self.world.issue(r, number)
        if issue.user.id != editor.id and not self.world.can_push(r, editor):
            raise PermissionError(
                f"{user} may not edit #{number} (not its author, no write access)"
            )
        fields: dict[str, Any] = {}
        if body is not None:
            fields["body"] = body
        if title is not None:
            fields["title"] = title
        _, happenings = self.world.update_issue(r, number, fields, actor=editor)
        changes: dict[str, Any] = {}
        for happening in happenings:
            if happening.action == "edited" and happening.changes:
                changes.update(happening.changes)
        return Record(self._builder.issues(r, number, "edited", editor, changes=changes))

    def role_of(self, repo: str, login: str) -> str | None:
        """``login``'s effective role on ``repo`` (None: not a collaborator)."""
        return self.world.role_of(self.world.repo(repo), self.world.user(login))

    def update_issue(self, repo: str, number: int, *, user: str = "alice", **fields: Any) -> Record:
        """Change an issue as a person would: ``state="closed"``, ``body=...``, ``labels=[...]``."""
        issue, _ = self.world.update_issue(
            self.world.repo(repo), number, fields, actor=self.world.user(user)
        )
        return wrap(self._render.issue(issue))

    def add_labels(
        self, repo: str, number: int, labels: Sequence[str], *, user: str = "alice"
    ) -> None:
        self.world.add_labels(self.world.repo(repo), number, labels, actor=self.world.user(user))

    def add_comment(self, repo: str, number: int, body: str, *, user: str = "alice") -> Record:
        comment, _ = self.world.add_comment(
            self.world.repo(repo), number, body, user=self.world.user(user)
        )
        return wrap(self._render.comment(comment))

    def edit_comment(self, repo: str, comment_id: int, body: str, *, user: str = "alice") -> Record:
        comment, _ = self.world.edit_comment(
            self.world.repo(repo), comment_id, body, actor=self.world.user(user)
        )
        return wrap(self._render.comment(comment))

    def delete_comment(self, repo: str, comment_id: int, *, user: str = "alice") -> None:
        """Delete a comment as a person would (GitHub then answers 404 for it)."""
        self.world.delete_comment(self.world.repo(repo), comment_id, actor=self.world.user(user))

    def open_pull(
        self,
        repo: str,
        *,
        title: str,
        body: str | None = "",
        user: str = "alice",
        head_sha: str | None = None,
        base: str = "main",
        head: str = "feature",
        labels: Sequence[str] = (),
        files: Sequence[FileSpec] = (),
        draft: bool = False,
    ) -> Record:
        """Open a pull request; ``files`` are its changed files as ``pulls/list-files`` lists."""
        issue, _ = self.world.open_pull(
            self.world.repo(repo),
            title=title,
            body=body,
            user=self.world.user(user),
            head_sha=head_sha,
            base=base,
            head=head,
            labels=labels,
            files=files,
            draft=draft,
        )
        return wrap(self._render.pull(issue))

    def push_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str | None = None,
        files: Sequence[FileSpec] | None = None,
        user: str | None = None,
    ) -> Record:
        """New commits on the pull request's head: a new head sha and (optionally) file list."""
        r = self.world.repo(repo)
        actor = self.world.user(user) if user else self.world.pull(r, number).user
        self.world.push_pull(r, number, head_sha=head_sha, files=files, actor=actor)
        return wrap(self._render.pull(self.world.pull(r, number)))

    def merge_pull(self, repo: str, number: int, *, user: str | None = None) -> Record:
        r = self.world.repo(repo)
        actor = self.world.user(user) if user else r.owner
        self.world.merge_pull(r, number, actor=actor)
        return wrap(self._render.pull(self.world.pull(r, number)))

    def add_check_run(self, repo: str, *, head_sha: str, name: str, **fields: Any) -> Record:
        """A check run the App created earlier (e.g. to re-run it from the UI in a test)."""
        body = {"name": name, "head_sha": head_sha, **fields}
        run, _ = self.world.create_check_run(self.world.repo(repo), body, actor=self.world.bot)
        return wrap(self._render.check_run(run))

    def installation_token(self, installation_id: int) -> str:
        """An installation token as the App would get it, for tests that skip the JWT step."""
        inst = self.world.installations[installation_id]
        return self.auth.mint(installation_id, inst.permissions).token

    def set_rate_limit(
        self,
        installation_id: int | None = None,
        resource: str = "core",
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset_in: float | None = None,
    ) -> None:
        """Drain or refill a primary rate-limit bucket (installation, or the App when None)."""
        key = f"installation:{installation_id}" if installation_id is not None else "app"
        self.limiter.set(key, resource, remaining=remaining, limit=limit, reset_in=reset_in)

    def record_delivery(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        status_code: int = 200,
        guid: str | None = None,
    ) -> Record:
        """Add an entry to the App's webhook delivery log (``apps/list-webhook-deliveries``)."""
        delivery = self.world.record_delivery(
            event, payload, guid=guid or str(uuid.uuid4()), status_code=status_code
        )
        return wrap(self._render.delivery(delivery))

    # --- webhook payloads ---------------------------------------------------------------------

    def issue_event(
        self,
        repo: str,
        number: int,
        action: str,
        sender: str = "alice",
        label: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Record:
        r = self.world.repo(repo)
        return Record(
            self._builder.issues(
                r, number, action, self.world.user(sender), label=label, changes=changes
            )
        )

    def issue_comment_event(
        self,
        repo: str,
        number: int,
        comment_id: int,
        action: str = "created",
        sender: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Record:
        r = self.world.repo(repo)
        comment = self.world.comment(r, comment_id)
        who = self.world.user(sender) if sender else comment.user
        return Record(self._builder.issue_comment(r, number, comment, action, who, changes=changes))

    def pull_request_event(
        self,
        repo: str,
        number: int,
        action: str,
        sender: str | None = None,
        label: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Record:
        r = self.world.repo(repo)
        who = self.world.user(sender) if sender else self.world.pull(r, number).user
        return Record(
            self._builder.pull_request(r, number, action, who, label=label, changes=changes)
        )

    def check_run_event(
        self,
        repo: str,
        check_run_id: int,
        action: str = "rerequested",
        requested_action: str | None = None,
        sender: str | None = None,
        pull_requests: bool | None = None,
    ) -> Record:
        """A ``check_run`` payload. Re-run payloads carry ``pull_requests: []`` as GitHub's do;
        pass ``pull_requests=True`` for the populated form."""
        r = self.world.repo(repo)
        human = action in ("rerequested", "requested_action")
        who = self.world.user(sender or ("alice" if human else self.world.bot.login))
        with_pulls = (not human) if pull_requests is None else pull_requests
        return Record(
            self._builder.check_run(
                r,
                check_run_id,
                action,
                who,
                requested_action=requested_action,
                pull_requests=with_pulls,
            )
        )

    def check_suite_event(
        self, repo: str, head_sha: str, action: str = "rerequested", sender: str = "alice"
    ) -> Record:
        r = self.world.repo(repo)
        return Record(self._builder.check_suite(r, head_sha, action, self.world.user(sender)))

    # --- inspection ---------------------------------------------------------------------------

    def writes(self) -> list[Call]:
        """Every answered call that was not a GET."""
        return [c for c in self.calls if c.method != "GET"]

    def reset_calls(self) -> None:
        self.calls.clear()
        self.unknown_calls.clear()

    def issue(self, repo: str, number: int) -> Record:
        return wrap(self._render.issue(self.world.issue(self.world.repo(repo), number)))

    def pull(self, repo: str, number: int) -> Record:
        return wrap(self._render.pull(self.world.pull(self.world.repo(repo), number)))

    def issues(self, repo: str) -> list[Record]:
        r = self.world.repo(repo)
        return wrap(
            [self._render.issue(i) for i in sorted(r.issues.values(), key=lambda i: i.number)]
        )

    def comments(self, repo: str, number: int) -> list[Record]:
        issue = self.world.issue(self.world.repo(repo), number)
        return wrap([self._render.comment(self.world.comments[c]) for c in issue.comment_ids])

    def check_runs(self, repo: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        r = self.world.repo(repo)
        runs = sorted(r.check_runs.values(), key=lambda run: run.id)
        return [
            Record(self._render.check_run(run), annotations=list(run.annotations))
            for run in runs
            if head_sha is None or run.head_sha == head_sha
        ]

    def labels(self, repo: str) -> list[Record]:
        r = self.world.repo(repo)
        return wrap(
            [self._render.label(r, lb) for lb in sorted(r.labels.values(), key=lambda x: x.id)]
        )

    def reactions(self, comment_id: int) -> list[Record]:
        comment = self.world.comments.get(comment_id)
        if comment is None:
            raise KeyError(f"no comment {comment_id}")
        return wrap([self._render.reaction(r) for r in comment.reactions])

    def timeline(self, repo: str, number: int) -> list[dict[str, Any]]:
        return wrap(self._render.timeline(self.world.issue(self.world.repo(repo), number)))

    def deliveries(self) -> list[dict[str, Any]]:
        return wrap([self._render.delivery(d) for d in self.world.deliveries])

    @property
    def emitted(self) -> list[tuple[str, dict[str, Any]]]:
        """Every webhook the bot's writes caused, ``(event, payload)``, sink or no sink."""
        return self.emitter.emitted

    async def settle_webhooks(self) -> None:
        """Wait until queued deliveries to ``webhook_sink`` (and the ones they cause) are made."""
        await self.emitter.settle()

    # --- faults -------------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int | None = 503,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        body: Any = None,
    ) -> Fault:
        """Answer matching requests with ``status`` (None: answer normally, after ``delay``)."""
        return self.faults.arm(
            Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                status=status,
                times=times,
                headers=dict(headers or {}),
                delay=delay,
                body=body,
            )
        )
