"""Several targets predicted together (issue 24, point 1): ``target: [a, b]``, one output per column.

Each column is its own quantity in its own units: scaled per column, measured per column (``r2`` the
mean of the targets' own, ``std_ratio`` the weakest target's), persistence from each one's last value.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.data.transforms import TargetTransform
from autofix_lstm.errors import DataError, SpecError
from autofix_lstm.scoring.metrics import regression_metrics
from autofix_lstm.spec import load_spec

WINDOW = 4


def _spec(target=("load", "temp"), **data):
    raw = {"data": {"target": list(target), "window": WINDOW, **data},
           "model": {"layers": [{"type": "lstm", "units": 4}, {"type": "dense", "units": len(target)}]}}
    return load_spec(raw)


def _frame(n: int = 120) -> pd.DataFrame:
    t = np.arange(n, dtype=np.float64)
    return pd.DataFrame({"load": 500 + 100 * np.sin(t / 4), "temp": 15 + 0.05 * np.cos(t / 4), "hour": t % 24})


def test_each_sample_holds_every_targets_value_at_the_horizon():
    frame = _frame()
    dataset = load_dataset(_spec(horizon=2), frame=frame)
    y = np.concatenate([dataset.y_train, dataset.y_val])
    assert y.shape == (len(dataset.starts), 2) and dataset.multi_target and dataset.n_outputs == 2
    for start, row in zip(dataset.starts, y):
        assert list(row) == list(frame[["load", "temp"]].to_numpy()[start + WINDOW - 1 + 2])
    assert dataset.target_indices == (0, 1) and dataset.target_name == "load, temp"
    np.testing.assert_allclose(dataset.last_observed(dataset.x_val), dataset.x_val[:, -1, :2])


@pytest.mark.parametrize(("data", "says"), [({"horizon": {"steps": 3}}, "several targets one step ahead"),
                                            ({"rollout": 4}, "rolls out one target")])
def test_several_targets_with_several_steps_or_a_roll_out_are_refused(data, says):
    with pytest.raises(SpecError, match=says):
        _spec(**data)


def test_several_targets_are_numbers_each_varying():
    with pytest.raises(SpecError, match="names a column twice"):
        _spec(target=("load", "load"))
    with pytest.raises(DataError, match="column 'hour' is not numeric"):
        load_dataset(_spec(target=("load", "hour")), frame=_frame().assign(hour=lambda f: f["hour"].astype(str)))
    with pytest.raises(DataError, match="target column 'temp'.*constant"):
        load_dataset(_spec(), frame=_frame().assign(temp=1.0))
    with pytest.raises(DataError, match="'nope' is not in the data"):
        load_dataset(_spec(target=("load", "nope")), frame=_frame())


@pytest.mark.parametrize("kind", ["standard", "minmax", "difference"])
def test_each_target_gets_its_own_scale_and_the_keras_layer_inverts_as_numpy_does(kind):
    dataset = load_dataset(_spec(features=["load", "temp", "hour"]), frame=_frame())
    transform = TargetTransform.fit(kind, dataset.y_train, dataset.x_train, [0, 1], per_column=True)
    scaled = transform.apply(dataset.y_train, dataset.x_train)
    assert scaled.shape == dataset.y_train.shape
    assert np.all(np.std(scaled, axis=0) > 0.1)  # the tiny temp column is not flattened by the load's scale
    np.testing.assert_allclose(transform.invert(scaled, dataset.x_train), dataset.y_train, rtol=1e-4)
    layer = transform.layer()
    restored = keras.ops.convert_to_numpy(layer([scaled, np.asarray(dataset.x_train, np.float32)]))
    np.testing.assert_allclose(restored, dataset.y_train, rtol=1e-4)
    rebuilt = type(layer).from_config(layer.get_config())  # as a saved model reads it back
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt([scaled, np.asarray(dataset.x_train, np.float32)])),
                               dataset.y_train, rtol=1e-4)


def test_an_output_constant_on_one_target_is_collapsed_and_r2_weighs_each_target_alike():
    dataset = load_dataset(_spec(), frame=_frame())
    truth, train = dataset.y_val, dataset.y_train
    good = regression_metrics(truth, truth * 1.0, train, targets=("load", "temp"))
    assert good.r2 == pytest.approx(1.0) and not good.collapsed
    assert [entry["target"] for entry in good.per_target] == ["load", "temp"]
    half = truth.copy()
    half[:, 1] = np.mean(train[:, 1])  # the temp output is a constant
    stuck = regression_metrics(truth, half, train, targets=("load", "temp"))
    assert stuck.collapsed and stuck.std_ratio < 1e-9
    assert stuck.r2 == pytest.approx(np.mean([1.0, stuck.per_target[1]["r2"]]))
    assert stuck.per_target[0]["r2"] == pytest.approx(1.0) and stuck.per_target[1]["r2"] < 0.05


def test_an_npz_file_names_its_y_columns_as_several_targets_and_refuses_one_name(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, WINDOW, 2)).astype(np.float32)
    y = np.stack([x[:, -1, 0], 10.0 + x[:, -1, 1]], axis=1)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    layers = [{"type": "lstm", "units": 4}, {"type": "dense", "units": 2}]
    spec = load_spec({"data": {"path": str(tmp_path / "data.npz"), "target": ["a", "b"]}, "model": {"layers": layers}})
    assert spec.to_dict()["data"]["target"] == ["a", "b"]  # kept when written out: y's columns are targets
    dataset = load_dataset(spec)
    assert dataset.target_names == ("a", "b") and dataset.target_name == "a, b" and dataset.task == "regression"
    np.testing.assert_array_equal(np.concatenate([dataset.y_train, dataset.y_val]), y)
    forecast = load_dataset(load_spec({"data": {"path": str(tmp_path / "data.npz")}, "model": {"layers": layers}}))
    assert forecast.target_names == () and forecast.n_outputs == 2  # no names: a 2-step forecast, as before
    with pytest.raises(SpecError, match="data.target does not apply to .npz files .* except as a list of two or more"):
        load_spec({"data": {"path": "data.npz", "target": "a"}, "model": {"layers": layers}})
    with pytest.raises(DataError, match="target column 'b'.*constant"):
        np.savez(tmp_path / "flat.npz", x=x, y=np.stack([y[:, 0], np.ones(60)], axis=1))
        load_dataset(load_spec({"data": {"path": str(tmp_path / "flat.npz"), "target": ["a", "b"]},
                                "model": {"layers": layers}}))


def test_the_search_offers_a_differenced_target_when_every_target_is_among_the_inputs():
    from pathlib import Path

    from autofix_lstm.remedies.strategies import resolve_strategies
    from autofix_lstm.tuning.space import build_space

    def target_choices(spec, frame):
        space = build_space(spec, load_dataset(spec, frame=frame), resolve_strategies(["scaling"], Path(".")))
        return list(space.choices["preprocessing.target"].values())

    assert "difference" in target_choices(_spec(), _frame())  # each target's last value is in the window
    without = _spec(features=["hour"])  # neither target among the inputs: nothing to add a change back to
    assert "difference" not in target_choices(without, _frame())
