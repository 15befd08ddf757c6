"""``autofix-lstm search`` for an overnight run: plain progress lines into a log, ``--tensorboard``, and the
device in summary.json, with ``search.distribution: mirrored`` on a machine without a GPU."""

from __future__ import annotations

import json
import re

import yaml
from helpers import collapsing_spec
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

from autofix_lstm.cli import app
from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import load_spec

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  "


def test_a_search_into_a_log_prints_timestamped_lines_and_writes_tensorboard_logs(tmp_path):
    spec = collapsing_spec(tmp_path, epochs=1)
    raw = yaml.safe_load(spec.read_text())
    raw["search"] = {"distribution": "mirrored", "rerun_pruned": 0}
    spec.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["search", str(spec), "--tensorboard", "--max-trials", "2", "--no-minimize",
                                      "--no-confirm"])
    assert result.exit_code in (0, 1), result.output  # 1: no fix in 2 trials of 1 epoch, still a finished search
    assert re.search(rf"^{STAMP}diagnosing$", result.output, re.M)
    trial_lines = re.findall(rf"^{STAMP}trial (\S+) \[\d/2\]  worker chief  (completed|pruned|failed)  ", result.output,
                             re.M)
    assert sorted(t for t, _ in trial_lines) == ["0", "1"]
    assert "\x1b[" not in result.output.split("before / after")[0]  # no live display's escape codes in the log

    run = RunDir(load_spec(spec).output_dir)
    summary = json.loads(run.summary.read_text())
    assert summary["device"] == "CPU"
    assert (summary["distribution"]["distribution"], summary["distribution"]["replicas"]) == ("mirrored", 1)
    for trial in ("0", "1", "baseline"):
        events = EventAccumulator(str(run.tensorboard_trial(trial)))
        events.Reload()
        assert {"loss", "val_loss", "std_ratio"} <= set(events.Tags()["tensors"]), trial
    assert json.loads(run.events.read_text().splitlines()[-1])["event"] == "search_ended"
