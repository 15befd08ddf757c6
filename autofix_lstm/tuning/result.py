"""What a search returns and what it tells while it runs: ``SearchResult`` and ``SearchReporter``.

``tuning.driver.run_search`` returns a ``SearchResult`` and tells a ``SearchReporter`` of each stage
and trial. ``SearchResult.plot`` and ``_repr_html_`` hand the result to ``autofix_lstm.render``
(imported when called): the one way into the report from below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from autofix_lstm.modeling.build import compile_core
from autofix_lstm.remedies.fields import searched_parts
from autofix_lstm.run_dir import RunDir
from autofix_lstm.scoring.metrics import Metrics
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.records import TrialRecord


class SearchReporter:
    """What a search tells about its progress; this base reports nothing (``progress=False``).

    ``autofix_lstm.render.progress`` draws it (a live display, or plain lines into a log), and every search
    also logs it to events.jsonl (``tuning.events.LoggedReporter``); the search never prints otherwise.
    """

    def start(self, total: int) -> None:
        """The search begins with a budget of ``total`` trials."""

    def deadline(self, at: float | None) -> None:
        """The search must end by ``at`` (a ``time.time()``: ``search.max_time``); None: no time limit."""

    def stage(self, text: str) -> None:
        """A named stage (diagnosis, baseline) begins."""

    def trial_done(self, done: int, best: TrialRecord | None, fixed: bool) -> None:
        """``done`` trials have ended; ``best`` is the best record so far."""

    def trial_started(self, trial_id: str, worker: str | None = None) -> None:
        """A trial begins training (a re-run in full of a pruned one too); ``worker``: the worker that
        took it, when a distributed search's chief reports a worker's trial."""

    def trial_recorded(self, record: TrialRecord) -> None:
        """A trial ended and ``record`` is written (before ``trial_done`` tallies it)."""

    def stop(self) -> None:
        """The search has ended."""


def top_trials(trials: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` trials with the lowest objective (the best first; unscored ones last), as trials.csv has them."""
    if trials.empty or "objective" not in trials:
        return trials.head(0)
    return trials.sort_values("objective", na_position="last", kind="stable").head(n).reset_index(drop=True)


class SummaryDict(dict):
    """summary.json's content, a dict as ever (``result.summary["fixed"]``); called, the best trials as a
    table, like Keras Tuner's ``results_summary``: ``result.summary(5)``."""

    def __init__(self, data: dict, trials: pd.DataFrame):
        super().__init__(data)
        self._trials = trials

    def __call__(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` best trials (``top_trials``): id, status, the values tried, objective, metrics, seconds."""
        return top_trials(self._trials, n)


@dataclass
class SearchResult:
    """What a search found: the verdict, the best spec and model, metrics and every trial."""

    fixed: bool
    verdict: str
    best_spec: Spec
    baseline: Metrics | None  # the spec as written's validation metrics
    best: Metrics | None  # the best found's
    changes: list[str]
    summary: dict
    trials: pd.DataFrame
    output_dir: Path
    diagnosis: Any = None
    interrupted: bool = False
    baseline_state: str | None = None  # what the spec as written did: collapsed, diverged, live or working
    confirmed_seeds: str | None = None  # on how many seeds the best fix held, e.g. "3/3"
    records: list[TrialRecord] = field(default_factory=list, repr=False)
    _best_model: keras.Model | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.baseline = Metrics.from_dict(self.baseline) if self.baseline else None
        self.best = Metrics.from_dict(self.best) if self.best else None
        self.summary = SummaryDict(self.summary, self.trials)

    def best_specs(self, n: int = 1) -> list[Spec]:
        """The specs of the ``n`` best configurations, the best found first (``best_spec``), then the
        other scored trials by objective: Keras Tuner's ``get_best_hyperparameters``, as whole specs."""
        best_id = self.summary.get("best_trial")
        ranked = sorted((r for r in self.records if r.scored and r.spec and r.trial_id != best_id),
                        key=lambda r: r.score)
        others = [self.best_spec.updated(searched_parts(r.spec))
                  for r in ranked]
        return [self.best_spec, *others][: max(0, n)]

    def best_models(self, n: int = 1, **data) -> list[keras.Model]:
        """The models of the ``n`` best configurations (``best_specs``), compiled, raw windows in.

        The search keeps the best one's weights only (``best_model``); the others are trained again
        from their spec, which takes one training each. ``data``: what ``autofix_lstm.train`` takes
        (``data=``, ``x=``/``y=``, ``validation_data=``) when the spec has no ``data.path`` (an
        in-memory search).
        """
        from autofix_lstm.inputs import resolve_inputs
        from autofix_lstm.modeling.train import train

        models = [self.best_model]
        for spec in self.best_specs(n)[1:]:
            resolved, dataset, _ = resolve_inputs(spec, save=False, **data)
            models.append(train(resolved, dataset, save=False).model)
        return models[: max(0, n)]

    @property
    def best_model(self) -> keras.Model:
        """The best model, self-contained: raw windows in, original units out (loaded on first use).

        A fresh model, compiled with the best spec's optimizer and loss, so it can keep training.
        """
        if self._best_model is None:
            model = keras.saving.load_model(RunDir(self.output_dir).best_model, compile=False)
            self._best_model = compile_core(model, self.best_spec.model)
        return self._best_model

    def plot(self):
        """A matplotlib figure: every trial's objective against its std_ratio, and the best marked."""
        from autofix_lstm.render.plots import trials_figure
        from autofix_lstm.tuning.search_summary import Summary

        return trials_figure(self.trials, Summary.from_dict(self.summary))

    def _repr_html_(self) -> str:
        from autofix_lstm.render.report import search_result_html

        return search_result_html(self)


__all__ = ["SearchReporter", "SearchResult", "SummaryDict", "top_trials"]
