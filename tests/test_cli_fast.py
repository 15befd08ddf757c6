"""The CLI answers at once and quietly: no TensorFlow for ``--help`` or a refusal, no TensorFlow log lines.

The import checks run in a fresh interpreter (the test process has TensorFlow loaded already) and
read its ``sys.modules``; their timing is a benchmark's (``benchmarks/cli_time.py``), not a test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import healthy_spec, spec_dict, write_spec
from typer.testing import CliRunner

from autofix_lstm import cli

# Imported only when something trains or loads a model.
HEAVY = ("tensorflow", "keras", "keras_tuner", "matplotlib", "sklearn")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_help_version_and_refusals_import_no_tensorflow(tmp_path, series_csv):
    bad_spec = write_spec(tmp_path, spec_dict(series_csv.name, data={"window": 0}), name="bad.yaml")
    no_data = write_spec(tmp_path, spec_dict("nowhere.csv"), name="no_data.yaml")
    runs = [["--help"], ["--version"], ["search", "--help"], ["train", "--help"], ["demo", "--help"],
            ["train", str(bad_spec)], ["search", str(no_data)], ["diagnose", str(tmp_path / "absent.yaml")]]
    done = _python(f"""
        import json, sys
        from autofix_lstm.cli import app
        codes = []
        for args in {runs!r}:
            try:
                app(args, prog_name="autofix-lstm")
            except SystemExit as stop:
                codes.append(stop.code)
        print(json.dumps({{"codes": codes, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
    """)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0, 0, 0, 2, 2, 2]
    assert report["heavy"] == []
    assert "autofix-lstm 0.1.0" in done.stdout
    assert "data.window must be >= 1, got 0" in done.stderr and "data file not found" in done.stderr


def test_import_autofix_lstm_loads_no_tensorflow_yet_registers_its_layers_when_keras_comes():
    done = _python("""
        import sys
        import autofix_lstm
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "imported at once"
        import keras
        from autofix_lstm.data.transforms import InvertTarget, ScaleInputs
        for cls in (ScaleInputs, InvertTarget):
            assert keras.saving.get_registered_object(f"autofix_lstm>{cls.__name__}") is cls, cls
        assert callable(autofix_lstm.search) and callable(autofix_lstm.train) and callable(autofix_lstm.diagnose)
        print("ok")
    """)
    assert done.stdout.strip() == "ok"


def test_quiet_unless_verbose(tmp_path, series_csv, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # a user's own setting: the CLI silences TensorFlow anyway
    bad_spec = write_spec(tmp_path, spec_dict(series_csv.name, data={"window": 0}))
    assert CliRunner().invoke(cli.app, ["train", str(bad_spec)]).exit_code == 2
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert CliRunner().invoke(cli.app, ["train", str(bad_spec), "--verbose"]).exit_code == 2
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.slow
def test_a_real_train_prints_no_tensorflow_log_lines(tmp_path):
    """The console command as a user runs it, with TF_CPP_MIN_LOG_LEVEL=0 in their environment."""
    spec = healthy_spec(tmp_path, epochs=1)
    done = subprocess.run([sys.executable, "-m", "autofix_lstm", "train", str(spec), "--json"], capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == "", f"stderr is not empty:\n{done.stderr[-3000:]}"
    assert json.loads(done.stdout)["n_val"] > 0


@pytest.mark.slow
def test_the_cli_time_benchmark_runs(tmp_path):
    """``benchmarks/cli_time.py`` never rots: one repeat, this commit against itself."""
    from benchmarks import cli_time

    assert cli_time.main(["--before", "HEAD", "--repeats", "1", "--results", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "cli_time.json").read_text())
    assert [row["command"] for row in result["rows"]] == list(cli_time.COMMANDS)
    for row in result["rows"]:
        assert row["before"]["answered_as_expected"] and row["after"]["answered_as_expected"], row
        assert row["after"]["median_s"] > 0
    assert "| --help |" in (tmp_path / "cli_time.md").read_text()


def test_the_native_log_filter_drops_tensorflow_info_lines_and_passes_the_rest():
    """``native_log``: what TensorFlow writes straight to descriptor 2 before absl is initialised goes;
    an error line, a Python traceback and a line without its end (a prompt) stay, in order."""
    code = textwrap.dedent(r"""
        import os, sys
        from autofix_lstm.native_log import filter_native_log_lines
        filter_native_log_lines()
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796208392.955810   20722 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"W0000 00:00:1796208392.9   20722 cpu_feature_guard.cc:227] ")  # a line in two writes
        os.write(2, b"This TensorFlow binary is optimized\n")
        os.write(2, b"E0000 00:00:1796208392.955810   20722 cuda.cc:1] an error stays\n")
        print("error (spec): a message from Python", file=sys.stderr)
        os.write(2, b"continue? [y/N] ")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr.decode() == ("E0000 00:00:1796208392.955810   20722 cuda.cc:1] an error stays\n"
                                    "error (spec): a message from Python\ncontinue? [y/N] ")


def test_a_dropped_line_whose_prefix_arrives_alone_is_held_until_its_end_and_dropped():
    """A C++ line written in two parts: its prefix (already a dropped line's start) is held, not written,
    so the rest arriving in a later read cannot leave half of it on the console (CI saw exactly this)."""
    from autofix_lstm.native_log import filter_chunk

    out, pending = filter_chunk(b"W0000 00:00:1796208392.9   20722 cpu_feature_guard.cc:227] ")
    assert (out, pending) == (b"", b"W0000 00:00:1796208392.9   20722 cpu_feature_guard.cc:227] ")
    out, pending = filter_chunk(pending + b"This TensorFlow binary is optimized\nE0000 00:00:1.0   1 x.cc:1] kept\n")
    assert (out, pending) == (b"E0000 00:00:1.0   1 x.cc:1] kept\n", b"")
    out, pending = filter_chunk(b"continue? [y/N] ")
    assert (out, pending) == (b"continue? [y/N] ", b"")
    out, pending = filter_chunk(b"I0000 00:0")  # may still become a dropped line: held
    assert (out, pending) == (b"", b"I0000 00:0")


def test_piped_output_keeps_each_sentence_on_one_line():
    # Issue 25 (5): piped output was wrapped at 80 columns mid-sentence.
    code = ("from autofix_lstm import cli; {setup}"
            "cli.console.print('first fix after ' + 'word ' * 30 + 'end'); cli.err_console.print('error ' * 30)")
    for setup, lines in (("", None), ("cli.whole_lines_when_piped(); ", 1)):
        done = subprocess.run([sys.executable, "-c", code.format(setup=setup)], capture_output=True, text=True,
                              timeout=60, check=True, env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")})
        if lines is None:
            assert len(done.stdout.splitlines()) > 1  # what rich does on its own: the premise of the fix
        else:
            assert len(done.stdout.splitlines()) == lines and len(done.stderr.splitlines()) == lines
