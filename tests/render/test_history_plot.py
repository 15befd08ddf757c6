"""The optimisation history: every trial on its own x, by kind, the best so far as a step line (issue 25, point 12)."""

from __future__ import annotations

import base64
import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_outputs import write_fake_outputs
from matplotlib.colors import to_hex

from autofix_lstm.render import plots
from autofix_lstm.render.history_plot import (
    ALT_TEXT,
    BASELINE_TICK,
    KIND_STYLE,
    history_figure,
    trial_kind,
    trial_numbers,
)
from autofix_lstm.render.report import load_outputs, report_html, write_report
from autofix_lstm.tuning.search_summary import Summary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import screenshot_report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BROWSER = screenshot_report.find_browser()
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium/chrome on PATH (Debian: apt-get install chromium)")


def _points(ax) -> dict[str, list[tuple[float, float]]]:
    """legend label -> the (x, y) of its markers, for every scatter on ``ax``."""
    return {c.get_label(): [tuple(p) for p in np.asarray(c.get_offsets())] for c in ax.collections
            if c.get_label() and not c.get_label().startswith("_")}


def _step(ax) -> tuple[list, list]:
    (line,) = [line for line in ax.get_lines() if line.get_label() == "best so far"]
    return list(line.get_xdata()), list(line.get_ydata())


def _trials(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(("trial_id", "status", "objective", "collapsed"), row)) for row in rows])


def test_every_trial_of_the_fake_search_has_its_own_mark(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path))
    ax = history_figure(outputs.trials, outputs.summary).axes[0]
    points = _points(ax)
    assert points["completed, output live: 2"] == [(0, 0.3), (3, 0.11)]
    assert sorted(points[f"{KIND_STYLE['pruned'][2]}: 2"]) == [(1, 2.9), (2, 2.5)]
    assert points[f"{KIND_STYLE['failed'][2]}: 1"] == [(4, plots.FAILED_Y)]  # no objective: the failed row
    assert points["your spec as written"] == [(-1, 2.99)]
    assert points["best (trial 3)"] == [(3, 0.11)]
    assert sum(len(p) for label, p in points.items() if ": " in label) == len(outputs.trials)
    assert plots.figure_png(ax.figure)[:8] == PNG_MAGIC


def test_the_step_line_is_the_best_so_far_from_the_spec_as_written(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path))
    xs, ys = _step(history_figure(outputs.trials, outputs.summary).axes[0])
    # the spec as written (2.99), trial 0 (0.3), pruned 1 and 2 no better, trial 3 (0.11), failed 4 carries it on
    assert xs == [-1, 0, 1, 2, 3, 4, 4]
    assert ys == pytest.approx([2.99, 0.3, 0.3, 0.3, 0.11, 0.11, 0.11])


def test_collapsed_pruned_and_failed_trials_are_drawn_apart():
    trials = _trials(("0", "completed", 2.4, True), ("1", "completed", 0.2, False), ("2", "pruned", 2.9, None),
                     ("3", "failed", None, None), ("4", "completed", 3.5, None))
    ax = history_figure(trials).axes[0]
    points = _points(ax)
    collapsed = [c for c in ax.collections if c.get_label().startswith(KIND_STYLE["collapsed"][2])]
    assert len(collapsed) == 1 and sorted(map(tuple, collapsed[0].get_offsets())) == [(0, 2.4), (4, 3.5)]
    colours = {to_hex(c.get_facecolor()[0]) for c in ax.collections if ": " in c.get_label()}
    assert len(colours) == 4  # live, collapsed, pruned and failed each have a colour of their own
    assert points["best (trial 1)"] == [(1, 0.2)]  # no summary: the lowest objective


def test_trial_kind_reads_the_collapsed_column_or_the_objective_tier():
    assert trial_kind({"status": "completed", "objective": 0.4, "collapsed": "True"}) == "collapsed"
    assert trial_kind({"status": "completed", "objective": 2.1}) == "collapsed"
    assert trial_kind({"status": "completed", "objective": 1.5, "collapsed": False}) == "completed"
    assert trial_kind({"status": "pruned", "objective": 2.9}) == "pruned"


def test_trial_numbers_are_the_ids_when_they_rise_else_positions():
    assert trial_numbers([{"trial_id": "00"}, {"trial_id": "01"}, {"trial_id": "10"}]) == [0, 1, 10]
    assert trial_numbers([{"trial_id": "3"}, {"trial_id": "3_full"}]) == [1, 2]
    assert trial_numbers([{"trial_id": "2"}, {"trial_id": "1"}]) == [1, 2]


def test_a_spec_keras_could_not_train_sits_on_the_failed_row_outside_the_best_so_far():
    summary = Summary.from_dict({"fixed": True, "verdict": "Fixed", "baseline": None, "best": None,
                                 "baseline_state": "cannot_train", "baseline_objective": 4.0, "best_trial": "1"})
    trials = _trials(("0", "completed", 2.5, True), ("1", "completed", 0.3, False))
    ax = history_figure(trials, summary).axes[0]
    assert _points(ax)[plots.BASELINE_UNTRAINABLE] == [(-1, plots.FAILED_Y)]
    xs, ys = _step(ax)
    assert xs[0] == 0 and ys == pytest.approx([2.5, 0.3, 0.3])
    assert ax.get_ylim()[1] > plots.FAILED_Y
    ax.figure.canvas.draw()
    assert BASELINE_TICK in [t.get_text() for t in ax.get_xticklabels()]


def test_no_trials_says_so():
    ax = history_figure(pd.DataFrame(columns=["trial_id", "status", "objective"])).axes[0]
    assert "no trials recorded" in [t.get_text() for t in ax.texts]
    assert plots.figure_png(ax.figure)[:8] == PNG_MAGIC


def test_the_scatter_draws_a_spec_keras_could_not_train_on_its_failed_row_too(tmp_path):
    folder = write_fake_outputs(tmp_path)
    path = folder / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "baseline": None, "baseline_state": "cannot_train",
                                "baseline_objective": 4.0}))
    outputs = load_outputs(folder)
    ax = plots.trials_figure(outputs.trials, outputs.summary).axes[0]
    assert _points(ax)[plots.BASELINE_UNTRAINABLE] == [(0.0, plots.FAILED_Y)]
    assert ax.get_ylim()[1] > plots.FAILED_Y


# ---------------------------------------------------------------- in the report


class _Pair(HTMLParser):
    """The ``<img>`` tags inside ``div.pair``, in page order."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # > 0 inside the pair
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and (self.depth or attrs.get("class") == "pair"):
            self.depth += 1
        elif tag == "img" and self.depth:
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "div" and self.depth:
            self.depth -= 1


def test_the_report_shows_the_history_beside_the_scatter(tmp_path):
    pair = _Pair()
    pair.feed(report_html(write_fake_outputs(tmp_path)))
    assert [image["alt"] for image in pair.images] == [ALT_TEXT, "Every trial: objective against std_ratio"]
    assert "Optimisation history" in ALT_TEXT
    for image in pair.images:
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == PNG_MAGIC


@needs_browser
def test_the_history_sits_left_of_the_scatter_in_chromium(tmp_path):
    report = write_report(write_fake_outputs(tmp_path / "out"))
    seen = {image["alt"]: image for image in screenshot_report.probe_page(report, browser=BROWSER, width=1200)["images"]}
    history, scatter = seen[ALT_TEXT], seen["Every trial: objective against std_ratio"]
    assert history["naturalWidth"] > 0 and scatter["naturalWidth"] > 0
    assert history["top"] == pytest.approx(scatter["top"], abs=2)  # one row
    assert history["left"] + history["width"] <= scatter["left"]
