"""The whole spec (``Spec``), and its validation from a raw mapping into one.

``_validate`` validates twice: first without the checks that import Keras, so a spec bad elsewhere
is refused before TensorFlow loads, then with them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, PrivateAttr, ValidationError, ValidationInfo, model_validator

from autofix_lstm.errors import ModelSpecError, SpecError
from autofix_lstm.spec._error_lines import _format_errors
from autofix_lstm.spec._paths import expand_user
from autofix_lstm.spec._sections import (
    _KERAS_CHECKS,
    DataSpec,
    ModelSpec,
    PreprocessingSpec,
    SearchSpec,
    TrainSpec,
    _keras_checks,
    _Strict,
)
from autofix_lstm.spec._values import Task

# What a resumed search may change: the budget and its stop rule, the stages after the trials (minimize,
# confirm), the oracle's proposal step, the logs and the devices do not change a finished trial's result.
SEARCH_NOT_IN_RESULTS = ("max_trials", "max_time", "minimize", "confirm", "oracle_proposal", "tensorboard",
                         "distribution", "stop", "patience")


class Spec(_Strict):
    """A whole validated spec. ``base_dir`` anchors the relative paths in it."""

    data: DataSpec
    model: ModelSpec
    preprocessing: PreprocessingSpec = Field(default_factory=PreprocessingSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    output: str = "runs/autofix"

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _reset_needs_a_stateful_layer(self, info: ValidationInfo) -> Spec:
        # Checked once the layers are known (a saved model's are read in the pass with Keras) and with
        # Keras' layer names, as the model is built: `epoch` on stateless layers would be silently ignored.
        if self.train.reset_states == "never" or self.model.layers is None or not _keras_checks(info):
            return self
        from autofix_lstm.modeling.build import is_stateful

        if not is_stateful(self.model):
            raise ValueError(f".train.reset_states: {self.train.reset_states} only applies to stateful layers, and no "
                             "recurrent layer of model.layers is stateful; set `stateful: true` on an lstm layer "
                             "(with train.batch_size as its fixed batch) or remove train.reset_states")
        return self

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against (the spec file's folder)."""
        return self._base_dir

    @property
    def source(self) -> str | None:
        """Where the spec came from (a file path), for error messages."""
        return self._source

    def resolve(self, path: str | Path) -> Path:
        """``path`` made absolute against the spec's folder.

        Raises:
            SpecError: ``~user`` names a user this system does not know.
        """
        path = expand_user(path, "the path")
        return path if path.is_absolute() else (self._base_dir / path)

    @property
    def output_dir(self) -> Path:
        """The absolute output folder."""
        return self.resolve(self.output)

    @property
    def search_seed(self) -> int:
        """The seed of the search's own draws (the oracle's): ``search.seed``, else ``train.seed``."""
        return self.train.seed if self.search.seed is None else self.search.seed

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that ``load_spec`` accepts back (layers flattened to ``{type, **kwargs}``)."""
        raw = self.model_dump(mode="json", exclude_none=False)
        if self.model.layers is not None:
            raw["model"]["layers"] = [layer.to_dict() for layer in self.model.layers]
        for key in ("layers", "path"):
            if raw["model"].get(key) is None:
                raw["model"].pop(key, None)
        if raw["train"].get("reset_states") == "never":  # the default, and meaningless without a stateful layer
            raw["train"].pop("reset_states")
        if raw["train"].get("deterministic") is False:  # the default: specs written before it read the same
            raw["train"].pop("deterministic")
        if raw["search"].get("seed") is None:  # the default (train.seed's): specs written before it read the same
            raw["search"].pop("seed")
        if self.data.is_array_file:
            for key in ("features", "window", "horizon", "rollout"):
                raw["data"].pop(key, None)
            if not self.data.multi_target:  # several targets' names are y's columns' (DataSpec)
                raw["data"].pop("target", None)
        return raw

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The spec as YAML, readable by a person and by ``load_spec``; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            from autofix_lstm.run_dir import write_text  # atomic, like every file the package writes

            write_text(text, expand_user(path, "the spec's path"))
        return text

    @classmethod
    def from_model(
        cls,
        model: Any,
        *,
        path: str | None = None,
        target: str | list[str] | None = None,
        window: int | None = None,
        features: list[str] | None = None,
        horizon: int | None = None,
        rollout: int | None = None,
        task: Task | None = None,
        validation_split: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        preprocessing: dict | None = None,
        search: dict | None = None,
        output: str | None = None,
    ) -> Spec:
        """The spec of a compiled ``keras.Model``: its layers, optimizer and loss, and the data settings given.

        The model is only read, never changed. A model with stateful layers brings the batch size it was
        built for as ``train.batch_size`` (another ``batch_size`` is refused). ``task`` defaults to what a classification loss
        implies (binary cross-entropy: binary; categorical: multiclass); with any other loss it is
        inferred from the target, as for a spec (so an mse loss on 0/1 labels is diagnosed as binary).
        ``spec.to_yaml("spec.yaml")`` then saves it for the CLI (give ``path``, ``target`` and
        ``window`` for a table, or set ``data.path`` in the file). ``target`` as a list of two or more
        names predicts those columns together; with windowed arrays, it names ``y``'s columns.

        Raises:
            ModelSpecError: the model is not a compiled Sequential or linear functional model of
                supported layers; one line naming what is not (a branch, a custom layer).
            SpecError: the settings given break the schema.
        """
        import keras

        from autofix_lstm.modeling.reading import (
            check_batch_size,
            layers_from_model,
            loss_from_model,
            optimizer_from_model,
        )
        from autofix_lstm.modeling.stateful import static_batch_size

        if not isinstance(model, keras.Model):
            raise ModelSpecError(f"expected a compiled keras.Model; got {type(model).__name__}")
        try:
            model_section = {"layers": layers_from_model(model), "optimizer": optimizer_from_model(model),
                             "loss": loss_from_model(model)}
            batch_size = check_batch_size(static_batch_size(model), batch_size)  # a stateful model's own
        except ModelSpecError as err:
            raise ModelSpecError([f"the model {p}" for p in err.problems]) from None
        given = {"path": path, "target": target, "window": window, "features": features, "horizon": horizon,
                 "rollout": rollout, "task": task, "validation_split": validation_split}
        raw: dict[str, Any] = {"data": {k: v for k, v in given.items() if v is not None}, "model": model_section}
        train = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items() if v is not None}
        for section, values in (("train", train), ("preprocessing", preprocessing), ("search", search)):
            if values:
                raw[section] = dict(values)
        if output is not None:
            raw["output"] = output
        return _validate(raw, base_dir=Path.cwd(), source=None)

    def results_dict(self) -> dict[str, Any]:
        """``to_dict()`` less what does not decide a trial's result (``SEARCH_NOT_IN_RESULTS``, the output folder):
        what a search's fingerprint and an in-memory search's folder name hash."""
        raw = self.to_dict()
        raw["search"] = {k: v for k, v in raw["search"].items() if k not in SEARCH_NOT_IN_RESULTS}
        raw.pop("output", None)
        return raw

    def updated(self, changes: dict[str, Any], *, keras_checks: bool = True) -> Spec:
        """A new validated spec with dotted-path ``changes`` applied (``{"train.epochs": 5}``); without
        ``keras_checks``, validated as ``load_spec(..., keras_checks=False)`` validates."""
        raw = self.to_dict()
        for dotted, value in changes.items():
            _set_path(raw, dotted, value)
        return _validate(raw, base_dir=self._base_dir, source=self._source, keras_checks=keras_checks)


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _validate(raw: Any, *, base_dir: Path, source: str | None, keras_checks: bool = True) -> Spec:
    if not isinstance(raw, dict):
        raise SpecError(f"the spec must be a mapping with keys data, model, ...; got {type(raw).__name__}", source)
    raw = copy.deepcopy(raw)
    for section in ("preprocessing", "train", "search"):
        if section in raw and raw[section] is None:  # `search:` with nothing under it means the defaults
            del raw[section]
    try:  # first without the checks that import TensorFlow, so a spec bad elsewhere is refused at once
        spec = Spec.model_validate(raw, context={_KERAS_CHECKS: False})
    except ValidationError as err:
        raise SpecError(_format_errors(err.errors()), source) from None
    model_path = (raw.get("model") or {}).get("path") if isinstance(raw.get("model"), dict) else None
    if keras_checks and model_path is not None and (raw["model"].get("layers") is None):
        # A saved Sequential is read into the same layer list the rest of the tool works with.
        from autofix_lstm.modeling.reading import check_batch_size, read_model_file

        path = expand_user(model_path, "model.path")
        path = path if path.is_absolute() else base_dir / path
        try:
            raw["model"]["layers"], built_for = read_model_file(path)
            # a stateful model's batch size is part of it: taken when the spec gives none, else checked
            batch_size = check_batch_size(built_for, (raw.get("train") or {}).get("batch_size"))
        except ModelSpecError as err:
            raise ModelSpecError([f"model.path {p}" for p in err.problems], source) from None
        raw["model"].pop("path")
        if batch_size is not None:
            raw["train"] = {**(raw.get("train") or {}), "batch_size": batch_size}
    if keras_checks:
        try:
            spec = Spec.model_validate(raw)
        except ValidationError as err:
            raise SpecError(_format_errors(err.errors()), source) from None
    spec._base_dir = base_dir
    spec._source = source
    return spec
