"""Turn benchmarks/results/*.json into benchmarks/RESULTS.md and benchmarks/results/time_to_fix.png.

    python -m benchmarks.report

The targets (issues 5 and 11) are measured and reported, never asserted: fixable cases fixed and
confirmed on 3/3 seeds, ``fixed: false`` on the negative control, the healthy control left no worse,
persistence beaten wherever the hand-written reference fix beats it, the kept model at least as good
as the reference fix, median seconds to the first fix against plain Keras Tuner and Optuna, and our
time to fix against the floor (one training of the fixed configuration). An anytime plot shows the
best objective after k trials per method (median over the cases).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
METHOD_NAMES = {"autofix": "autofix-lstm", "keras_tuner": "Keras Tuner RandomSearch", "optuna": "Optuna TPE"}


def load(folder: Path = RESULTS) -> list[dict]:
    """Every case result in ``folder``."""
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return [r for r in results if isinstance(r, dict) and "methods" in r]  # other benchmarks share the folder


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _key_metric(metrics: dict | None) -> str:
    if not metrics:
        return "-"
    if metrics.get("task") == "regression":
        return f"r2 {_fmt(metrics.get('r2'), 2)}, std_ratio {_fmt(metrics.get('std_ratio'), 2)}"
    return f"bal.acc {_fmt(metrics.get('balanced_accuracy'), 2)}, std_ratio {_fmt(metrics.get('std_ratio'), 2)}"


def summarise(results: list[dict]) -> dict:
    """The headline numbers per method."""
    methods = sorted({m for r in results for m in r["methods"]}, key=list(METHOD_NAMES).index)
    fixable = [r for r in results if r["meta"].get("expect_fixable")]
    negative = [r for r in results if r["meta"].get("category") == "negative_control"]
    healthy = [r for r in results if r["meta"].get("category") == "healthy_control"]
    forecasting = [r for r in fixable if r["meta"].get("forecasting")]
    out: dict = {"methods": {}, "cases": len(results), "fixable": len(fixable)}
    for method in methods:
        runs = [r["methods"][method] for r in fixable if method in r["methods"]]
        times = [m["seconds_to_first_fix"] if m["seconds_to_first_fix"] is not None else math.inf for m in runs]
        floors = [
            m["seconds_to_first_fix"] / m["floor_seconds"]
            for m in runs if m["seconds_to_first_fix"] is not None and m["floor_seconds"]
        ]
        persistence = [
            r["methods"][method]["beats_persistence"] for r in forecasting
            if method in r["methods"] and r["methods"][method]["beats_persistence"] is not None
        ]
        out["methods"][method] = {
            "fixed": sum(m["fixed"] for m in runs),
            "fix_rate": sum(m["fixed"] for m in runs) / len(runs) if runs else math.nan,
            "median_seconds_to_first_fix": _median(times),
            "median_fix_over_floor": _median(floors),
            "beats_persistence": sum(persistence),
            "persistence_cases": len(persistence),
            "negative_control_fixed": [r["methods"][method]["fixed"] for r in negative if method in r["methods"]],
            "median_total_seconds": _median([m["total_seconds"] for m in runs]),
        }
    out["healthy"] = [
        {"case": r["case"], "baseline": r.get("baseline"), "best": r["methods"].get("autofix", {}).get("best_metrics")}
        for r in healthy
    ]
    confirmed = [r["methods"]["autofix"].get("confirmed_seeds") for r in fixable if "autofix" in r["methods"]
                 and r["methods"]["autofix"]["fixed"]]
    out["confirmed_3_of_3"] = sum(c == "3/3" for c in confirmed)
    out["confirmed_seeds"] = {r["case"]: r["methods"]["autofix"].get("confirmed_seeds")
                              for r in fixable if "autofix" in r["methods"]}
    out["diagnosis_ratio"] = _median([r["diagnosis_timing"]["ratio"] for r in results if "diagnosis_timing" in r])
    return out


KEPT_TOLERANCE = 0.01  # r2 / balanced-accuracy difference below which two kept models count as equal


def quality(metrics: dict | None) -> float | None:
    """A kept model's quality: r2 (regression) or balanced accuracy; None when collapsed or missing."""
    if not metrics or metrics.get("collapsed") or metrics.get("nan"):
        return None
    value = metrics.get("r2" if metrics.get("task") == "regression" else "balanced_accuracy")
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def kept_against(results: list[dict], other: str = "keras_tuner") -> list[dict]:
    """Per case: our kept model's quality against ``other``'s (both verified by the runner)."""
    rows = []
    for r in results:
        ours, theirs = r["methods"].get("autofix"), r["methods"].get(other)
        if ours is None or theirs is None:
            continue
        a, b = quality(ours["best_metrics"]), quality(theirs["best_metrics"])
        at_least = (a is not None and (b is None or a >= b - KEPT_TOLERANCE)) or (a is None and b is None)
        rows.append({"case": r["case"], "ours": a, "theirs": b, "at_least": at_least})
    return rows


def against_reference(results: list[dict], method: str = "autofix") -> list[dict]:
    """Per fixable case with a reference fix: the kept model's quality against the reference fix's.

    The reference fix is the case's hand-written ``reference_fix.yaml``, trained once in the same run
    with the case's epochs and seed. ``persistence_due`` is True where the reference beats persistence
    (then the kept model should too).
    """
    rows = []
    for r in results:
        ref, m = r.get("reference"), r["methods"].get(method)
        if ref is None or m is None:
            continue
        a, b = quality(m["best_metrics"]), quality(ref["metrics"])
        rows.append({
            "case": r["case"], "ours": a, "reference": b,
            "at_least": a is not None and (b is None or a >= b - KEPT_TOLERANCE),
            "persistence_due": ref.get("beats_persistence") is True,
            "beats_persistence": m.get("beats_persistence"),
        })
    return rows


def anytime(results: list[dict], method: str, budget: int) -> list[float]:
    """Median over the cases of the best objective after k trials (k = 1..budget), for one method.

    The objective is autofix-lstm's tiered score computed by the runner from each trial's measured
    metrics (``score``), the same scale for every method; lower is better. autofix's training of the
    spec as written is not a search trial and is left out. A case whose method ran fewer than k
    trials keeps its last best.
    """
    curves = []
    for r in results:
        m = r["methods"].get(method)
        if m is None:
            continue
        scores = [t.get("score") for t in m["trials"] if not t.get("baseline")]
        best, curve = math.inf, []
        for k in range(budget):
            value = scores[k] if k < len(scores) else None
            if value is not None and value < best:
                best = value
            curve.append(best)
        curves.append(curve)
    return [_median([c[k] for c in curves if math.isfinite(c[k])]) for k in range(budget)]


def plot_anytime(curves: dict[str, list[float]], path: Path) -> Path:
    """Plot each method's anytime curve (``anytime``: median best objective after k trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for method, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=METHOD_NAMES[method])
    ax.set_xlabel("trials run")
    ax.set_ylabel("best objective so far (median over cases; lower is better)")
    ax.set_title("Anytime performance")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def search_figures(results: list[dict]) -> dict:
    """What pruning saved and lost, and what refinement contributed, over autofix's runs."""
    runs = [r["methods"]["autofix"] for r in results if "autofix" in r["methods"]]
    pruning = [m.get("pruning") or {} for m in runs]
    refinement = [m.get("refinement") or {} for m in runs]
    return {
        "cases": len(runs),
        "trials": sum(m.get("trials_run", 0) for m in runs),
        "trials_pruned": sum(p.get("trials_pruned", 0) for p in pruning),
        "epochs_saved": sum(p.get("epochs_saved") or 0 for p in pruning),
        "reruns": sum(len(p.get("reruns") or []) for p in pruning),
        "fixes_found_by_reruns": sum(p.get("fixes_lost_to_pruning") or 0 for p in pruning),
        "refinement_trials": sum(x.get("trials", 0) for x in refinement),
        "refinement_fixes": sum(x.get("fixes", 0) for x in refinement),
        "best_from_refinement": sum(bool(x.get("best_from_refinement")) for x in refinement),
    }


def _no_worse(baseline: dict | None, best: dict | None) -> bool:
    if not baseline or not best or best.get("collapsed"):
        return False
    key = "r2" if best.get("task") == "regression" else "balanced_accuracy"
    return (best.get(key) or -math.inf) >= (baseline.get(key) or -math.inf) - 0.02


def targets(s: dict, reference: list[dict] | None = None) -> list[tuple[str, str, bool]]:
    """(target, what was measured, met?) for each of issues 5 and 11's targets, for autofix-lstm."""
    ours = s["methods"].get("autofix")
    if ours is None:
        return []
    out = [
        ("fixable cases fixed: 100%", f"{ours['fixed']}/{s['fixable']}", ours["fixed"] == s["fixable"]),
        ("each fix confirmed on 3/3 seeds", f"{s['confirmed_3_of_3']}/{ours['fixed']}",
         ours["fixed"] > 0 and s["confirmed_3_of_3"] == ours["fixed"]),
        ("negative control ends fixed: false", ", ".join(_fmt(x) for x in ours["negative_control_fixed"]) or "-",
         bool(ours["negative_control_fixed"]) and not any(ours["negative_control_fixed"])),
    ]
    healthy_ok = [_no_worse(h["baseline"], h["best"]) for h in s["healthy"]]
    out.append(("healthy control not collapsed and no worse (within 0.02 of its r2 / balanced accuracy)",
                ", ".join(_fmt(x) for x in healthy_ok) or "-", bool(healthy_ok) and all(healthy_ok)))
    if reference:
        due = [row for row in reference if row["persistence_due"]]
        beat = sum(bool(row["beats_persistence"]) for row in due)
        out.append(("beats persistence on every forecasting case whose reference fix beats it",
                    f"{beat}/{len(due)}", beat == len(due)))
        share = sum(row["at_least"] for row in reference) / len(reference)
        out.append((f"kept model >= the reference fix's quality (within {KEPT_TOLERANCE}) on >= 90% of cases",
                    f"{sum(row['at_least'] for row in reference)}/{len(reference)} ({_fmt(100 * share, 0)}%)",
                    share >= 0.9))
    for other in ("keras_tuner", "optuna"):
        theirs = s["methods"].get(other, {}).get("median_seconds_to_first_fix", math.nan)
        if math.isnan(theirs):
            continue
        ratio = ours["median_seconds_to_first_fix"] / theirs if theirs else math.nan
        out.append((f"median seconds to first fix <= 1/3 of {METHOD_NAMES[other]}", f"ratio {_fmt(ratio, 2)}",
                    ratio <= 1 / 3))
    out.append(("median time to first fix <= 1.2x the floor", f"{_fmt(ours['median_fix_over_floor'], 2)}x",
                ours["median_fix_over_floor"] <= 1.2))
    return out


def plot(results: list[dict], path: Path) -> Path:
    """Bars of seconds to the first fix per case and method (hatched at the total time where never fixed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in METHOD_NAMES if any(m in r["methods"] for r in results)]
    fig, ax = plt.subplots(figsize=(max(8, 0.8 * len(results)), 4.5))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        xs, heights, hatches = [], [], []
        for j, r in enumerate(results):
            m = r["methods"].get(method)
            if m is None:
                continue
            fixed_at = m["seconds_to_first_fix"]
            xs.append(j + i * width)
            heights.append(fixed_at if fixed_at is not None else m["total_seconds"])
            hatches.append(fixed_at is None)
        bars = ax.bar(xs, heights, width, label=METHOD_NAMES[method])
        for bar, hatch in zip(bars, hatches):
            if hatch:
                bar.set_hatch("//")
                bar.set_alpha(0.45)
    ax.set_xticks([j + width * (len(methods) - 1) / 2 for j in range(len(results))])
    ax.set_xticklabels([r["case"] for r in results], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("seconds to first fix (hatched: never fixed, total time)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Time to the first fix, per case and method")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(results: list[dict], path: Path = HERE / "RESULTS.md", plot_path: Path = RESULTS / "time_to_fix.png") -> Path:
    """Write RESULTS.md (and the plot) from the case results."""
    if not results:
        raise SystemExit("no results in benchmarks/results/: run python -m benchmarks.run first")
    s = summarise(results)
    run = results[0].get("run", {})
    commands = sorted({r.get("run", {}).get("command", "python -m benchmarks.run") for r in results})
    starts = sorted({r.get("run", {}).get("started", "?") for r in results})
    v = run.get("versions", {})
    methods = list(s["methods"])
    lines = ["# Benchmark results", ""]
    lines += [
        "Produced by " + ", ".join(f"`{c}`" for c in commands) + " then `python -m benchmarks.report`"
        + (f" ({len(commands)} parts of one run, started {', '.join(starts)})" if len(commands) > 1
           else f", started {run.get('started', '?')}") + ".",
        f"Machine: {v.get('machine', '?')}, GPU: {_fmt(v.get('gpu'))}. Python {v.get('python')}, TensorFlow "
        f"{v.get('tensorflow')}, Keras {v.get('keras')}, Keras Tuner {v.get('keras_tuner')}, Optuna {v.get('optuna')}, "
        f"scikit-learn {v.get('scikit_learn')}.",
        f"Budget: {results[0]['trials_budget']} trials per method and case, each case's own epochs and seed. "
        "Every verdict below is computed by the runner from the method's saved best model (one definition of "
        "a fix for all: not collapsed and beats the best constant, see the objective in docs/search.md).",
        "",
        "## Summary",
        "",
        "| | " + " | ".join(METHOD_NAMES[m] for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    rows = [
        ("fixable cases fixed", lambda m: f"{m['fixed']}/{s['fixable']} ({_fmt(100 * m['fix_rate'], 0)}%)"),
        ("median seconds to first fix (never = inf)", lambda m: _fmt(m["median_seconds_to_first_fix"])),
        ("median time-to-fix / floor (one training of the fix)", lambda m: _fmt(m["median_fix_over_floor"], 2)),
        ("forecasting cases beating persistence", lambda m: f"{m['beats_persistence']}/{m['persistence_cases']}"),
        ("negative control reported fixed", lambda m: ", ".join(_fmt(x) for x in m["negative_control_fixed"]) or "-"),
        ("median total search seconds (fixable cases)", lambda m: _fmt(m["median_total_seconds"])),
    ]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(s["methods"][m]) for m in methods) + " |")
    ours = s["methods"].get("autofix", {}).get("median_seconds_to_first_fix", math.nan)
    for other in [m for m in methods if m != "autofix"]:
        theirs = s["methods"][other]["median_seconds_to_first_fix"]
        ratio = ours / theirs if theirs and not math.isinf(theirs) and not math.isnan(theirs) else math.nan
        note = ""
        if math.isinf(theirs) and not math.isinf(ours) and not math.isnan(ours):
            note = f" ({METHOD_NAMES[other]} never fixed the median case: the ratio is 0 in the limit)"
        elif math.isinf(ours):
            note = " (autofix-lstm never fixed the median case)"
        lines.append(f"\nMedian seconds to first fix, autofix-lstm / {METHOD_NAMES[other]}: **{_fmt(ratio, 2)}**{note}.")
    lines.append(f"\nDiagnosis time / one full training of the spec as written (median over cases): "
                 f"**{_fmt(s['diagnosis_ratio'], 2)}**.")
    reference = against_reference(results)
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for label, measured, met in targets(s, reference):
        lines.append(f"| {label} | {measured} | {_fmt(met)} |")
    for other in [m for m in methods if m != "autofix"]:
        kept = kept_against(results, other)
        if not kept:
            continue
        share = sum(k["at_least"] for k in kept) / len(kept)
        lines += ["", f"## The kept model against {METHOD_NAMES[other]}'s", "",
                  f"Our kept model's quality (r2 or balanced accuracy of the saved best model, verified by the "
                  f"runner; collapsed counts as none) is at least {METHOD_NAMES[other]}'s (within "
                  f"{KEPT_TOLERANCE}) on **{sum(k['at_least'] for k in kept)}/{len(kept)} cases "
                  f"({_fmt(100 * share, 0)}%)**; target >= 90%: {_fmt(share >= 0.9)}.", "",
                  f"| case | autofix-lstm | {METHOD_NAMES[other]} | at least as good |", "|---|---|---|---|"]
        for k in kept:
            lines.append(f"| {k['case']} | {_fmt(k['ours'], 3)} | {_fmt(k['theirs'], 3)} | {_fmt(k['at_least'])} |")
    if reference:
        lines += ["", "## The kept model against the hand-written reference fix", "",
                  "Each fixable case ships a `reference_fix.yaml` an expert wrote; the run trains it once with the "
                  "case's epochs and seed. Quality is r2 or balanced accuracy of the verified kept model; the seeds "
                  "column is autofix-lstm's own confirmation (the best fix trained again with two more seeds).", "",
                  "| case | autofix-lstm | reference fix | at least as good | reference beats persistence "
                  "| ours beats persistence | seeds held |", "|---|---|---|---|---|---|---|"]
        for row in reference:
            lines.append(f"| {row['case']} | {_fmt(row['ours'], 3)} | {_fmt(row['reference'], 3)} "
                         f"| {_fmt(row['at_least'])} | {_fmt(row['persistence_due'])} "
                         f"| {_fmt(row['beats_persistence'])} | {s['confirmed_seeds'].get(row['case']) or '-'} |")
    held = {m: [r["methods"][m].get("confirmed_seeds") for r in results if m in r["methods"]
                and r["methods"][m]["fixed"] and r["meta"].get("expect_fixable")] for m in methods}
    lines += ["", "Fixes that held on 3/3 seeds (autofix-lstm: its own confirmation; the peers: the runner "
              "trains their best with the same two extra seeds): "
              + "; ".join(f"{METHOD_NAMES[m]} {sum(c == '3/3' for c in held[m])}/{len(held[m])}" for m in methods)
              + "."]
    anytime_path = plot_path.with_name("anytime.png")
    budget = max(r["trials_budget"] for r in results)
    curves = {m: anytime(results, m, budget) for m in methods}
    plot_anytime(curves, anytime_path)
    rel = anytime_path.relative_to(path.parent) if anytime_path.is_relative_to(path.parent) else anytime_path
    lines += ["", "## Anytime: best objective after k trials", "",
              f"![anytime]({rel})", "",
              "Median over the cases of the best objective (autofix-lstm's tiered score, computed by the runner "
              "from each trial's measured metrics; lower is better; below 1 is a fix, 2 and above collapsed) after k trials.",
              "", "| k | " + " | ".join(METHOD_NAMES[m] for m in methods) + " |", "|---|" + "---|" * len(methods)]
    for k in sorted({1, 2, 3, 4, 6, 8, budget}):
        if k <= budget:
            lines.append(f"| {k} | " + " | ".join(_fmt(curves[m][k - 1], 3) for m in methods) + " |")
    f = search_figures(results)
    if f["cases"]:
        lines += ["", "## Where autofix-lstm's trials went", "",
                  f"Over {f['cases']} cases and {f['trials']} trials: pruning stopped {f['trials_pruned']} trials "
                  f"early and saved {f['epochs_saved']} epochs; the safety net re-ran {f['reruns']} pruned trials in "
                  f"full (searches with no fix) and {f['fixes_found_by_reruns']} of them were fixes pruning would have "
                  f"lost. Refinement ran {f['refinement_trials']} trials near a fix, {f['refinement_fixes']} of them "
                  f"fixes; the kept model came from refinement on {f['best_from_refinement']} cases."]
    for ablation in sorted(RESULTS.glob("ablation_*.md")):
        lines += ["", ablation.read_text().rstrip()]
    lines += ["", "## Healthy control", ""]
    for h in s["healthy"]:
        lines.append(f"- {h['case']}: as written {_key_metric(h['baseline'])}; after autofix-lstm {_key_metric(h['best'])}.")
    lines += ["", "## Per case", "", f"![time to first fix]({plot_path.relative_to(path.parent) if plot_path.is_relative_to(path.parent) else plot_path})", ""]
    lines.append("| case | category | real data | baseline | method | fixed | best | beats persistence | "
                 "trials to fix | s to fix | total s | floor s |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        meta = r["meta"]
        for method in methods:
            m = r["methods"].get(method)
            if m is None:
                continue
            lines.append(
                f"| {r['case']} | {meta.get('category', '')} | {_fmt(bool(meta.get('real_data')))} | "
                f"{_key_metric(r.get('baseline'))} | {METHOD_NAMES[method]} | {_fmt(m['fixed'])} | "
                f"{_key_metric(m['best_metrics'])} | {_fmt(m['beats_persistence'])} | {_fmt(m['trials_to_first_fix'])} | "
                f"{_fmt(m['seconds_to_first_fix'])} | {_fmt(m['total_seconds'])} | {_fmt(m['floor_seconds'])} |"
            )
    notes = HERE / "RESULTS_NOTES.md"  # hand-written reading of the numbers, kept beside the generator
    if notes.is_file() and path == HERE / "RESULTS.md":
        lines += ["", notes.read_text().rstrip()]
    plot(results, plot_path)
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write(load()))
    sys.exit(0)
