"""The layers people put around an LSTM, each through the whole tool: build, train, diagnose, save and read back.

Bidirectional(LSTM), a Conv1D + pooling front end, Masking, Flatten / GlobalAveragePooling1D before
the head, TimeDistributed(Dense). A model that holds them is diagnosed like any other; a recurrent
layer wrapped in Bidirectional is still inspected for saturation and gradients.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm import diagnose, train
from autofix_lstm.modeling.build import build_core
from autofix_lstm.modeling.reading import layers_from_model
from autofix_lstm.spec import load_spec

_HEAD = {"type": "dense", "units": 1}
# spec layer type -> a stack that holds it (what users post), and the probe name of its recurrent layer
STACKS = {
    "bidirectional": ([{"type": "bidirectional", "layer": {"type": "lstm", "units": 4}, "merge_mode": "concat"}, _HEAD],
                      "bidirectional_0"),
    "conv1d": ([{"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal", "activation": "relu"},
                {"type": "lstm", "units": 4}, _HEAD], "lstm_1"),
    "max_pooling1d": ([{"type": "conv1d", "filters": 4, "kernel_size": 2}, {"type": "max_pooling1d"},
                       {"type": "lstm", "units": 4}, _HEAD], "lstm_2"),
    "average_pooling1d": ([{"type": "average_pooling1d", "pool_size": 2}, {"type": "lstm", "units": 4}, _HEAD], "lstm_1"),
    "global_average_pooling1d": ([{"type": "lstm", "units": 4, "return_sequences": True},
                                  {"type": "global_average_pooling1d"}, _HEAD], "lstm_0"),
    "flatten": ([{"type": "lstm", "units": 4, "return_sequences": True}, {"type": "flatten"}, _HEAD], "lstm_0"),
    "masking": ([{"type": "masking", "mask_value": -99.0}, {"type": "lstm", "units": 4}, _HEAD], "lstm_1"),
    "time_distributed": ([{"type": "lstm", "units": 4, "return_sequences": True},
                          {"type": "time_distributed", "layer": {"type": "dense", "units": 2}}, {"type": "flatten"}, _HEAD],
                         "lstm_0"),
}


@pytest.mark.slow  # a training and a diagnosis per type (tests/modeling/test_build.py builds and reads back each, fast)
@pytest.mark.parametrize("type_name", sorted(STACKS))
def test_layer_type_builds_trains_diagnoses_and_reads_back(tmp_path, type_name):
    layers, recurrent = STACKS[type_name]
    data = make_series_csv(tmp_path, n=140, kind="sine", scale=10.0)
    spec = load_spec(write_spec(tmp_path, spec_dict(
        data.name, model={"layers": layers}, preprocessing={"inputs": "standard", "target": "standard"},
        train={"epochs": 1, "batch_size": 16}, output=str(tmp_path / "out"),
    )))
    # the spec, its YAML and a saved model of it all say the same stack
    assert load_spec(spec.to_dict()).to_dict() == spec.to_dict()
    core = build_core(spec.model, (8, 2))
    assert core.output_shape == (None, 1)
    core.save(tmp_path / "core.keras")
    read_back = layers_from_model(keras.saving.load_model(tmp_path / "core.keras"))
    expected = [{k: v for k, v in layer.items() if (k, v) != ("merge_mode", "concat")} for layer in layers]
    assert read_back == expected

    trained = train(spec, progress=False)
    assert trained.metrics.n_val > 0 and np.isfinite(trained.metrics.mse)
    assert (tmp_path / "out" / "model.keras").is_file()
    loaded = keras.saving.load_model(tmp_path / "out" / "model.keras")
    x_val = np.zeros((3, 8, 2), np.float32)
    np.testing.assert_allclose(loaded.predict(x_val, verbose=0), trained.model.predict(x_val, verbose=0), rtol=1e-5)

    result = diagnose(spec, save=False, progress=False)
    probe = result.probe
    # the recurrent layer (wrapped or behind a front end) is inspected: gate saturation and gradients
    assert set(probe["saturation_init"]) == {recurrent}
    assert 0.0 <= probe["saturation_init"][recurrent]["all"] <= 1.0
    assert probe["early_grad_norms"][recurrent] > 0
    assert probe["steps"] > 0
