"""Reading every layer's output for the diagnosis' measurements, quietly.

The extractor was built on ``core.inputs`` (a list of one) and called with the windows alone, so Keras
warned "The structure of `inputs` doesn't match the expected structure" at every measurement: the
quickstart notebook showed it in a user's cell (CI caught it).
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from autofix_lstm.diagnosis.layer_measures import layer_extractor, layer_inputs_and_outputs


def test_every_layers_output_is_read_without_a_keras_warning():
    core = keras.Sequential([keras.Input((14, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(32, 14, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairs = layer_inputs_and_outputs(layer_extractor(core), x)
    assert [output.shape for _, output in pairs] == [(32, 4), (32, 1)]
    np.testing.assert_allclose(pairs[-1][1], np.asarray(core(x)), rtol=1e-5, atol=1e-6)
