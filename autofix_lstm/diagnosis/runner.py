"""``diagnose``: probe the data for signal, train the spec briefly, instrumented, run every detector,
reconcile the findings (``agreement``) and report them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from autofix_lstm.data.dataset import Dataset
from autofix_lstm.diagnosis.agreement import reconcile
from autofix_lstm.diagnosis.context import Context
from autofix_lstm.diagnosis.findings import Finding, Severity
from autofix_lstm.diagnosis.output_checks import explain_collapse
from autofix_lstm.diagnosis.probes import run_probe
from autofix_lstm.diagnosis.registry import run_detectors
from autofix_lstm.diagnosis.result import DiagnosisResult
from autofix_lstm.errors import ModelSpecError
from autofix_lstm.modeling.train import prepare
from autofix_lstm.preflight import check_output_folder
from autofix_lstm.remedies.strategies import check_candidates, resolve_strategies, strategies_for
from autofix_lstm.run_dir import RunDir, write_json
from autofix_lstm.scoring.signal import probe_signal
from autofix_lstm.spec import Spec


@contextlib.contextmanager
def _step_progress(enabled: bool):
    """Yield an ``on_step(done, total)`` callback drawing a transient rich progress bar (or None)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]diagnosing[/] brief training"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("brief training", total=None)

        def on_step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield on_step


def settle_findings(findings: list[Finding], ctx: Context, selected: list) -> list[Finding]:
    """Name each finding's remedy strategies among ``selected``, then reconcile them (``agreement.reconcile``).

    The one path from detectors' findings to the findings a user reads: ``diagnose`` and
    ``CollapseMonitor`` both take it, so the same cause reads the same in both.
    """
    for finding in findings:
        # The strategy files' ``findings:`` keys are the one place a finding is linked to its remedies.
        finding.strategies = strategies_for(finding.id, selected)
    return reconcile(findings, ctx)


def diagnose(spec: Spec, dataset: Dataset, *, save: bool = True, progress: bool = False) -> DiagnosisResult:
    """Find out why the spec's LSTM output collapses, from a brief instrumented training.

    The brief training is far shorter than a full one (see ``probes``: at most 3 epochs and 60 steps).
    The signal probe (``scoring.signal.probe_signal``: a linear and a gradient-boosted model on the
    same windows, well under a second on small data) says whether the data holds signal. Every
    detector in ``registry.DETECTORS`` then reads the data, the spec, the measurements and the signal
    probe, and ``agreement.reconcile`` shows consequences under their causes, settles contradictions
    and orders the findings.

    Args:
        spec: the validated spec, overrides applied (``inputs.resolve_inputs`` makes it, with the data).
        dataset: its data, windowed and split.
        save: write ``diagnosis.json`` to the spec's output folder.
        progress: show a progress bar over the brief training's steps.

    Returns:
        A ``DiagnosisResult``: findings (errors first), the brief training's metrics and measurements,
        the signal probe.

    Raises:
        SpecError, DataError: bad input, with the field and the fix (an output folder blocked by a file too).
        RunFolderError: the output folder is not writable.
        ModelSpecError: the model cannot train on this data and no finding explains why.
    """
    started = time.perf_counter()
    if save:  # refused before the brief training, not after it
        check_output_folder(spec)
    selected = resolve_strategies(spec.search.strategies, spec.base_dir)  # a bad strategy file fails here, early
    check_candidates(selected, spec, dataset)
    return diagnose_dataset(spec, dataset, selected, save=save, progress=progress, started=started)


def diagnose_dataset(spec: Spec, dataset: Dataset, selected: list, *, save: bool = True, progress: bool = False,
                     started: float | None = None, check: Callable[[], None] | None = None) -> DiagnosisResult:
    """``diagnose`` on data already windowed and strategies already read (the search has both).

    ``check``: called at the diagnosis' check points (after the signal probe, after each step of the
    brief training), where it may raise to stop it: the search's ``StopSignals.check``.
    """
    started = time.perf_counter() if started is None else started
    check = check or (lambda: None)
    prepared = prepare(spec, dataset)
    signal = probe_signal(dataset, seed=spec.train.seed)
    check()
    probe = metrics = None
    crash: ModelSpecError | None = None
    try:
        with _step_progress(progress) as on_step:

            def stepped(done: int, total: int) -> None:
                if on_step is not None:
                    on_step(done, total)
                check()

            probe, metrics = run_probe(spec, prepared, on_step=stepped)
    except ModelSpecError as err:
        crash = err
    ctx = Context(spec, prepared, probe, metrics, training_error=str(crash) if crash else None, signal=signal)
    findings = run_detectors(ctx)
    if crash is not None and not any(f.severity == Severity.ERROR for f in findings):
        raise crash
    findings = explain_collapse(settle_findings(findings, ctx, selected), ctx)
    result = DiagnosisResult(
        findings=findings,
        metrics=metrics,
        probe=probe.to_dict() if probe else None,
        spec=spec,
        training_error=ctx.training_error,
        signal_probe=signal,
    )
    result.seconds = time.perf_counter() - started
    if save:
        result.output_path = write_json(result.to_dict(), RunDir(spec.output_dir).diagnosis)
    return result
