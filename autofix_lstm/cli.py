"""The ``autofix-lstm`` command: a thin typer shell over the library.

Only this module prints and decides exit codes, one meaning each (the table in docs/cli.md, which
``tests/test_cli_exit_codes.py`` holds to the constants below): 0 the command ran, 1 ``search``
found no fix, 2 bad input, 3 this machine could not run it, 4 a bug, 130 / 143 interrupted by
SIGINT / SIGTERM.

It answers at once: nothing here imports TensorFlow, Keras, Keras Tuner, matplotlib or scikit-learn
at module level. A command reads and checks its spec, output folder and data first
(``inputs.resolve_inputs``, which also applies the command's options to the spec) and imports the
training code only for inputs that passed, after quieting TensorFlow's log lines (unless
``--verbose``), which must happen before TensorFlow is first imported.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from autofix_lstm.demo import DEFAULT_FOLDER, copy_example
from autofix_lstm.format import cell, plural
from autofix_lstm.native_log import quiet_libraries
from autofix_lstm.render.terminal import STATE_STYLES, before_after_table, metrics_table
from autofix_lstm.run_dir import RunDir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # _exit_codes reports bugs itself
    help="Find out why a Keras LSTM predicts a constant, and fix it.",
)
console = Console()
err_console = Console(stderr=True)

EXIT_RAN = 0
EXIT_NOT_FIXED = 1  # search ran and found no configuration that beats a constant predictor
EXIT_BAD_INPUT = 2  # spec, data, model or strategy file, or the command line itself (click's usage errors)
EXIT_CANNOT_RUN = 3  # this machine could not run it: memory, disk, permissions, a damaged or locked run folder
EXIT_BUG = 4  # a bug in autofix-lstm: a traceback under a line asking to report it
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM (a batch scheduler's stop): 128 + 15


VERBOSE_HELP = "show TensorFlow's, absl's and Keras' own log lines and warnings"


def _print_version(value: bool) -> None:
    if value:
        from autofix_lstm import __version__

        typer.echo(f"autofix-lstm {__version__}")
        raise typer.Exit(EXIT_RAN)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Find out why a Keras LSTM predicts a constant, and fix it."""


def _print_error(kind: str, line: str) -> None:
    # escape: the messages quote user text (column names, values) that rich would read as markup; a
    # newline in that text (a file name may hold one) is shown as \n, so each problem stays one line
    line = line.replace("\r", "\\r").replace("\n", "\\n")
    err_console.print(f"[bold red]error[/] ({kind}): {escape(line)}", highlight=False, soft_wrap=True)


def _fail_on_bad_input(err: Exception) -> None:
    from autofix_lstm.errors import SpecError

    kind = "spec" if isinstance(err, SpecError) else "data"
    lines = getattr(err, "problems", None) or [str(err)]
    source = getattr(err, "source", None)
    for line in lines:
        _print_error(kind, f"{source + ': ' if source else ''}{line}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _os_error_line(err: OSError) -> str:
    """One line for an error of the operating system: what failed, on which file, and what to do."""
    where = f" {err.filename}" if err.filename else ""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "free some space, or set output to a folder on another disk"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "set output to a folder you can write to, or give yourself the permission"
    else:
        hint = "check that path, then run again"
    return f"cannot read or write{where}: {err.strerror or err} ({type(err).__name__}); {hint}"


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn what a command raises into lines on stderr and the exit code that means it."""
    from autofix_lstm.errors import (
        DataError,
        FatalSearchError,
        ResourceError,
        RunFolderError,
        SearchInterrupted,
        SpecError,
        WorkerError,
    )

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except SearchInterrupted as err:
        err_console.print(f"[bold yellow]interrupted[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_TERMINATED if err.signal_name == "SIGTERM" else EXIT_INTERRUPTED) from None
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    except ResourceError as err:
        _print_error("resources", str(err))
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except RunFolderError as err:
        _print_error("output folder", str(err))
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except WorkerError as err:
        _print_error("workers", str(err))
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except FatalSearchError as err:  # a trial's error every further trial would meet (a full disk, say)
        _print_error("search", str(err))
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except MemoryError:
        _print_error("resources", "out of memory; lower train.batch_size or data.window, or use less data")
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except OSError as err:
        _print_error("system", _os_error_line(err))
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    except KeyboardInterrupt:
        err_console.print("[bold yellow]interrupted[/] (Ctrl-C)", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as err:  # a bug: say so, then show where
        from autofix_lstm import __version__

        _print_error(
            "bug", f"{type(err).__name__}: {err} -- this is a bug in autofix-lstm {__version__}, not in your "
            "input: please report it with the command, the spec and the traceback below",
        )
        err_console.print("".join(traceback.format_exception(err)), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BUG) from None


@app.command()
def train(
    spec: Path = typer.Argument(..., help="the spec.yaml to train as written"),
    json_output: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Train the spec as written; report whether its output collapsed (writes metrics.json, model.keras)."""
    with _exit_codes():
        quiet_libraries(verbose)
        from autofix_lstm.inputs import resolve_inputs

        checked, dataset, options = resolve_inputs(spec, progress=not json_output)
        from autofix_lstm.modeling.train import train as train_spec  # imports TensorFlow
        from autofix_lstm.tuning.summary import state_line

        result = train_spec(checked, dataset, save=options.save, progress=options.progress)
    if json_output:
        typer.echo(json.dumps(result.metrics.to_dict(), indent=2))
        return
    console.print(metrics_table(result.metrics))
    state, meaning = state_line(result.metrics)
    console.print(
        f"[{STATE_STYLES[state.value]}]{state.value}[/]: {escape(meaning)}  ({result.seconds:.1f}s)  -> "
        f"{escape(str(result.output_dir))}",
        highlight=False, soft_wrap=True,
    )


@app.command()
def diagnose(
    spec: Path = typer.Argument(..., help="the spec.yaml whose collapsed output to explain"),
    json_output: bool = typer.Option(False, "--json", help="print the findings (and measurements) as JSON"),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Train the spec briefly, instrumented, and say why its output collapses (writes diagnosis.json)."""
    from autofix_lstm.format import evidence_lines

    with _exit_codes():
        quiet_libraries(verbose)
        from autofix_lstm.inputs import resolve_inputs

        checked, dataset, options = resolve_inputs(spec, progress=not json_output)
        from autofix_lstm.diagnosis import diagnose as diagnose_spec  # imports TensorFlow

        result = diagnose_spec(checked, dataset, save=options.save, progress=options.progress)
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    styles = {"error": "bold red", "warning": "yellow", "info": "blue"}
    table = Table(title="diagnosis (errors first)", show_lines=True)
    for column in ("severity", "finding", "message", "evidence", "strategies"):
        table.add_column(column, overflow="fold")
    for finding in result.findings:
        table.add_row(
            f"[{styles[finding.severity]}]{finding.severity}[/]", finding.id, escape(finding.message),
            escape("\n".join(evidence_lines(finding.evidence))), ", ".join(finding.strategies) or "-",
        )
    if result.findings:
        console.print(table)
    else:
        console.print("[bold green]no findings[/]: nothing looks wrong in the brief training")
    signal = result.signal_sentence()
    if signal is not None:
        console.print(f"[bold]signal probe[/]: {escape(signal)}", highlight=False, soft_wrap=True)
    probe = result.probe or {}
    verdict = "[bold red]collapsed[/]" if result.collapsed else "[bold green]not collapsed[/]"
    brief = f"; brief training: {escape(probe['brief_training'])}" if probe.get("brief_training") else ""
    console.print(
        f"{verdict} after the brief training; errors: {len(result.errors)}, warnings: {len(result.warnings)}"
        f"{brief}  ({result.seconds:.1f}s)  -> {escape(str(result.output_path))}",
        highlight=False, soft_wrap=True,
    )


# The options `search` and `demo` share (one definition: the same flag reads the same in both).
_FRESH = typer.Option(False, "--fresh", help="discard an earlier search in the output folder and start over")
_MAX_TRIALS = typer.Option(None, "--max-trials", min=1, help="override search.max_trials")
_MINIMIZE = typer.Option(
    True, "--minimize/--no-minimize", help="after a fix, find which of its changes were needed (minimal_spec.yaml)"
)
_SUMMARY_JSON = typer.Option(False, "--json", help="print summary.json instead of tables")
_NO_CONFIRM = typer.Option(
    False, "--no-confirm", help="do not train the best fix again with two more seeds (search.confirm: false)"
)
_VERBOSE = typer.Option(False, "--verbose", help=VERBOSE_HELP)


@app.command()
def search(
    spec: Path = typer.Argument(..., help="the spec.yaml whose model collapsed"),
    fresh: bool = _FRESH,
    max_trials: int = _MAX_TRIALS,
    minimize: bool = _MINIMIZE,
    json_output: bool = _SUMMARY_JSON,
    no_confirm: bool = _NO_CONFIRM,
    tensorboard: bool = typer.Option(
        False, "--tensorboard", help="log each trial's curves and values for TensorBoard in <output>/tensorboard/ "
        "(search.tensorboard: true)",
    ),
    verbose: bool = _VERBOSE,
    max_time: str = typer.Option(
        None, "--max-time", help="override search.max_time (e.g. 8h): no trial starts after it, on any worker"
    ),
    workers: int = typer.Option(
        0, "--workers", min=0, help="train the trials on N worker processes here (Keras Tuner's chief/worker mode)"
    ),
    chief: bool = typer.Option(
        False, "--chief", help="also serve trials to workers on other machines (autofix-lstm worker), on --port"
    ),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="the chief's port (default: a free one)"),
) -> None:
    """Search for a configuration whose output no longer collapses; exit 1 when none beats a constant.

    Progress is a live display in a terminal, and one timestamped line per stage and trial when the
    output goes to a file; every run also appends to <output>/events.jsonl.
    """
    from autofix_lstm.errors import SearchInterrupted

    with _exit_codes():
        quiet_libraries(verbose)
        from autofix_lstm.inputs import resolve_inputs
        from autofix_lstm.spec import load_spec

        # The folder's lock before the spec's Keras checks import TensorFlow (seconds): a held folder is
        # refused at once, as bad input is. The search runs holding it; every way out releases it.
        light = load_spec(spec, keras_checks=False)  # the schema alone (resolve_inputs' first step)
        RunDir(light.output_dir).check_writable(light.source)  # a file where the folder should be: bad input (2)
        with RunDir(light.output_dir).lock() as held:
            # a bad --max-time is refused as the spec's own search.max_time is (exit 2, the field named)
            checked, dataset, options = resolve_inputs(
                spec, fresh=fresh, progress=not json_output, max_trials=max_trials, minimize=minimize,
                confirm=False if no_confirm else None, tensorboard=True if tensorboard else None, max_time=max_time,
            )
            from autofix_lstm.api import search_resolved  # imports TensorFlow
            from autofix_lstm.tuning.distributed import ScaleOut

            if workers or chief:  # built once TensorFlow may load: the scale-out module imports it
                options = replace(options, workers=ScaleOut(workers=workers, port=port, listen_all=chief))
            try:
                result = search_resolved(checked, dataset, options, lock=held)
            except SearchInterrupted as err:
                if err.result is not None:  # the outputs for the best so far were written: show them
                    _show_search_result(err.result, json_output)
                raise
    _show_search_result(result, json_output)
    # 1: the best found does not beat a constant (a working spec always does: the search ran, exit 0)
    from autofix_lstm.tuning.search_summary import Summary

    if not Summary.from_dict(result.summary).best_works:
        raise typer.Exit(EXIT_NOT_FIXED)


@app.command()
def demo(
    output: Path = typer.Option(
        Path(DEFAULT_FOLDER), "--output", "-o", help="the folder the example's spec and data are copied into; "
        "the search writes into <output>/runs/energy",
    ),
    max_trials: int = typer.Option(None, "--max-trials", min=1, help="override the example's 8 trials"),
    fresh: bool = _FRESH,
    minimize: bool = _MINIMIZE,
    no_confirm: bool = _NO_CONFIRM,
    json_output: bool = _SUMMARY_JSON,
    verbose: bool = _VERBOSE,
) -> None:
    """Fix the bundled example: an LSTM fed a raw energy table, whose output collapses (nothing else needed).

    Copies its energy.yaml and energy.csv into --output, then runs `autofix-lstm search` on them: the
    same outputs and exit codes. Run it again to resume; edit the copied spec and run search on it.
    """
    with _exit_codes():
        spec = copy_example(output)
    if not json_output:
        console.print(Text(f"the bundled example, copied to {spec}: searching for the fix of its collapsed LSTM"),
                      highlight=False, soft_wrap=True)
    search(spec, fresh=fresh, max_trials=max_trials, minimize=minimize, json_output=json_output,
           no_confirm=no_confirm, tensorboard=False, verbose=verbose, max_time=None, workers=0, chief=False, port=0)


@app.command()
def worker(
    spec: Path = typer.Argument(..., help="the same spec.yaml as the chief's (its output folder on shared storage)"),
    chief_address: str = typer.Option(
        None, "--chief-address", help="the chief's HOST:PORT (default: KERASTUNER_ORACLE_IP/PORT, else the "
        "address the chief wrote into the output folder)"
    ),
    worker_id: str = typer.Option(None, "--id", help="this worker's name (default: KERASTUNER_TUNER_ID, else "
                                  "worker-<host>-<pid>)"),
    threads: int = typer.Option(None, "--threads", min=1, help="TensorFlow's threads for this worker (default: all)"),
    connect_timeout: float = typer.Option(600.0, "--connect-timeout", min=1.0,
                                          help="seconds to wait for the chief (at start, and when it goes away)"),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Run trials for a search's chief (autofix-lstm search --chief / --workers) until it says the search is over."""

    with _exit_codes():
        quiet_libraries(verbose)
        if threads:  # read when TensorFlow is first imported: before the spec's Keras checks
            from autofix_lstm.tuning.distributed import thread_env

            os.environ.update(thread_env(threads))
        from autofix_lstm.inputs import resolve_inputs

        checked, dataset, _ = resolve_inputs(spec)
        from autofix_lstm.render.progress import PlainReporter  # imports TensorFlow
        from autofix_lstm.tuning.distributed_worker import default_worker_id, run_worker

        name = worker_id or default_worker_id()
        from autofix_lstm.errors import SearchInterrupted

        try:
            done = run_worker(checked, dataset, address=chief_address, worker_id=name, reporter=PlainReporter(),
                              connect_timeout=connect_timeout)
        except SearchInterrupted as err:  # the worker's own words: the search itself goes on, or resumes
            err_console.print(f"[bold yellow]interrupted[/]: {escape(name)} stopped by {err.signal_name} after its "
                              "epoch; its unfinished trial runs again on another worker or when the search resumes",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_TERMINATED if err.signal_name == "SIGTERM" else EXIT_INTERRUPTED) from None
    console.print(Text(f"{name}: the chief ended the search; this worker ran {plural(done, 'trial')}"), highlight=False)


def _show_search_result(result, json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(result.summary, indent=2))
        return
    from autofix_lstm.tuning.search_summary import Summary, overhead_text

    s = Summary.from_dict(result.summary)
    console.print(before_after_table(result.baseline, result.best, (s.baseline_state, s.best_state)))
    if result.changes:
        console.print("[bold]changes[/] (best spec vs yours):")
        for line in result.changes:
            # Text, not markup: a layer list such as "[lstm(units=8)] -> [...]" is printed as it is.
            console.print(Text(f"  {line}"), highlight=False, soft_wrap=True)
    console.print(
        f"trials: {s.trials_total} ({s.trials_completed} completed, {s.trials_pruned} pruned, "
        f"{s.trials_failed} failed) in {s.elapsed_seconds:.0f}s; "
        + ("no fix" if s.trials_to_first_fix is None else
           f"first fix after {plural(s.trials_to_first_fix, 'trial')} / {cell(s.seconds_to_first_fix)}s")
    )
    if s.minimal_verdict:
        console.print(Text(s.minimal_verdict), highlight=False, soft_wrap=True)
    report = RunDir(result.output_dir).report
    overhead = overhead_text(s)
    console.print(escape(f"outputs in {result.output_dir}" + (f"; open {report}" if report.is_file() else "")
                         + (f"; search {overhead}" if overhead else "")),
                  highlight=False, soft_wrap=True)
    style = "bold green" if s.best_works else "bold red"
    console.print(Text(result.verdict, style=style), highlight=False, soft_wrap=True)  # the last line


@app.command()
def check(
    spec: Path = typer.Argument(..., help="the spec.yaml to check"),
    verbose: bool = typer.Option(False, "--verbose", help=VERBOSE_HELP),
) -> None:
    """Check the spec, its data, strategy files and model as the other commands would, without training (writes nothing)."""
    with _exit_codes():
        quiet_libraries(verbose)
        from autofix_lstm.inputs import resolve_inputs

        checked, dataset, _ = resolve_inputs(spec, save=False)
        from autofix_lstm.api import check_resolved  # imports TensorFlow (builds the model)

        result = check_resolved(checked, dataset)
    console.print(f"[bold green]ok[/] {escape(result.sentence())}", highlight=False, soft_wrap=True)


@app.command()
def report(
    output: Path = typer.Argument(..., help="a search's output folder (or the spec.yaml whose output it is)"),
) -> None:
    """Write <output>/report.html: verdict, before/after metrics, plots, diagnosis and the fix on one offline page."""
    with _exit_codes():
        folder = output
        if output.is_file() and output.suffix in (".yaml", ".yml"):
            from autofix_lstm.spec import load_spec

            folder = load_spec(output).output_dir
        from autofix_lstm.render.report import write_report

        try:
            path = write_report(folder)
        except FileNotFoundError as err:  # not a search's output folder: the argument is wrong
            _print_error("input", str(err))
            raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(f"report written: {path}", highlight=False, soft_wrap=True)


def whole_lines_when_piped() -> None:
    """Piped into a file, a log or grep, a sentence stays on one line (rich wraps at 80 columns otherwise)."""
    for out in (console, err_console):
        out.soft_wrap = not out.is_terminal


def main() -> None:
    """The console entry point (``autofix-lstm``, ``python -m autofix_lstm``): the app, with TensorFlow's native
    log lines kept off stderr unless ``--verbose`` (``native_log``); an interrupted command leaves at once."""
    from autofix_lstm import native_log

    if "--verbose" not in sys.argv[1:]:
        native_log.filter_native_log_lines()
    whole_lines_when_piped()
    try:
        app(prog_name="autofix-lstm")
    except SystemExit as done:
        if done.code in (EXIT_INTERRUPTED, EXIT_TERMINATED) and "tensorflow" in sys.modules:
            # the exit code is decided: a signal landing now (a second Ctrl-C) would end it as -2 with a traceback
            for name in ("SIGINT", "SIGTERM"):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
            sys.stdout.flush()
            logging.shutdown()
            native_log.stop_filtering()  # forwards the lines still in the filter (the "interrupted" one)
            os._exit(done.code)  # its files are written, its lock released; TensorFlow's teardown takes seconds
        raise
