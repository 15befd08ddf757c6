"""benchmarks/gpu_check.py: on this CPU machine it refuses plainly; its cuDNN reading of a model's graph."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from benchmarks import gpu_check

NO_GPU = not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(not NO_GPU, reason="a GPU is visible: the check would run the demo")
def test_without_a_gpu_it_says_so_and_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(gpu_check, "run_demo", lambda *a: pytest.fail("the demo must not run without a GPU"))
    assert gpu_check.main(["--results", str(tmp_path)]) == gpu_check.NO_GPU
    err = capsys.readouterr().err
    assert "no GPU is visible to TensorFlow" in err and "nothing was run" in err
    assert not (tmp_path / "gpu_check.json").exists()


def test_the_graph_of_an_lstm_shows_which_kernel_it_takes():
    inputs = keras.Input((8, 2))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(4)(inputs)))
    ops = gpu_check.graph_ops(model)
    assert ops  # the forward pass was traced
    # On a CPU, Keras takes the generic kernel; on a GPU, an eligible LSTM takes CudnnRNNV3.
    assert bool(ops & set(gpu_check.CUDNN_OPS)) == (not NO_GPU)


@pytest.mark.parametrize(("eligible", "recurrent", "ops", "passed"), [
    (True, True, {"CudnnRNNV3", "MatMul"}, True),
    (True, True, {"While", "MatMul"}, False),  # eligible, but the generic kernel ran
    (False, True, {"While"}, True),
    (False, True, {"CudnnRNNV3"}, False),
    (True, False, {"Conv1D"}, True),
])
def test_the_kernel_must_be_cudnn_exactly_when_the_configuration_allows_it(eligible, recurrent, ops, passed):
    assert gpu_check.cudnn_verdict(eligible, recurrent, ops)[0] is passed
