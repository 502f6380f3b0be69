"""Real-commit corpora for the diff reader, kept as references and labels only.

The project holds no code from the repositories these commits come from: a corpus is a CSV of
(repository, commit, parent, label, reason) rows, and :mod:`bench.corpus.materialize` turns a row
into the pull request file list GitHub would send for it, read from a local bare clone
(``HARDENING_MIRRORS``, one ``owner+name/repo`` git directory per repository) into a cache
folder outside the repository (``HARDENING_CORPUS_CACHE``).

- ``tests.csv``    does the commit add a regression test case? (``python -m bench.diff_corpus``)
- ``label_tests``  the labelling script that wrote it (independent of ``rules.diff``)

Run by hand, never in CI: CI has no clones.
"""
