"""The ``autofix-lstm`` command: a thin typer shell over the library.

Only this module prints and decides exit codes: 0 when a command ran, 1 when ``search`` found no
fix, 2 for bad input (spec, data or model).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find out why a Keras LSTM predicts a constant, and fix it.",
)
console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2


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


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def metrics_table(metrics: dict, title: str = "validation metrics (original units)") -> Table:
    """A two-column rich table of a metrics dict."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        style = "bold red" if key == "collapsed" and value else ("bold green" if key == "collapsed" else None)
        table.add_row(key, _fmt(value), style=style)
    return table


@app.command()
def train(
    spec: Path = typer.Argument(..., help="the spec.yaml to train as written"),
    json_output: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
) -> None:
    """Train the spec as written; report whether its output collapsed (writes metrics.json, model.keras)."""
    from autofix_lstm.errors import DataError, SpecError
    from autofix_lstm.training import train as train_spec

    try:
        result = train_spec(spec, progress=not json_output)
    except (SpecError, DataError) as err:
        _fail_on_bad_input(err)
    if json_output:
        typer.echo(json.dumps(result.metrics, indent=2))
        return
    console.print(metrics_table(result.metrics))
    verdict = "[bold red]collapsed[/]: the output barely varies" if result.collapsed else "[bold green]not collapsed[/]"
    console.print(f"{verdict}  ({result.seconds:.1f}s)  -> {result.output_dir}")


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m autofix_lstm``."""
    app()
