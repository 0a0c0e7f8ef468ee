"""Reading what marketers and ops edit: cadence files and qualification rules (YAML).

Errors name the file and, where YAML knows it, the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.qualification import Rules, parse_rules
from cadence.errors import ConfigurationError

MAX_FILE_BYTES = 1_000_000


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line as ``__line__`` (1-based)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def load_yaml(path: Path) -> Any:
    """Parse a YAML file safely; mappings carry ``__line__``. Raises :class:`ConfigurationError`."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigurationError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigurationError(f"{path}{where}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigurationError(f"{path}: nested too deeply") from None


def load_cadence_file(path: Path) -> Cadence:
    """Read and validate one cadence file; its name defaults to the file's stem."""
    data = load_yaml(path)
    try:
        cadence = parse_cadence(data, default_name=path.stem)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    if cadence.name != path.stem:
        raise ConfigurationError(f"{path}: the cadence is named {cadence.name!r}; name the file {cadence.name}.yaml")
    return cadence


def cadence_files(templates_dir: Path) -> list[Path]:
    """The cadence files under ``templates_dir/cadences``, sorted."""
    folder = templates_dir / "cadences"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_cadences(templates_dir: Path) -> dict[str, Cadence]:
    """Every cadence under ``templates_dir/cadences``, by name."""
    folder = templates_dir / "cadences"
    if not folder.is_dir():
        raise ConfigurationError(f"{folder}: no cadences folder (set CADENCE_TEMPLATES_DIR)")
    cadences: dict[str, Cadence] = {}
    for path in cadence_files(templates_dir):
        cadence = load_cadence_file(path)
        if cadence.name in cadences:
            raise ConfigurationError(f"{path}: a cadence named {cadence.name!r} exists already")
        cadences[cadence.name] = cadence
    if not cadences:
        raise ConfigurationError(f"{folder}: no cadence files (*.yaml)")
    return cadences


def load_rules(templates_dir: Path, cadence_names: set[str] | None = None) -> Rules:
    """The qualification rules in ``templates_dir/qualification.yaml`` (defaults if it is absent).

    When ``cadence_names`` is given, every class must name one of those cadences.
    """
    path = templates_dir / "qualification.yaml"
    if not path.exists():
        rules = Rules()
    else:
        try:
            rules = parse_rules(load_yaml(path))
        except ConfigurationError as exc:
            message = str(exc)
            raise ConfigurationError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if cadence_names is not None:
        for rule in (*rules.classes, rules.inbound):
            if rule.cadence not in cadence_names:
                known = ", ".join(sorted(cadence_names))
                raise ConfigurationError(f"{path}: class {rule.name!r} names cadence {rule.cadence!r}; known: {known}")
    return rules
