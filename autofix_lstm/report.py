"""``<output>/report.html``: one self-contained page about a search, for people.

``write_report(output_dir)`` reads what a search left in its output folder (summary.json,
trials.csv, baseline.json, the best trial's record, best_spec.yaml, diagnosis.json) and writes a
single HTML file: every image is a base64 ``data:`` URI and the styles are inline, so the page
opens offline, from an e-mail attachment or a CI artifact, and loads nothing from the network.

A file that is missing or unreadable never stops the report: its section says what is missing and
how to get it, and the top of the page lists every gap.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from autofix_lstm import plots

REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.csv"
BASELINE_FILE = "baseline.json"
BEST_SPEC_FILE = "best_spec.yaml"
DIAGNOSIS_FILE = "diagnosis.json"
# Where the search keeps each trial's record (autofix_lstm.search: TUNER_FOLDER/PROJECT_NAME/trial_<id>/RECORD_FILE).
TRIAL_RECORD = "tuner/autofix/trial_{trial_id}/autofix_trial.json"

# metric -> (label, column in the baseline metrics for the constant predictor, for persistence)
_REGRESSION_ROWS = (
    ("std_ratio", "std_ratio (prediction spread / target spread)", None, None),
    ("mse", "mse", "constant_mse", "persistence_mse"),
    ("mae", "mae", None, None),
    ("r2", "r2", None, None),
    ("collapsed", "collapsed", None, None),
)
_CLASSIFICATION_ROWS = (
    ("std_ratio", "std_ratio (prediction spread / target spread)", None, None),
    ("accuracy", "accuracy", "majority_accuracy", None),
    ("balanced_accuracy", "balanced accuracy", "majority_balanced_accuracy", None),
    ("macro_f1", "macro F1", "majority_macro_f1", None),
    ("log_loss", "log loss", "prior_log_loss", None),
    ("distinct_predictions", "distinct predicted classes", None, None),
    ("collapsed", "collapsed", None, None),
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0;
       background: #fafafa; line-height: 1.45; }
main { max-width: 68em; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.verdict { font-size: 1.15em; padding: 0.9em 1.1em; border-radius: 6px; border-left: 6px solid; margin: 0.5em 0 1em; }
.verdict.fixed { background: #e8f5e9; border-color: #2e7d32; color: #1b5e20; }
.verdict.not-fixed { background: #fdecea; border-color: #c62828; color: #8e0000; }
.verdict.unknown { background: #f3f3f3; border-color: #888; color: #333; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
tr.bad td { color: #c62828; font-weight: 600; }
td.missing { color: #999; }
.note { color: #8a6d00; background: #fff8e1; padding: 0.5em 0.8em; border-radius: 4px; }
.gaps { color: #555; font-size: 0.92em; }
.finding { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 0.9em; margin: 0.6em 0; }
.finding .sev { font-weight: 700; text-transform: uppercase; font-size: 0.8em; padding: 0.1em 0.5em;
                border-radius: 3px; margin-right: 0.5em; }
.sev.error { background: #c62828; color: #fff; } .sev.warning { background: #f9a825; color: #222; }
.sev.info { background: #90a4ae; color: #fff; }
.finding dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; margin: 0.4em 0 0;
              font-size: 0.88em; }
.finding dt { color: #555; } .finding dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
img { max-width: 100%; height: auto; display: block; margin: 0.6em 0; }
pre { background: #f6f8fa; padding: 0.8em 1em; overflow-x: auto; font-size: 0.85em; border-radius: 4px; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
ul.changes li { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
.stats { color: #444; }
details summary { cursor: pointer; color: #1f5fa8; }
footer { color: #888; font-size: 0.85em; margin-top: 3em; }
"""


# ---------------------------------------------------------------- HTML pieces (shared with Jupyter)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A metric value for people: 4 significant digits, yes/no for booleans, a dash for None."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def verdict_html(verdict: str | None, fixed: bool | None) -> str:
    """The verdict banner (green when fixed, red when not, grey when unknown)."""
    kind = "unknown" if fixed is None else ("fixed" if fixed else "not-fixed")
    colours = {"fixed": ("#e8f5e9", "#2e7d32", "#1b5e20"), "not-fixed": ("#fdecea", "#c62828", "#8e0000"),
               "unknown": ("#f3f3f3", "#888888", "#333333")}[kind]
    # Inline style as well as the class, so the banner looks right in Jupyter where our CSS is absent.
    style = (f"background: {colours[0]}; border-left: 6px solid {colours[1]}; color: {colours[2]}; "
             "padding: 0.8em 1em; border-radius: 6px; font-size: 1.1em")
    text = verdict or "No verdict: this folder has no search summary."
    return f'<div id="verdict" class="verdict {kind}" style="{style}">{_e(text)}</div>'


def before_after_html(baseline: dict | None, best: dict | None) -> str:
    """Baseline against best, with the constant (and, where it applies, persistence) predictors."""
    if not baseline and not best:
        return '<p class="note">No metrics were recorded.</p>'
    baseline, best = baseline or {}, best or {}
    task = best.get("task") or baseline.get("task") or "regression"
    regression = task == "regression"
    rows = _REGRESSION_ROWS if regression else _CLASSIFICATION_ROWS
    reference = best or baseline
    persistence = regression and reference.get("persistence_mse") is not None
    head = ["metric (validation, original units)", "your spec as written", "best found",
            "constant predictor" if regression else "majority class / prior"]
    if persistence:
        head.append("persistence (last value)")
    out = ['<table class="before-after"><thead><tr>', *[f"<th>{_e(h)}</th>" for h in head], "</tr></thead><tbody>"]
    for key, label, constant_key, persistence_key in rows:
        cells = [baseline.get(key), best.get(key)]
        if key == "std_ratio":
            cells.append(0.0)  # a constant has no spread
        else:
            cells.append(reference.get(constant_key) if constant_key else None)
        if persistence:
            cells.append(reference.get(persistence_key) if persistence_key else None)
        css = ' class="bad"' if key == "collapsed" and (baseline.get(key) or best.get(key)) else ""
        tds = "".join(f'<td{" class=missing" if c is None else ""}>{_e(fmt(c))}</td>' for c in cells)
        out.append(f"<tr{css}><td>{_e(label)}</td>{tds}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def changes_html(changes: list[str] | None) -> str:
    """The changes (best spec against yours), one per line."""
    if not changes:
        return "<p>No changes: the best configuration is your spec as written.</p>"
    items = "".join(f"<li>{_e(line)}</li>" for line in changes)
    return f'<p>Changes (best spec against yours):</p><ul class="changes">{items}</ul>'


def _img(fig, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="{plots.figure_data_uri(fig)}">'


# ---------------------------------------------------------------- reading the output folder


@dataclass
class Outputs:
    """What a search left in its output folder; None for what is missing, with the reason in ``gaps``."""

    folder: Path
    summary: dict | None = None
    trials: pd.DataFrame | None = None
    baseline: dict | None = None
    best: dict | None = None  # the best trial's record; None when the baseline is the best or it is missing
    best_spec: str | None = None
    diagnosis: dict | None = None
    gaps: list[str] = field(default_factory=list)  # one sentence per missing or unreadable file


def _read_json(path: Path, gaps: list[str], hint: str) -> dict | None:
    if not path.is_file():
        gaps.append(f"{path.name} is missing ({hint}).")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        gaps.append(f"{path.name} could not be read ({type(err).__name__}: {err}).")
        return None


def load_outputs(output_dir: str | Path) -> Outputs:
    """Read a search's output folder, tolerating missing or unreadable files."""
    folder = Path(output_dir)
    out = Outputs(folder=folder)
    gaps = out.gaps
    out.summary = _read_json(folder / SUMMARY_FILE, gaps, "the search has not finished here")
    trials_path = folder / TRIALS_FILE
    if trials_path.is_file():
        try:
            out.trials = pd.read_csv(trials_path)
        except (OSError, ValueError) as err:
            gaps.append(f"{TRIALS_FILE} could not be read ({type(err).__name__}: {err}).")
    else:
        gaps.append(f"{TRIALS_FILE} is missing (no trial has been recorded).")
    out.baseline = _read_json(folder / BASELINE_FILE, gaps, "the spec as written was not trained here")
    best_id = (out.summary or {}).get("best_trial")
    if best_id is not None and str(best_id) != "baseline":
        path = folder / TRIAL_RECORD.format(trial_id=best_id)
        out.best = _read_json(path, gaps, f"the record of the best trial, {best_id}, under {path.parent}")
    spec_path = folder / BEST_SPEC_FILE
    if spec_path.is_file():
        out.best_spec = spec_path.read_text(encoding="utf-8")
    else:
        gaps.append(f"{BEST_SPEC_FILE} is missing.")
    out.diagnosis = _read_json(folder / DIAGNOSIS_FILE, gaps, "run `autofix-lstm diagnose` on the spec to add it")
    return out


# ---------------------------------------------------------------- sections


def _section(title: str, anchor: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _missing(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _stats_html(summary: dict) -> str:
    def seconds(value):
        value = plots._number(value)
        return "–" if value is None else f"{value:.0f} s"

    parts = [
        f"{summary.get('trials_total', '–')} trials: {summary.get('trials_completed', '–')} completed, "
        f"{summary.get('trials_pruned', '–')} pruned, {summary.get('trials_failed', '–')} failed",
        f"elapsed {seconds(summary.get('elapsed_seconds'))}",
    ]
    if summary.get("trials_to_first_fix") is not None:
        parts.append(f"first fix after {summary['trials_to_first_fix']} trials / {seconds(summary.get('seconds_to_first_fix'))}")
    if summary.get("beats_constant") is not None:
        parts.append(f"beats a constant: {fmt(summary['beats_constant'])}")
    if summary.get("beats_persistence") is not None:
        parts.append(f"beats persistence: {fmt(summary['beats_persistence'])}")
    if summary.get("cudnn_compatible") is False:
        parts.append("not cuDNN-compatible: " + "; ".join(summary.get("cudnn_problems") or []))
    return f'<p class="stats">{_e(" · ".join(parts))}</p>'


def _verdict_section(out: Outputs) -> str:
    summary = out.summary
    if summary is None:
        text = f"No search summary in {out.folder}: the search has not finished (or not run) here; this page shows what is there."
        return verdict_html(text, None)
    body = [verdict_html(summary.get("verdict"), summary.get("fixed")), _stats_html(summary)]
    baseline = summary.get("baseline") or (out.baseline or {}).get("metrics")
    body.append(before_after_html(baseline, summary.get("best")))
    return "\n".join(body)


def _best_label(out: Outputs) -> str:
    best_id = (out.summary or {}).get("best_trial")
    return "best found" if best_id is None else f"best found (trial {best_id})"


def _predictions_section(out: Outputs) -> str:
    if out.baseline is None:
        return _missing("No predictions to show: baseline.json (the spec as written, trained once) is missing.")
    best_id = (out.summary or {}).get("best_trial")
    body = ""
    if best_id is not None and str(best_id) != "baseline" and out.best is None:
        body += _missing(f"The best trial's record (trial {best_id}) is missing; only the spec as written is shown.")
    elif str(best_id) == "baseline":
        body += "<p>The spec as written was the best configuration; it is shown alone.</p>"
    fig = plots.predictions_figure(out.baseline, out.best, best_label=_best_label(out))
    return body + _img(fig, "Validation predictions against the actual values")


def _trials_section(out: Outputs) -> str:
    if out.trials is None:
        return _missing("No trials to show: trials.csv is missing.")
    fig = plots.trials_figure(out.trials, out.summary)
    text = (
        "<p>Each point is one trial. Left of the red line the output is collapsed (its spread is under "
        "<code>min_std_ratio</code> of the target's); the shaded bands are the objective's tiers: a fix, "
        "live but no better than a constant, collapsed. Pruned trials were stopped early because their output "
        "was still flat.</p>"
    )
    table = out.trials.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.4g}", border=0, escape=True)
    return text + _img(fig, "Every trial: objective against std_ratio") + (
        f"<details><summary>All {len(out.trials)} trials as a table</summary>{table}</details>"
    )


def _evidence_text(value: Any) -> str:
    """Evidence for people: numbers to 4 significant digits, nested dicts as ``key: value`` lists."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_evidence_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_evidence_text(v) for v in value) + "]"
    return fmt(value)


def _evidence_html(evidence: dict, limit: int = 400) -> str:
    if not evidence:
        return ""
    rows = []
    for key, value in evidence.items():
        shown = _evidence_text(value)
        shown = shown if len(shown) <= limit else shown[: limit - 3] + "..."
        rows.append(f"<dt>{_e(key)}</dt><dd>{_e(shown)}</dd>")
    return f"<dl>{''.join(rows)}</dl>"


def _findings_html(findings: list[dict]) -> str:
    if not findings:
        return "<p>The diagnosis found nothing wrong.</p>"
    parts = []
    for finding in findings:
        severity = str(finding.get("severity", "info"))
        strategies = finding.get("strategies") or []
        remedy = f"<p>Remedies tried first: {_e(', '.join(strategies))}</p>" if strategies else ""
        message = finding.get("message") or "(no message)"
        parts.append(
            f'<div class="finding"><span class="sev {_e(severity)}">{_e(severity)}</span>'
            f"<strong>{_e(finding.get('id', '?'))}</strong>: {_e(message)}"
            f"{_evidence_html(finding.get('evidence') or {})}{remedy}</div>"
        )
    return "".join(parts)


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


def _diagnosis_section(out: Outputs) -> str:
    findings = None
    body = []
    if out.diagnosis is not None:
        findings = out.diagnosis.get("findings")
    elif out.summary is not None and out.summary.get("diagnosis") is not None:
        findings = out.summary["diagnosis"]
        body.append(_missing("diagnosis.json is missing; the findings below come from summary.json, without the "
                             "measurements (no gradient-norm chart)."))
    if findings is None:
        return _missing("No diagnosis: diagnosis.json is missing. Run `autofix-lstm diagnose <spec>` to add it.")
    body.append(_findings_html(findings))
    grads = gradient_norms(out.diagnosis)
    if grads is not None:
        probe = out.diagnosis.get("probe") or {}
        brief = probe.get("brief_training")
        body.append(_img(plots.gradient_norm_figure(grads[0], ratios=grads[1]), "Gradient norm per layer"))
        if brief:
            body.append(f"<p class=stats>Measured during the brief training: {_e(brief)}.</p>")
    elif out.diagnosis is not None:
        body.append(_missing("The diagnosis recorded no per-layer gradient norms."))
    return "\n".join(body)


def _run_label(label: str, record: dict | None) -> str:
    """``label``, and how its training ended when it was cut short."""
    record = record or {}
    if record.get("pruned_at") is not None or (record.get("status") == "pruned"):
        return f"{label}\nstopped after {record.get('epochs_run', '?')} epochs: output still collapsed"
    return label


def _curves_section(out: Outputs) -> str:
    if out.baseline is None and out.best is None:
        return _missing("No learning curves: baseline.json and the best trial's record are missing.")
    fig = plots.learning_curves_figure((out.baseline or {}).get("history"),
                                       None if out.best is None else out.best.get("history"),
                                       baseline_label=_run_label("your spec as written", out.baseline),
                                       best_label=_run_label(_best_label(out), out.best))
    return _img(fig, "Learning curves") + "<p>Losses are in each model's own units (its target scaling), so each run has its own panel.</p>"


def _spec_section(out: Outputs) -> str:
    changes = (out.summary or {}).get("changes")
    body = changes_html(changes) if out.summary is not None else _missing("No list of changes: summary.json is missing.")
    if out.best_spec is None:
        body += _missing("best_spec.yaml is missing.")
    else:
        body += f"<p>The best spec (<code>{_e(BEST_SPEC_FILE)}</code>):</p><pre><code>{_e(out.best_spec)}</code></pre>"
    return body


def report_html(output_dir: str | Path) -> str:
    """The report page for a search's output folder, as one self-contained HTML string."""
    out = load_outputs(output_dir)
    sections = [
        ("Predictions on the validation part", "predictions", _predictions_section),
        ("Every trial", "trials", _trials_section),
        ("Diagnosis of the spec as written", "diagnosis", _diagnosis_section),
        ("Learning curves", "learning-curves", _curves_section),
        ("The fix", "fix", _spec_section),
    ]
    rendered = []
    for title, anchor, build in sections:
        try:
            body = build(out)
        except Exception as err:  # one broken section must not cost the reader the rest of the page
            body = _missing(f"This section could not be drawn ({type(err).__name__}: {err}).")
        rendered.append(_section(title, anchor, body))
    gaps = ""
    if out.gaps:
        items = "".join(f"<li>{_e(g)}</li>" for g in out.gaps)
        gaps = f'<div class="gaps">Some outputs are missing, so parts of this page are empty:<ul>{items}</ul></div>'
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = f"autofix-lstm report: {out.folder.name}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1>{_verdict_section(out)}{gaps}{''.join(rendered)}"
        f"<footer>Written by autofix-lstm on {stamp} from <code>{_e(out.folder)}</code>. "
        "This page is self-contained: it loads nothing from the network.</footer>"
        "</main></body></html>\n"
    )


def write_report(output_dir: str | Path) -> Path:
    """Write ``<output_dir>/report.html`` from the files a search left there; return its path.

    Missing files (no diagnosis.json, no trials yet) leave their sections with a note instead of
    failing.

    Raises:
        FileNotFoundError: ``output_dir`` is not a folder.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"no output folder at {folder}: run `autofix-lstm search <spec>` first")
    path = folder / REPORT_FILE
    path.write_text(report_html(folder), encoding="utf-8")
    return path


class InlineReport:
    """A report shown inside a notebook cell (an iframe, so its styles stay out of the notebook's)."""

    def __init__(self, output_dir: str | Path, height: int = 900):
        self.path = Path(output_dir) / REPORT_FILE
        self.height = height

    def _repr_html_(self) -> str:
        if not self.path.is_file():
            write_report(self.path.parent)
        page = html.escape(self.path.read_text(encoding="utf-8"), quote=True)
        return f'<iframe srcdoc="{page}" style="width: 100%; height: {self.height}px; border: 1px solid #ddd"></iframe>'


def show_report(output_dir: str | Path, height: int = 900) -> InlineReport:
    """The report of ``output_dir`` for display in Jupyter (written first if it does not exist yet)."""
    return InlineReport(output_dir, height)


__all__ = ["InlineReport", "Outputs", "load_outputs", "report_html", "show_report", "write_report"]
