"""The training device a search records, and ``search.distribution: mirrored`` on a machine without a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import spec_dict

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.modeling.devices import distribution_scope, placement, training_device
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.trials import train_candidate


def test_the_device_is_the_first_gpu_or_the_cpu():
    gpus = tf.config.list_physical_devices("GPU")
    assert (training_device() == "CPU") == (not gpus)
    assert placement().to_dict() == {"device": training_device(), "distribution": "default", "replicas": 1,
                                     "devices": [training_device()]}


def test_mirrored_builds_the_model_under_the_strategy():
    with distribution_scope("mirrored"):
        strategy = tf.distribute.get_strategy()
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert placement("mirrored").replicas == max(1, len(tf.config.list_physical_devices("GPU")))
    with distribution_scope("default"):
        assert not isinstance(tf.distribute.get_strategy(), tf.distribute.MirroredStrategy)


@pytest.mark.skipif(len(tf.config.list_physical_devices("GPU")) > 1, reason="one replica only: the same arithmetic")
def test_mirrored_over_one_device_trains_as_the_default_does(csv_spec):
    spec = load_spec(csv_spec).updated({"train.epochs": 2, "search.prune_after": None})
    dataset = load_dataset(spec)
    plain, _, _ = train_candidate(spec, spec, dataset)
    mirrored_spec = spec.updated({"search.distribution": "mirrored"})
    mirrored, _, _ = train_candidate(mirrored_spec, mirrored_spec, dataset)
    assert np.allclose(plain.history["loss"], mirrored.history["loss"], rtol=1e-4)
    assert mirrored.metrics.std_ratio == pytest.approx(plain.metrics.std_ratio, rel=1e-3)


# A multi-step forecaster and a stateful LSTM (batches of 16), each with its spec's other sections.
_FORMS = {
    "multistep": {"data": {"horizon": {"steps": 3}},
                  "model": {"layers": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 3}]}},
    "stateful": {"model": {"layers": [{"type": "lstm", "units": 8, "stateful": True}, {"type": "dense", "units": 1}]},
                 "train": {"batch_size": 16}},
}


def _form_spec(series_csv, form: str, distribution: str):
    raw = spec_dict(series_csv, **_FORMS[form], preprocessing={"inputs": "standard", "target": "standard"})
    raw["train"]["epochs"] = 2
    raw["search"] = {"distribution": distribution, "prune_after": None}
    return load_spec(raw)


@pytest.mark.skipif(len(tf.config.list_physical_devices("GPU")) > 1, reason="one replica only: the same arithmetic")
@pytest.mark.parametrize("form", sorted(_FORMS))
def test_a_forecast_and_a_stateful_model_train_mirrored_over_one_device_as_by_default(series_csv, form):
    plain_spec, mirrored_spec = (_form_spec(series_csv, form, d) for d in ("default", "mirrored"))
    dataset = load_dataset(plain_spec)
    plain, _, _ = train_candidate(plain_spec, plain_spec, dataset)
    mirrored, _, _ = train_candidate(mirrored_spec, mirrored_spec, dataset)
    assert np.allclose(plain.history["loss"], mirrored.history["loss"], rtol=1e-4)
    assert mirrored.val_predictions.shape == plain.val_predictions.shape == (
        (len(dataset.y_val), 3) if form == "multistep" else (len(dataset.y_val),))


# Two replicas on a machine without two GPUs: the CPU split into two logical devices, which TensorFlow
# allows only before it starts, so in a process of its own.
_TWO_REPLICAS = """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, {tests!r})
    from autofix_lstm.modeling import devices
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    devices.mirrored_strategy = lambda: strategy
    from test_devices import _form_spec
    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.errors import CannotTrainError
    from autofix_lstm.tuning.trials import train_candidate
    out = {{"replicas": strategy.num_replicas_in_sync}}
    for form in ("multistep", "stateful"):
        for distribution in ("default", "mirrored"):
            spec = _form_spec({csv!r}, form, distribution)
            try:
                out[form + "/" + distribution] = train_candidate(spec, spec, load_dataset(spec))[0].history["loss"]
            except CannotTrainError as err:
                out[form + "/" + distribution] = str(err)
    print(json.dumps(out))
"""


@pytest.mark.slow
def test_over_two_replicas_a_forecast_trains_and_a_stateful_model_cannot_saying_why(series_csv):
    tests = str(Path(__file__).parent), str(Path(__file__).parent.parent)
    code = textwrap.dedent(_TWO_REPLICAS).format(tests=tests[0], csv=str(series_csv))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*tests, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    # the forecast's batches are split in two and its gradients summed back: the same training
    assert np.allclose(out["multistep/default"], out["multistep/mirrored"], rtol=1e-4)
    assert len(out["stateful/default"]) == 2  # trained by default ...
    assert "cannot train: search.distribution: mirrored splits each batch of train.batch_size (16) windows across 2 " \
           "replicas, and a stateful layer is built for exactly 16 windows per batch; use search.distribution: " \
           "default" in out["stateful/mirrored"]  # ... not mirrored: Keras failed on a shape, blaming the head
