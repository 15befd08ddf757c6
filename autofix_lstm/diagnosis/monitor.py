"""``CollapseMonitor``: a Keras callback that watches the user's own ``model.fit`` for a collapsed output.

After each epoch it predicts a bounded sample of the validation windows (``monitor_data``: arrays, a
``tf.data.Dataset``, a ``keras.utils.PyDataset``, or the fit's own validation data) and measures the
output's spread the way every other part of autofix-lstm does (``modeling.evaluate.measure``:
``std_ratio`` in the model's units; a classifier predicting a single class). A collapsed epoch counts
only when the output is not moving off its constant either, by the evidence the search's pruning
spares a trial on (``modeling.callbacks.still_moving``: a spread that grew by a quarter since the last
epoch, a classifier's loss still falling), so a slow starter is not cried wolf on. Once ``patience``
such epochs come in a row it warns, once, with a ``CollapseWarning`` (and a rich panel in a notebook)
that lists the likely causes found without any extra training: the diagnosis' own detectors
(``diagnosis.registry``) on the validation sample and the live model, read as ``diagnose`` reads them
(``monitor_model``), their findings settled and given their remedy strategies as ``diagnose`` does
(``runner.settle_findings``); and the learning rate read from the update/weight ratio of the kernels
over the first steps of each epoch.

The monitor only sees the validation data, so the data checks read it in place of the training data.
Nothing is retrained and the user's weights are never changed.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np

from autofix_lstm.data.transforms import InputTransform, TargetTransform
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.layer_measures import output_stats
from autofix_lstm.diagnosis.monitor_data import MIN_WINDOWS, fit_validation_windows, sample_windows
from autofix_lstm.diagnosis.monitor_model import (
    ModelReading,
    initial_copy,
    monitor_dataset,
    output_units,
    read_model,
    start_measures,
)
from autofix_lstm.diagnosis.probes import Probe
from autofix_lstm.diagnosis.registry import get
from autofix_lstm.diagnosis.runner import settle_findings
from autofix_lstm.errors import SpecError
from autofix_lstm.modeling.callbacks import still_moving
from autofix_lstm.modeling.evaluate import measure
from autofix_lstm.modeling.reading import stacked_layers
from autofix_lstm.modeling.stateful import batched, fresh_states, static_batch_size
from autofix_lstm.modeling.train import Prepared
from autofix_lstm.remedies.strategies import resolve_strategies
from autofix_lstm.scoring.metrics import COLLAPSE_STD_RATIO, Metrics, is_collapsed

# Validation windows predicted after each epoch: enough for a stable spread, cheap next to an epoch.
MAX_SAMPLES = 512
# Optimizer steps at the start of each epoch whose update/weight ratio is measured (two weight reads each).
SAMPLED_STEPS = 3
# The detectors that need no brief training: they read the arrays, the model, the loss and the measured
# update ratios. Findings ids, in the diagnosis' own registry.
CHEAP_CHECKS = (
    "unscaled_inputs",
    "unscaled_target",
    "output_activation_range",
    "loss_activation_mismatch",
    "loss_target_mismatch",
    "class_imbalance",
    "learning_rate_too_high",
    "learning_rate_too_low",
    "slow_optimizer",
    "stateful_state_leak",
)
# What to run to fix it: the live-model search, then the CLI route through a spec file.
FIX_CALL = "autofix_lstm.search(model, x=x_train, y=y_train, validation_data=(x_val, y_val))"


class CollapseWarning(UserWarning):
    """The model's output collapsed during training (it predicts nearly the same value for every window)."""


class CollapseMonitor(keras.callbacks.Callback):
    """Warn when the validation output stays collapsed, and not moving, for ``patience`` epochs; say why.

    Args:
        validation_data: the windows ``(samples, timesteps, features)`` and targets (regression values,
            class labels, or one-hot rows) to measure, at most ``max_samples`` of them: ``(x_val, y_val)``
            (evenly spaced windows), a ``keras.utils.PyDataset`` of ``(x, y)`` batches (evenly spaced
            batches), or a ``tf.data.Dataset`` of them (its first batches). Left out: the validation data
            the fit was given (``validation_data=`` or ``validation_split=``; its first batches), read at
            the first epoch's end; a fit without any, or one that validates only every few epochs
            (``validation_freq``), raises a ``SpecError`` there, saying what to pass.
        patience: consecutive collapsed epochs, not moving, before warning.
        stop_training: also stop the fit when it warns.
        min_std_ratio: the collapse floor (``std_ratio`` below it counts as collapsed).
        max_samples: validation windows predicted after each epoch.

    Raises:
        SpecError: validation data of another kind, windows that are not (samples, timesteps, features)
            or fewer than four, a patience below 1.

    Attributes:
        std_ratios: the measured ``std_ratio`` after each epoch (None for NaN predictions).
        update_ratios: layer -> update/weight ratio ``||dW|| / ||W||`` of its kernels at each sampled step
            (the first ``SAMPLED_STEPS`` steps of each epoch); layers are named as the diagnosis names them.
        collapsed_epochs: 1-based epochs whose output was collapsed.
        moving_epochs: of those, the ones whose output was still moving (``still_moving``): not counted.
        warned_at: the epoch at whose end it warned (None while it has not).
        findings: the likely causes listed in the warning (``diagnosis.Finding``, with their strategies).
        message: the warning's text.
    """

    def __init__(self, validation_data=None, patience: int = 2, stop_training: bool = False, *,
                 min_std_ratio: float = COLLAPSE_STD_RATIO, max_samples: int = MAX_SAMPLES):
        super().__init__()
        if int(patience) < 1:
            raise SpecError(f"CollapseMonitor's patience must be >= 1, got {patience}")
        if int(max_samples) < MIN_WINDOWS:
            raise SpecError(f"CollapseMonitor's max_samples must be >= {MIN_WINDOWS}, got {max_samples}")
        self.max_samples = int(max_samples)
        self.x, self.y = (None, None) if validation_data is None else sample_windows(validation_data, self.max_samples)
        self.patience = int(patience)
        self.stop_on_collapse = bool(stop_training)
        self.min_std_ratio = float(min_std_ratio)
        self.std_ratios: list[float | None] = []
        self.collapsed_epochs: list[int] = []
        self.moving_epochs: list[int] = []
        self.warned_at: int | None = None
        self.findings: list[Finding] = []
        self.message: str | None = None
        self.update_ratios: dict[str, list[float | None]] = {}
        self._reading: ModelReading | None = None
        self._kernel_layers: list[tuple[str, keras.layers.Layer]] = []  # (diagnosis name, layer) with kernels
        self._start: tuple[dict, dict] = ({}, {})  # gate saturation and head output as the fit started
        self._initial_weights: list | None = None  # the fit's starting weights, until the fit's own data is read
        self._prepared: Prepared | None = None
        self._losses: list[float | None] = []
        self._trained_output: dict = {}  # head output {mean, std} at the last epoch's end
        self._before: dict[str, list[np.ndarray]] | None = None
        self._streak = 0

    # -- the model, as the fit starts ------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self._reading is not None:  # a second fit with the same monitor: the first one's start stands
            return
        self._reading = read_model(self.model)
        names = self._reading.names
        layers = stacked_layers(self.model) if names else list(self.model.layers)
        self._kernel_layers = [
            (name, layer) for name, layer in zip(names or [layer.name for layer in layers], layers)
            if any(len(w.shape) >= 2 for w in layer.trainable_weights)
        ]
        if self.x is not None:
            self._start = start_measures(self.model, names, self.x)
        elif names:  # the fit's validation data is read at the first epoch's end: keep where it started
            self._initial_weights = self.model.get_weights()

    def _fit_data_and_start(self) -> None:
        """The fit's own validation sample (first epoch's end), and the start measured on a copy at its weights."""
        self.x, self.y = fit_validation_windows(self.model, self.max_samples)
        if self._initial_weights is not None:
            copy = initial_copy(self.model, self._initial_weights)
            self._initial_weights = None
            if copy is not None:
                self._start = start_measures(copy, self._reading.names, self.x)

    # -- measuring -------------------------------------------------------------------------------
    def _prepared_data(self) -> Prepared:
        """The validation sample as a one-part ``Prepared`` dataset (built once, at the first epoch's end)."""
        if self._prepared is None:
            dataset = monitor_dataset(self._reading.spec, output_units(self.model), self.x, self.y)
            none = InputTransform.fit("none", dataset.x_train)
            self._prepared = Prepared(
                dataset=dataset, inputs=none, target=TargetTransform.fit("none", dataset.y_train, dataset.x_train, None),
                x_train=dataset.x_train, y_train=dataset.y_train, x_val=dataset.x_val, y_val=dataset.y_val,
            )
        return self._prepared

    def _measure(self) -> Metrics:
        if self.x is None:
            self._fit_data_and_start()
        prepared = self._prepared_data()
        with np.errstate(all="ignore"):
            # The model's own compiled predict step (traced once, at the first epoch): an eager call runs
            # the recurrence step by step in Python, several times slower. A stateful model takes its static
            # batch at a time, from zero states, and gets its fit's states back (``modeling.stateful``).
            static = static_batch_size(self.model)
            if static is None:
                raw = np.asarray(self.model.predict_on_batch(self.x), dtype=np.float64)
            else:
                with fresh_states(self.model):
                    raw = np.asarray(batched(self.model.predict_on_batch, static, self.x), dtype=np.float64)
            self._trained_output = output_stats([(None, raw)])  # the head's output, as the probe keeps it
        if prepared.dataset.task == "regression":
            raw = raw.reshape(len(raw), -1)[:, 0]
        return measure(prepared, raw, min_std_ratio=self.min_std_ratio)

    def _kernels(self) -> dict[str, list[np.ndarray]]:
        return {
            name: [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights if len(w.shape) >= 2]
            for name, layer in self._kernel_layers
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
        previous = self.std_ratios[-1] if self.std_ratios else None
        self.std_ratios.append(metrics.std_ratio)
        if not is_collapsed(metrics, self.min_std_ratio):
            self._streak = 0
            return
        self.collapsed_epochs.append(epoch + 1)
        # The search's pruning spares a trial on this evidence; a slow starter is not warned about either.
        if still_moving(metrics, previous, self._losses, min_std_ratio=self.min_std_ratio):
            self.moving_epochs.append(epoch + 1)
            self._streak = 0
            return
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
        """The likely causes: the cheap detectors on the validation sample, the model and the update ratios,
        settled and given their remedy strategies as ``diagnose`` does (info findings left out)."""
        prepared = self._prepared_data()
        reading = self._reading
        steps = int((self.params or {}).get("steps") or 0)
        epochs = int((self.params or {}).get("epochs") or 0)
        saturation, output = self._start
        # Epoch losses stand in for step losses: the loss trajectory the learning-rate checks read.
        probe = Probe(epochs=len(self._losses), steps=len(self._losses), batch_size=0,
                      full_training_steps=steps * epochs, loss=list(self._losses), update_ratios=dict(self.update_ratios),
                      saturation_init=dict(saturation), output_init=dict(output), output_trained=dict(self._trained_output))
        ctx = Context(reading.spec, prepared, probe, metrics)
        found = [f for f in (get(i)(ctx) for i in CHEAP_CHECKS if i not in reading.skipped) if f is not None]
        selected = resolve_strategies(reading.spec.search.strategies, reading.spec.base_dir)
        return [f for f in settle_findings(found, ctx, selected) if f.severity != Severity.INFO]


def collapse_message(epoch: int, patience: int, metrics: Metrics, findings: list[Finding], stopped: bool) -> str:
    """The warning's text: the collapse, its likely causes and the call that fixes it."""
    ratio = metrics.std_ratio
    if metrics.nan:
        how = "the predictions are NaN"
    elif not metrics.is_regression and metrics.distinct_predictions is not None and metrics.distinct_predictions < 2:
        how = "it predicts a single class for every validation window"
    else:
        how = f"the spread of its predictions is {ratio:.1%} of the targets' (std_ratio {ratio:.3g})"
    streak = f"{patience} epochs in a row" if patience > 1 else "an epoch"
    lines = [f"The model's output collapsed: after epoch {epoch} ({streak} collapsed and not moving off it) {how}."]
    if findings:
        lines.append("Likely causes (checked on the validation data and the model, no extra training):")
        lines += [f"  - [{f.severity}] {f.id}: {f.message}"
                  + (f" Remedies the search tries: {', '.join(f.strategies)}." if f.strategies else "") for f in findings]
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


__all__ = ["CollapseMonitor", "CollapseWarning", "collapse_message"]
