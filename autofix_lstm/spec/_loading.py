"""Reading a spec: YAML with every key given once, then validated into a ``Spec``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from autofix_lstm.errors import SpecError
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


def safe_load_unique(text: str) -> Any:
    """``yaml.safe_load``, but a key given twice in one mapping (at any depth) is refused.

    Raises:
        DuplicateKeyError: naming the key's path and both lines, e.g. ``data.window is given twice,
            at lines 3 and 5``.
        yaml.YAMLError: the text is not YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
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
    path = Path(spec).expanduser()
    source = str(path)
    if not path.is_file():
        raise SpecError(f"spec file not found; expected a YAML file at {path.resolve()}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"cannot read the spec file: {err}", source) from None
    try:
        raw = safe_load_unique(text)
    except DuplicateKeyError as err:
        raise SpecError(str(err), source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"malformed YAML{where}: {problem}; fix the syntax (indentation, colons, quotes)", source) from None
    if raw is None:
        raise SpecError("the spec file is empty; it needs at least 'data' and 'model'", source)
    if isinstance(raw, dict) and "output" not in raw:
        raw["output"] = f"runs/{path.stem}"
    return _validate(raw, base_dir=path.resolve().parent, source=source, keras_checks=keras_checks)
