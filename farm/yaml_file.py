"""Read one YAML input file (devices.yaml, models.yaml) into plain data, strictly: a file that
cannot be read, is not YAML, or gives a key twice in one mapping is one ConfigError naming the
file and the line."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from farm.errors import ConfigError


def read_yaml(path: str | Path) -> Any:
    """The file's data; ConfigError naming the file (and the line) for anything wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}", "check the path") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except _DuplicateKey as exc:
        raise ConfigError(
            str(path),
            f"line {exc.line}",
            f"duplicate key {exc.key!r} (first at line {exc.first_line}): YAML keeps only the last",
            "remove or rename one of them",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(
            str(path),
            where,
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            "fix the YAML syntax",
        ) from exc


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, first_line: int, line: int) -> None:
        self.key, self.first_line, self.line = key, first_line, line
        super().__init__(f"duplicate key {key!r}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error: the
    YAML spec requires unique keys, but PyYAML silently keeps the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise _DuplicateKey(key, seen[key], line)
            if isinstance(key, Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep)
