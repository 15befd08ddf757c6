"""Each benchmark case's kept quality from the last full run, and every case that got worse since.

A change to the search is judged case by case: a case whose kept model got worse is a regression even
when the median improves (one went from r2 0.606 to 0.157 between two versions and nothing caught it).
``benchmarks/kept_quality.json`` holds, per case, the quality the search kept (r2 for a regression,
balanced accuracy for a classifier) with the run it came from; ``benchmarks.run`` compares each case it
runs against it and prints every case that lost more than ``WORSE_BY`` (and writes them to
``<results>/worse_since_last_run.json``).

    python -m benchmarks.kept_quality                      # rebuild the file from benchmarks/results/*.json
    python -m benchmarks.kept_quality results/issue24      # ... from another folder's results (merged in)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from autofix_lstm.scoring.metrics import Metrics

HERE = Path(__file__).resolve().parent
KEPT = HERE / "kept_quality.json"
WORSE_BY = 0.02  # a kept quality lower by more than this is reported


def kept(result: dict[str, Any], method: str = "autofix") -> dict[str, Any] | None:
    """``{"metric", "quality", "run"}`` of one case's result file for ``method``; None when it kept nothing."""
    best = (result.get("methods", {}).get(method) or {}).get("best_metrics")
    if not best:
        return None
    metrics = Metrics.from_dict(best)
    metric, value = metrics.quality_label, metrics.quality
    if value is None:
        return None
    run = result.get("run") or {}
    return {"metric": metric, "quality": float(value), "trials_budget": result.get("trials_budget"),
            "epochs": result.get("epochs"), "run": run.get("command"), "started": run.get("started")}


def load(path: Path = KEPT) -> dict[str, dict[str, Any]]:
    """The stored kept qualities by case (empty when there is no file)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def worse(case: str, result: dict[str, Any], stored: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The regression of ``case`` against ``stored``: ``{"case", "metric", "before", "now", "change", "since"}``
    when its kept quality dropped by more than ``WORSE_BY``; None otherwise, or with nothing to compare (no
    stored run, or one under another trial budget or epochs: a quick run is not held to a full one)."""
    now, before = kept(result), stored.get(case)
    if now is None or before is None or now["metric"] != before["metric"]:
        return None
    if (now["trials_budget"], now["epochs"]) != (before.get("trials_budget"), before.get("epochs")):
        return None
    change = now["quality"] - before["quality"]
    if change >= -WORSE_BY:
        return None
    return {"case": case, "metric": now["metric"], "before": before["quality"], "now": now["quality"],
            "change": change, "since": before.get("started") or before.get("run")}


def rebuild(folders: list[Path], path: Path = KEPT) -> dict[str, dict[str, Any]]:
    """Merge the kept quality of every case result (``<case>.json`` with ``methods``) in ``folders`` into ``path``."""
    stored = load(path)
    for folder in folders:
        for file in sorted(folder.glob("*.json")):
            try:
                result = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(result, dict) or "methods" not in result or "case" not in result:
                continue  # another benchmark's output
            entry = kept(result)
            if entry is not None:
                stored[result["case"]] = entry
    path.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
    return stored


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: rebuild ``kept_quality.json`` from result folders."""
    folders = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or [HERE / "results"]
    stored = rebuild(folders)
    print(f"{len(stored)} cases in {KEPT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
