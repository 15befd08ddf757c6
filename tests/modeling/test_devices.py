"""The training device a search records, and ``search.distribution: mirrored`` on a machine without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

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
