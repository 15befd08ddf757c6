"""Per-trial TensorBoard logs: loss, val_loss and std_ratio per epoch and the trial's values, read back with
TensorBoard's own reader."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata
from tensorboard.util import tensor_util

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.modeling.tensorboard_logs import SCALARS
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.trials import train_candidate


def _read(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def _series(events: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def test_a_training_logs_its_curves_and_values(csv_spec, tmp_path):
    spec = load_spec(csv_spec).updated({"train.epochs": 2, "search.prune_after": None})
    folder = tmp_path / "tensorboard" / "7"
    values = {"architecture.units": 8, "preprocessing.target": "standard", "model.optimizer.clipnorm": None}
    outcome, _, _ = train_candidate(spec, spec, load_dataset(spec), board=(folder, values))

    events = _read(folder)
    assert set(SCALARS) <= set(events.Tags()["tensors"])
    loss, val_loss, std_ratio = (_series(events, tag) for tag in SCALARS)
    assert [step for step, _ in loss] == [0, 1]
    assert [v for _, v in loss] == pytest.approx(outcome.history["loss"], rel=1e-6)
    assert [v for _, v in val_loss] == pytest.approx(outcome.history["val_loss"], rel=1e-6)
    # the last epoch's std_ratio is the one the trial is judged on (the same validation windows)
    assert std_ratio[-1][1] == pytest.approx(outcome.metrics.std_ratio, rel=1e-4)

    start = metadata.parse_session_start_info_plugin_data(
        events.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG])
    assert start.group_name == "7"
    assert start.hparams["architecture.units"].number_value == 8
    assert start.hparams["preprocessing.target"].string_value == "standard"
    assert start.hparams["model.optimizer.clipnorm"].string_value == "null"


def test_a_trial_run_again_replaces_its_logs(csv_spec, tmp_path):
    spec = load_spec(csv_spec)
    folder = tmp_path / "tensorboard" / "0"
    dataset = load_dataset(spec)
    train_candidate(spec, spec, dataset, board=(folder, None))
    train_candidate(spec, spec, dataset, board=(folder, None))
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    assert [step for step, _ in _series(_read(folder), "loss")] == [0]
