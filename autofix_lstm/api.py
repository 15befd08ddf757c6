"""The notebook and CLI entry points that compose the library's parts.

``search`` runs the search (``tuning.driver.run_search``) and then writes the HTML report from the
files it left, so the search itself never depends on presentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autofix_lstm.render.progress import RichReporter
from autofix_lstm.render.report import write_report
from autofix_lstm.spec import Spec
from autofix_lstm.tuning.driver import SearchResult, run_search


def search(
    spec: str | Path | dict | Spec,
    *,
    data=None,
    x=None,
    y=None,
    fresh: bool = False,
    progress: bool = False,
    max_trials: int | None = None,
) -> SearchResult:
    """Search for a configuration whose output no longer collapses, and write it out with its report.

    Args:
        spec: a spec file path, a dict or a ``Spec``.
        data: a pandas DataFrame to use instead of ``data.path``.
        x, y: already windowed arrays to use instead of ``data.path``.
        fresh: discard an earlier search in the output folder instead of resuming it.
        progress: show a live progress display.
        max_trials: override ``search.max_trials``.

    Returns:
        A ``SearchResult``; ``fixed`` is True only when the best candidate is not collapsed and
        beats the constant baseline on the validation part. ``<output>/report.html`` is written too.

    Raises:
        SpecError, DataError: bad input, with the field and the fix.
    """
    result = run_search(
        spec, data=data, x=x, y=y, fresh=fresh, max_trials=max_trials,
        reporter=RichReporter() if progress else None,
    )
    write_report(result.output_dir)
    return result


@dataclass
class CheckResult:
    """What ``check`` found usable: the task, the windows and the model's size."""

    spec: Spec
    task: str
    train_samples: int
    val_samples: int
    timesteps: int
    features: int
    parameters: int
    strategies: list[str]

    def sentence(self) -> str:
        """One line for the terminal."""
        return (
            f"usable: {self.task}, {self.train_samples} training and {self.val_samples} validation windows of "
            f"{self.timesteps} steps x {self.features} features; the model has {self.parameters:,} parameters; "
            f"{len(self.strategies)} search strategies. Nothing was trained or written"
        )


def check(spec: str | Path | dict | Spec, *, data=None, x=None, y=None) -> CheckResult:
    """Check a spec as ``train``, ``diagnose`` and ``search`` would before training: nothing trains or is written.

    The spec, its strategy files, the output folder, the data (read, cleaned, windowed), the
    preprocessing, the head and loss against the task, and the model's layers (built).

    Raises:
        SpecError, DataError: the input those commands would refuse, with the same message.
    """
    from autofix_lstm.modeling.train import check_trainable
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.strategies import resolve_strategies

    spec = load_spec(spec)
    strategies = resolve_strategies(spec.search.strategies, spec.base_dir)
    prepared, model = check_trainable(spec, data=data, x=x, y=y)
    ds = prepared.dataset
    return CheckResult(
        spec=spec, task=ds.task, train_samples=len(ds.x_train), val_samples=len(ds.x_val), timesteps=ds.window,
        features=ds.n_features, parameters=int(model.count_params()), strategies=[s.name for s in strategies],
    )


__all__ = ["CheckResult", "check", "search"]
