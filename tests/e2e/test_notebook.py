"""examples/quickstart.ipynb runs end to end, so it never rots.

The notebook and the bundled example are copied into ``tmp_path`` and executed there with nbclient
(the kernel is ``python3``, which jupyter_client starts with this interpreter: a first, injected
cell checks that it really is this environment's Python). About a minute on two CPU cores.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e '.[test]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the notebook needs a Python kernel: pip install ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _text(outputs) -> str:
    parts = []
    for output in outputs:
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts.append(data.get("text/html", "") + data.get("text/plain", ""))
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path):
    for name in ("quickstart.ipynb", "energy.yaml", "energy.csv"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    notebook = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    assert _text(notebook.cells[0].outputs).strip() == sys.prefix, "the kernel is not this environment's Python"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors, _text(errors)
    # No warnings (e.g. rich asking for ipywidgets) leak into the cells.
    assert "Warning" not in "".join(_text(cell.outputs) for cell in code if "sys.prefix" not in cell.source)
    result_cell = next(cell for cell in code if "search(" in cell.source)
    shown = _text(result_cell.outputs)
    assert 'id="verdict"' in shown and "data:image/png;base64," in shown
    report_cell = next(cell for cell in code if "show_report(" in cell.source)
    assert "<iframe srcdoc=" in _text(report_cell.outputs)
    # The live-model path: the user's own compiled keras.Model, diagnosed and searched on arrays.
    live_cell = next(cell for cell in code if "diagnose(model" in cell.source)
    assert "output_activation_range" in _text(live_cell.outputs)  # a sigmoid head on a target in the hundreds
    live_search = next(cell for cell in code if "search(model" in cell.source)
    assert (tmp_path / "runs" / "live" / "summary.json").is_file(), _text(live_search.outputs)
    # What Keras Tuner / Optuna users reach for next: the best trials, the finished search read back, the
    # notebook run reproduced by the CLI from best_spec.yaml (the arrays saved beside it).
    summary_cell = next(cell for cell in code if "live_result.summary(3)" in cell.source)
    shown = _text(summary_cell.outputs)  # a wide table: pandas elides its middle columns, the ids come first
    assert "<th>trial_id</th>" in shown and "rows x" in shown, shown[-600:]
    loaded_cell = next(cell for cell in code if "load_result(" in cell.source)
    assert _text(loaded_cell.outputs).strip() == "True True", _text(loaded_cell.outputs)
    cli_cell = next(cell for cell in code if "best_spec.yaml" in cell.source and "subprocess" in cell.source)
    shown = _text(cli_cell.outputs)
    assert "exit 0" in shown and ("working" in shown or "live" in shown), shown
    assert "callbacks=[keras.callbacks.TerminateOnNaN()]" in live_search.source
    # The callback on the user's own fit: it warned, and named the head among the causes.
    monitor_cell = next(cell for cell in code if "CollapseMonitor(" in cell.source)
    shown = _text(monitor_cell.outputs)
    assert "warned after epoch 2" in shown and "output_activation_range" in shown, shown
    assert (tmp_path / "runs" / "quickstart" / "report.html").is_file()
    assert (tmp_path / "runs" / "quickstart" / "diagnosis.json").is_file()
