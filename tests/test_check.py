"""``autofix-lstm check``: every check the commands make before training, without training or writing."""

from __future__ import annotations

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
    assert len(result.strategies) == 8
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
