"""``<output>/report.html``: one self-contained page about a search, for people.

``write_report(output_dir)`` reads what a search left in its output folder (summary.json,
trials.csv, baseline.json, the best trial's record, best_spec.yaml, minimal_spec.yaml,
diagnosis.json) and writes a single HTML file: every image is a base64 ``data:`` URI and the styles are inline, so the page
opens offline, from an e-mail attachment or a CI artifact, and loads nothing from the network.

A file that is missing or unreadable never stops the report: its section says what is missing and
how to get it, and the top of the page lists every gap.

The page leads with what to change (``render.lead``: the minimal fix in plain words and
minimal_spec.yaml), then the evidence: the before/after table, predictions, every trial (the
optimisation history, ``render.history_plot``, beside the std_ratio scatter), the diagnosis (each
finding's evidence folded under ``<details>``), learning curves and the full list of changes.

This module gathers what the page shows as plain values (text, numbers written through
``autofix_lstm.format``, figures as data URIs); the page itself is the Jinja2 template
``templates/report.html.j2``, rendered with autoescape on, so every value is HTML-escaped there.
The notebook views (``search_result_html``, ``InlineReport``) are templates beside it.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from autofix_lstm.errors import CorruptRunError
from autofix_lstm.format import cell, evidence_lines, number
from autofix_lstm.render import history_plot, plots, prediction_plots
from autofix_lstm.render.lead import what_to_change
from autofix_lstm.render.verdict import banner_kind, before_after_table, search_notes, stats_line
from autofix_lstm.run_dir import RunDir, read_json, write_text
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, TrialStatus
from autofix_lstm.tuning.search_summary import Summary

# How much of a finding's evidence the report shows: every key, each value up to this many characters.
_EVIDENCE_WIDTH = 400


@functools.lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    """The templates beside this module, with autoescape on for every one of them."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("autofix_lstm.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(template: str, **context: Any) -> str:
    return _templates().get_template(template).render(**context)


# ---------------------------------------------------------------- pieces shared with Jupyter


def _image(fig, alt: str) -> dict[str, str]:
    """A figure for an ``<img>``: its alt text and its PNG as a data URI."""
    return {"alt": alt, "src": plots.figure_data_uri(fig)}


# ---------------------------------------------------------------- reading the output folder


@dataclass
class Outputs:
    """What a search left in its output folder; None for what is missing, with the reason in ``gaps``."""

    folder: Path
    summary: Summary | None = None
    trials: pd.DataFrame | None = None
    baseline: dict | None = None  # baseline.json, as TrialRecord.to_dict() writes it
    best: dict | None = None  # the best trial's record; None when the baseline is the best or it is missing
    best_spec: str | None = None
    minimal_spec: str | None = None  # minimal_spec.yaml; None when missing or the minimal fix did not run
    diagnosis: dict | None = None
    gaps: list[str] = field(default_factory=list)  # one sentence per missing or unreadable file

    @property
    def run(self) -> RunDir:
        """The folder's file names."""
        return RunDir(self.folder)

    @property
    def best_id(self) -> str | None:
        """The best trial's id from summary.json ("baseline" for the spec as written), or None."""
        best_id = None if self.summary is None else self.summary.best_trial
        return None if best_id is None else str(best_id)


def _unreadable(path: Path, err: Exception) -> str:
    return f"{path.name} could not be read ({type(err).__name__}: {err})."


def _read(path: Path, gaps: list[str], hint: str, read: Callable[[Path], Any]) -> Any:
    """``read(path)``, or None with a sentence in ``gaps`` when the file is missing or unreadable."""
    if not path.is_file():
        gaps.append(f"{path.name} is missing ({hint}).")
        return None
    try:
        return read(path)
    except (OSError, ValueError, TypeError, CorruptRunError) as err:  # TypeError: a record without its required keys
        gaps.append(_unreadable(path, err))
        return None


def _read_record(path: Path) -> dict:
    return TrialRecord.load(path).to_dict()


def load_outputs(output_dir: str | Path) -> Outputs:
    """Read a search's output folder, tolerating missing or unreadable files."""
    run = RunDir(Path(output_dir))
    out = Outputs(folder=run.root)
    gaps = out.gaps
    out.summary = _read(run.summary, gaps, "the search has not finished here", Summary.load)
    out.trials = _read(run.trials_csv, gaps, "no trial has been recorded", pd.read_csv)
    out.baseline = _read(run.baseline, gaps, "the spec as written was not trained here", _read_record)
    if out.best_id is not None and out.best_id != BASELINE_ID:
        path = run.trial_record(out.best_id)
        out.best = _read(path, gaps, f"the record of the best trial, {out.best_id}, under {path.parent}", _read_record)
    out.best_spec = _read(run.best_spec, gaps, "the search has not finished here",
                          lambda path: path.read_text(encoding="utf-8"))
    minimal = None if out.summary is None else out.summary.minimal_fix
    if minimal is not None and minimal.ran:  # otherwise the search rightly wrote none
        out.minimal_spec = _read(run.minimal_spec, gaps, "the minimal fix ran, but its spec was not written here",
                                 lambda path: path.read_text(encoding="utf-8"))
    out.diagnosis = _read(run.diagnosis, gaps, "run `autofix-lstm diagnose` on the spec to add it", read_json)
    return out


# ---------------------------------------------------------------- what each part of the page shows


@dataclass
class _Part:
    """One section's content for the template: ``data``, or (when None) a ``note`` saying what is missing."""

    data: dict | None = None
    note: str | None = None


def _verdict(out: Outputs) -> dict:
    summary = out.summary
    if summary is None:
        text = (f"No search summary in {out.folder}: the search has not finished (or not run) here; "
                "this page shows what is there.")
        return {"text": text, "fixed": None, "kind": "unknown", "stats": None, "notes": [], "has_summary": False,
                "table": None}
    baseline = summary.baseline
    if baseline is None and out.baseline and out.baseline.get("metrics"):
        baseline = Metrics.from_dict(out.baseline["metrics"])
    return {"text": summary.verdict, "fixed": summary.fixed, "kind": banner_kind(summary),
            "stats": stats_line(summary), "notes": search_notes(summary), "has_summary": True,
            "table": before_after_table(baseline, summary.best, (summary.baseline_state, summary.best_state))}


def _best_label(out: Outputs) -> str:
    return "best found" if out.best_id is None else f"best found (trial {out.best_id})"


def _predictions(out: Outputs) -> _Part:
    run = out.run
    if out.baseline is None:
        return _Part(note=f"No predictions to show: {run.baseline.name} (the spec as written, trained once) is missing.")
    note = text = None
    if out.best_id is not None and out.best_id != BASELINE_ID and out.best is None:
        note = f"The best trial's record (trial {out.best_id}) is missing; only the spec as written is shown."
    elif out.best_id == BASELINE_ID:
        text = "The spec as written was the best configuration; it is shown alone."
    fig = prediction_plots.predictions_figure(out.baseline, out.best, best_label=_best_label(out))
    return _Part({"note": note, "text": text,
                  "image": _image(fig, "Validation predictions against the actual values")})


def _trials(out: Outputs) -> _Part:
    if out.trials is None:
        return _Part(note=f"No trials to show: {out.run.trials_csv.name} is missing.")
    fig = plots.trials_figure(out.trials, out.summary)
    history = history_plot.history_figure(out.trials, out.summary)
    rows = [[cell(value) for value in row.values()] for row in out.trials.to_dict("records")]
    return _Part({"history": _image(history, history_plot.ALT_TEXT),
                  "image": _image(fig, "Every trial: objective against std_ratio"),
                  "columns": [str(column) for column in out.trials.columns], "rows": rows})


def gradient_norms(diagnosis: dict | None) -> tuple[dict, dict] | None:
    """(layer -> early gradient norm, layer -> ratio to the head's) from diagnosis.json, or None."""
    probe = (diagnosis or {}).get("probe") or {}
    norms = probe.get("early_grad_norms")
    if not norms and probe.get("grad_norms"):
        norms = {}
        for name, series in probe["grad_norms"].items():
            values = sorted(v for v in series if isinstance(v, (int, float)))
            norms[name] = values[len(values) // 2] if values else None
    if not norms:
        return None
    return norms, probe.get("grad_norm_ratios") or {}


def _finding(finding: dict) -> dict:
    return {
        "severity": str(finding.get("severity", "info")),
        "id": str(finding.get("id", "?")),
        "message": finding.get("message") or "(no message)",
        "evidence": evidence_lines(finding.get("evidence") or {}, limit=None, width=_EVIDENCE_WIDTH),
        "strategies": [str(s) for s in finding.get("strategies") or []],
    }


def _diagnosis(out: Outputs) -> _Part:
    run = out.run
    note = None
    if out.diagnosis is not None:
        findings = out.diagnosis.get("findings")
    elif out.summary is not None and out.summary.diagnosis is not None:
        findings = out.summary.diagnosis
        note = (f"{run.diagnosis.name} is missing; the findings below come from {run.summary.name}, without the "
                "measurements (no gradient-norm chart).")
    else:
        findings = None
    if findings is None:
        return _Part(note=f"No diagnosis: {run.diagnosis.name} is missing. "
                          "Run `autofix-lstm diagnose <spec>` to add it.")
    image = brief = grads_note = None
    grads = gradient_norms(out.diagnosis)
    if grads is not None:
        image = _image(plots.gradient_norm_figure(grads[0], ratios=grads[1]), "Gradient norm per layer")
        brief = (out.diagnosis.get("probe") or {}).get("brief_training")
    elif out.diagnosis is not None:
        grads_note = "The diagnosis recorded no per-layer gradient norms."
    return _Part({"note": note, "findings": [_finding(f) for f in findings], "image": image, "brief": brief,
                  "grads_note": grads_note})


def _run_label(label: str, record: dict | None) -> str:
    """``label``, and how its training ended when it was cut short."""
    record = record or {}
    if record.get("pruned_at") is not None or (record.get("status") == TrialStatus.PRUNED.value):
        return f"{label}\nstopped after {record.get('epochs_run', '?')} epochs: output still collapsed"
    return label


def _curves(out: Outputs) -> _Part:
    if out.baseline is None and out.best is None:
        return _Part(note=f"No learning curves: {out.run.baseline.name} and the best trial's record are missing.")
    fig = plots.learning_curves_figure((out.baseline or {}).get("history"),
                                       None if out.best is None else out.best.get("history"),
                                       baseline_label=_run_label("your spec as written", out.baseline),
                                       best_label=_run_label(_best_label(out), out.best))
    return _Part({"image": _image(fig, "Learning curves")})


def _minimal(summary: Summary | None, run: RunDir) -> dict | None:
    """The minimal fix's verdict, its bar chart and file, or why it did not run; None without a summary."""
    minimal = None if summary is None else summary.minimal_fix
    if minimal is None:
        return None
    if not minimal.ran:
        return {"verdict": None, "note": f"No minimal fix: {minimal.reason}.", "image": None}
    image = _image(plots.change_contribution_figure(summary), "What each change contributes to the fix")
    return {"verdict": minimal.verdict, "note": None, "image": image, "spec_name": run.minimal_spec.name,
            "trainings": minimal.trainings, "seconds": number(minimal.seconds), "reused": minimal.reused_trials}


def _lead(out: Outputs) -> _Part:
    run = out.run
    lead = what_to_change(out.summary, minimal_spec=out.minimal_spec, baseline=out.baseline,
                          minimal_spec_name=run.minimal_spec.name, best_spec_name=run.best_spec.name)
    if lead is None:
        return _Part(note=f"Nothing to say yet: {run.summary.name} is missing, so the search's fix is not known.")
    return _Part(lead)


def _fix(out: Outputs) -> _Part:
    run = out.run
    return _Part({
        "minimal": _minimal(out.summary, run),
        "changes": None if out.summary is None else out.summary.changes,
        "changes_note": None if out.summary is not None else f"No list of changes: {run.summary.name} is missing.",
        "spec": out.best_spec,
        "spec_name": run.best_spec.name,
        "spec_note": f"{run.best_spec.name} is missing.",
        "spec_folded": out.minimal_spec is not None,  # the minimal spec leads the page; the best one is the detail
    })


# in page order: what to change first, then the evidence
_PARTS = {"lead": _lead, "predictions": _predictions, "trials": _trials, "diagnosis": _diagnosis, "curves": _curves,
          "fix": _fix}


def _part(build: Callable[[Outputs], _Part], out: Outputs) -> _Part:
    try:
        return build(out)
    except Exception as err:  # one broken section must not cost the reader the rest of the page
        return _Part(note=f"This section could not be drawn ({type(err).__name__}: {err}).")


def report_html(output_dir: str | Path) -> str:
    """The report page for a search's output folder, as one self-contained HTML string."""
    out = load_outputs(output_dir)
    return _render(
        "report.html.j2",
        title=f"autofix-lstm report: {out.folder.name}",
        verdict=_verdict(out),
        gaps=out.gaps,
        parts={name: _part(build, out) for name, build in _PARTS.items()},
        stamp=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        folder=str(out.folder),
    )


def write_report(output_dir: str | Path) -> Path:
    """Write ``<output_dir>/report.html`` from the files a search left there; return its path.

    Missing files (no diagnosis.json, no trials yet) leave their sections with a note instead of
    failing. The file is replaced in one step, so a reader never sees half a page.

    Raises:
        FileNotFoundError: ``output_dir`` is not a folder.
    """
    run = RunDir(Path(output_dir))
    if not run.root.is_dir():
        raise FileNotFoundError(f"no output folder at {run.root}: run `autofix-lstm search <spec>` first")
    return write_text(report_html(run.root), run.report)


# ---------------------------------------------------------------- Jupyter


def search_result_html(result) -> str:
    """The HTML a notebook shows for a ``SearchResult``: verdict, before/after table, changes, trials plot."""
    summary = Summary.from_dict(result.summary)
    figure = plots.trials_figure(result.trials, summary)
    return _render(
        "search_result.html.j2",
        verdict=result.verdict,
        kind=banner_kind(summary),
        table=before_after_table(result.baseline, result.best, (summary.baseline_state, summary.best_state)),
        changes=result.changes,
        minimal=summary.minimal_verdict,
        figure=_image(figure, "Every trial: objective against std_ratio"),
        output_dir=str(result.output_dir),
    )


class InlineReport:
    """A report shown inside a notebook cell (an iframe, so its styles stay out of the notebook's)."""

    def __init__(self, output_dir: str | Path, height: int = 900):
        self.path = RunDir(Path(output_dir)).report
        self.height = height

    def _repr_html_(self) -> str:
        if not self.path.is_file():
            write_report(self.path.parent)
        return _render("inline_report.html.j2", page=self.path.read_text(encoding="utf-8"), height=int(self.height))


def show_report(output_dir: str | Path, height: int = 900) -> InlineReport:
    """The report of ``output_dir`` for display in Jupyter (written first if it does not exist yet)."""
    return InlineReport(output_dir, height)


__all__ = ["InlineReport", "Outputs", "load_outputs", "report_html", "search_result_html", "show_report",
           "write_report"]
