"""The ``autofix-lstm`` command: a thin typer shell over the library.

Only this module prints and decides exit codes: 0 when a command ran, 1 when ``search`` found no
fix, 2 for bad input (spec, data or model), 3 when this machine could not run it (out of memory).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autofix_lstm.format import cell
from autofix_lstm.run_dir import RunDir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find out why a Keras LSTM predicts a constant, and fix it.",
)
console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_CANNOT_RUN = 3  # the machine could not run it (out of memory)


@app.callback()
def _root() -> None:
    """Find out why a Keras LSTM predicts a constant, and fix it."""


def _fail_on_bad_input(err: Exception) -> None:
    from autofix_lstm.errors import SpecError

    kind = "spec" if isinstance(err, SpecError) else "data"
    lines = getattr(err, "problems", None) or [str(err)]
    source = getattr(err, "source", None)
    for line in lines:
        # escape: the messages quote user text (column names, values) that rich would read as markup
        text = escape(f"{source + ': ' if source else ''}{line}")
        err_console.print(f"[bold red]error[/] ({kind}): {text}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _fail_on_resources(err: Exception) -> None:
    err_console.print(f"[bold red]error[/] (resources): {escape(str(err))}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_CANNOT_RUN)


def metrics_table(metrics: dict, title: str = "validation metrics (original units)") -> Table:
    """A two-column rich table of a metrics dict."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        style = "bold red" if key == "collapsed" and value else ("bold green" if key == "collapsed" else None)
        table.add_row(key, cell(value), style=style)
    return table


@app.command()
def train(
    spec: Path = typer.Argument(..., help="the spec.yaml to train as written"),
    json_output: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
) -> None:
    """Train the spec as written; report whether its output collapsed (writes metrics.json, model.keras)."""
    from autofix_lstm.errors import DataError, ResourceError, SpecError
    from autofix_lstm.modeling.train import train as train_spec

    try:
        result = train_spec(spec, progress=not json_output)
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    except ResourceError as err:
        _fail_on_resources(err)
    if json_output:
        typer.echo(json.dumps(result.metrics, indent=2))
        return
    console.print(metrics_table(result.metrics))
    verdict = "[bold red]collapsed[/]: the output barely varies" if result.collapsed else "[bold green]not collapsed[/]"
    console.print(f"{verdict}  ({result.seconds:.1f}s)  -> {result.output_dir}")


@app.command()
def diagnose(
    spec: Path = typer.Argument(..., help="the spec.yaml whose collapsed output to explain"),
    json_output: bool = typer.Option(False, "--json", help="print the findings (and measurements) as JSON"),
) -> None:
    """Train the spec briefly, instrumented, and say why its output collapses (writes diagnosis.json)."""
    from autofix_lstm.diagnosis import diagnose as diagnose_spec
    from autofix_lstm.errors import DataError, ResourceError, SpecError
    from autofix_lstm.format import evidence_lines

    try:
        result = diagnose_spec(spec, progress=not json_output)
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    except ResourceError as err:
        _fail_on_resources(err)
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


EXIT_NOT_FIXED = 1

# metrics shown in the before/after table, by task
_BEFORE_AFTER = {
    "regression": ("std_ratio", "mse", "mae", "r2", "constant_mse", "persistence_mse", "collapsed"),
    "classification": ("std_ratio", "accuracy", "balanced_accuracy", "macro_f1", "distinct_predictions",
                       "majority_balanced_accuracy", "collapsed"),
}


def before_after_table(baseline: dict, best: dict) -> Table:
    """Baseline (the spec as written) against the best candidate, metric by metric."""
    table = Table(title="before / after (validation, original units)")
    table.add_column("metric")
    table.add_column("as written", justify="right")
    table.add_column("best found", justify="right")
    keys = _BEFORE_AFTER["regression" if best.get("task") == "regression" else "classification"]
    for key in keys:
        table.add_row(key, cell(baseline.get(key)), cell(best.get(key)))
    return table


@app.command()
def search(
    spec: Path = typer.Argument(..., help="the spec.yaml whose model collapsed"),
    fresh: bool = typer.Option(False, "--fresh", help="discard an earlier search in the output folder and start over"),
    max_trials: int = typer.Option(None, "--max-trials", min=1, help="override search.max_trials"),
    json_output: bool = typer.Option(False, "--json", help="print summary.json instead of tables"),
) -> None:
    """Search for a configuration whose output no longer collapses; exit 1 when none beats a constant."""
    from autofix_lstm.api import search as run_search
    from autofix_lstm.errors import DataError, ResourceError, SpecError

    try:
        result = run_search(spec, fresh=fresh, progress=not json_output, max_trials=max_trials)
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    except ResourceError as err:
        _fail_on_resources(err)
    if json_output:
        typer.echo(json.dumps(result.summary, indent=2))
    else:
        console.print(before_after_table(result.baseline, result.best))
        if result.changes:
            console.print("[bold]changes[/] (best spec vs yours):")
            for line in result.changes:
                console.print(f"  {escape(line)}", highlight=False)
        s = result.summary
        console.print(
            f"trials: {s['trials_total']} ({s['trials_completed']} completed, {s['trials_pruned']} pruned, "
            f"{s['trials_failed']} failed) in {s['elapsed_seconds']:.0f}s; first fix after "
            f"{cell(s['trials_to_first_fix'])} trials / {cell(s['seconds_to_first_fix'])}s"
        )
        style = "bold green" if result.fixed else "bold red"
        console.print(f"[{style}]{result.verdict}[/]", highlight=False)
        report = RunDir(result.output_dir).report
        console.print(f"outputs in {result.output_dir}" + (f"; open {report}" if report.is_file() else ""))
    if not result.fixed:
        raise typer.Exit(EXIT_NOT_FIXED)


@app.command()
def check(
    spec: Path = typer.Argument(..., help="the spec.yaml to check"),
) -> None:
    """Check the spec, its data, strategy files and model as the other commands would, without training (writes nothing)."""
    from autofix_lstm.api import check as check_spec
    from autofix_lstm.errors import DataError, SpecError

    try:
        result = check_spec(spec)
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    console.print(f"[bold green]ok[/] {escape(result.sentence())}", highlight=False, soft_wrap=True)


@app.command()
def report(
    output: Path = typer.Argument(..., help="a search's output folder (or the spec.yaml whose output it is)"),
) -> None:
    """Write <output>/report.html: verdict, before/after metrics, plots, diagnosis and the fix on one offline page."""
    from autofix_lstm.errors import SpecError
    from autofix_lstm.render.report import write_report

    folder = output
    if output.is_file() and output.suffix in (".yaml", ".yml"):
        from autofix_lstm.spec import load_spec

        try:
            folder = load_spec(output).output_dir
        except SpecError as err:
            _fail_on_bad_input(err)
    try:
        path = write_report(folder)
    except FileNotFoundError as err:
        err_console.print(f"[bold red]error[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    console.print(f"report written: {path}", highlight=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m autofix_lstm``."""
    app()
