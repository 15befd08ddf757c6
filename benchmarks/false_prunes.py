"""How many pruned trials would have become fixes: every pruned trial of finished searches, trained in full.

    python -m benchmarks.false_prunes /tmp/bench27e --results benchmarks/results/false_prunes
    python -m benchmarks.false_prunes runs/case/autofix other/autofix --results out/

Each argument is a search output folder, or a folder of benchmark work folders (``<case>/autofix/``
under it, as ``benchmarks.run --work`` leaves them). Only finished searches (``summary.json`` written)
are read. Each PRUNED trial record's candidate spec is trained again for its full epochs without
pruning, with the same seed, exactly as the search trains a candidate
(``tuning.trials.train_candidate`` on the search's ``Dataset``), and judged as the search judges
(``scoring.objective.judge``). The full training is watched (``prune_rules.PruneWatch``: pruning's
looks, recorded, never stopping it), so it follows the path the trial followed until it was pruned:
a look changes the training of a model with dropout, so an unwatched training would not. A trial
the search's safety net re-ran in full (``search.rerun_pruned``, unwatched) has that re-run's verdict
beside its own (``search_rerun``). Per search it writes how many pruned trials would have been fixes and how many would have
beaten the kept model (``best_trial.json``; lower score is better). Issue 27 point 3 asks that the
fix rate among pruned trials (the false-prune rate) stay under 5%.

Writes ``<results>/false_prunes.json`` (per search, per trial; rewritten after each search, so a
long run keeps what it measured) and ``false_prunes.md`` (a table per case, the totals and the rates).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
RESULTS = HERE / "results" / "false_prunes"
TARGET_RATE = 0.05  # issue 27 point 3: the false-prune rate to hold


def search_folders(paths: list[Path]) -> list[Path]:
    """The finished search output folders in ``paths`` (each a search folder or a folder of case folders)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        candidates = [path] if (path / "tuner").is_dir() else sorted(
            [p for p in path.glob("*/autofix") if p.is_dir()] + [p for p in path.glob("*") if (p / "tuner").is_dir()])
        found += [p for p in candidates if (p / "summary.json").is_file() and p not in found]
    return found


def case_name(folder: Path) -> str:
    """The case a search folder belongs to: its parent's name for ``<case>/autofix``, else its own."""
    folder = Path(folder)
    return folder.parent.name if folder.name == "autofix" else folder.name


def _absolute_data(raw: dict, folder: Path, cases: Path) -> dict:
    """``raw`` with a relative data path made absolute: the case folder's, the run folder's, or the cwd's file."""
    path = (raw.get("data") or {}).get("path")
    if path is None or Path(path).is_absolute():
        return raw
    for base in (cases / case_name(folder), folder, Path.cwd()):
        if (base / path).is_file():
            return {**raw, "data": {**raw["data"], "path": str(base / path)}}
    return raw


def load_search(folder: Path, cases: Path = CASES):
    """A finished search's base spec, records, kept record and baseline: ``(spec, records, kept, baseline)``.

    The base spec is the one the search ran (the baseline record's spec; the first record's spec
    when there is no baseline record), with its data path resolved as the benchmark runner resolved it.
    """
    from autofix_lstm.run_dir import RunDir, read_json
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.records import BASELINE_ID, TrialRecord, load_records

    run = RunDir(folder)
    start_order = None
    if run.tuner_oracle.is_file():
        start_order = (read_json(run.tuner_oracle) or {}).get("start_order")
    records = load_records(run, start_order)
    baseline = TrialRecord.load(run.baseline) if run.baseline.is_file() else None
    raw = (baseline.spec if baseline is not None and baseline.spec else None) or next(
        r.spec for r in records if r.spec)
    spec = load_spec(_absolute_data(raw, folder, cases))
    kept_id = str(read_json(run.best_trial).get("trial_id")) if run.best_trial.is_file() else None
    by_id = {r.trial_id: r for r in records}
    kept = baseline if kept_id == BASELINE_ID else by_id.get(kept_id)
    return spec, records, kept, baseline


def retrain(spec, record, dataset, min_std_ratio: float) -> dict[str, Any]:
    """Train a pruned trial's candidate in full (no pruning, same seed) as the search does; what it measured."""
    import keras

    from autofix_lstm.errors import AutofixError
    from autofix_lstm.scoring.objective import judge
    from autofix_lstm.spec import load_spec
    from autofix_lstm.tuning.trials import train_candidate

    keras.backend.clear_session(free_memory=True)
    candidate = load_spec(_with_data_of(record.spec, spec))
    started = time.perf_counter()
    try:
        watch = _watch(spec, candidate, dataset)
        outcome, prepared, _ = train_candidate(spec, candidate, dataset, prune=False,
                                               callbacks=[] if watch is None else [watch])
    except (AutofixError, ValueError) as err:
        return {"failed": f"{type(err).__name__}: {err}"[:300], "seconds": time.perf_counter() - started}
    metrics = outcome.metrics
    steps = max(1, -(-len(prepared.y_train) // int(candidate.train.batch_size)))
    out = {"seconds": time.perf_counter() - started, "epochs_run": outcome.epochs_run, "steps_per_epoch": steps,
           "history": outcome.history}
    if watch is not None:
        out.update(looks=watch.looks, would_prune_at=watch.would_prune_at, prune_after=watch.after,
                   min_std_ratio=watch.min_std_ratio, rules=_rules(watch, candidate, steps))
    if metrics.nan or metrics.loss_diverged:
        return {**out, "failed": "NaN or infinite loss/predictions"}
    judgment = judge(metrics, min_std_ratio)
    return {**out, "score": judgment.score, "fix": judgment.fix, "state": judgment.state.value,
            "quality": metrics.quality, "quality_label": metrics.quality_label, "std_ratio": metrics.std_ratio}


def _watch(spec, candidate, dataset):
    """The pruning looks the full training gets (``prune_rules.PruneWatch``; None when pruning is off)."""
    from autofix_lstm.data.window_length import with_window
    from autofix_lstm.modeling.train import prepare
    from benchmarks.prune_rules import PruneWatch

    if candidate.search.prune_after is None:
        return None
    data = with_window(dataset, candidate.data.window) if candidate.data.window != spec.data.window else dataset
    return PruneWatch(prepare(candidate, data), after=candidate.search.prune_after,
                      min_std_ratio=candidate.search.min_std_ratio, epochs=candidate.train.epochs,
                      batch_size=candidate.train.batch_size)


def _rules(watch, candidate, steps: int) -> dict[str, int | None]:
    """The epoch each compared rule would have pruned the full training at (None: trained in full)."""
    from benchmarks.prune_rules import rules, simulate

    compared = rules(steps, candidate.train.epochs, candidate.search.prune_after)
    return {name: simulate(watch.looks, watch.losses, start=rule["start"], min_std_ratio=watch.min_std_ratio,
                           cumulative=rule.get("cumulative", False)) for name, rule in compared.items()}


def _with_data_of(raw: dict, spec) -> dict:
    """A candidate spec dict with the base spec's (resolved) data path: the search read one data file."""
    return {**raw, "data": {**raw["data"], "path": str(spec.resolve(spec.data.path))}} if spec.data.path else raw


def _from_rerun(rerun) -> dict[str, Any]:
    """What the search's own full re-run of a pruned trial measured (``search.rerun_pruned``)."""
    metrics = rerun.metrics
    if rerun.score is None:
        return {"failed": rerun.message or "failed", "seconds": rerun.seconds, "from": "search_rerun"}
    return {"seconds": rerun.seconds, "epochs_run": rerun.epochs_run, "score": rerun.score, "fix": rerun.fix,
            "state": None if rerun.state is None else rerun.state.value,
            "quality": None if metrics is None else metrics.quality,
            "quality_label": None if metrics is None else metrics.quality_label,
            "std_ratio": None if metrics is None else metrics.std_ratio, "from": "search_rerun",
            "rerun_id": rerun.trial_id}


def measure_search(folder: Path, cases: Path = CASES, log=print) -> dict[str, Any]:
    """Every pruned trial of one finished search, trained in full: the per-trial rows and the case's counts."""
    from autofix_lstm.data.dataset import load_dataset
    from autofix_lstm.tuning.records import TrialStatus

    spec, records, kept, baseline = load_search(folder, cases)
    min_ratio = spec.search.min_std_ratio
    dataset = load_dataset(spec)
    reruns = {r.rerun_of: r for r in records if r.rerun_of}
    budget = [r for r in records if not r.rerun_of]  # the trials of the budget, in start order
    kept_score = None if kept is None else kept.score
    rows = []
    for position, record in enumerate(budget):
        if record.status is not TrialStatus.PRUNED:
            continue
        pruned_before = sum(r.status is TrialStatus.PRUNED for r in budget[:position])
        full = {**retrain(spec, record, dataset, min_ratio), "from": "retrained"}
        full_score = full.get("score")
        batch = (record.spec or {}).get("train", {}).get("batch_size") or spec.train.batch_size
        row = {
            "trial_id": record.trial_id, "position": position, "source": None if record.source is None else str(record.source),
            "pruned_at": record.pruned_at, "epochs": (record.spec or {}).get("train", {}).get("epochs"),
            "batch_size": batch, "steps_per_epoch": -(-len(dataset.y_train) // int(batch)),
            "pruned_before": pruned_before, "trials_before": position,
            "pruned_score": record.score, "pruned_std_ratio": None if record.metrics is None else record.metrics.std_ratio,
            "pruned_loss": (record.history or {}).get("loss"), "values": record.values,
            "full": full, "search_rerun": _from_rerun(reruns[record.trial_id]) if record.trial_id in reruns else None,
            "same_start": _same_start(record.history, full.get("history")),
            "would_fix": bool(full.get("fix")),
            "beats_kept": full_score is not None and kept_score is not None and full_score < kept_score,
        }
        rows.append(row)
        log(f"  {case_name(folder)} trial {record.trial_id}: pruned at {record.pruned_at}, full "
            f"{full.get('state') or full.get('failed')} score={_fmt(full_score)} (kept {_fmt(kept_score)}) "
            f"fix={row['would_fix']} beats_kept={row['beats_kept']} [{full.get('from')}, {_fmt(full.get('seconds'))}s]")
    return {
        "case": case_name(folder), "folder": str(folder), "trials": len(budget),
        "pruned": len(rows), "would_fix": sum(r["would_fix"] for r in rows),
        "beats_kept": sum(r["beats_kept"] for r in rows),
        "kept": None if kept is None else {"trial_id": kept.trial_id, "score": kept.score, "fix": kept.fix,
                                           "quality": None if kept.metrics is None else kept.metrics.quality},
        "baseline_pruned": baseline is not None and baseline.status is TrialStatus.PRUNED,
        "search_fixed": any(r.fix for r in records) or bool(baseline is not None and baseline.fix),
        "min_std_ratio": min_ratio, "pruned_trials": rows,
    }


def _same_start(pruned: dict | None, full: dict | None) -> bool | None:
    """Whether the full training's first epochs lost what the pruned trial's did (the same training
    path: same seed, data and model); None when there is nothing to compare."""
    before, after = (pruned or {}).get("loss") or [], (full or {}).get("loss") or []
    if not before or len(after) < len(before):
        return None
    return all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7) for a, b in zip(before, after))


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) and math.isfinite(value) else str(value)


def totals(searches: list[dict]) -> dict[str, Any]:
    """The counts over every search and the two rates among pruned trials (None with no pruned trial)."""
    pruned = sum(s["pruned"] for s in searches)
    fixes = sum(s["would_fix"] for s in searches)
    beats = sum(s["beats_kept"] for s in searches)
    rows = [r for s in searches for r in s["pruned_trials"]]
    return {"searches": len(searches), "trials": sum(s["trials"] for s in searches), "pruned": pruned,
            "same_start": sum(r.get("same_start") is True for r in rows),
            "compared_start": sum(r.get("same_start") is not None for r in rows),
            "would_fix": fixes, "beats_kept": beats,
            "fix_rate": fixes / pruned if pruned else None, "beat_kept_rate": beats / pruned if pruned else None,
            "target_rate": TARGET_RATE}


def markdown(searches: list[dict], summary: dict, command: str) -> str:
    """The report: the command, a row per case, the totals and the two rates, and each false prune."""
    lines = ["# Pruned trials trained in full (issue 27, point 3)", "", f"Command: `{command}`", "",
             "Each pruned trial's candidate trained again for its full epochs without pruning, same seed, judged "
             "as the search judges. *Fix*: it would have been a fix. *Beats kept*: its full score is lower than "
             "the kept model's (best_trial.json).", "",
             "| case | trials | pruned | pruned that would be fixes | pruned that would beat the kept | kept score |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in searches:
        kept = s["kept"] or {}
        lines.append(f"| {s['case']} | {s['trials']} | {s['pruned']} | {s['would_fix']} | {s['beats_kept']} | "
                     f"{_fmt(kept.get('score'))} |")
    lines.append(f"| **total ({summary['searches']} searches)** | {summary['trials']} | {summary['pruned']} | "
                 f"{summary['would_fix']} | {summary['beats_kept']} | |")
    lines += ["", f"- Fix rate among pruned trials (the false-prune rate): {_rate(summary['would_fix'], summary['pruned'])} "
              f"(target under {TARGET_RATE:.0%})",
              f"- Beat-the-kept rate among pruned trials: {_rate(summary['beats_kept'], summary['pruned'])}",
              f"- Retrained the same way the search trained them: {summary['same_start']} of "
              f"{summary['compared_start']} full trainings lost, epoch for epoch, what the pruned trial lost "
              "before it was pruned", ""]
    table = rule_table(searches)
    if table:
        replayed = [r for s in searches for r in s["pruned_trials"] if r["full"].get("rules")]
        same = sum(r["full"]["rules"]["current"] == r["pruned_at"] for r in replayed)
        lines += ["## Pruning rules replayed on the full trainings' looks", "",
                  f"The current rule, replayed on the full training's looks, prunes at the recorded epoch for {same} of "
                  f"{len(replayed)} trials. Each rule's first look: `current` max(prune_after, 30 steps); "
                  "`min_steps_60/100`: 60/100 optimizer steps; `quarter_of_epochs`: also a quarter of the planned "
                  "epochs; `growth_since_first_look`: a spread 25% above the first look's also counts as moving; "
                  "`loss_falling_any_task`: a training loss that fell by more than 2% over the last epoch spares a "
                  "regression too (today only a classifier). Replayed on the saved looks (a rule added later needs "
                  "no retraining); a rule that looks later can only spare more, so only pruned trials are replayed.", "",
                  "| rule | still pruned | of them fixes in full | fixes spared | epochs saved |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {t['rule']} | {t['pruned']}/{t['watched']} | {t['pruned_fixes']} | {t['spared_fixes']} | "
                  f"{t['epochs_saved']} |" for t in table]
        lines.append("")
        lines.append("Epochs saved: the planned epochs minus the pruning epoch, over the trials the rule still prunes.")
        lines.append("")
    false = [(s, r) for s in searches for r in s["pruned_trials"] if r["would_fix"] or r["beats_kept"]]
    if false:
        lines += ["## Pruned trials that would have been fixes or beaten the kept model", "",
                  "| case | trial | pruned at / epochs | steps/epoch | pruned before it | full state | full score | "
                  "kept score | quality | loss while pruned |", "|---|---|---|---:|---|---|---:|---:|---|---|"]
        for s, r in false:
            full = r["full"]
            loss = ", ".join(f"{v:.3g}" for v in (r["pruned_loss"] or []))
            quality = f"{full.get('quality_label')} {_fmt(full.get('quality'))}"
            lines.append(f"| {s['case']} | {r['trial_id']} | {r['pruned_at']} / {r['epochs']} | "
                         f"{_fmt(r.get('steps_per_epoch'))} | {r['pruned_before']} of {r['trials_before']} | "
                         f"{full.get('state')} | {_fmt(full.get('score'))} | {_fmt((s['kept'] or {}).get('score'))} | "
                         f"{quality} | {loss} |")
    return "\n".join(lines) + "\n"


def rule_table(searches: list[dict]) -> list[dict[str, Any]]:
    """Per compared rule, over the pruned trials whose full training was watched: how many it would still
    prune, how many of those would have been fixes, and the epochs it would save (all trained in full: 0)."""
    from benchmarks.prune_rules import replay

    replayed = [(r, replay(r)) for s in searches for r in s["pruned_trials"]]
    replayed = [(r, at) for r, at in replayed if at is not None]  # the rules as defined now, on the saved looks
    names = list(replayed[0][1]) if replayed else []
    table = []
    for name in names:
        pruned = [(r, at[name]) for r, at in replayed if at[name] is not None]
        table.append({"rule": name, "watched": len(replayed), "pruned": len(pruned),
                      "pruned_fixes": sum(r["would_fix"] for r, _ in pruned),
                      "spared_fixes": sum(r["would_fix"] for r, at in replayed if at[name] is None),
                      "spared": [r["trial_id"] for r, at in replayed if at[name] is None],
                      "epochs_saved": sum((r["epochs"] or 0) - epoch for r, epoch in pruned)})
    return table


def _rate(count: int, total: int) -> str:
    return f"{count}/{total} = {count / total:.1%}" if total else f"{count}/0 (no pruned trial)"


def write(results: Path, searches: list[dict], command: str) -> dict:
    """Write false_prunes.json and false_prunes.md into ``results``; the totals."""
    summary = totals(searches)
    results.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "totals": summary, "rules": rule_table(searches), "searches": searches}
    (results / "false_prunes.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (results / "false_prunes.md").write_text(markdown(searches, summary, command))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="search output folders, or folders of case folders")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write false_prunes.json/.md")
    parser.add_argument("--cases", type=Path, default=CASES,
                        help="the benchmark cases' folder (relative data paths are read from <cases>/<case>/)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the searches already in <results>/false_prunes.json and measure only the others")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.false_prunes " + " ".join(argv if argv is not None else sys.argv[1:])
    searches: list[dict] = []
    old = args.results / "false_prunes.json"
    if args.keep and old.is_file():
        searches = json.loads(old.read_text())["searches"]
    done = {s["folder"] for s in searches}
    folders = [f for f in search_folders(args.folders) if str(f) not in done]
    print(f"{len(folders)} finished searches to measure ({len(done)} kept)", flush=True)
    for folder in folders:
        started = time.perf_counter()
        searches.append(measure_search(folder, args.cases, log=lambda line: print(line, flush=True)))
        print(f"{case_name(folder)}: {searches[-1]['pruned']} pruned, {searches[-1]['would_fix']} would fix, "
              f"{searches[-1]['beats_kept']} beat the kept ({time.perf_counter() - started:.0f}s)", flush=True)
        write(args.results, searches, command)
    summary = write(args.results, searches, command)
    print(f"fix rate among pruned: {_rate(summary['would_fix'], summary['pruned'])}; beat-the-kept rate: "
          f"{_rate(summary['beats_kept'], summary['pruned'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
