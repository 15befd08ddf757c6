"""Reading a spec: YAML with every key given once, then validated into a ``Spec``."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import yaml

from autofix_lstm.errors import SpecError
from autofix_lstm.spec._paths import expand_user
from autofix_lstm.spec._spec import Spec, _validate


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping gives the same key twice (PyYAML would silently keep the last one)."""

    def __init__(self, path: str, first_line: int, second_line: int):
        self.path, self.first_line, self.second_line = path, first_line, second_line
        where = f"on line {first_line}" if first_line == second_line else f"at lines {first_line} and {second_line}"
        super().__init__(f"{path} is given twice, {where}; YAML would silently keep only the second: remove one of them")


def _check_unique_keys(node: yaml.Node, loader: yaml.SafeLoader, path: str, seen_nodes: set[int]) -> None:
    """Raise ``DuplicateKeyError`` for the first key given twice in any mapping under ``node``."""
    if id(node) in seen_nodes:  # an alias to a node already checked (or a recursive one)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_unique_keys(item, loader, f"{path}[{index}]", seen_nodes)
    elif isinstance(node, yaml.MappingNode):
        lines: dict[Any, int] = {}  # key -> line it first appears on
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: keys given here override it, by design
                _check_unique_keys(value_node, loader, path, seen_nodes)
                continue
            key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            name = f"{path}.{key}" if path else str(key)
            try:
                first = lines.get(key) if key is not None else None
            except TypeError:  # unhashable: the constructor refuses it with its own message
                first = None
            if first is not None:
                raise DuplicateKeyError(name, first, key_node.start_mark.line + 1)
            if key is not None:
                lines[key] = key_node.start_mark.line + 1
            _check_unique_keys(value_node, loader, name, seen_nodes)


# Bounds on a YAML document, far above what a spec or a strategy file holds (a spec nests about 6
# levels and holds a few hundred values): past them, the text is an accident or an attack (a
# "billion laughs" of nested aliases), refused before Python builds it or recurses through it.
MAX_YAML_DEPTH = 50
MAX_YAML_VALUES = 1_000_000  # counting what each alias (*name) stands for, every time it is used


class YamlLimitError(yaml.YAMLError):
    """A YAML document nests too deep, expands past ``MAX_YAML_VALUES`` through its aliases, or refers to itself."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing to nest deeper than ``MAX_YAML_DEPTH`` (its composer recurses per level)."""

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"nests deeper than {MAX_YAML_DEPTH} levels (at line {line}); a spec needs a few levels: "
                    "flatten the lists and mappings"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand it past the bounds, or make it contain itself.

    Iterative, and each node is measured once, so a bomb of 10**9 values is measured in microseconds.
    """
    size: dict[int, int] = {}  # id(node) -> values under it, aliases expanded
    depth: dict[int, int] = {}  # id(node) -> levels under it, aliases expanded
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        if children_done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
            if size[key] > MAX_YAML_VALUES or depth[key] > MAX_YAML_DEPTH:
                line = node.start_mark.line + 1
                what = (f"more than {MAX_YAML_VALUES:,} values" if size[key] > MAX_YAML_VALUES
                        else f"deeper than {MAX_YAML_DEPTH} levels")
                raise YamlLimitError(
                    f"expands to {what} once its aliases (*name) are replaced by what they stand for (from line "
                    f"{line}); a spec needs no such thing: write the values out, or use fewer aliases"
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError(
                f"holds an alias inside the very node it refers to (line {node.start_mark.line + 1}), "
                "which would make a value contain itself: remove that alias"
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in size)


def safe_load_unique(text: str) -> Any:
    """``yaml.safe_load``, but a key given twice in one mapping (at any depth) is refused, and so is a
    document nested or expanded (through aliases) past ``MAX_YAML_DEPTH`` / ``MAX_YAML_VALUES``.

    Raises:
        DuplicateKeyError: naming the key's path and both lines, e.g. ``data.window is given twice,
            at lines 3 and 5``.
        YamlLimitError: the document nests too deep, expands too far, or contains itself.
        yaml.YAMLError: the text is not YAML.
    """
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        _check_unique_keys(node, loader, "", set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_spec(spec: str | Path | dict | Spec, *, keras_checks: bool = True) -> Spec:
    """Read and validate a spec from a YAML file path, a dict or an existing ``Spec``.

    ``keras_checks=False`` leaves out the checks that import Keras (layer types and arguments, loss
    and optimizer names, reading ``model.path``): the result is good for reading the data and the
    output folder before TensorFlow loads (``inputs.resolve_inputs``), not for training.

    Raises:
        SpecError: the file is missing or malformed, or the spec breaks the schema; one line per problem.
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return _validate(spec, base_dir=Path.cwd(), source=None, keras_checks=keras_checks)
    path = expand_user(spec, "the spec path")
    source = str(path)
    resolved = _resolve_spec_path(path, source)
    if not path.is_file():
        raise SpecError(f"spec file not found; expected a YAML file at {resolved}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read the spec file: {err}", source) from None
    try:
        raw = safe_load_unique(text)
    except DuplicateKeyError as err:
        raise SpecError(str(err), source) from None
    except YamlLimitError as err:
        raise SpecError(f"the spec {err}", source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"malformed YAML{where}: {problem}; fix the syntax (indentation, colons, quotes)", source) from None
    if raw is None:
        raise SpecError("the spec file is empty; it needs at least 'data' and 'model'", source)
    if isinstance(raw, dict) and "output" not in raw:
        raw["output"] = f"runs/{path.stem}"
    return _validate(raw, base_dir=resolved.parent, source=source, keras_checks=keras_checks)


def _resolve_spec_path(path: Path, source: str) -> Path:
    """``path`` made absolute with its links followed; a symlink loop is refused."""
    try:
        resolved = path.resolve()
    except RuntimeError:  # Python < 3.13 says "Symlink loop from ..." this way
        raise SpecError(_SYMLINK_LOOP, source) from None
    try:
        path.stat()
    except OSError as err:  # missing or unreadable: the caller says so
        if err.errno == errno.ELOOP:
            raise SpecError(_SYMLINK_LOOP, source) from None
    return resolved


_SYMLINK_LOOP = "the spec path is a symlink loop (its links lead back to themselves); point it at a YAML file"
