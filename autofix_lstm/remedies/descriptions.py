"""How a change of each searchable field reads in the verdict: ``(old, new, task) -> text``.

``remedies.fields`` registers one of these per field (``Field.describe``): ``scale the target
(standard)``, ``raise the learning rate to 0.003``.
"""

from __future__ import annotations

from typing import Any

from autofix_lstm.format import number, setting

TASK_HEAD = {"regression": "linear", "binary": "sigmoid", "multiclass": "softmax"}


def describe_target(old: Any, new: Any, task: str) -> str:
    """A change of the target in words."""
    return {"difference": "predict the target's change (difference)", "log": "log-scale the target",
            "none": "leave the target unscaled"}.get(new, f"scale the target ({new})")


def describe_inputs(old: Any, new: Any, task: str) -> str:
    """A change of the inputs in words."""
    return {"window_relative": "make the inputs window-relative", "none": "leave the inputs unscaled"}.get(
        new, f"scale the inputs ({new})")


def describe_class_weight(old: Any, new: Any, task: str) -> str:
    """A change of the class weight in words."""
    return "drop the class weights" if new is None else f"weight the classes ({setting(new)})"


def describe_clipnorm(old: Any, new: Any, task: str) -> str:
    """A change of the clipnorm in words."""
    return "stop clipping the gradients" if new is None else f"clip the gradients (clipnorm {setting(new)})"


def describe_optimizer(old: Any, new: Any, task: str) -> str:
    """A change of the optimizer in words."""
    return f"switch the optimizer to {'SGD with momentum' if new == 'sgd_momentum' else new}"


def describe_learning_rate(old: Any, new: Any, task: str) -> str:
    """A change of the learning rate in words."""
    way = "raise" if float(new) > float(old) else "lower"
    return f"{way} the learning rate to {number(new, 2)}"


def describe_depth(old: Any, new: Any, task: str) -> str:
    """A change of the depth in words."""
    return f"use {int(new)} recurrent layer{'s' if int(new) != 1 else ''}"


def describe_units(old: Any, new: Any, task: str) -> str:
    """A change of the units in words."""
    way = "widen" if int(new) > int(old) else "narrow"
    return f"{way} the recurrent layers to {int(new)} units"


def describe_batch_size(old: Any, new: Any, task: str) -> str:
    """A change of the batch size in words."""
    return f"train in batches of {int(new)}"


def describe_epochs(old: Any, new: Any, task: str) -> str:
    """A change of the epochs in words."""
    return f"train for {int(new)} epochs"


def describe_window(old: Any, new: Any, task: str) -> str:
    """A change of the window length in words."""
    return f"use windows of {int(new)} steps"


def describe_hidden_dense(old: Any, new: Any, task: str) -> str:
    """A change of the hidden dense in words."""
    if int(new) == 0:
        return "remove the Dense layer between the recurrent layers and the head"
    way = "widen" if int(new) > int(old) else "narrow"
    return f"{way} the Dense layer before the head to {int(new)} units"


def describe_loss(old: Any, new: Any, task: str) -> str:
    """A change of the loss in words."""
    if task == "regression":
        return f"use {'mse' if new == 'task' else f'the {new} loss'} over one output unit"
    loss = {"binary": "binary cross-entropy", "multiclass": "sparse categorical cross-entropy"}[task]
    return f"use {loss} with a {TASK_HEAD[task]} head that fits the target"


def describe_regularization(old: Any, new: Any, task: str) -> str:
    """A change of the regularization in words."""
    if float(new) == 0:
        return "remove the weight penalties (L1/L2 regularizers)"
    return f"{'lower' if float(new) < float(old) else 'raise'} the weight penalties to {setting(new)}"


def describe_initializers(old: Any, new: Any, task: str) -> str:
    """A change of the weight initializers in words."""
    return "use Keras' default weight initializers" if new == "default" else "keep your own weight initializers"


def describe_dropout(old: Any, new: Any, task: str) -> str:
    """A change of the dropout in words."""
    return "remove dropout" if float(new) == 0 else f"set dropout to {setting(new)}"


def describe_recurrent_dropout(old: Any, new: Any, task: str) -> str:
    """A change of the recurrent dropout in words."""
    return "remove recurrent dropout" if float(new) == 0 else f"set recurrent dropout to {setting(new)}"


def describe_cell(old: Any, new: Any, task: str) -> str:
    """A change of the cell in words."""
    return f"use {new} cells"


def describe_head(old: Any, new: Any, task: str) -> str:
    """A change of the head in words."""
    # The minimal fix drops " with a matching loss" when the change leaves the loss as it was.
    head = TASK_HEAD[task] if new == "task" else new
    return f"make the head {head}" + (" with a matching loss" if new == "task" else "")


def describe_stateful(old: Any, new: Any, task: str) -> str:
    """A change of the recurrent layers' statefulness in words."""
    if new:
        return "make the recurrent layers stateful (states carried from batch to batch)"
    return "make the recurrent layers stateless (each window read from a zero state)"
