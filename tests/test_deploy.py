"""The deploy paths agree with each other and with the README: the image's command, user and
environment, the compose services, the Kubernetes probes and scrape, the Procfile.

No container engine runs here, so the files are parsed, not built.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The README text under heading ``title``, up to the next heading of its level or higher
    (lines inside code blocks are never headings)."""
    level = len(title) - len(title.lstrip("#"))
    lines = README.splitlines()
    start = lines.index(title) + 1
    fenced = False
    for end in range(start, len(lines)):
        line = lines[end]
        fenced ^= line.startswith("```")
        marks = len(line) - len(line.lstrip("#"))
        if not fenced and 0 < marks <= level and line[marks : marks + 1] == " ":
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in final_stage():
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def exec_form(rest: str) -> list[str]:
    assert rest.startswith("["), f"use the exec form (no shell): {rest}"
    value = yaml.safe_load(rest)
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_the_image_is_slim_non_root_and_runs_the_procfiles_command() -> None:
    stage = final_stage()
    [base] = [rest for word, rest in stage if word == "FROM"]
    assert base.startswith("python:3.") and base.endswith("-slim")
    [user] = [rest for word, rest in stage if word == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    [cmd] = [rest for word, rest in stage if word == "CMD"]
    procfile = (ROOT / "Procfile").read_text().strip()
    assert procfile == "web: python -m bot"
    assert exec_form(cmd) == procfile.removeprefix("web: ").split()
    [expose] = [rest for word, rest in stage if word == "EXPOSE"]
    assert expose == image_env()["PORT"]
    [health] = [rest for word, rest in stage if word == "HEALTHCHECK"]
    assert "/healthz" in health and "os.environ.get('PORT'" in health


def test_the_readme_describes_the_image_as_built() -> None:
    docker = section("### Docker and compose")
    documented = dict(re.findall(r"`([A-Z_]+)=([^`]+)`", docker))
    env = image_env()
    assert documented == {k: env[k] for k in ("HOST", "PORT", "DATABASE_URL")}
    [user] = [rest for word, rest in final_stage() if word == "USER"]
    uid = user.split(":")[0]
    assert f"uid `{uid}`" in docker
    assert "`python -m bot`" in docker
    assert re.search(r"useradd .*--uid " + uid + r" .* bot\b", (ROOT / "Dockerfile").read_text())
    volume = env["DATABASE_URL"].removeprefix("sqlite:///").rsplit("/", 1)[0]
    assert f"`{volume}`" in docker
    assert any(word == "VOLUME" and volume in rest for word, rest in final_stage())


def test_the_image_never_holds_credentials() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv/" in ignored and "*.pem" in ignored
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_bot_with_postgresql() -> None:
    services = compose()["services"]
    assert set(services) == {"bot", "db"}
    bot, db = services["bot"], services["db"]
    assert bot["build"] == "."
    assert db["image"].startswith("postgres:")
    url = bot["environment"]["DATABASE_URL"]
    match = re.fullmatch(r"postgresql://(\w+):(\w+)@db:5432/(\w+)", url)
    assert match, url
    credentials = db["environment"]
    assert match.groups() == (
        credentials["POSTGRES_USER"],
        credentials["POSTGRES_PASSWORD"],
        credentials["POSTGRES_DB"],
    )
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert bot["env_file"] == [{"path": ".env", "required": False}]
    port = bot["environment"]["PORT"]
    assert bot["ports"] == [f"{port}:{port}"] and port == image_env()["PORT"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert set(compose()["volumes"]) == {v.split(":")[0] for v in db["volumes"]}


def test_kubernetes_probes_and_scrape_match_the_http_routes() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy/kubernetes.yaml").read_text()))
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]
    [container] = pod["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert str(port) == image_env()["PORT"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(port)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    # the drain (HARDENING_SHUTDOWN_GRACE_SECONDS, 20 s by default) fits in the grace period
    assert pod["spec"]["terminationGracePeriodSeconds"] > 20
    assert container["envFrom"] == [{"secretRef": {"name": "hardening-bot"}}]
    kubernetes = section("### Kubernetes")
    assert "kubectl create secret generic hardening-bot --from-env-file=.env" in kubernetes
    assert "/healthz" in kubernetes and "/metrics" in kubernetes


def test_the_procfile_platform_uses_its_postgresql_add_on() -> None:
    procfile = section("### A Procfile platform (Heroku and the like)")
    assert "addons:create heroku-postgresql" in procfile
    assert (ROOT / "requirements.txt").read_text().splitlines()[-1] == "."


def test_the_quick_start_walks_the_path_in_order() -> None:
    quick = section("## Quick start: from nothing to a working installation")
    steps = [
        "**1. Register the App.**",
        "**2. Run it.**",
        "**3. Install the App on repositories.**",
        "**4. Open a first incident.**",
    ]
    positions = [quick.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "python -m bot setup" in quick and "smee-client" in quick
    assert README.index("## Quick start") < README.index("## Try it without GitHub")
    # each step says what the operator should see
    for start, end in zip(positions, [*positions[1:], len(quick)], strict=True):
        assert re.search(r"[Yy]ou should see|It prints", quick[start:end]), quick[start:end]


def test_the_docs_say_the_app_must_be_installed_on_the_org_config_repository() -> None:
    rules = (ROOT / "docs" / "rules.md").read_text()
    assert "App must be installed\n   on the organisation's `.github` repository" in rules
    assert "installed on the `.github` repository" in README
