"""The figures: drawn for every task, with partial inputs, and without touching pyplot's global state."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from fake_outputs import fake_result, write_fake_outputs

from autofix_lstm.render import plots, prediction_plots
from autofix_lstm.render.report import gradient_norms, load_outputs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _pyplot_figures() -> list:
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def _all_figures(outputs):
    label = "best found (trial 3)"
    yield plots.trials_figure(outputs.trials, outputs.summary)
    yield prediction_plots.predictions_figure(outputs.baseline, outputs.best, best_label=label)
    yield plots.learning_curves_figure(outputs.baseline["history"], outputs.best["history"], best_label=label)
    norms, ratios = gradient_norms(outputs.diagnosis)
    yield plots.gradient_norm_figure(norms, ratios=ratios)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_every_figure_renders_without_pyplot(tmp_path, task):
    outputs = load_outputs(write_fake_outputs(tmp_path, task=task))
    backend = matplotlib.get_backend()
    before = _pyplot_figures()
    for fig in _all_figures(outputs):
        assert fig._repr_png_()[:8] == PNG_MAGIC
        assert plots.figure_data_uri(fig).startswith("data:image/png;base64,")
    assert _pyplot_figures() == before
    assert matplotlib.get_backend() == backend


def test_trials_figure_marks_floor_best_and_statuses(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path))
    ax = plots.trials_figure(outputs.trials, outputs.summary).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "collapse floor (min_std_ratio 0.1)" in labels
    assert "best (trial 3)" in labels
    assert {"completed: 2", "failed (NaN or error): 1"} <= {label.split(" (still")[0] for label in labels}
    assert any(label.startswith("pruned") and label.endswith(": 2") for label in labels)
    floor = [line for line in ax.get_lines() if line.get_label().startswith("collapse floor")][0]
    assert floor.get_xdata()[0] == pytest.approx(0.1)


def test_trials_figure_without_summary_picks_the_lowest_objective():
    trials = pd.DataFrame({"trial_id": [0, 1], "status": ["completed", "pruned"], "objective": [0.4, 2.5],
                           "std_ratio": [0.8, 0.0]})
    labels = plots.trials_figure(trials).axes[0].get_legend_handles_labels()[1]
    assert "best (trial 0)" in labels


def test_trials_figure_with_no_trials():
    fig = plots.trials_figure(pd.DataFrame(columns=["trial_id", "status", "objective", "std_ratio"]), None)
    assert fig._repr_png_()[:8] == PNG_MAGIC


def test_regression_predictions_show_actual_baseline_and_best(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path))
    ax = prediction_plots.predictions_figure(outputs.baseline, outputs.best, best_label="best").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["actual", "your spec as written", "best"]


def test_regression_predictions_skip_nan_runs(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path))
    outputs.best["val_predictions"] = [None] * len(outputs.best["val_predictions"])
    ax = prediction_plots.predictions_figure(outputs.baseline, outputs.best, best_label="best").axes[0]
    assert "best" not in [line.get_label() for line in ax.get_lines()]
    assert any("NaN" in text.get_text() for text in ax.texts)


def test_binary_predictions_have_probability_and_two_confusion_matrices(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path, task="binary"))
    fig = prediction_plots.predictions_figure(outputs.baseline, outputs.best)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Predicted probability")
    assert titles[1:] == ["Confusion matrix: your spec as written", "Confusion matrix: best found"]
    # the collapsed baseline predicts one class: every count in one column
    counts = np.array([[int(t.get_text()) for t in fig.axes[1].texts]]).reshape(2, 2)
    assert counts.sum() == len(outputs.baseline["val_targets"]) and (counts[:, 0] == 0).all()


def test_multiclass_predictions_are_confusion_matrices(tmp_path):
    outputs = load_outputs(write_fake_outputs(tmp_path, task="multiclass"))
    fig = prediction_plots.predictions_figure(outputs.baseline, outputs.best)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["low", "mid", "high"]


def test_learning_curves_tolerate_missing_history():
    fig = plots.learning_curves_figure(None, {"loss": [1.0, 0.5], "val_loss": [1.1, None]})
    assert len(fig.axes) == 2
    assert fig._repr_png_()[:8] == PNG_MAGIC


def test_gradient_norms_from_per_step_series_and_nonfinite_layers():
    norms, ratios = gradient_norms({"probe": {"grad_norms": {"lstm_0": [1e-6, 3e-6, None], "dense_1": [None]}}})
    assert norms == {"lstm_0": 3e-6, "dense_1": None}
    fig = plots.gradient_norm_figure(norms, ratios=ratios)
    assert "NaN/inf" in [t.get_text() for t in fig.axes[0].texts]
    assert gradient_norms({"findings": []}) is None


def test_search_result_html(tmp_path):
    from autofix_lstm.render.report import search_result_html

    folder = write_fake_outputs(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    text = search_result_html(fake_result(folder))
    assert 'id="verdict"' in text and summary["verdict"] in text
    assert "<table" in text and "your spec as written" in text
    assert 'src="data:image/png;base64,' in text
    assert "preprocessing.target: none -&gt; standard" in text


def test_a_multi_step_forecast_is_drawn_as_a_fan_over_the_actual_series():
    steps, samples = 4, 60
    series = np.sin(np.arange(samples + steps) / 5.0) * 100 + 500
    targets = np.stack([series[i + 1 : i + 1 + steps] for i in range(samples)])
    baseline = {"val_targets": targets.tolist(), "val_predictions": np.full((samples, 1), 0.5).tolist(),
                "metrics": {"task": "regression"}}
    best = {"val_predictions": (targets + 1.0).tolist()}
    ax = prediction_plots.predictions_figure(baseline, best).axes[0]
    assert ax.get_title() == f"{steps}-step forecasts from {prediction_plots.FAN_WINDOWS} validation windows against the actual values"
    best_lines = [line for line in ax.get_lines() if line.get_color() == plots.BEST_COLOUR]
    assert len(best_lines) == prediction_plots.FAN_WINDOWS
    assert all(len(line.get_xdata()) == steps for line in best_lines)
    first = best_lines[0]
    np.testing.assert_allclose(first.get_ydata(), targets[0] + 1.0)  # a window's whole forecast, over its steps
    assert "your spec as written: around 0.5, off the chart" in " ".join(t.get_text() for t in ax.texts)
