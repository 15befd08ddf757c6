"""``autofix-lstm check``: every check the commands make before training, without training or writing."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_series_csv, make_windows_npz, spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm.api import check
from autofix_lstm.cli import app


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_check_reports_what_it_read_and_writes_nothing(tmp_path):
    make_series_csv(tmp_path, n=100)
    path = write_spec(tmp_path, spec_dict("series.csv", output="out"))
    result = check(path)
    # 100 rows - window 8 - horizon 1 + 1 = 92 windows, the last 20% (round(18.4) = 18) for validation
    assert (result.task, result.train_samples, result.val_samples, result.timesteps, result.features) == (
        "regression", 74, 18, 8, 2)
    assert result.parameters == 4 * (8 * (2 + 8 + 1)) + 9  # LSTM 8 on 2 features, then Dense 1
    assert len(result.strategies) == 14  # every file in strategies/
    cli = _invoke("check", str(path))
    assert cli.exit_code == 0 and cli.stdout.startswith("ok usable: regression, 74 training and 18 validation")
    assert not (tmp_path / "out").exists()


def test_check_refuses_what_train_refuses_in_the_same_words(tmp_path):
    path = make_windows_npz(tmp_path, n=60, classes=3)
    layers = [{"type": "lstm", "units": 4}, {"type": "dense", "units": 2, "activation": "softmax"}]
    spec = write_spec(tmp_path, spec_dict(path.name, data={"task": "multiclass"},
                                          model={"layers": layers, "loss": "sparse_categorical_crossentropy"}))
    checked, trained = _invoke("check", str(spec)), _invoke("train", str(spec))
    assert checked.exit_code == trained.exit_code == 2
    assert checked.stderr == trained.stderr and "the last dense layer has 2 units but the target has 3 classes" in checked.stderr


def test_check_reads_the_strategy_files_the_search_would(tmp_path):
    make_series_csv(tmp_path, n=100)
    path = write_spec(tmp_path, spec_dict("series.csv", search={"strategies": ["scaling", "mine.yaml"]}))
    result = _invoke("check", str(path))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "search.strategies names 'mine.yaml', but no file is at" in result.stderr


def test_check_refuses_an_npz_without_timesteps(tmp_path):
    # Issue 26 (5): check said usable ("0 steps"), then search failed inside LSTM.call.
    path = make_windows_npz(tmp_path, n=30, x=np.zeros((30, 0, 2)), y=np.arange(30.0))
    result = _invoke("check", str(write_spec(tmp_path, spec_dict(path.name))))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "array 'x' has shape (30, 0, 2): 0 timesteps" in result.stderr


# --- issue 26, points 6 and 11: the output folder is checked for what train and search need ------------------------


def test_check_refuses_an_output_with_a_nul_byte_as_bad_input(tmp_path):
    make_series_csv(tmp_path, n=100)
    path = write_spec(tmp_path, spec_dict("series.csv", output="out\x00put"))
    checked, trained = _invoke("check", str(path)), _invoke("train", str(path))
    assert checked.exit_code == trained.exit_code == 2, trained.output
    assert checked.stderr == trained.stderr
    assert "output" in checked.stderr and "NUL byte" in checked.stderr and "ValueError" not in trained.output


@pytest.mark.parametrize(
    ("link", "target", "output", "fragments"),
    [
        ("loop", "loop", "loop/run", ("output", "cannot be resolved")),  # a symlink loop
        ("gone", "missing", "gone", ("is a symbolic link to", "which does not exist")),  # a link to nothing
    ],
)
def test_check_refuses_an_output_through_a_bad_link_as_bad_input(tmp_path, link, target, output, fragments):
    make_series_csv(tmp_path, n=100)
    (tmp_path / link).symlink_to(target if target == link else tmp_path / target)
    result = _invoke("check", str(write_spec(tmp_path, spec_dict("series.csv", output=output))))
    assert result.exit_code == 2, result.output
    assert all(fragment in result.stderr for fragment in fragments)


def test_check_refuses_an_output_where_no_file_can_be_created_and_leaves_nothing(tmp_path):
    make_series_csv(tmp_path, n=100)
    path = write_spec(tmp_path, spec_dict("series.csv", output="/proc/autofix-run"))
    result = _invoke("check", str(path))
    assert result.exit_code == 3, result.output
    assert "no file can be created in /proc" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv", "spec.yaml"]
    assert _invoke("check", str(write_spec(tmp_path, spec_dict("series.csv", output="out")))).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv", "spec.yaml"]  # the probe file is gone


def test_a_newline_in_a_path_keeps_the_error_on_one_line(tmp_path):
    # Found by the fuzz benchmark: a file name holding a newline split the problem over two lines.
    result = _invoke("check", str(tmp_path / "sp\nec.yaml"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "sp\\nec.yaml" in result.stderr
