"""``data.rollout``: a one-step model judged the way it is used, fed its own predictions H times (issue 24, point 1).

The classic report: the one-step fit looks fine, but "the recursive prediction always converges to the
same value, whatever came before". These tests pin the roll-out's rows, that each prediction is fed
back where the truth would be, and that a roll-out converging to one value is called collapsed while
its one-step predictions are not.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.modeling.evaluate import measure, predict_original, rollout_predictions, validation_predictions
from autofix_lstm.modeling.train import prepare
from autofix_lstm.scoring.metrics import is_collapsed
from autofix_lstm.scoring.objective import ModelState
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.summary import state_phrase

WINDOW, STEPS = 5, 6


def _spec(**data):
    raw = {"data": {"target": "y", "features": ["y", "hour"], "window": WINDOW, "rollout": STEPS, **data},
           "model": {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": 1}]}}
    return load_spec(raw)


def _frame(n: int = 200) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"y": 100 + 20 * np.sin(2 * np.pi * t / 24), "hour": (t % 24).astype(float)})


def test_each_rolled_out_sample_holds_its_rows_and_every_steps_truth():
    frame = _frame()
    dataset = load_dataset(_spec(), frame=frame)
    rollout = dataset.rollout
    val_starts = dataset.starts[len(dataset.y_train):]
    assert rollout.steps == STEPS and rollout.target_index == 0
    assert len(rollout) == len(val_starts) - (STEPS - 1)  # the last ones have no room for every step
    values, y = frame[["y", "hour"]].to_numpy(np.float32), frame["y"].to_numpy()
    np.testing.assert_array_equal(rollout.starts, val_starts[: len(rollout)])
    for n, start in enumerate(val_starts[: len(rollout)]):
        np.testing.assert_array_equal(rollout.segments[n], values[start : start + WINDOW + STEPS - 1])
        np.testing.assert_allclose(rollout.targets[n], y[start + WINDOW : start + WINDOW + STEPS])
    assert dataset.validation_targets.shape == (len(rollout), STEPS)
    sampled = dataset.validation_sample(5)
    assert len(sampled.rollout) <= 5 and sampled.rollout.steps == STEPS


def test_a_missing_target_row_leaves_out_the_roll_outs_that_need_it():
    frame = _frame()
    frame.loc[180, "y"] = np.nan  # never filled in as a target: the roll-outs from rows 170..175 need it
    dataset = load_dataset(_spec(missing="ffill"), frame=frame)
    rollout = dataset.rollout
    assert np.isfinite(rollout.targets).all()
    val_starts = dataset.starts[len(dataset.y_train):]
    with_room = val_starts[val_starts + WINDOW + STEPS - 1 < len(frame)]
    assert sorted(set(with_room.tolist()) - set(rollout.starts.tolist())) == [170, 171, 172, 173, 174]  # 175: no sample
    for start, truth in zip(rollout.starts, rollout.targets):
        np.testing.assert_allclose(truth, frame["y"].to_numpy()[start + WINDOW : start + WINDOW + STEPS])


@pytest.mark.parametrize(("data", "says"), [({"horizon": [1, 2]}, "rolls a one-step model out"),
                                            ({"horizon": 3}, "rolls a one-step model out"),
                                            ({"rollout": 1}, "must be >= 2")])
def test_a_roll_out_of_anything_but_a_one_step_model_is_refused(data, says):
    with pytest.raises(SpecError, match=says):
        _spec(**data)


def test_a_roll_out_needs_the_target_among_the_features_and_a_number():
    with pytest.raises(DataError, match="must be among data.features"):
        load_dataset(_spec(features=["hour"]), frame=_frame())
    labels = _frame().assign(y=lambda f: np.where(f["y"] > 100, "up", "down"))
    with pytest.raises(DataError, match="Remove data.rollout"):
        load_dataset(_spec(features=["hour"]), frame=labels)


def _last_value_model(scale: float, shift: float) -> keras.Model:
    """A one-step model that answers ``scale * (last target value) + shift``."""
    inputs = keras.Input((WINDOW, 2))
    last = keras.layers.Lambda(lambda x: x[:, -1, 0:1])(inputs)
    return keras.Model(inputs, keras.layers.Lambda(lambda v: v * scale + shift)(last))


def test_every_prediction_is_fed_back_where_the_truth_would_be():
    dataset = load_dataset(_spec(), frame=_frame())
    prepared = prepare(_spec(), dataset)
    predictions = rollout_predictions(_last_value_model(1.0, 1.0), prepared)  # "the last value, plus one"
    last = dataset.rollout.segments[:, WINDOW - 1, 0]
    np.testing.assert_allclose(predictions, last[:, None] + np.arange(1, STEPS + 1), rtol=1e-5)
    np.testing.assert_allclose(validation_predictions(_last_value_model(1.0, 1.0), prepared), predictions)


def test_a_roll_out_that_converges_to_one_value_is_collapsed_though_its_one_step_predictions_are_not():
    dataset = load_dataset(_spec(), frame=_frame())
    prepared = prepare(_spec(), dataset)
    shrinking = _last_value_model(0.4, 60.0)  # pulls every value towards 100 (the mean): 0.4 ** 6 of its spread left
    one_step = measure(prepared, predict_original(shrinking, prepared, dataset.x_val))
    assert not one_step.collapsed and one_step.rollout_steps is None and one_step.std_ratio > 0.3
    rolled = measure(prepared, validation_predictions(shrinking, prepared))
    assert rolled.rollout_steps == STEPS and len(rolled.per_step) == STEPS
    assert rolled.per_step[0]["std_ratio"] > 0.3 and rolled.per_step[-1]["std_ratio"] < 0.01
    assert rolled.collapsed and is_collapsed(rolled) and rolled.persistence_mse is not None
    assert "rolled out 6 steps, it converges to the same value whatever came before" in state_phrase(rolled, ModelState.COLLAPSED)
