"""The minimal fix in the report: the verdict sentence and the bar chart of what each change contributes."""

from __future__ import annotations

import json

from fake_outputs import write_fake_outputs
from matplotlib.colors import to_hex

from autofix_lstm.render import plots
from autofix_lstm.render.report import report_html
from autofix_lstm.tuning.search_summary import Summary

NECESSARY = [
    {"change": "preprocessing.target: none -> standard", "field": "preprocessing.target", "from": "none",
     "to": "standard", "description": "scale the target (standard)", "objective_with": 0.11,
     "objective_without": 2.99, "fix_without": False},
    {"change": "model.layers[1].activation: sigmoid -> linear", "field": "activations.head", "from": "sigmoid",
     "to": "task", "description": "make the head linear with a matching loss", "objective_with": 0.11,
     "objective_without": 0.41, "fix_without": True},
]
INCIDENTAL = [
    {"change": "model.optimizer.clipnorm: null -> 1", "field": "model.optimizer.clipnorm", "from": None, "to": 1.0,
     "description": "clip the gradients (clipnorm 1)", "objective_with": 0.11, "objective_without": 0.1105,
     "fix_without": True},
]
VERDICT = ("The fix: scale the target (standard) and make the head linear with a matching loss; "
           "the other change did not matter.")


def _with_minimal(folder, ran: bool = True, reused: int = 0):
    write_fake_outputs(folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(
        necessary_changes=NECESSARY if ran else None, incidental_changes=INCIDENTAL if ran else None,
        minimal_fix={"ran": ran, "reason": None if ran else "no fix to minimize", "complete": ran,
                     "verdict": VERDICT if ran else None, "tolerance": 0.1, "trainings": 3, "seconds": 4.2,
                     "reused_trials": reused},
    )
    (folder / "summary.json").write_text(json.dumps(summary))
    return summary


def test_the_bar_chart_has_one_bar_per_change_needed_ones_in_green(tmp_path):
    fig = plots.change_contribution_figure(Summary.from_dict(_with_minimal(tmp_path)))
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 3
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [c["description"] for c in NECESSARY + INCIDENTAL]
    widths = [round(bar.get_width(), 4) for bar in bars]
    assert widths == [2.88, 0.3, 0.0005]
    colours = [to_hex(bar.get_facecolor()) for bar in bars]
    assert colours == [plots.NECESSARY_COLOUR] * 2 + [plots.INCIDENTAL_COLOUR]
    assert plots.figure_png(fig).startswith(b"\x89PNG")


def test_the_report_leads_the_fix_section_with_the_minimal_verdict_and_chart(tmp_path):
    _with_minimal(tmp_path)
    page = report_html(tmp_path)
    assert 'id="minimal-fix"' in page and "the other change did not matter" in page
    assert 'alt="What each change contributes to the fix"' in page
    assert "minimal_spec.yaml" in page


def test_the_report_says_how_many_subsets_came_from_the_searchs_own_trials(tmp_path):
    _with_minimal(tmp_path / "a", reused=2)
    assert "(3 trainings, 4.2s; 2 more read from the search's own trials" in report_html(tmp_path / "a")
    _with_minimal(tmp_path / "b", reused=0)
    page = report_html(tmp_path / "b")
    assert "(3 trainings, 4.2s)" in page and "read from the search's own trials" not in page


def test_a_skipped_minimal_fix_says_why(tmp_path):
    _with_minimal(tmp_path, ran=False)
    page = report_html(tmp_path)
    assert "No minimal fix: no fix to minimize." in page and 'id="minimal-fix"' not in page


def test_the_notebook_view_shows_the_minimal_verdict(tmp_path):
    from fake_outputs import fake_result

    from autofix_lstm.render.report import search_result_html

    _with_minimal(tmp_path)
    assert VERDICT in search_result_html(fake_result(tmp_path))
