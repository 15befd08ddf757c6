"""Exit codes with one meaning each (the table in docs/cli.md), and one clear line for every way a command fails.

The library's failures are raised on purpose here (monkeypatched entry points) so each code is
checked without training; the refusals that come from real inputs (an output that is a file, a
seed out of range) run the real command and are refused before anything trains.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
from helpers import healthy_spec, spec_dict, write_spec
from typer.testing import CliRunner

import autofix_lstm.api
import autofix_lstm.modeling.train
from autofix_lstm import cli
from autofix_lstm.errors import (
    CorruptRunError,
    FatalSearchError,
    ResourceError,
    RunLockedError,
    SearchInterrupted,
    SpecError,
)

COMMANDS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"  # where the README points for them


def _invoke(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def _one_line(result, code: int, *fragments: str) -> str:
    """Exit ``code``, exactly one line of output, holding every fragment; return that line."""
    output = result.output.strip()
    assert result.exit_code == code, f"exit code {result.exit_code}, output: {output!r}, exception: {result.exception!r}"
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {output!r}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def _documented_exit_codes() -> dict[int, str]:
    section = COMMANDS_PAGE.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning for code, meaning in re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|$", section, re.M)}


def test_the_documented_table_lists_exactly_the_codes_the_cli_uses():
    constants = {name: value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    documented = _documented_exit_codes()
    assert sorted(documented) == sorted(constants.values()), (documented, constants)
    assert len(set(constants.values())) == len(constants), f"two names for one code: {constants}"
    assert "no configuration that beats a constant" in documented[cli.EXIT_NOT_FIXED]
    assert "bad input" in documented[cli.EXIT_BAD_INPUT]
    assert "--fresh" in documented[cli.EXIT_CANNOT_RUN]
    assert "SIGINT" in documented[cli.EXIT_INTERRUPTED] and "SIGTERM" in documented[cli.EXIT_TERMINATED]
    assert "bug" in documented[cli.EXIT_BUG]


# --- refusals from real inputs, before anything trains ---------------------------------------------


@pytest.mark.parametrize("command", ["search", "diagnose", "train"])
def test_output_that_is_a_file_is_bad_input(tmp_path, command, monkeypatch):
    spec = healthy_spec(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "healthy").write_text("I am a file")
    monkeypatch.setattr(autofix_lstm.modeling.train, "fit_prepared", _never_trains)
    line = _one_line(_invoke(command, str(spec)), cli.EXIT_BAD_INPUT, "output", "is a file, not a folder",
                     "set output to a folder")
    assert line.startswith("error (spec):")


def _never_trains(*args, **kwargs):
    raise AssertionError("trained before refusing")


def test_diagnose_refuses_an_output_file_before_training(tmp_path, monkeypatch):
    """The library itself (not only the CLI's preflight) refuses before the brief training."""
    import autofix_lstm.diagnosis.runner as runner

    spec = healthy_spec(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "healthy").write_text("I am a file")
    monkeypatch.setattr(runner, "diagnose_dataset", _never_trains)
    with pytest.raises(SpecError, match="is a file, not a folder"):
        autofix_lstm.diagnose(spec)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_in_a_read_only_folder_cannot_run_here(tmp_path):
    spec = healthy_spec(tmp_path)
    locked = tmp_path / "runs"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, "permission denied", "set output to a folder")
    finally:
        locked.chmod(0o755)


def test_output_folder_not_writable_cannot_run_here(tmp_path, monkeypatch):
    """As above where the tests run as root (who may write anywhere): the permission check says no."""
    import autofix_lstm.run_dir as run_dir

    spec = healthy_spec(tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    access = run_dir.os.access
    monkeypatch.setattr(run_dir.os, "access", lambda path, mode: Path(path) != runs and access(path, mode))
    line = _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, "cannot be written", "is not writable by this user",
                     "set output to a folder you can write to")
    assert line.startswith("error (output folder):")


@pytest.mark.parametrize(("seed", "message"), [(-1, "must be >= 0, got -1"), (2**40, "must be < 4294967296")])
def test_a_seed_numpy_cannot_take_is_bad_input(tmp_path, series_csv, seed, message):
    path = write_spec(tmp_path, spec_dict(series_csv.name, train={"seed": seed}))
    _one_line(_invoke("search", str(path)), cli.EXIT_BAD_INPUT, f"train.seed {message}")


def test_a_usage_error_is_bad_input(tmp_path):
    assert _invoke("search").exit_code == cli.EXIT_BAD_INPUT
    assert _invoke("search", str(tmp_path / "x.yaml"), "--max-trials", "0").exit_code == cli.EXIT_BAD_INPUT


# --- what the library raises, mapped -----------------------------------------------------------------


def _search_raising(monkeypatch, error: BaseException):
    def search(*args, **kwargs):
        raise error

    monkeypatch.setattr(autofix_lstm.api, "search_resolved", search)  # what the CLI runs once its inputs resolved


def test_a_damaged_run_folder_names_the_file_and_says_fresh(tmp_path, monkeypatch):
    spec = healthy_spec(tmp_path)
    state = tmp_path / "runs" / "healthy" / "search_state.json"
    _search_raising(monkeypatch, CorruptRunError(state, "truncated JSON at line 1"))
    line = _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, str(state), "--fresh")
    assert line.startswith("error (output folder):")


def test_a_locked_run_folder_cannot_run_here(tmp_path, monkeypatch):
    spec = healthy_spec(tmp_path)
    _search_raising(monkeypatch, RunLockedError(tmp_path / "lock", 4242, "node7", "2026-12-02T06:00:00"))
    _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, "another search", "pid 4242 on node7")


@pytest.mark.parametrize(
    ("error", "fragments"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/big/best_model.keras"),
         ("/big/best_model.keras", "No space left on device", "free some space")),
        (PermissionError(errno.EACCES, "Permission denied", "/ro/summary.json"),
         ("/ro/summary.json", "Permission denied", "a folder you can write to")),
        (MemoryError(), ("out of memory", "lower train.batch_size")),
        (ResourceError("out of memory while training; lower train.batch_size"), ("lower train.batch_size",)),
    ],
)
def test_what_the_machine_lacks_is_exit_3(tmp_path, monkeypatch, error, fragments):
    spec = healthy_spec(tmp_path)
    _search_raising(monkeypatch, error)
    _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, *fragments)


def test_a_fatal_search_error_stops_the_search_with_exit_3(tmp_path, monkeypatch):
    """A trial's error every further trial would meet (tests/tuning/test_trial_errors.py) is not a bug."""
    spec = healthy_spec(tmp_path)
    _search_raising(monkeypatch, FatalSearchError(
        "trial 3 could not be saved in runs/healthy, so the search stopped (every further trial would fail the "
        "same way): OSError: [Errno 28] No space left on device"))
    line = _one_line(_invoke("search", str(spec)), cli.EXIT_CANNOT_RUN, "the search stopped", "No space left on device")
    assert line.startswith("error (search):")


@pytest.mark.parametrize(("signal_name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_search_exits_130_or_143(tmp_path, monkeypatch, signal_name, code):
    spec = healthy_spec(tmp_path)
    _search_raising(monkeypatch, SearchInterrupted(signal_name))
    line = _one_line(_invoke("search", str(spec)), code, f"search stopped by {signal_name}", "run the same command")
    assert line.startswith("interrupted:")
    assert code == {"SIGINT": cli.EXIT_INTERRUPTED, "SIGTERM": cli.EXIT_TERMINATED}[signal_name]


def test_ctrl_c_outside_a_search_exits_130(tmp_path, monkeypatch):
    spec = healthy_spec(tmp_path)

    def train(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(autofix_lstm.modeling.train, "train", train)
    _one_line(_invoke("train", str(spec)), cli.EXIT_INTERRUPTED, "interrupted")


def test_a_bug_says_so_then_shows_the_traceback_with_its_own_code(tmp_path, monkeypatch):
    spec = healthy_spec(tmp_path)
    _search_raising(monkeypatch, ZeroDivisionError("division by zero"))
    result = _invoke("search", str(spec))
    assert result.exit_code == cli.EXIT_BUG != cli.EXIT_NOT_FIXED
    first, *rest = result.output.strip().splitlines()
    assert first.startswith("error (bug): ZeroDivisionError: division by zero")
    assert "this is a bug in autofix-lstm" in first and "please report it" in first
    assert rest[0].startswith("Traceback") and "ZeroDivisionError" in rest[-1]
