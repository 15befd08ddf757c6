"""``CollapseMonitor``: a Keras callback that watches the user's own ``model.fit`` for a collapsed output.

After each epoch it predicts a bounded, evenly spaced sample of the validation windows and measures
the output's spread the way every other part of autofix-lstm does (``modeling.evaluate.measure``:
``std_ratio`` in the model's units; a classifier predicting a single class). Once the output has been
collapsed for ``patience`` epochs in a row it warns, once, with a ``CollapseWarning`` (and a rich
panel in a notebook) that lists the likely causes found without any extra training: the diagnosis'
own detectors (``diagnosis.registry``) on the validation arrays and the live model (unscaled inputs or
target, the head's activation against the targets, the loss against the head, class imbalance), and
the learning rate read from the update/weight ratio of the kernels over the first steps of each epoch.

The monitor only sees the validation data, so the data checks read it in place of the training data.
Its model description (head, loss, optimizer) is read from the compiled model; nothing is retrained
and the user's weights are never changed.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np

from autofix_lstm.data.dataset import Dataset, infer_task
from autofix_lstm.data.transforms import InputTransform, TargetTransform
from autofix_lstm.diagnosis.agreement import reconcile
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.head_checks import BINARY_LOSSES, canonical_loss
from autofix_lstm.diagnosis.probes import Probe
from autofix_lstm.diagnosis.registry import get
from autofix_lstm.errors import SpecError
from autofix_lstm.modeling.build import OPTIMIZERS
from autofix_lstm.modeling.evaluate import measure
from autofix_lstm.modeling.train import Prepared
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics, is_collapsed
from autofix_lstm.spec import MOMENTUM_OPTIMIZERS, Spec, load_spec

# Validation windows predicted after each epoch: enough for a stable spread, cheap next to an epoch.
MAX_SAMPLES = 512
# Optimizer steps at the start of each epoch whose update/weight ratio is measured (two weight reads each).
SAMPLED_STEPS = 3
# The detectors that need no brief training: they read the arrays, the head, the loss and the measured
# update ratios. Findings ids, in the diagnosis' own registry.
CHEAP_CHECKS = (
    "unscaled_inputs",
    "unscaled_target",
    "output_activation_range",
    "loss_activation_mismatch",
    "class_imbalance",
    "learning_rate_too_high",
    "learning_rate_too_low",
    "slow_optimizer",
)
# What to run to fix it: the live-model search, then the CLI route through a spec file.
FIX_CALL = "autofix_lstm.search(model, x=x_train, y=y_train, validation_data=(x_val, y_val))"


class CollapseWarning(UserWarning):
    """The model's output collapsed during training (it predicts nearly the same value for every window)."""


class CollapseMonitor(keras.callbacks.Callback):
    """Warn when the validation output stays collapsed for ``patience`` epochs, and say why.

    Args:
        validation_data: ``(x_val, y_val)``: windows ``(samples, timesteps, features)`` and targets
            (regression values, class labels, or one-hot rows).
        patience: consecutive collapsed epochs before warning.
        stop_training: also stop the fit when it warns.
        min_std_ratio: the collapse floor (``std_ratio`` below it counts as collapsed).
        max_samples: validation windows predicted after each epoch (evenly spaced over the data).

    Attributes:
        std_ratios: the measured ``std_ratio`` after each epoch (None for NaN predictions).
        update_ratios: layer -> update/weight ratio ``||dW|| / ||W||`` of its kernels at each sampled step
            (the first ``SAMPLED_STEPS`` steps of each epoch).
        collapsed_epochs: 1-based epochs whose output was collapsed.
        warned_at: the epoch at whose end it warned (None while it has not).
        findings: the likely causes listed in the warning (``diagnosis.Finding``).
        message: the warning's text.
    """

    def __init__(self, validation_data, patience: int = 2, stop_training: bool = False, *,
                 min_std_ratio: float = COLLAPSE_STD_RATIO, max_samples: int = MAX_SAMPLES):
        super().__init__()
        try:
            x_val, y_val = validation_data
        except (TypeError, ValueError):
            raise SpecError(
                f"CollapseMonitor's validation_data must be an (x_val, y_val) tuple, got {type(validation_data).__name__}"
            ) from None
        if int(patience) < 1:
            raise SpecError(f"CollapseMonitor's patience must be >= 1, got {patience}")
        x_val, y_val = np.asarray(x_val), np.asarray(y_val)
        if x_val.ndim != 3 or len(x_val) != len(y_val) or len(x_val) < 2:
            raise SpecError(
                f"CollapseMonitor's validation_data must hold windows (samples, timesteps, features) and as many "
                f"targets, at least 2; got x {x_val.shape} and y {y_val.shape}"
            )
        index = np.unique(np.linspace(0, len(x_val) - 1, min(len(x_val), int(max_samples))).astype(int))
        self.x = x_val[index].astype(np.float32)
        self.y = y_val[index]
        self.patience = int(patience)
        self.stop_on_collapse = bool(stop_training)
        self.min_std_ratio = float(min_std_ratio)
        self.std_ratios: list[float | None] = []
        self.collapsed_epochs: list[int] = []
        self.warned_at: int | None = None
        self.findings: list[Finding] = []
        self.message: str | None = None
        self._prepared: Prepared | None = None
        self._losses: list[float | None] = []
        self.update_ratios: dict[str, list[float | None]] = {}
        self._before: dict[str, list[np.ndarray]] | None = None
        self._streak = 0

    # -- measuring -------------------------------------------------------------------------------
    def _prepared_data(self) -> Prepared:
        """The validation sample as a one-part ``Prepared`` dataset (built once, at the first epoch's end)."""
        if self._prepared is None:
            dataset = _dataset(self.model, self.x, self.y)
            none = InputTransform.fit("none", dataset.x_train)
            self._prepared = Prepared(
                dataset=dataset, inputs=none, target=TargetTransform.fit("none", dataset.y_train, dataset.x_train, None),
                x_train=dataset.x_train, y_train=dataset.y_train, x_val=dataset.x_val, y_val=dataset.y_val,
            )
        return self._prepared

    def _measure(self) -> Metrics:
        prepared = self._prepared_data()
        with np.errstate(all="ignore"):
            # The model's own compiled predict step (traced once, at the first epoch): an eager call runs
            # the recurrence step by step in Python, several times slower.
            raw = np.asarray(self.model.predict_on_batch(self.x), dtype=np.float64)
        if prepared.dataset.task == "regression":
            raw = raw.reshape(len(raw), -1)[:, 0]
        return measure(prepared, raw, min_std_ratio=self.min_std_ratio)

    def _kernels(self) -> dict[str, list[np.ndarray]]:
        return {
            layer.name: [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights if len(w.shape) >= 2]
            for layer in self.model.layers if any(len(w.shape) >= 2 for w in layer.trainable_weights)
        }

    # The kernels are read at the start of steps 0..SAMPLED_STEPS: each read after the first closes the
    # previous step's update. Only a batch-*begin* hook: on the backends where Keras dispatches batch-end
    # hooks asynchronously (JAX, torch; not TensorFlow), a callback that overrides one turns that off for
    # the whole fit.
    def on_train_batch_begin(self, batch, logs=None):
        if self.warned_at is not None or batch > SAMPLED_STEPS:
            return
        kernels = self._kernels()
        if self._before is not None:
            self._record_update(kernels)
        self._before = kernels if batch < SAMPLED_STEPS else None

    def _record_update(self, after_step: dict[str, list[np.ndarray]]) -> None:
        for name, after in after_step.items():
            before = self._before.get(name)
            if before is None:
                continue
            moved = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before)))
            size = math.sqrt(sum(float(np.sum(b**2)) for b in before))
            ratio = moved / (size + 1e-12)
            self.update_ratios.setdefault(name, []).append(ratio if math.isfinite(ratio) else None)
        self._before = None

    def on_epoch_end(self, epoch, logs=None):
        if self._before is not None:  # an epoch shorter than the sampled steps: its last step's update
            self._record_update(self._kernels())
        if self.warned_at is not None:
            return
        loss = (logs or {}).get("loss")
        self._losses.append(float(loss) if loss is not None and math.isfinite(float(loss)) else None)
        metrics = self._measure()
        self.std_ratios.append(metrics.std_ratio)
        if not is_collapsed(metrics, self.min_std_ratio):
            self._streak = 0
            return
        self.collapsed_epochs.append(epoch + 1)
        self._streak += 1
        if self._streak >= self.patience:
            self._warn(epoch + 1, metrics)

    # -- warning ---------------------------------------------------------------------------------
    def _warn(self, epoch: int, metrics: Metrics) -> None:
        self.warned_at = epoch
        self.findings = self.causes(metrics)
        self.message = collapse_message(epoch, self.patience, metrics, self.findings, self.stop_on_collapse)
        warnings.warn(self.message, CollapseWarning, stacklevel=2)
        _show_panel(self.message)
        if self.stop_on_collapse:
            self.model.stop_training = True

    def causes(self, metrics: Metrics) -> list[Finding]:
        """The likely causes: the cheap detectors on the validation sample, the model and the update ratios."""
        prepared = self._prepared_data()
        spec, skipped = _model_spec(self.model)
        steps = int((self.params or {}).get("steps") or 0)
        epochs = int((self.params or {}).get("epochs") or 0)
        # Epoch losses stand in for step losses: the loss trajectory the learning-rate checks read.
        probe = Probe(epochs=len(self._losses), steps=len(self._losses), batch_size=0,
                      full_training_steps=steps * epochs, loss=list(self._losses), update_ratios=dict(self.update_ratios))
        ctx = Context(spec, prepared, probe, metrics)
        found = [f for f in (get(i)(ctx) for i in CHEAP_CHECKS if i not in skipped) if f is not None]
        return [f for f in reconcile(found, ctx) if f.severity != Severity.INFO]


def collapse_message(epoch: int, patience: int, metrics: Metrics, findings: list[Finding], stopped: bool) -> str:
    """The warning's text: the collapse, its likely causes and the call that fixes it."""
    ratio = metrics.std_ratio
    if metrics.nan:
        how = "the predictions are NaN"
    elif not metrics.is_regression and metrics.distinct_predictions is not None and metrics.distinct_predictions < 2:
        how = "it predicts a single class for every validation window"
    else:
        how = f"the spread of its predictions is {ratio:.1%} of the targets' (std_ratio {ratio:.3g})"
    streak = f"{patience} epochs in a row" if patience > 1 else "its first collapsed epoch"
    lines = [f"The model's output collapsed: after epoch {epoch} ({streak}) {how}."]
    if findings:
        lines.append("Likely causes (checked on the validation data and the model, no extra training):")
        lines += [f"  - [{f.severity}] {f.id}: {f.message}" for f in findings]
    else:
        lines.append("None of the checks that need no training explains it; the search's diagnosis trains briefly, "
                     "instrumented, to find out more.")
    lines.append(f"Fix it: {FIX_CALL}")
    lines.append("  (or from a spec file: autofix-lstm search spec.yaml)")
    if stopped:
        lines.append("Training was stopped (stop_training=True).")
    return "\n".join(lines)


def _show_panel(message: str) -> None:
    """The warning as a rich panel, in a notebook only (a terminal already shows the warning itself)."""
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    if console.is_jupyter:
        console.print(Panel(message, title="autofix-lstm: collapsed output", border_style="red"))


def _head_layer(model: keras.Model):
    """The last layer that decides the output's activation (a wrapper's inner layer)."""
    for layer in reversed(model.layers):
        inner = getattr(layer, "layer", layer)  # TimeDistributed, Bidirectional
        if getattr(inner, "activation", None) is not None or hasattr(inner, "units"):
            return inner
    return None


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None) if layer is not None else None
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None) or str(keras.activations.serialize(activation))
    return str(name).lower()


def _output_units(model: keras.Model) -> int:
    shape = model.outputs[0].shape if getattr(model, "outputs", None) else model.output_shape
    return int(shape[-1] or 1)


def _loss_name(model: keras.Model) -> str | None:
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        return loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return None if name is None else canonical_loss(str(name))


def _task(model: keras.Model, y: np.ndarray) -> str:
    """multiclass for K > 1 output units, binary for a binary cross-entropy or two labels, else regression."""
    if _output_units(model) > 1:
        return "multiclass"
    loss = _loss_name(model)
    if loss is not None and canonical_loss(loss) in BINARY_LOSSES:
        return "binary"
    return infer_task(y.reshape(-1)) if y.ndim == 1 or y.shape[-1] == 1 else "regression"


def _dataset(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Dataset:
    """The validation sample as a ``Dataset`` whose training part is itself (the monitor sees nothing else)."""
    task = _task(model, y)
    if task == "regression":
        targets, classes = y.reshape(len(y), -1)[:, 0].astype(np.float64), []
    else:
        units = _output_units(model)
        labels = np.argmax(y, axis=-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
        labels = np.rint(labels.astype(np.float64)).astype(np.int64)
        count = max(units if units > 1 else 2, int(labels.max()) + 1)
        targets, classes = labels, list(range(count))
    names = [f"feature_{i}" for i in range(x.shape[2])]
    return Dataset(x_train=x, y_train=targets, x_val=x, y_val=targets, task=task, feature_names=names,
                   target_name="target", classes=classes)


def _model_spec(model: keras.Model) -> tuple[Spec, set[str]]:
    """The compiled model's head, loss and optimizer as a spec, and the checks it cannot feed.

    Only what the cheap detectors read: the head (one Dense layer with the model's output units and
    the head's activation), the loss and the optimizer. A loss that cannot be named skips the loss
    check; an optimizer the spec does not know skips the slow-optimizer check.
    """
    skipped: set[str] = set()
    loss = _loss_name(model)
    optimizer = getattr(model, "optimizer", None)
    name = type(optimizer).__name__.lower()
    if name not in OPTIMIZERS:
        name = "adam"
        skipped.add("slow_optimizer")
    try:
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        rate = 0.001
    raw_optimizer = {"name": name, "learning_rate": rate if rate > 0 else 0.001}
    if name in MOMENTUM_OPTIMIZERS:
        raw_optimizer["momentum"] = float(getattr(optimizer, "momentum", 0.0) or 0.0)
    head = {"type": "dense", "units": _output_units(model), "activation": _activation_name(_head_layer(model))}
    raw = {"data": {}, "model": {"layers": [head], "optimizer": raw_optimizer, "loss": loss or "mse"}}
    try:
        return load_spec(raw), skipped | ({"loss_activation_mismatch"} if loss is None else set())
    except SpecError:
        # A loss or head activation the spec cannot hold: keep the checks that read only the data.
        raw["model"].update(loss="mse", layers=[{"type": "dense", "units": head["units"]}])
        return load_spec(raw), skipped | {"loss_activation_mismatch", "output_activation_range"}


__all__ = ["CollapseMonitor", "CollapseWarning", "collapse_message"]
