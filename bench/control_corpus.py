"""How right the control reading is on real commits: ``python -m bench.control_corpus``.

Reads ``bench/corpus/controls.csv`` (references and labels only: repository, commit, parent,
failure class, label, kind, reason; see bench/corpus/label_controls.py for how the labels were
made), materializes every commit as GitHub's pull request file list (bench/corpus/materialize.py,
from the bare clones fetched under ``$HARDENING_MIRRORS``), runs
:func:`rules.diff.find_control_changes` on it with the shipped default control paths of the
row's failure class (or the row's own ``control_paths``, what that team would configure), and
prints accuracy tables: by split (``train`` / ``holdout``, fixed by a hash of repository and
commit), by failure class, by kind of change and by repository. ``--wrong`` lists the rows read
wrongly, with what the reader said. Run by hand; CI runs the fixtures under fixtures/patches.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.corpus.materialize import git_dir, materialize, read_rows
from rules.config import default_config
from rules.diff import ControlVerdict, find_control_changes

CORPUS = Path(__file__).resolve().parent / "corpus" / "controls.csv"


@dataclass(frozen=True)
class Result:
    row: dict[str, str]
    verdict: ControlVerdict

    @property
    def expected(self) -> bool:
        return self.row["label"] == "control"

    @property
    def said(self) -> bool:
        return self.verdict.outcome == "met"

    @property
    def right(self) -> bool:
        return self.expected == self.said


def evaluate(rows: Iterable[dict[str, str]]) -> list[Result]:
    config = default_config()
    results: list[Result] = []
    for row in rows:
        fc = config.failure_classes[row["failure_class"]]
        paths = [p for p in row.get("control_paths", "").split(";") if p] or fc.control_paths
        files, truncated = materialize(row["repo"], row["parent"], row["commit"])
        verdict = find_control_changes(
            files, paths, truncated=truncated, documents=fc.documents_are_controls
        )
        results.append(Result(row, verdict))
    return results


def _table(title: str, results: list[Result], key: str) -> None:
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        groups[result.row[key] if key else "all"].append(result)
    width = max(len(title), *(len(k) for k in groups))
    print(f"\n{title:<{width}}  cases  right  accuracy  missed  false")
    for name in sorted(groups):
        group = groups[name]
        right = sum(r.right for r in group)
        missed = sum(r.expected and not r.said for r in group)
        false = sum(r.said and not r.expected for r in group)
        share = 100 * right / len(group)
        print(f"{name:<{width}}  {len(group):5}  {right:5}  {share:7.1f}%  {missed:6}  {false:5}")


def _reading(verdict: ControlVerdict) -> str:
    if verdict.changes:
        return "change " + ", ".join(c.describe() for c in verdict.changes[:3])
    parts = [f"{c.path} ({c.reason})" for c in (*verdict.ignored, *verdict.removals)][:3]
    return f"{verdict.outcome}: " + ("; ".join(parts) or "no control file")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--split", choices=("train", "holdout"), help="only this split")
    parser.add_argument("--wrong", action="store_true", help="list the rows read wrongly")
    args = parser.parse_args(argv)
    rows = [r for r in read_rows(args.corpus) if not args.split or r["split"] == args.split]
    missing = sorted({r["repo"] for r in rows if not git_dir(r["repo"]).exists()})
    if missing:
        print(f"not fetched (skipped): {', '.join(missing)}")
        rows = [r for r in rows if r["repo"] not in missing]
    started = time.perf_counter()
    results = evaluate(rows)
    seconds = time.perf_counter() - started
    print(f"control corpus: {len(results)} commits read in {seconds:.1f} s")
    for result in results:
        result.row["all"] = "all"
    _table("split", results, "split")
    for split in ("train", "holdout"):
        chosen = [r for r in results if r.row["split"] == split]
        if chosen:
            _table(f"{split}: failure class", chosen, "failure_class")
            _table(f"{split}: kind", chosen, "kind")
            _table(f"{split}: repository", chosen, "repo")
    if args.wrong:
        print("\nread wrongly:")
        for result in results:
            if not result.right:
                row = result.row
                print(
                    f"- {row['split']} {row['repo']} {row['commit'][:12]} {row['failure_class']} "
                    f"label={row['label']} ({row['kind']}: {row['reason'][:120]})\n"
                    f"    reader: {_reading(result.verdict)}"
                )


if __name__ == "__main__":
    main()
