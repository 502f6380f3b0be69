"""A configuration file read as YAML, with the line of every key path in it.

PyYAML's node tree keeps where each key starts; errors found later, while validating, are
reported at the line of the key they are about (``file:line: key.path: reason``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from rules.config.model import ConfigError

BAD: Any = object()  # a validator's "this value is invalid" (errors already recorded)

Path = tuple[Any, ...]


class Layer:
    """Errors of one file, with the line of every key path in it."""

    def __init__(self, source: str, lines: Mapping[Path, int] | None = None) -> None:
        self.source = source
        self.lines: Mapping[Path, int] = lines or {}
        self.errors: list[ConfigError] = []

    def line_of(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def error(self, path: Path, reason: str, line: int | None = None) -> None:
        line = self.line_of(path) if line is None else line
        self.errors.append(ConfigError(self.source, line, path_text(path), reason))


def path_text(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def parse_yaml(source: str, text: str) -> tuple[Any, Layer]:
    """YAML text -> (data, layer with line index); data is BAD when the YAML is unreadable."""
    layer = Layer(source)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters right here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines: dict[Path, int] = {}
        layer.lines = lines
        if node is not None:
            lines[()] = node.start_mark.line + 1
            _index_nodes(loader, node, (), lines, set(), layer)
        return data, layer
    except yaml.MarkedYAMLError as error:
        line, reason = _yaml_error(error)
        layer.errors.append(ConfigError(source, line, "", _yaml_hint(reason)))
    except yaml.YAMLError as error:
        position = getattr(error, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        layer.errors.append(ConfigError(source, line, "", f"not valid YAML: {error}"))
    except RecursionError:
        layer.errors.append(ConfigError(source, None, "", "not valid YAML: nested too deeply"))
    finally:
        if loader is not None:
            loader.dispose()
    return BAD, layer


# Constructs that PyYAML reports where the text runs out or the next key begins, when what is
# wrong is that they were never closed: its context mark is where the construct opened.
_UNCLOSED = (
    "while parsing a flow sequence",
    "while parsing a flow mapping",
    "while scanning a quoted scalar",
)


def _yaml_error(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """(line, reason) of a YAML error: the line to fix, which for an unclosed ``[``, ``{`` or
    quote is where it opened, not where the parser gave up."""
    reason = " ".join(part for part in (error.context, error.problem) if part)
    problem, context = error.problem_mark, error.context_mark
    if context is not None and (error.context or "").startswith(_UNCLOSED):
        if problem is not None and problem.line != context.line:
            reason += f" (not closed by line {problem.line + 1})"
        return context.line + 1, reason
    mark = problem or context
    return (mark.line + 1 if mark is not None else None), reason


def _yaml_hint(reason: str) -> str:
    reason = f"not valid YAML: {reason}"
    if "'@'" in reason:
        reason += ' (quote values that start with @, e.g. "@acme/reliability-leads")'
    elif "'*'" in reason or "alias" in reason:
        reason += ' (quote patterns that start with *, e.g. "**/*_test.go")'
    elif "'\\t'" in reason:
        reason += " (indent with spaces, not tabs)"
    return reason


def _index_nodes(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    seen: set[int],
    layer: Layer,
) -> None:
    # An alias shares its node; walking it once keeps "billion laughs" documents linear.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first_line:
                    layer.error(
                        (*path, key), f"duplicate key (first given on line {first_line[key]})", line
                    )
                    continue
                first_line[key] = line
            except TypeError:
                continue
            lines[(*path, key)] = line
            _index_nodes(loader, value_node, (*path, key), lines, seen, layer)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_nodes(loader, item, (*path, index), lines, seen, layer)
