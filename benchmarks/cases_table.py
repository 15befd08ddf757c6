"""One table of the benchmark cases found in several result folders, and each forecast's error per step against
persistence, for cases searched in separate runs (issue 24's new cases were added in four parts).

    python -m benchmarks.cases_table benchmarks/results/issue24 benchmarks/results/issue24b ...

Reads each folder's case results (``benchmarks.report.load``: what ``benchmarks.run --results DIR`` wrote)
and prints Markdown: per case the reference fix's quality and each method's kept quality (r2 or balanced
accuracy of the saved best model, verified by the runner), whether it meets the case's ``good_fix`` and
beats persistence; then, for each case whose metrics carry forecast steps (a vector head, an
encoder-decoder, a roll-out), each method's mse at every step divided by persistence's at that step (below
1: better than repeating the last observed value). Nothing is trained; the folders are the record.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.report import METHOD_NAMES, _fmt, load, quality

METHODS = list(METHOD_NAMES)


def _kept(method: dict | None) -> str:
    if method is None:
        return "-"
    value = quality(method.get("best_metrics"))
    kept = "collapsed" if value is None else _fmt(value, 3)
    good = "good" if method.get("meets_good_fix") else "not good"
    persistence = method.get("beats_persistence")
    tail = "" if persistence is None else (", beats persistence" if persistence else ", not above persistence")
    return f"{kept} ({good}{tail})"


def cases_rows(results: list[dict]) -> list[str]:
    """The Markdown rows (header first) of the per-case table: reference fix, then each method's kept model."""
    head = "| case | folder | metric | reference fix | " + " | ".join(METHOD_NAMES[m] for m in METHODS) + " |"
    rows = [head, "|" + "---|" * (4 + len(METHODS))]
    for r in results:
        metric = "r2" if r["meta"].get("task") == "regression" else "balanced accuracy"
        ref = r.get("reference") or {}
        ref_quality = _fmt(quality(ref.get("metrics")), 3) if ref else "-"
        cells = [_kept(r["methods"].get(m)) for m in METHODS]
        rows.append(f"| {r['case']} | {r['_folder']} | {metric} | {ref_quality} | " + " | ".join(cells) + " |")
    return rows


def step_ratios(metrics: dict | None) -> list[float] | None:
    """Each forecast step's mse over persistence's mse at that step; None without steps or persistence."""
    steps = (metrics or {}).get("per_step")
    if not steps or any(not s.get("persistence_mse") for s in steps):
        return None
    return [float(s["mse"]) / float(s["persistence_mse"]) for s in steps]


def step_rows(results: list[dict]) -> list[str]:
    """Markdown rows of mse / persistence mse per forecast step, one row per case and method with steps."""
    rows = []
    for r in results:
        for m in METHODS:
            method = r["methods"].get(m)
            ratios = step_ratios(method.get("best_metrics") if method else None)
            if ratios is None:
                continue
            shown = ", ".join(f"{x:.2f}" for x in ratios)
            rows.append(f"| {r['case']} | {METHOD_NAMES[m]} | {len(ratios)} | {shown} | {sum(x < 1 for x in ratios)}/{len(ratios)} |")
    head = ["| case | method | steps | mse / persistence mse, step 1 to the last | steps better than persistence |",
            "|---|---|---|---|---|"]
    return head + rows if rows else []


def main(folders: list[str]) -> str:
    """The two tables for the case results in ``folders``, as Markdown."""
    results = []
    for folder in folders:
        for r in load(Path(folder)):
            r["_folder"] = Path(folder).name
            results.append(r)
    lines = cases_rows(results)
    steps = step_rows(results)
    if steps:
        lines += [""] + steps
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
