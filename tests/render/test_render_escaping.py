"""Text a user (or their data) controls reaches every HTML view escaped, never as markup.

A spec's field values end up in the change lines, a data file's column names in trials.csv, and a
finding's message and evidence quote the data: each of them is written here as a ``<script>`` and
as an attribute breaker, and the report, the notebook views and the diagnosis table must show them
as text.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from fake_outputs import fake_result, write_fake_outputs

from autofix_lstm.diagnosis.findings import Finding
from autofix_lstm.diagnosis.result import DiagnosisResult
from autofix_lstm.render.report import report_html, search_result_html, show_report, write_report
from autofix_lstm.scoring.metrics import Metrics

SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# Closes a quoted attribute and opens a new one, if written into an attribute unescaped.
BREAKER = '" onmouseover="alert(2)'


class _Tags(HTMLParser):
    """Every start tag and every attribute name the page has."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}


def _tags(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def _assert_inert(text: str) -> None:
    """No script element, no event-handler attribute, and the payload never raw."""
    assert SCRIPT not in text
    page = _tags(text)
    assert "script" not in page.tags
    assert not {name for name in page.attributes if name.startswith("on")}


def _poison(folder: Path) -> Path:
    """Put SCRIPT (and BREAKER where text lands in an attribute) into every user-controlled string."""
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["verdict"] = f"Fixed: trial 3 {SCRIPT}"
    summary["changes"] = [f"data.features: [a] -> [{SCRIPT}]", *summary["changes"]]
    summary["cudnn_compatible"] = False
    summary["cudnn_problems"] = [f"recurrent_activation {SCRIPT}"]
    summary_path.write_text(json.dumps(summary))

    diagnosis_path = folder / "diagnosis.json"
    diagnosis = json.loads(diagnosis_path.read_text())
    first = diagnosis["findings"][0]
    first["message"] = f"The target column {SCRIPT} is unscaled."
    first["evidence"] = {SCRIPT: 1.0, "column": SCRIPT, "nested": {"name": SCRIPT, "values": [SCRIPT, 2.5]}}
    first["strategies"] = [SCRIPT]
    diagnosis["findings"][1]["severity"] = f"warning{BREAKER}"
    diagnosis["findings"][1]["id"] = SCRIPT
    diagnosis["probe"]["brief_training"] = SCRIPT
    diagnosis_path.write_text(json.dumps(diagnosis))

    trials_path = folder / "trials.csv"
    trials = pd.read_csv(trials_path)
    trials[SCRIPT] = [SCRIPT, "a", "b", "c", "d"]
    trials.to_csv(trials_path, index=False)

    spec_path = folder / "best_spec.yaml"
    spec_path.write_text(spec_path.read_text() + f"# {SCRIPT}\n")
    return folder


@pytest.fixture
def poisoned(tmp_path) -> Path:
    return _poison(write_fake_outputs(tmp_path / "out"))


def test_report_escapes_user_text(poisoned):
    text = write_report(poisoned).read_text(encoding="utf-8")
    _assert_inert(text)
    assert 'onmouseover="alert(2)' not in text
    escaped = {
        "verdict": f"Fixed: trial 3 {SCRIPT_ESCAPED}",
        "change line": f"<li>data.features: [a] -&gt; [{SCRIPT_ESCAPED}]</li>",
        "finding message": f"The target column {SCRIPT_ESCAPED} is unscaled.",
        "evidence key": f"<li>{SCRIPT_ESCAPED}: 1</li>",
        "evidence value": f"<li>column: {SCRIPT_ESCAPED}</li>",
        "nested evidence": f"<li>nested: {{name: {SCRIPT_ESCAPED}, values: [{SCRIPT_ESCAPED}, 2.5]}}</li>",
        "remedies": f"Remedies tried first: {SCRIPT_ESCAPED}",
        "finding id": f"<strong>{SCRIPT_ESCAPED}</strong>",
        "severity in a class": 'class="sev warning&#34; onmouseover=&#34;alert(2)"',
        "trials.csv column": f"<th>{SCRIPT_ESCAPED}</th>",
        "trials.csv cell": f"<td>{SCRIPT_ESCAPED}</td>",
        "brief training": f"Measured during the brief training: {SCRIPT_ESCAPED}.",
        "cuDNN problem": f"recurrent_activation {SCRIPT_ESCAPED}",
        "best_spec.yaml": f"# {SCRIPT_ESCAPED}\n</code></pre>",
    }
    missing = [where for where, snippet in escaped.items() if snippet not in text]
    assert not missing, f"not shown escaped: {missing}"


def test_report_html_and_the_written_file_agree_on_escaping(poisoned):
    _assert_inert(report_html(poisoned))


def test_notebook_view_of_a_search_escapes_user_text(poisoned):
    text = search_result_html(fake_result(poisoned, output_dir=poisoned / SCRIPT.replace("/", "_")))
    _assert_inert(text)
    assert f"Fixed: trial 3 {SCRIPT_ESCAPED}</div>" in text
    assert f"<li>data.features: [a] -&gt; [{SCRIPT_ESCAPED}]</li>" in text
    assert "&lt;script&gt;alert(1)&lt;_script&gt;</code>" in text


def test_inline_report_puts_the_page_in_one_attribute(poisoned):
    write_report(poisoned)
    text = show_report(poisoned)._repr_html_()
    page = _tags(text)
    assert page.tags == ["iframe"]  # the page's own tags are all inside srcdoc, as text
    assert page.attributes == {"srcdoc", "style"}
    assert SCRIPT not in text


def test_diagnosis_table_escapes_message_and_evidence():
    finding = Finding("unscaled_target", "error", f"column {SCRIPT}", {"column": SCRIPT, SCRIPT: 0.5},
                      strategies=["scaling"])
    result = DiagnosisResult(findings=[finding], metrics=Metrics("regression", collapsed=True), probe=None, spec=None)
    text = result._repr_html_()
    _assert_inert(text)
    assert f"column {SCRIPT_ESCAPED}" in text
    assert f"column: {SCRIPT_ESCAPED}<br>{SCRIPT_ESCAPED}: 0.5" in text
    assert text.count("<tr>") == 2
