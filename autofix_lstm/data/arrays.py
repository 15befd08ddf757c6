"""Already windowed arrays as a ``Dataset``: an ``.npz`` file, ``x``/``y`` from a notebook, or the
``fit``-style parts ``(x, y)`` and ``validation_data``.

``y`` is one value per sample, one-hot class rows, or (samples, steps) for a multi-step forecast; or,
when the spec names several targets (``data.target: [a, b]``), (samples, targets): one column each.
"""

from __future__ import annotations

import numpy as np

from autofix_lstm.data.array_checks import check_shape, nonfinite_line, nonfinite_samples
from autofix_lstm.data.samples import (
    Dataset,
    _check_sizes,
    _check_target_varies,
    _encode_target,
    array_feature_names,
    split_index,
)
from autofix_lstm.data.task import infer_task
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.spec import Spec, is_class_label_loss


def refuse_rollout(spec: Spec) -> None:
    """Windowed arrays cannot be rolled out: ``data.rollout`` slides over the rows after each window.

    Raises:
        SpecError: the spec sets ``data.rollout``.
    """
    if spec.data.rollout is not None:
        raise SpecError(f"data.rollout ({spec.data.rollout}) feeds a one-step model's predictions back into the rows "
                        "after each window, and windowed arrays (x=/y=, an .npz) have no rows to slide over; pass "
                        "the table instead (data=frame, with target=, window= and the target among features=), "
                        "or remove rollout", spec.source)


def from_arrays(spec: Spec, x: np.ndarray, y: np.ndarray, source: str) -> Dataset:
    """The spec's already windowed ``x``, ``y`` (an .npz file's, or given in memory), split as the spec says.

    Raises:
        SpecError: the spec sets ``data.rollout`` (``refuse_rollout``).
        DataError: arrays that do not fit the spec.
    """
    refuse_rollout(spec)
    if spec.data.multi_target:
        return _several_targets(spec, x, y, source)
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1) if np.asarray(y).ndim == 2 and np.asarray(y).shape[1] == 1 else np.asarray(y)
    check_shape(x, source)
    if y.ndim not in (1, 2):
        raise DataError(f"{source}: y must have shape (samples,), or (samples, steps) for a multi-step forecast; "
                        f"got shape {y.shape}")
    bad = nonfinite_samples(x, y, source)
    if bad.any():
        if spec.data.missing == "error":
            raise DataError(f"{source}: {nonfinite_line(bad)}; clean them or set data.missing: drop")
        x, y = x[~bad], y[~bad]
    _check_target_varies(y, source)
    task = _forecast_task(y, spec.data.task, source) if y.ndim == 2 else spec.data.task or infer_task(y, spec.model.loss)
    y, classes = _encode_target(y, task, source)
    split = split_index(len(x), spec.data.validation_split)
    _check_sizes(len(x), split, source, "")
    _check_target_varies(y, source)
    return Dataset(
        x_train=x[:split].astype(np.float32), y_train=y[:split], x_val=x[split:].astype(np.float32),
        y_val=y[split:], task=task, feature_names=array_feature_names(x.shape[2]),
        target_name="y", classes=classes,
    )


def _several_targets(spec: Spec, x, y, source: str) -> Dataset:
    """``data.target: [a, b]`` on windowed arrays: ``y``'s columns are those targets, in that order."""
    x, y = np.asarray(x), target_columns(y, spec.data.targets, spec.data.task, source)
    check_shape(x, source)
    bad = nonfinite_samples(x, y, source)
    if bad.any():
        if spec.data.missing == "error":
            raise DataError(f"{source}: {nonfinite_line(bad)}; clean them or set data.missing: drop")
        x, y = x[~bad], y[~bad]
    split = split_index(len(x), spec.data.validation_split)
    _check_sizes(len(x), split, source, "")
    return _named_targets(x[:split], y[:split], x[split:], y[split:], spec.data.targets)


def _named_targets(x_train, y_train, x_val, y_val, targets: tuple[str, ...]) -> Dataset:
    return Dataset(
        x_train=x_train.astype(np.float32), y_train=y_train, x_val=x_val.astype(np.float32), y_val=y_val,
        task="regression", feature_names=array_feature_names(x_train.shape[2]), target_name=", ".join(targets),
        target_names=tuple(targets),
    )


def target_columns(y, targets: tuple[str, ...], task: str | None, source: str) -> np.ndarray:
    """``y`` as several targets' values, one float column per name of ``targets``.

    Raises:
        DataError: ``y`` has another number of columns, values that are not numbers, a column that
            never changes, or ``task`` names a classification.
    """
    y = np.asarray(y)
    named = f"data.target names {len(targets)} targets ({', '.join(targets)})"
    if y.ndim != 2 or y.shape[1] != len(targets):
        got = f"{y.shape[1]} columns" if y.ndim == 2 else f"shape {y.shape}"
        raise DataError(f"{source}: {named}, so y must have shape (samples, {len(targets)}), one column per target "
                        f"in that order; got {got}. Give one name per column of y")
    if task not in (None, "regression") or not np.issubdtype(y.dtype, np.number) or y.dtype == bool:
        got = f"data.task {task}" if task not in (None, "regression") else f"y of dtype {y.dtype}"
        raise DataError(f"{source}: {named}, which are predicted together as numbers (a regression); got {got}. "
                        "Predict class labels one target at a time")
    for index, name in enumerate(targets):
        _check_target_varies(y[:, index], f"{source}: target column {name!r}")
    return y.astype(np.float64)


def _forecast_task(y: np.ndarray, task: str | None, source: str) -> str:
    """The task of a (samples, steps) target: a multi-step forecast is a regression.

    Raises:
        DataError: ``task`` names a classification, or the values are not numbers.
    """
    if task not in (None, "regression") or not np.issubdtype(y.dtype, np.number):
        raise DataError(
            f"{source}: y of shape {y.shape} is a {y.shape[1]}-step forecast, which predicts numbers; "
            f"got {'data.task ' + task if task else 'dtype ' + str(y.dtype)}. Give class labels as (samples,) or one-hot"
        )
    return "regression"


def _one_hot(y: np.ndarray) -> bool:
    """True for (samples, classes) rows of 0/1 with a single 1 each, as categorical cross-entropy takes labels."""
    return bool(np.issubdtype(y.dtype, np.number) and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1))


def _labels(y, source: str, loss: str | None = None) -> np.ndarray:
    """Targets as the dataset holds them: ``(n, 1)`` flattened, a one-hot ``(n, k)`` as class indices, any
    other ``(n, steps)`` of numbers kept as a multi-step forecast's targets (one-hot-looking rows too,
    under a regression ``loss``)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        return y.reshape(-1)
    regression_loss = loss is not None and not is_class_label_loss(loss) and "crossentropy" not in loss.lower()
    if y.ndim == 2 and _one_hot(y) and not regression_loss:
        return np.argmax(y, axis=1)  # one-hot, as categorical_crossentropy takes it
    if y.ndim not in (1, 2):
        raise DataError(f"{source}: y must have shape (samples,), (samples, 1), one-hot (samples, classes), or "
                        f"(samples, steps) for a multi-step forecast; got {y.shape}")
    return y


def _windows(x, y, source: str, names: tuple[str, str] = ("x", "y"), loss: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    return _clean(np.asarray(x), _labels(y, source, loss), source, names)


def _clean(x: np.ndarray, y: np.ndarray, source: str, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Windows of the right shape and finite values, or a ``DataError`` naming the samples that are not."""
    check_shape(x, source, names[0])
    bad = nonfinite_samples(x, y, source, names)
    if bad.any():
        raise DataError(f"{source}: {nonfinite_line(bad)}; clean them first")
    return x.astype(np.float32), y


def dataset_from_arrays(x_train, y_train, x_val, y_val, *, task: str | None = None, loss: str | None = None,
                        targets: tuple[str, ...] = ()) -> Dataset:
    """A ``Dataset`` from windowed arrays already split in two, as ``fit(x, y, validation_data=(x_val, y_val))`` takes them.

    ``x``: (samples, timesteps, features); ``y``: (samples,), (samples, 1), one-hot, or (samples, steps)
    for a multi-step forecast; with two or more ``targets`` (``data.target``), (samples, targets): one
    column per target, by those names. The task is
    inferred from both targets together unless given (``loss``: the model's, see ``infer_task``), and class labels are encoded over both, so a
    class seen only in validation keeps its index.

    Raises:
        DataError: shapes that do not fit, NaN/infinite values, a constant target, too few samples.
    """
    several = len(targets) > 1
    if several:
        x_train, y_train = _clean(np.asarray(x_train), target_columns(y_train, targets, task, "the training arrays (x, y)"),
                                  "the training arrays (x, y)", ("x", "y"))
        x_val, y_val = _clean(np.asarray(x_val), target_columns(y_val, targets, task, "validation_data"),
                              "validation_data", ("x_val", "y_val"))
    else:
        x_train, y_train = _windows(x_train, y_train, "the training arrays (x, y)", loss=loss)
        x_val, y_val = _windows(x_val, y_val, "validation_data", ("x_val", "y_val"), loss=loss)
    if x_train.shape[1:] != x_val.shape[1:]:
        raise DataError(
            f"validation_data: x_val has windows of shape {x_val.shape[1:]} but x has {x_train.shape[1:]}; they must match"
        )
    if several:
        _check_sizes(len(y_train) + len(y_val), len(y_train), "the x/y arrays", "")
        return _named_targets(x_train, y_train, x_val, y_val, targets)
    if y_train.shape[1:] != y_val.shape[1:]:
        raise DataError(
            f"validation_data: y_val has targets of shape {y_val.shape[1:]} per sample but y has {y_train.shape[1:]}; "
            "they must match"
        )
    source = "the x/y arrays"
    y_all = np.concatenate([y_train, y_val])
    _check_target_varies(y_all, source)
    task = _forecast_task(y_all, task, source) if y_all.ndim == 2 else task or infer_task(y_all, loss)
    encoded, classes = _encode_target(y_all, task, source)
    _check_sizes(len(y_all), len(y_train), source, "")
    _check_target_varies(encoded[: len(y_train)], "the training arrays (x, y)")
    return Dataset(
        x_train=x_train, y_train=encoded[: len(y_train)], x_val=x_val, y_val=encoded[len(y_train) :], task=task,
        feature_names=array_feature_names(x_train.shape[2]), target_name="y", classes=classes,
    )

