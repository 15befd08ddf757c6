"""What a failing ``fit`` becomes: a spec error only when the spec is at fault (naming the layer),
a resource error with advice when memory runs out, and anything else as it is (a bug is a bug)."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf
from helpers import invoke_train, make_series_csv, one_epoch_sine_spec, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.errors import ModelSpecError, ResourceError
from autofix_lstm.modeling.train import fit_prepared, prepare
from autofix_lstm.spec import load_spec


@pytest.fixture
def spec(tmp_path):
    return load_spec(one_epoch_sine_spec(tmp_path, units=4))


def _fit_raising(monkeypatch, error: Exception):
    def fit(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(keras.Model, "fit", fit)


def test_a_shape_mismatch_is_a_spec_error_naming_the_head(spec, monkeypatch):
    _fit_raising(monkeypatch, ValueError("Arguments `target` and `output` must have the same shape: (None, 1) vs (None, 3)"))
    with pytest.raises(ModelSpecError, match=r"model.layers\[1\] \(dense, 1 units.*model.loss 'mse'.*same shape"):
        fit_prepared(spec, prepare(spec, load_dataset(spec)))


def test_out_of_memory_is_a_resource_error_with_advice(spec, monkeypatch):
    _fit_raising(monkeypatch, tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))
    with pytest.raises(ResourceError, match="out of memory.*lower train.batch_size"):
        fit_prepared(spec, prepare(spec, load_dataset(spec)))


def test_any_other_error_propagates_unchanged(spec, monkeypatch):
    _fit_raising(monkeypatch, RuntimeError("a bug in a callback"))
    with pytest.raises(RuntimeError, match="a bug in a callback"):
        fit_prepared(spec, prepare(spec, load_dataset(spec)))


def test_a_label_range_mismatch_from_tensorflow_names_the_loss(tmp_path):
    # A binary target with sparse categorical crossentropy on one unit: label 1 is out of range.
    make_series_csv(tmp_path, n=120, kind="sine")
    raw = spec_dict("series.csv", model={"layers": [{"type": "lstm", "units": 4},
                                                    {"type": "dense", "units": 1, "activation": "softmax"}],
                                         "loss": "sparse_categorical_crossentropy"},
                    train={"epochs": 1, "batch_size": 32, "seed": 0})
    raw["data"]["target"] = "label"
    import pandas as pd

    frame = pd.read_csv(tmp_path / "series.csv")
    frame["label"] = (frame[frame.columns[-1]] > frame[frame.columns[-1]].median()).astype(int)
    frame.to_csv(tmp_path / "series.csv", index=False)
    spec = load_spec(write_spec(tmp_path, raw))
    with pytest.raises(ModelSpecError, match="model.loss 'sparse_categorical_crossentropy' do not fit the binary target"):
        fit_prepared(spec, prepare(spec, load_dataset(spec)))


def test_the_cli_exits_3_when_training_runs_out_of_memory(spec, monkeypatch):
    _fit_raising(monkeypatch, tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))
    result = invoke_train(spec.source)
    assert result.exit_code == 3, result.output
    assert "out of memory" in result.output and "Traceback" not in result.output
