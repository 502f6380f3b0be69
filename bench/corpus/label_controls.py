"""Label real commits for the control corpus: does the commit change a control?

``python -m bench.corpus.label_controls [--per-repo N] > rows.csv`` walks the fetched bare clones
named in :data:`REPOS`, and for every commit that touches a repository's control files decides,
from the whole files before and after (not from the patch the reader sees), whether a control
really changed:

- YAML and JSON files are parsed on both sides: equal documents are no change, whatever the
  comments, quoting, indentation or key order;
- other text files are compared without their whole-line comments and without whitespace;
- documentation (Markdown, text, images) changes a control only for classes whose controls are
  documents (runbooks, escalation policies);
- a deleted file, or a file renamed without changes, changes no control.

The label is ``control`` when at least one control file really changed, ``none`` otherwise; the
reason names the files and what happened to them. The rows are a candidate list: they are read
by hand where the reason says the comparison could not parse a side (``unparsed``), and the kept
rows go to ``bench/corpus/controls.csv``.

How ``controls.csv`` was drawn (each step's rows into its own file, then ``--sample``)::

    python -m bench.corpus.label_controls --per-repo 250 > all.csv
    python -m bench.corpus.label_controls --small 8 --per-repo 2000 > small.csv
    python -m bench.corpus.label_controls --near --per-repo 40 > near.csv
    python -m bench.corpus.label_controls --sample all.csv small.csv near.csv > controls.csv
    python -m bench.corpus.label_controls --per-repo 40 --grep '(^|[^a-z])(fmt|format|
        formatting|lint|linter|prettier|whitespace|indent|indentation|typo|typos|comment|
        comments|copyright|license|header|style|cosmetic|spacing|trailing|newline|yamllint|
        rename|renamed|move|moved)([^a-z]|$)' > grep.csv      # every new row appended
    python -m bench.corpus.label_controls --relabel controls.csv   # after a spec changes

``REPOS`` says, per repository, which failure class its control files belong to and where they
are (globs in :mod:`rules.globs` syntax), and whether the team there would rely on the shipped
default control paths (``defaults``) or configure its own (the globs become the row's
``control_paths``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import yaml

from bench.corpus.materialize import git, git_dir, split_for
from rules.globs import GlobSet

_DOCS = re.compile(
    r"(?i)\.(md|markdown|rst|txt|adoc|png|jpe?g|gif|svg)$|(^|/)(LICENSE|NOTICE|AUTHORS)[^/]*$"
)
_NAMED_DOCS = re.compile(r"(?i)(^|/)(README|LICENSE|NOTICE|AUTHORS|CHANGELOG)[^/]*$")
_YAML = re.compile(r"(?i)\.ya?ml$")
_JSON = re.compile(r"(?i)\.json$")
_HASH = re.compile(
    r"(?i)(\.(ya?ml|tf|hcl|rego|sh|py|toml|rb|conf|cfg)|(^|/)(CODEOWNERS|Dockerfile|Makefile|Jenkinsfile))$"
)
_SLASH = re.compile(r"(?i)\.(jsonnet|libsonnet|go|js|ts|tf|hcl|groovy)$")
_MARKDOWN = re.compile(r"(?i)\.(md|markdown)$")


@dataclass(frozen=True)
class Spec:
    failure_class: str
    globs: tuple[str, ...]
    defaults: bool = True  # the default control paths are expected to find these files
    docs_are_controls: bool = False
    near: tuple[str, ...] = ()  # the same folders: files there that are not controls


def _spec(
    cls: str, *globs: str, defaults: bool = True, docs: bool = False, near: tuple[str, ...] = ()
) -> Spec:
    return Spec(cls, tuple(globs), defaults, docs, near)


_GITHUB = (".github/**",)
_CI = (
    ".github/workflows/**",
    ".github/actions/**",
    ".github/CODEOWNERS",
    "CODEOWNERS",
    ".pre-commit-config.yaml",
)


def _ci() -> Spec:
    """A repository's CI policy: workflows, the actions they run, code owners, pre-commit."""
    return Spec("repeated-regression", _CI, near=_GITHUB)


REPOS: dict[str, list[Spec]] = {
    "prometheus-operator/runbooks": [
        _spec("late-decision", "content/runbooks/**", docs=True, near=("content/docs/**", "*.md"))
    ],
    "openshift/runbooks": [
        _spec("late-decision", "alerts/**", defaults=False, docs=True),
    ],
    "kubernetes-monitoring/kubernetes-mixin": [
        _spec("missed-detection", "alerts/**", "dashboards/**", near=("*.md", "docs/**")),
        _spec("late-decision", "runbook.md", docs=True),
    ],
    "samber/awesome-prometheus-alerts": [
        _spec("missed-detection", "dist/rules/**", "_data/rules.yml", defaults=False),
        _ci(),
    ],
    "open-policy-agent/gatekeeper-library": [
        _spec(
            "repeated-regression",
            "library/**/template.yaml",
            "src/**/*.rego",
            "library/**/*.rego",
            defaults=False,
        ),
        _ci(),
    ],
    "open-policy-agent/library": [_spec("repeated-regression", "**/*.rego")],
    "kyverno/policies": [
        _ci(),
    ],
    "fluxcd/flux2-kustomize-helm-example": [
        _spec("slow-recovery", "clusters/**", "apps/**", "infrastructure/**", defaults=False),
        _ci(),
    ],
    "fluxcd/flux2-multi-tenancy": [
        _spec("slow-recovery", "clusters/**", "tenants/**", "infrastructure/**", defaults=False),
        _ci(),
    ],
    "argoproj/argocd-example-apps": [
        _spec("slow-recovery", "**/*.yaml", "**/*.yml", "**/*.jsonnet", defaults=False),
    ],
    "argoproj/argo-helm": [
        _spec("slow-recovery", "charts/**"),
        _ci(),
    ],
    "argoproj/argo-rollouts": [
        _spec("slow-recovery", "examples/**", defaults=False),
        _ci(),
    ],
    "prometheus-community/helm-charts": [
        _spec("slow-recovery", "charts/**"),
        _spec(
            "missed-detection", "charts/kube-prometheus-stack/templates/prometheus/rules-1.14/**"
        ),
        _ci(),
    ],
    "prometheus-operator/kube-prometheus": [
        _spec("missed-detection", "manifests/*rometheusRule.yaml", "jsonnet/**/alerts/**"),
        _ci(),
    ],
    "prometheus/node_exporter": [
        _spec(
            "missed-detection",
            "docs/node-mixin/alerts/**",
            "docs/node-mixin/dashboards/**",
            near=("docs/node-mixin/*.md", "docs/*.md"),
        ),
        _spec(
            "repeated-regression",
            ".github/workflows/**",
            ".circleci/**",
            "CODEOWNERS",
            near=_GITHUB,
        ),
    ],
    "cloudposse/terraform-datadog-platform": [
        _spec(
            "missed-detection",
            "catalog/monitors/**",
            "modules/monitors/**",
            "modules/slo/**",
            "modules/synthetics/**",
        ),
    ],
    "cloudposse/terraform-opsgenie-incident-management": [
        _spec(
            "late-decision",
            "modules/escalation/**",
            "modules/team_routing_rule/**",
            "modules/schedule/**",
        ),
    ],
    "psf/requests": [_ci()],
    "pallets/click": [_ci()],
    "spf13/cobra": [_ci()],
    "fmtlib/fmt": [_ci()],
    "BurntSushi/ripgrep": [_ci()],
    "sinatra/sinatra": [_ci()],
}


# --- whole-file comparison -------------------------------------------------------------------


def _blob(repo: str, rev: str, path: str) -> bytes | None:
    try:
        return git(repo, "show", f"{rev}:{path}")
    except subprocess.CalledProcessError:
        return None


def _strip(path: str, text: str) -> str:
    """The file without whole-line comments and without any whitespace."""
    kept: list[str] = []
    in_block = False
    for line in text.split("\n"):
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if _SLASH.search(path) and s.startswith("/*"):
            in_block = "*/" not in s
            continue
        if _HASH.search(path) and s.startswith("#"):
            continue
        if _SLASH.search(path) and s.startswith("//"):
            continue
        kept.append(s)
    joined = "".join(kept)
    if _MARKDOWN.search(path):
        joined = re.sub(r"<!--.*?-->", "", joined)
    joined = re.sub(r"\s+", "", joined)
    if _SLASH.search(path):
        joined = re.sub(r",(?=[\]})])", "", joined)  # a formatter's trailing commas
    return joined


def _load(path: str, text: str) -> Any:
    if _JSON.search(path):
        return json.loads(text)
    return list(yaml.safe_load_all(text))


def compare(path: str, old: bytes, new: bytes) -> str:
    """``same`` / ``comments`` / ``whitespace`` / ``formatting`` / ``changed`` (+``unparsed``)."""
    if old == new:
        return "same"
    a, b = old.decode("utf-8", "replace"), new.decode("utf-8", "replace")
    if re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b):
        return "whitespace"
    if _strip(path, a) == _strip(path, b):
        return "comments"
    if (_YAML.search(path) or _JSON.search(path)) and "{{" not in a + b:
        try:
            if _load(path, a) == _load(path, b):
                return "formatting"
            return "changed"
        except (yaml.YAMLError, ValueError):
            return "changed unparsed"
    return "changed"


@dataclass(frozen=True)
class FileLabel:
    path: str
    what: str  # added, changed, deleted, renamed, docs, comments, whitespace, formatting, same

    @property
    def counts(self) -> bool:
        return self.what.split()[0] in ("added", "changed")


def label_files(repo: str, parent: str, commit: str, spec: Spec) -> list[FileLabel]:
    globs = GlobSet.of(spec.globs)
    out = git(repo, "diff", "--raw", "-z", "-M", "--no-abbrev", parent, commit)
    fields = out.decode("utf-8", "replace").split("\0")
    labels: list[FileLabel] = []
    i = 0
    while i < len(fields) - 1:
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        parts = meta.split()
        letter = parts[-1][:1]
        if letter in ("R", "C"):
            old_path, path = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old_path = path = fields[i + 1]
            i += 2
        if not (globs.match(path) or globs.match(old_path)):
            continue
        if letter == "D":
            labels.append(FileLabel(path, "deleted"))
            continue
        if not globs.match(path):
            labels.append(FileLabel(path, "moved-out"))
            continue
        named = _NAMED_DOCS.search(path)
        if _DOCS.search(path) and (named or not spec.docs_are_controls):
            labels.append(FileLabel(path, "docs"))
            continue
        new = _blob(repo, commit, path) or b""
        if letter == "R" and _blob(repo, parent, old_path) == new:
            labels.append(FileLabel(path, "renamed"))  # moved, not a new control
            continue
        if letter == "A" or (letter == "R" and not globs.match(old_path)):
            empty = not _strip(path, new.decode("utf-8", "replace"))
            labels.append(FileLabel(path, "comments" if empty else "added"))
            continue
        old = _blob(repo, parent, old_path) or b""
        what = compare(path, old, new)
        if letter == "R" and what == "same":
            what = "renamed"
        labels.append(FileLabel(path, what))
    return labels


_KIND = {
    "missed-detection": "alert",
    "late-decision": "runbook",
    "slow-recovery": "deploy",
    "repeated-regression": "ci-policy",
}


def verdict(labels: list[FileLabel], failure_class: str) -> tuple[str, str, str]:
    """(label, kind, reason) for a commit's control files."""
    counted = [f for f in labels if f.counts]
    if counted:
        added = any(f.what == "added" for f in counted)
        kind = f"{_KIND[failure_class]}-{'added' if added else 'changed'}"
        reason = "; ".join(f"{f.path} {f.what}" for f in counted[:3])
        return "control", kind, reason
    whats = sorted({f.what.split()[0] for f in labels})
    kind = whats[0] if len(whats) == 1 else "mixed"
    reason = "; ".join(f"{f.path} {f.what}" for f in labels[:3])
    return "none", kind, reason


def candidates(
    repo: str, globs: tuple[str, ...], limit: int, small: int = 0, grep: str = ""
) -> list[tuple[str, str]]:
    """(parent, commit) of single-parent commits touching ``globs``; with ``small``, only those
    changing at most that many lines there (where comment and whitespace edits are)."""
    specs = [f":(glob){g}" for g in globs]
    where = ["-i", "-E", f"--grep={grep}"] if grep else []
    out = git(
        repo, "log", "--no-merges", "--format=@%H %P", "--numstat", f"-n{limit}", *where,
        "HEAD", "--", *specs,
    )  # fmt: skip
    pairs: list[tuple[str, str]] = []
    sizes: list[int] = []
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("@"):
            parts = line[1:].split()
            pairs.append((parts[1], parts[0]) if len(parts) == 2 else ("", ""))
            sizes.append(0)
        elif line.strip() and sizes:
            added, deleted = [*line.split("\t"), "", ""][:2]
            sizes[-1] += int(added) + int(deleted) if added.isdigit() and deleted.isdigit() else 0
    return [p for p, n in zip(pairs, sizes, strict=True) if p[0] and (not small or n <= small)]


def _own_paths(spec: Spec) -> str:
    return "" if spec.defaults else ";".join(spec.globs)


def _spec_of(row: dict[str, str]) -> Spec:
    specs = [s for s in REPOS[row["repo"]] if s.failure_class == row["failure_class"]]
    same = [s for s in specs if _own_paths(s) == row["control_paths"]]
    return (same or specs)[0]


def relabel(row: dict[str, str]) -> dict[str, str]:
    """The row labelled again from the current specs (a hand-read label is kept: its reason
    starts with ``read:``)."""
    if row["reason"].startswith("read:"):
        return row
    spec = _spec_of(row)
    labels = label_files(row["repo"], row["parent"], row["commit"], spec)
    row = {**row, "control_paths": _own_paths(spec)}
    if not labels and row["kind"] == "outside":
        return row
    label, kind, reason = verdict(labels, spec.failure_class)
    return {**row, "label": label, "kind": kind, "reason": reason[:300]}


FIELDS = [
    "repo",
    "commit",
    "parent",
    "failure_class",
    "control_paths",
    "label",
    "kind",
    "split",
    "reason",
]


def sample(all_rows: str, small_rows: str, near_rows: str, seed: int = 14) -> list[dict[str, str]]:
    """The corpus from the three scans: every ``none`` row, up to 6 ``near`` rows per
    repository, and per repository and class up to 4 small and 6 other ``control`` rows."""
    rnd = random.Random(seed)

    def rows(path: str) -> list[dict[str, str]]:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    every, small, near = rows(all_rows), rows(small_rows), rows(near_rows)
    seen: set[tuple[str, str, str]] = set()
    out: list[dict[str, str]] = []

    def add(row: dict[str, str]) -> bool:
        key = (row["repo"], row["commit"], row["failure_class"])
        if key in seen:
            return False
        seen.add(key)
        out.append(row)
        return True

    for row in every + small:
        if row["label"] == "none":
            add(row)
    beside: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in near:
        if row["reason"]:
            beside[row["repo"]].append(row)
    for chosen in beside.values():
        rnd.shuffle(chosen)
        for row in chosen[:6]:
            add(row)
    for source, limit in ((small, 4), (every, 6)):
        groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for row in source:
            if row["label"] == "control":
                groups[(row["repo"], row["failure_class"])].append(row)
        for chosen in groups.values():
            rnd.shuffle(chosen)
            taken = 0
            for row in chosen:
                if taken >= limit:
                    break
                taken += add(row)
    out.sort(key=lambda r: (r["repo"], r["failure_class"], r["commit"]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-repo", type=int, default=400, help="commits scanned per spec")
    parser.add_argument("--repo", action="append", help="only these repositories")
    parser.add_argument("--small", type=int, default=0, help="only commits this small")
    parser.add_argument("--near", action="store_true", help="commits beside the controls")
    parser.add_argument("--relabel", help="label the rows of this CSV again")
    parser.add_argument("--grep", default="", help="only commits whose message matches")
    parser.add_argument("--sample", nargs=3, metavar="CSV", help="draw the corpus from scans")
    args = parser.parse_args(argv)
    writer = csv.DictWriter(sys.stdout, FIELDS)
    writer.writeheader()
    if args.sample:
        writer.writerows(sample(*args.sample))
        return
    if args.relabel:
        with open(args.relabel, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                writer.writerow(relabel(row))
        return
    for repo, specs in REPOS.items():
        if args.repo and repo not in args.repo:
            continue
        if not git_dir(repo).exists():
            print(f"# {repo}: not fetched", file=sys.stderr)
            continue
        for spec in specs:
            globs = spec.near if args.near else spec.globs
            for parent, commit in candidates(repo, globs, args.per_repo, args.small, args.grep):
                labels = label_files(repo, parent, commit, spec)
                if args.near and not labels:
                    near = GlobSet.of(spec.near)
                    names = git(repo, "diff", "--name-only", parent, commit).decode().split()
                    touched = [n for n in names if near.match(n)]
                    label, kind, reason = "none", "outside", "; ".join(touched[:3])
                elif args.near or not labels:
                    continue
                else:
                    label, kind, reason = verdict(labels, spec.failure_class)
                writer.writerow(
                    {
                        "repo": repo,
                        "commit": commit,
                        "parent": parent,
                        "failure_class": spec.failure_class,
                        "control_paths": "" if spec.defaults else ";".join(spec.globs),
                        "label": label,
                        "kind": kind,
                        "split": split_for(repo, commit),
                        "reason": reason[:300],
                    }
                )


if __name__ == "__main__":
    main()
