"""Training the spec as written, and measuring it in the target's original units.

``train`` is what ``autofix-lstm train`` runs. The pieces (``prepare``, ``fit_prepared``,
``predict_original``, ``export_model``) are shared with diagnosis and search so that every
candidate is trained and measured the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from autofix_lstm.data.batches import STREAM_ABOVE_BYTES, WindowBatches, logical_bytes
from autofix_lstm.data.dataset import Dataset, evenly_spaced
from autofix_lstm.data.transforms import InputTransform, TargetTransform
from autofix_lstm.errors import CannotTrainError, ModelSpecError, ResourceError, RunFolderError, SpecError
from autofix_lstm.modeling import stateful
from autofix_lstm.modeling.build import build_core, compile_core, head_units
from autofix_lstm.modeling.callbacks import EpochProgress, StopOnInvalidLoss
from autofix_lstm.modeling.evaluate import measure, predict_original, validation_predictions  # noqa: F401  (predict_original: re-exported, as the docstring says)
from autofix_lstm.modeling.release import releasing_custom_gradients
from autofix_lstm.preflight import check_output_folder
from autofix_lstm.run_dir import RunDir, save_model, write_json
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.spec import Spec


@dataclass
class Prepared:
    """A dataset with the spec's preprocessing fit on its training part, ready for ``model.fit``."""

    dataset: Dataset
    inputs: InputTransform
    target: TargetTransform
    x_train: np.ndarray  # model-space inputs (views over scaled rows where the scaling acts per row)
    y_train: np.ndarray  # model-space targets, in the form the loss expects
    x_val: np.ndarray
    y_val: np.ndarray
    class_weight: dict | None = None

    def validation_sample(self, limit: int) -> Prepared:
        """These prepared data with at most ``limit`` validation windows, evenly spaced (views, no copy);
        itself when the validation part is no larger. For checks that need a good look, not every window."""
        if len(self.y_val) <= limit:
            return self
        part = evenly_spaced(len(self.y_val), limit)
        return replace(self, dataset=self.dataset.validation_sample(limit), x_val=self.x_val[part], y_val=self.y_val[part])


def _model_inputs(inputs: InputTransform, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Model-space windows: views over the rows scaled once, where the scaling acts on each row alone;
    window-relative ones computed as they are read when large (``RelativeWindows``)."""
    if inputs.per_row and dataset.rows is not None:
        return dataset.rewindow(inputs.apply_rows(dataset.rows))
    if not inputs.per_row:
        return inputs.lazy(dataset.x_train), inputs.lazy(dataset.x_val)
    return inputs.apply(dataset.x_train), inputs.apply(dataset.x_val)


def _loss_targets(y: np.ndarray, dataset: Dataset, loss: str) -> np.ndarray:
    if dataset.task == "regression":
        return y
    if "categorical" in loss and "sparse" not in loss:
        return keras.utils.to_categorical(y, num_classes=dataset.n_classes).astype(np.float32)
    return y.astype(np.float32 if "binary" in loss or dataset.task == "binary" else np.int64)


def _class_weight(spec: Spec, dataset: Dataset) -> dict | None:
    setting = spec.preprocessing.class_weight
    if setting is None:
        return None
    if dataset.task == "regression":
        raise SpecError("preprocessing.class_weight applies to binary/multiclass tasks, not regression; remove it", spec.source)
    if setting == "balanced":
        present = np.unique(dataset.y_train)
        weights = compute_class_weight("balanced", classes=present, y=dataset.y_train)
        return {int(c): float(w) for c, w in zip(present, weights)}
    unknown = sorted(set(setting) - set(range(dataset.n_classes)))
    if unknown:
        raise SpecError(
            f"preprocessing.class_weight names classes {unknown}; the classes are 0..{dataset.n_classes - 1}",
            spec.source,
        )
    return {int(k): float(v) for k, v in setting.items()}


def prepare(spec: Spec, dataset: Dataset) -> Prepared:
    """Fit the spec's input/target preprocessing on the training part and transform both parts.

    Raises:
        SpecError: the preprocessing cannot fit the data's task.
    """
    p = spec.preprocessing
    if dataset.task != "regression" and p.target != "none":
        raise SpecError(
            f"preprocessing.target {p.target!r} applies to regression only; this task is {dataset.task}. Set it to none",
            spec.source,
        )
    inputs = InputTransform.fit(p.inputs, dataset.x_train, dataset.training_rows())
    target = TargetTransform.fit(p.target, dataset.y_train, dataset.x_train, dataset.target_columns,
                                 per_column=dataset.multi_target)
    if dataset.task == "regression":
        y_train = target.apply(dataset.y_train, dataset.x_train)
        y_val = target.apply(dataset.y_val, dataset.x_val)
    else:
        y_train, y_val = dataset.y_train, dataset.y_val
    x_train, x_val = _model_inputs(inputs, dataset)
    return Prepared(
        dataset=dataset,
        inputs=inputs,
        target=target,
        x_train=x_train,
        y_train=_loss_targets(y_train, dataset, spec.model.loss),
        x_val=x_val,
        y_val=_loss_targets(y_val, dataset, spec.model.loss),
        class_weight=_class_weight(spec, dataset),
    )


def enable_determinism() -> None:
    """TensorFlow's deterministic op implementations, from now on in this process (``train.deterministic``).

    Process-wide and not undone: TensorFlow offers no way back. An op with no deterministic kernel then
    raises where it runs (on a GPU, a few scatter and segment ops; none an LSTM stack uses).
    """
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def build_model(spec: Spec, prepared: Prepared) -> keras.Model:
    """The user's model, seeded and compiled, on the prepared inputs (a stateful one on batches of
    ``train.batch_size``).

    Raises:
        CannotTrainError: a stateful model with fewer training windows than one batch.
    """
    keras.utils.set_random_seed(spec.train.seed)
    if spec.train.deterministic:
        enable_determinism()
    stateful.require_full_batch(spec, len(prepared.y_train))
    try:
        core = build_core(spec.model, prepared.x_train.shape[1:], batch_size=spec.train.batch_size)
    except ModelSpecError as err:
        raise ModelSpecError(err.problems, err.source or spec.source) from None  # name the spec file
    return compile_core(core, spec.model)


def export_model(core: keras.Model, prepared: Prepared) -> keras.Model:
    """A self-contained model: raw windows in, predictions in original units out (a stateful ``core``'s
    takes batches of exactly the size it was built for, as the core does, and starts from zero states:
    they are reset here, as the metrics were measured)."""
    stateful.reset_states(core)
    raw = keras.Input(batch_shape=(stateful.static_batch_size(core), *prepared.dataset.x_train.shape[1:]),
                      name="raw_window")
    scale = prepared.inputs.layer()
    out = core(scale(raw) if scale is not None else raw)
    invert = prepared.target.layer() if prepared.dataset.task == "regression" else None
    if invert is not None:
        out = invert([out, raw])
    return keras.Model(raw, out, name="autofix_lstm_model")


@dataclass
class FitOutcome:
    """What one training produced: the model-space model, its history, metrics and time."""

    core: keras.Model
    history: dict
    metrics: Metrics
    seconds: float
    epochs_run: int
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)
    train_seconds: float | None = None  # building and fitting (its callbacks included); the rest is measuring
    val_predictions: np.ndarray | None = None  # on the validation windows, in the target's original units


def _check_head(spec: Spec, dataset: Dataset) -> None:
    """A classifier's head must have one unit, or one per class: "cannot train" before Keras fails or trains
    outputs no label names (the diagnosis names it ``head_width_mismatch``; the search fixes it)."""
    units = head_units(spec.model)
    if dataset.task == "regression" or units is None or units in (1, dataset.n_classes):
        return
    reason = (f"model.layers: the last dense layer has {units} units but the target has {dataset.n_classes} classes "
              f"{dataset.classes[:10]}")
    raise CannotTrainError(
        f"cannot train: {reason}; give it {dataset.n_classes} units (softmax) or 1 unit"
        + (" (sigmoid)" if dataset.task == "binary" else "") + "; `autofix-lstm search` fixes it for you",
        spec.source, reason=reason,
    )


# What TensorFlow/Keras raise when the model, its loss and the labels do not fit each other (shapes,
# label ranges): these come from the spec. Running out of memory is the machine's limit, not the
# spec's. Anything else is a bug and propagates as it is.
_SPEC_ERRORS = ("ValueError", "InvalidArgumentError", "IncompatibleShapes")
_RESOURCE_ERRORS = ("ResourceExhaustedError", "MemoryError", "OutOfMemoryError")


def _head_text(spec: Spec) -> str:
    layers = spec.model.layers
    for index in range(len(layers) - 1, -1, -1):
        if layers[index].type == "dense":
            kw = layers[index].kwargs
            return f"model.layers[{index}] (dense, {kw.get('units')} units, activation {kw.get('activation', 'linear')})"
    return "the model's last layer"


def _training_error(err: Exception, spec: Spec, prepared: Prepared) -> Exception:
    """The error to raise for an exception from ``fit``: a spec error, a resource error, or ``err`` itself."""
    names = {cls.__name__ for cls in type(err).__mro__}
    lines = str(err).strip().splitlines()
    if names & set(_RESOURCE_ERRORS):
        return ResourceError(
            f"training ran out of memory ({type(err).__name__}) with train.batch_size {spec.train.batch_size}; "
            "lower train.batch_size or the LSTM units, or shorten data.window",
        )
    if names & set(_SPEC_ERRORS):
        detail = next((line for line in lines if "label" in line.lower() or "shape" in line.lower()), lines[-1] if lines else "")
        reason = (f"{_head_text(spec)} and model.loss {spec.model.loss!r} do not fit the {prepared.dataset.task} "
                  f"target: {type(err).__name__}: {detail.strip()[:300]}")
        return CannotTrainError(
            f"cannot train: {reason}. Give the head 1 unit (or one per class) with the activation the loss "
            "expects; `autofix-lstm search` fixes it for you",
            spec.source, reason=reason,
        )
    return err


def _fit_data(spec: Spec, prepared: Prepared) -> dict:
    """``model.fit``'s data arguments: the arrays themselves when small, batches gathered from the
    window views when large (Keras would otherwise copy every window into one tensor).

    A stateful model's are whole batches only, in time order, never shuffled (``stateful``); its validation
    data likewise, left out when it has less than one batch (the fit's history then has no ``val_loss``;
    the metrics still see every window).
    """
    size = spec.train.batch_size
    x_train, y_train, x_val, y_val = prepared.x_train, prepared.y_train, prepared.x_val, prepared.y_val
    in_order = stateful.is_stateful(spec.model)
    if in_order:
        n_train, n_val = stateful.full_batches(len(y_train), size), stateful.full_batches(len(y_val), size)
        x_train, y_train, x_val, y_val = x_train[:n_train], y_train[:n_train], x_val[:n_val], y_val[:n_val]
    if logical_bytes(x_train, x_val) <= STREAM_ABOVE_BYTES:
        out: dict = {"x": np.ascontiguousarray(x_train), "y": y_train, "batch_size": size,
                     "class_weight": prepared.class_weight}
        if in_order:
            out["shuffle"] = False
        validation = (np.ascontiguousarray(x_val), y_val)
    else:
        out = {"x": WindowBatches(x_train, y_train, size, shuffle=not in_order, seed=spec.train.seed,
                                  class_weight=prepared.class_weight)}
        validation = WindowBatches(x_val, y_val, size)
    if len(y_val) or not in_order:
        out["validation_data"] = validation
    return out


def fit_prepared(
    spec: Spec,
    prepared: Prepared,
    *,
    epochs: int | None = None,
    callbacks: list | None = None,
    min_std_ratio: float | None = None,
    progress: bool = False,
) -> FitOutcome:
    """Build, train and measure the spec's model on prepared data. NaN losses stop the training early.

    Raises:
        ModelSpecError: the model cannot be trained on this task (head size, loss, labels).
        ResourceError: the machine ran out of memory training it.
        Any other exception from Keras as it is (a bug, not bad input).
    """
    _check_head(spec, prepared.dataset)
    started = time.perf_counter()
    epochs = epochs or spec.train.epochs
    core = build_model(spec, prepared)
    stop_on_nan = StopOnInvalidLoss()
    all_callbacks = [stop_on_nan, *(callbacks or [])]
    if stateful.is_stateful(spec.model) and spec.train.reset_states == "epoch":
        all_callbacks.insert(0, stateful.ResetStatesEachEpoch())
    if progress:
        all_callbacks.append(EpochProgress(epochs))
    try:
        # Without the release, TensorFlow keeps each fit's train-step graph for good (modeling.release).
        with releasing_custom_gradients():
            history = core.fit(
                **_fit_data(spec, prepared), epochs=epochs, callbacks=all_callbacks, verbose=0,
            )
    except Exception as err:
        raise _training_error(err, spec, prepared) from None
    train_seconds = time.perf_counter() - started
    raw_pred = validation_predictions(core, prepared)
    metrics = measure(prepared, raw_pred, min_std_ratio=min_std_ratio)
    # Extension: a loss that went NaN/inf makes the weights garbage even when the outputs stay finite.
    sampled = [cb.checked_windows for cb in callbacks or [] if getattr(cb, "checked_windows", None) is not None]
    checks_on = None
    if sampled and sampled[0] < len(prepared.y_val):  # say so when the per-epoch checks saw a sample only
        checks_on = f"{sampled[0]} of {len(prepared.y_val)} validation windows, evenly spaced"
    metrics = metrics.with_training(loss_diverged=stop_on_nan.batch is not None, collapse_checks_on=checks_on)
    hist = {k: [float(v) for v in values] for k, values in history.history.items()}
    epochs_run = len(hist.get("loss", []))
    return FitOutcome(
        core=core, history=hist, metrics=metrics, seconds=time.perf_counter() - started,
        epochs_run=epochs_run, stopped_early=epochs_run < epochs, train_seconds=train_seconds,
        val_predictions=raw_pred,
    )


@dataclass
class TrainResult:
    """The result of ``train``: metrics in original units, the self-contained model and its history."""

    metrics: Metrics
    model: keras.Model
    history: dict
    spec: Spec
    seconds: float
    output_dir: Path | None = None

    @property
    def collapsed(self) -> bool:
        """The collapse verdict."""
        return bool(self.metrics.collapsed)


def check_trainable(spec: Spec, dataset: Dataset) -> tuple[Prepared, keras.Model]:
    """Everything ``train`` checks before its first epoch, and nothing more: nothing trains, nothing is written.

    Checks the output folder can be made, fits the preprocessing on the data, checks the head and
    the loss against the task and builds the compiled model.

    Raises:
        SpecError, DataError: what ``train`` would refuse, with the same message.
    """
    check_output_folder(spec)
    prepared = prepare(spec, dataset)
    _check_head(spec, prepared.dataset)
    return prepared, build_model(spec, prepared)


def train(spec: Spec, dataset: Dataset, *, save: bool = True, progress: bool = False) -> TrainResult:
    """Train the spec as written and measure whether its output collapsed.

    Args:
        spec: the validated spec, overrides applied (``inputs.resolve_inputs`` makes it, with the data).
        dataset: its data, windowed and split.
        save: write ``metrics.json`` and ``model.keras`` to the spec's output folder.
        progress: show a progress bar over epochs.

    Returns:
        A ``TrainResult``; its ``model`` takes raw windows, predicts in original units and is compiled
        with the spec's optimizer and loss, so it can keep training.

    Raises:
        SpecError, DataError: bad input, with the field and the fix.
        RunFolderError: the output folder cannot be written (permissions, a full disk).
    """
    if save:  # refused before the training, not after it
        check_output_folder(spec)
    prepared = prepare(spec, dataset)
    outcome = fit_prepared(spec, prepared, progress=progress)
    model = export_model(outcome.core, prepared)
    result = TrainResult(outcome.metrics, model, outcome.history, spec, outcome.seconds)
    if save:
        out = spec.output_dir
        try:
            write_json(outcome.metrics.to_dict(), RunDir(out).metrics)
            save_model(model, RunDir(out).model)
        except OSError as err:  # the folder passed check_output_folder: the disk or permissions failed
            raise RunFolderError(
                f"output {out} cannot be written ({type(err).__name__}: {err}); free some space or set output "
                "to a folder you can write to"
            ) from None
        result.output_dir = out
    compile_core(model, spec.model)  # after saving: the file holds no optimizer state to warn about
    return result


__all__ = [
    "FitOutcome",
    "Prepared",
    "TrainResult",
    "check_trainable",
    "export_model",
    "fit_prepared",
    "prepare",
    "train",
]
