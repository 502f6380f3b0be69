"""How often the diff reader is right on real commits: ``python -m bench.diff_corpus``.

Run by hand, not in CI (CI has no clones). Reads ``bench/corpus/tests.csv`` (references and
labels only, written by ``python -m bench.corpus.label_tests``), materializes each commit as
GitHub's pull request file list from the fetched bare clones (see
:mod:`bench.corpus.materialize`; cached outside the repository), runs
:func:`rules.diff.evaluate_pull` with the shipped default test paths, as a new user's repository
would have them, and prints accuracy per ecosystem and per kind of case, for the training part
and the hold-out third separately.

A commit is read as adding a test when the verdict's test outcome is ``met``; ``missing`` and
``unknown`` (a diff GitHub would not send) are read as "no".

    python -m bench.diff_corpus                 # both tables
    python -m bench.diff_corpus --misses        # and every training case it gets wrong
    python -m bench.diff_corpus --ecosystem rust --misses

Misses are listed for the training part only: the hold-out is measured, never tuned against.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.corpus.materialize import git_dir, materialize, read_rows
from rules.config import default_config
from rules.diff import PullVerdict, evaluate_pull

CORPUS = Path(__file__).parent / "corpus" / "tests.csv"


def judge(row: dict[str, str], test_paths: tuple[str, ...]) -> tuple[bool, PullVerdict]:
    files, truncated = materialize(row["repo"], row["parent"], row["commit"])
    verdict = evaluate_pull(files, test_paths=test_paths, control_paths=(), truncated=truncated)
    return verdict.test.outcome == "met", verdict


def _table(title: str, results: list[dict[str, Any]], key: str) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        groups[result[key]].append(result)
    head = f"{title:<16} {'cases':>5} {'tests':>5} {'none':>5} {'right':>5} {'acc':>7}  misses"
    lines = [head, "-" * len(head)]

    def line(name: str, group: list[dict[str, Any]]) -> str:
        right = sum(1 for r in group if r["right"])
        pos = sum(1 for r in group if r["label"] == "test")
        fn = sum(1 for r in group if not r["right"] and r["label"] == "test")
        fp = sum(1 for r in group if not r["right"] and r["label"] != "test")
        acc = 100.0 * right / len(group) if group else 0.0
        return (
            f"{name:<16} {len(group):>5} {pos:>5} {len(group) - pos:>5} {right:>5} {acc:>6.1f}%"
            f"  {fn} missed, {fp} false"
        )

    for name in sorted(groups):
        lines.append(line(name, groups[name]))
    lines.append(line("all", results))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Diff reader accuracy on real commits")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--ecosystem", action="append")
    parser.add_argument("--misses", action="store_true", help="list training cases it gets wrong")
    args = parser.parse_args(argv)
    test_paths = default_config().test_paths
    rows = read_rows(args.corpus)
    if args.ecosystem:
        rows = [r for r in rows if r["ecosystem"] in args.ecosystem]
    results: list[dict[str, Any]] = []
    absent: set[str] = set()
    started = time.perf_counter()
    reading = 0.0
    for row in rows:
        if not git_dir(row["repo"]).exists():
            absent.add(row["repo"])
            continue
        t0 = time.perf_counter()
        said, verdict = judge(row, test_paths)
        reading += time.perf_counter() - t0
        right = said == (row["label"] == "test")
        kind = row["kind"] if row["label"] != "test" else "adds a test"
        results.append({**row, "said": said, "right": right, "kind": kind, "verdict": verdict})
    for repo in sorted(absent):
        print(f"not read: no clone of {repo} at {git_dir(repo)}")
    for split in ("train", "holdout"):
        part = [r for r in results if r["split"] == split]
        if not part:
            continue
        print(f"\n== {split}: {len(part)} commits ==")
        print("\n".join(_table("ecosystem", part, "ecosystem")))
        print()
        print("\n".join(_table("kind", part, "kind")))
    if args.misses:
        print("\n== training cases read wrong ==")
        for r in results:
            if r["right"] or r["split"] != "train":
                continue
            verdict = r["verdict"]
            found = "; ".join(c.describe() for c in verdict.test.found[:3]) or verdict.test.outcome
            print(f"{r['ecosystem']:10} {r['repo']}@{r['commit'][:12]} label={r['label']}")
            print(f"    label: {r['reason'][:150]}")
            print(f"    read:  {found[:150]}")
    elapsed = time.perf_counter() - started
    print(f"\n{len(results)} commits in {elapsed:.1f}s (reading {reading:.2f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
