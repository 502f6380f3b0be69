"""Process settings, read once from the environment (docs/operations.md).

``Settings.from_env`` is the only place that reads environment variables; everything else gets an
explicit ``Settings`` object, so tests and the demo can build one without touching ``os.environ``.
A setting that is wrong stops the process at start with one line naming the variable, rather
than surfacing as a failure on the first delivery hours later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"
# `python -m bot setup` writes the App's credentials here; every entry point reads it.
ENV_FILE = Path(".env")
DEFAULT_DATABASE_URL = "sqlite:///var/hardening-bot.db"


class SettingsError(Exception):
    """A setting is missing or invalid; ``str(error)`` is one line an operator can act on."""


@dataclass(frozen=True)
class Settings:
    """Everything the process needs to know about its environment.

    The tuning knobs below the contract's variables have defaults that suit one small dyno;
    they are read from ``HARDENING_*`` variables so an operator can change them without a
    release.
    """

    webhook_secret: str = field(repr=False)
    app_id: int
    private_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    # While the webhook secret is rotated: the old one, whose records still verify until the
    # App signs each again with the current one (bot.records). Never used to check a webhook.
    previous_webhook_secret: str | None = field(default=None, repr=False)
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    database_path: Path = Path("var/hardening-bot.db")
    # A PostgreSQL DATABASE_URL (``postgresql://`` or ``postgres://``); None: the SQLite file
    # at ``database_path``.
    database_url: str | None = field(default=None, repr=False)
    sentry_dsn: str | None = field(default=None, repr=False)
    # Which variable held the key, to name it when GitHub refuses the key.
    private_key_source: str = "GITHUB_PRIVATE_KEY"
    # How many deliveries of different subjects are processed at the same time.
    worker_concurrency: int = 4
    github_concurrency: int = 1
    # Attempts per delivery before it is parked as failed (kept, visible, never dropped).
    max_attempts: int = 8
    # First retry waits up to this many seconds; each further attempt doubles the ceiling.
    backoff_base: float = 2.0
    # No retry waits longer than this, however many attempts came before.
    backoff_max: float = 600.0
    # On SIGTERM, in-flight deliveries get this long to finish before being left pending.
    shutdown_grace: float = 20.0
    # Seconds to wait for one GitHub HTTP response before treating it as a timeout.
    github_timeout: float = 30.0
    # The scheduler of the weekly review and monthly audit looks for due jobs this often; 0: off.
    scheduler_interval: float = 300.0
    # PostgreSQL only: how often an idle worker looks for due retries (new deliveries wake it
    # at once), and how often it tells the others it is alive; a replica silent for three
    # heartbeats is taken for dead and its deliveries run elsewhere.
    queue_poll_interval: float = 1.0
    # Deliveries missed while down (bot.catchup): read GitHub's delivery log at start and this
    # often; 0: never.
    catch_up_interval: float = 900.0
    # The scheduler reads which repositories the App is installed on this often; 0: never (then
    # only deliveries register repositories).
    discover_interval: float = 6 * 3600.0
    # A configuration read from GitHub is kept until a push changes it, or this long at most;
    # 0: read it on every delivery.
    config_max_age: float = 24 * 3600.0
    # An issue read from GitHub is answered from the App's copy until an ``issues`` webhook or
    # the App's own write changes it, or this long at most; 0: asked every time (as a
    # conditional request).
    issue_max_age: float = 3600.0
    queue_heartbeat: float = 5.0
    log_level: str = "INFO"

    @property
    def graphql_url(self) -> str:
        """GraphQL endpoint that belongs to ``api_url``.

        github.com serves REST at ``api.github.com`` and GraphQL at ``api.github.com/graphql``;
        GitHub Enterprise Server serves REST at ``/api/v3`` and GraphQL at ``/api/graphql``.
        """
        base = self.api_url.rstrip("/")
        if base.endswith("/api/v3"):
            return base.removesuffix("/v3") + "/graphql"
        return base + "/graphql"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, require_webhook_secret: bool = True
    ) -> Settings:
        """Build settings from environment variables, or raise ``SettingsError``.

        ``require_webhook_secret`` is relaxed only by ``replay``, which never receives webhooks.
        """
        env = {k: v for k, v in environ.items() if v.strip() != ""}

        secret = env.get("GITHUB_WEBHOOK_SECRET", "")
        if require_webhook_secret and not secret:
            raise SettingsError(
                "GITHUB_WEBHOOK_SECRET is not set: refusing to accept unsigned webhooks; "
                "set it to the App's webhook secret"
            )

        if "GITHUB_APP_ID" not in env:
            raise SettingsError("GITHUB_APP_ID is not set: set it to the GitHub App's numeric id")
        app_id = _integer(env, "GITHUB_APP_ID", minimum=1)

        private_key, key_source = _private_key(env)
        settings = cls(
            webhook_secret=secret,
            previous_webhook_secret=env.get("GITHUB_WEBHOOK_SECRET_PREVIOUS"),
            app_id=app_id,
            private_key=private_key,
            private_key_source=key_source,
            api_url=_api_url(env.get("GITHUB_API_URL", DEFAULT_API_URL)),
            port=_integer(env, "PORT", default=DEFAULT_PORT, minimum=1, maximum=65535),
            host=_host(env.get("HOST", DEFAULT_HOST)),
            **_database(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            sentry_dsn=_sentry_dsn(env.get("SENTRY_DSN")),
            worker_concurrency=_integer(
                env, "HARDENING_WORKER_CONCURRENCY", default=4, minimum=1, maximum=256
            ),
            github_concurrency=_integer(
                env, "HARDENING_GITHUB_CONCURRENCY", default=1, minimum=1, maximum=64
            ),
            max_attempts=_integer(env, "HARDENING_MAX_ATTEMPTS", default=8, minimum=1),
            backoff_base=_number(env, "HARDENING_BACKOFF_BASE_SECONDS", default=2.0, positive=True),
            backoff_max=_number(env, "HARDENING_BACKOFF_MAX_SECONDS", default=600.0, positive=True),
            shutdown_grace=_number(env, "HARDENING_SHUTDOWN_GRACE_SECONDS", default=20.0),
            # aiohttp reads a total timeout of 0 as "no timeout": a hung request would block a
            # worker forever.
            github_timeout=_number(
                env, "HARDENING_GITHUB_TIMEOUT_SECONDS", default=30.0, positive=True
            ),
            scheduler_interval=_number(env, "HARDENING_SCHEDULER_INTERVAL_SECONDS", default=300.0),
            catch_up_interval=_number(env, "HARDENING_CATCH_UP_INTERVAL_SECONDS", default=900.0),
            config_max_age=_number(env, "HARDENING_CONFIG_MAX_AGE_SECONDS", default=86400.0),
            issue_max_age=_number(env, "HARDENING_ISSUE_MAX_AGE_SECONDS", default=3600.0),
            discover_interval=_number(
                env, "HARDENING_DISCOVER_INTERVAL_SECONDS", default=6 * 3600.0
            ),
            queue_poll_interval=_number(
                env, "HARDENING_QUEUE_POLL_SECONDS", default=1.0, positive=True
            ),
            queue_heartbeat=_number(
                env, "HARDENING_QUEUE_HEARTBEAT_SECONDS", default=5.0, positive=True
            ),
            log_level=_log_level(env.get("LOG_LEVEL", "INFO")),
        )
        if settings.backoff_max < settings.backoff_base:
            raise SettingsError(
                "HARDENING_BACKOFF_MAX_SECONDS must not be below HARDENING_BACKOFF_BASE_SECONDS "
                f"({settings.backoff_max:g} < {settings.backoff_base:g})"
            )
        return settings


def api_url_from(environ: Mapping[str, str]) -> str:
    """``GITHUB_API_URL`` checked, or the default (for commands that need no App yet)."""
    raw = environ.get("GITHUB_API_URL", "").strip()
    return _api_url(raw or DEFAULT_API_URL)


def integer_from(
    environ: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int
) -> int:
    """An integer variable checked as ``Settings.from_env`` checks it."""
    env = {k: v for k, v in environ.items() if v.strip() != ""}
    return _integer(env, name, default=default, minimum=minimum, maximum=maximum)


def _database(url: str) -> dict[str, Any]:
    """``database_url`` for PostgreSQL, else ``database_path`` for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        if not parts.hostname and "host=" not in parts.query:
            raise SettingsError(f"DATABASE_URL {redact(url)!r} names no PostgreSQL host")
        return {"database_url": url}
    return {"database_path": database_path(url)}


def redact(url: str) -> str:
    """``url`` without its passwords, for messages and logs: the one in its userinfo
    (``user:***@host``) and any query parameter naming one (libpq reads ``password`` and
    ``sslpassword`` there: ``?password=***``)."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    if query:
        fields = []
        for field in query.split("&"):
            name, equals, _value = field.partition("=")
            hidden = equals and "password" in name.lower()
            fields.append(f"{name}=***" if hidden else field)
        query = "&".join(fields)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return parts._replace(netloc=netloc, query=query).geturl()


def database_path(url: str) -> Path:
    """Path of the SQLite file named by a ``DATABASE_URL``.

    ``sqlite:///relative/path.db`` is relative to the working directory and
    ``sqlite:////absolute/path.db`` is absolute, as in SQLAlchemy URLs, which operators know.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise SettingsError(
            f"DATABASE_URL {redact(url)!r} is not supported: use postgresql://user@host/db, "
            "sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path = url.removeprefix(prefix).split("?", 1)[0]
    if path in ("", ":memory:") or path.endswith("/"):
        raise SettingsError(
            f"DATABASE_URL {redact(url)!r} does not name a file: the delivery inbox must survive a restart"
        )
    return Path(path)


def _private_key(env: Mapping[str, str]) -> tuple[str, str]:
    """The PEM text and the variable it came from."""
    text = env.get("GITHUB_PRIVATE_KEY")
    path = env.get("GITHUB_PRIVATE_KEY_PATH")
    if text and path:
        raise SettingsError(
            "both GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH are set: keep only one"
        )
    if path:
        try:
            pem = Path(path).read_text()
        except OSError as exc:
            raise SettingsError(
                f"GITHUB_PRIVATE_KEY_PATH {path!r} cannot be read: {exc.strerror or exc}"
            ) from None
        source = "GITHUB_PRIVATE_KEY_PATH"
    elif text:
        # Many hosts cannot hold a multi-line value, so a key pasted with literal "\n" is
        # accepted as the same PEM.
        pem = text.replace("\\n", "\n")
        source = "GITHUB_PRIVATE_KEY"
    else:
        raise SettingsError(
            "no App private key: set GITHUB_PRIVATE_KEY (PEM text) or GITHUB_PRIVATE_KEY_PATH"
        )
    _check_rsa_pem(pem.strip() + "\n", source)
    return pem.strip() + "\n", source


def _check_rsa_pem(pem: str, source: str) -> None:
    # Loading the key now turns a truncated or mangled secret into a start-up error instead of
    # a 401 from GitHub on every delivery.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"{source} is not a PEM private key ({reason})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SettingsError(f"{source} is not an RSA key: GitHub Apps sign with RS256")


def _api_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"GITHUB_API_URL {url!r} is not an http(s) URL, e.g. https://ghe.example.com/api/v3"
        )
    if parts.query or parts.fragment:
        raise SettingsError(f"GITHUB_API_URL {url!r} must not carry a query or fragment")
    return url.strip().rstrip("/")


def _host(raw: str) -> str:
    """The address to bind. Whether it can be bound is found out by binding (bot.startup);
    here only what is certainly not an address is refused."""
    host = raw.strip()
    if "://" in host or "/" in host or any(c.isspace() for c in host):
        raise SettingsError(
            f"HOST {raw!r} is not an address to bind: use an IP address or host name "
            "such as 0.0.0.0, 127.0.0.1 or ::"
        )
    return host


def _sentry_dsn(raw: str | None) -> str | None:
    # sentry_sdk.init would raise its BadDsn deep inside the app factory, as a traceback.
    if raw is None:
        return None
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(raw.strip())
    except BadDsn as exc:
        raise SettingsError(
            f"SENTRY_DSN is not a Sentry DSN ({exc}): copy it from the Sentry project's "
            "Client Keys page, or unset it"
        ) from None
    return raw.strip()


def _integer(
    env: Mapping[str, str],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = env.get(name)
    if raw is None:
        assert default is not None
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {value}")
    return value


def _number(env: Mapping[str, str], name: str, *, default: float, positive: bool = False) -> float:
    """Seconds from ``name``; ``positive`` where 0 would mean "never wait" or "wait forever"."""
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    least = "> 0" if positive else ">= 0"
    if not (value > 0 if positive else value >= 0) or value == float("inf"):
        raise SettingsError(f"{name} must be a finite number of seconds {least}, got {raw!r}")
    return value


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}"
        )
    return level


def process_env(
    environ: Mapping[str, str] | None = None, env_file: Path = ENV_FILE
) -> dict[str, str]:
    """The process environment over ``.env`` (when present): the environment wins.

    ``.env`` is what ``python -m bot setup`` writes; platforms set real variables, which must
    never be overridden by a file left in the image or working directory.
    """
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        try:
            values = dotenv_values(env_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{env_file} cannot be read: {exc}") from None
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(environ)
    return merged


def from_process_env(*, require_webhook_secret: bool = True) -> Settings:
    """``Settings.from_env`` over the process environment and ``.env``, for entry points."""
    return Settings.from_env(process_env(), require_webhook_secret=require_webhook_secret)
