"""The report leads with what to change, in plain words; evidence folds; numbers read rounded (issue 25, point 13).

Every page here is built from a hand-written output folder (``fake_outputs``) with the minimal fix's
blocks added to summary.json, the way a search writes them.
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_outputs import write_fake_outputs

from autofix_lstm.render.report import report_html, write_report
from autofix_lstm.run_dir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import screenshot_report  # noqa: E402

BROWSER = screenshot_report.find_browser()
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium/chrome on PATH (Debian: apt-get install chromium)")

NECESSARY = [
    {"change": "preprocessing.target: none -> standard", "field": "preprocessing.target", "from": "none",
     "to": "standard", "description": "scale the target (standard)", "objective_with": 0.1123456789,
     "objective_without": 2.987654321, "fix_without": False},
    {"change": "model.layers[1].activation: sigmoid -> linear", "field": "activations.head", "from": "sigmoid",
     "to": "task", "description": "make the head linear with a matching loss", "objective_with": 0.1123456789,
     "objective_without": 0.41234567, "fix_without": True},
]
INCIDENTAL = [
    {"change": "model.optimizer.clipnorm: null -> 1", "field": "model.optimizer.clipnorm", "from": None, "to": 1.0,
     "description": "clip the gradients (clipnorm 1)", "objective_with": 0.1123456789,
     "objective_without": 0.1134567, "fix_without": True},
]
VERDICT = ("The fix: scale the target (standard) and make the head linear with a matching loss; "
           "the other change did not matter.")
MINIMAL_SPEC = ("# The best configuration with only the changes the fix needed (autofix-lstm's minimal fix).\n"
                "data: {path: ../data.csv, target: y, window: 8}\npreprocessing: {inputs: none, target: standard}\n")
TURNED_OFF = "turned off (search.minimize: false, --no-minimize or minimize=False), or the search was interrupted"


def _update(folder: Path, **keys) -> Path:
    path = RunDir(folder).summary
    path.write_text(json.dumps({**json.loads(path.read_text()), **keys}))
    return folder


def _with_minimal(folder: Path, *, spec_file: bool = True) -> Path:
    write_fake_outputs(folder)
    if spec_file:
        RunDir(folder).minimal_spec.write_text(MINIMAL_SPEC)
    return _update(folder, necessary_changes=NECESSARY, incidental_changes=INCIDENTAL,
                   minimal_fix={"ran": True, "reason": None, "complete": True, "verdict": VERDICT, "changes_full": 3,
                                "changes_minimal": 2, "tolerance": 0.1, "trainings": 3, "seconds": 4.2123456})


def _skipped(reason: str) -> dict:
    return {"necessary_changes": None, "incidental_changes": None,
            "minimal_fix": {"ran": False, "reason": reason, "complete": False}}


class _Page(HTMLParser):
    """The page's sections (id -> visible text), its text outside ``<pre>``, and what sits inside ``<details>``."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, str] = {}
        self.order: list[str] = []  # section ids, and "verdict", in page order
        self.text: list[str] = []  # the page's text, without <pre> (spec files, shown verbatim), <style>, <title>
        self.folded: list[str] = []  # "ul.evidence", "table.trials", "pre" for each such element inside <details>
        self.unfolded: list[str] = []  # the same, outside <details>
        self._section: str | None = None
        self._details = 0
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id")
            self.sections[self._section] = ""
            self.order.append(self._section)
        if attrs.get("id") == "verdict":
            self.order.append("verdict")
        if tag == "details":
            self._details += 1
        if tag in ("pre", "style", "title"):
            self._skip += 1
        name = f"{tag}.{attrs.get('class')}" if attrs.get("class") else tag
        if name in ("ul.evidence", "table.trials", "pre"):
            (self.folded if self._details else self.unfolded).append(name)

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        elif tag == "details":
            self._details -= 1
        elif tag in ("pre", "style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if self._section is not None:
            self.sections[self._section] += data
        if not self._skip:
            self.text.append(data)


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_the_page_leads_with_the_minimal_fix_in_plain_words(tmp_path):
    page = _page(report_html(_with_minimal(tmp_path)))
    assert page.order[:3] == ["verdict", "what-to-change", "before-after"]
    lead = _squash(page.sections["what-to-change"])
    assert VERDICT in lead
    assert "scale the target (standard): preprocessing.target: none -> standard" in lead
    assert "make the head linear with a matching loss: model.layers[1].activation: sigmoid -> linear" in lead
    assert "did not matter (left out of minimal_spec.yaml): clip the gradients (clipnorm 1)." in lead
    assert _squash(MINIMAL_SPEC) in lead  # minimal_spec.yaml, as the file holds it
    assert "autofix-lstm train minimal_spec.yaml" in lead


def test_each_needed_change_says_what_leaving_it_out_costs_rounded(tmp_path):
    lead = _squash(_page(report_html(_with_minimal(tmp_path))).sections["what-to-change"])
    assert "without it there is no fix (objective 2.99 instead of 0.112)" in lead
    assert "without it the model is worse (more than 10%): objective 0.412 instead of 0.112" in lead


def test_with_the_minimal_spec_leading_the_best_spec_folds(tmp_path):
    page = _page(report_html(_with_minimal(tmp_path)))
    assert page.unfolded.count("pre") == 1 and page.folded.count("pre") == 1  # minimal visible, best folded
    plain = _page(report_html(write_fake_outputs(tmp_path / "plain")))
    assert plain.unfolded.count("pre") == 1 and "pre" not in plain.folded  # no minimal fix: the best spec shows


def test_raw_evidence_and_the_long_table_fold_under_details(tmp_path):
    page = _page(report_html(_with_minimal(tmp_path)))
    assert page.folded.count("ul.evidence") == 2 and "ul.evidence" not in page.unfolded
    assert page.folded.count("table.trials") == 1 and "table.trials" not in page.unfolded


def _long_numbers(folder: Path) -> Path:
    """Put numbers with many digits wherever the search writes raw floats."""
    run = RunDir(folder)
    summary = json.loads(run.summary.read_text())
    summary["best"].update(r2=0.897612345678, mse=28412.3456789, mae=143.333333333)
    summary.update(elapsed_seconds=21.5123456789, seconds_to_first_fix=3.2123456789, objective=0.1123456789,
                   signal_probe={"model": "ridge", "metric": "r2", "value": 0.4123456789, "constant": 0.0123456789,
                                 "beats_constant": True, "seconds": 0.4123456789})
    run.summary.write_text(json.dumps(summary))
    diagnosis = json.loads(run.diagnosis.read_text())
    diagnosis["findings"][0]["evidence"].update(target_std=812.0349123456, ratio=0.000123456789)
    run.diagnosis.write_text(json.dumps(diagnosis))
    trials = run.trials_csv.read_text().replace("0.7", "0.7123456789").replace(",0.3,", ",0.30000000004,")
    run.trials_csv.write_text(trials)
    return folder


def test_numbers_on_the_page_read_rounded(tmp_path):
    page = _page(report_html(_long_numbers(_with_minimal(tmp_path))))
    text = " ".join(page.text)
    decimals = re.findall(r"\d+\.\d+(?:e[-+]?\d+)?", text)
    assert decimals  # the check below looks at something
    significant = {d: len(re.sub(r"e.*", "", d).replace(".", "").lstrip("0")) for d in decimals}
    assert not {d: n for d, n in significant.items() if n > 3}, "numbers written with more than 3 digits"
    for rounded in ("0.112", "0.898", "28,412", "812", "0.000123", "0.712"):
        assert rounded in text
    assert "e+04" not in text  # a large mse reads as 28,412, not in scientific notation


@pytest.mark.parametrize(("case", "keys", "headline"), [
    ("no fix", {**_skipped("no fix to minimize"), "fixed": False, "best_state": "collapsed", "beats_constant": False},
     "No fix to apply: the search found no configuration that works"),
    ("minimize off", _skipped(TURNED_OFF), "The best configuration changes 3 settings of your spec; all of them are "
                                           "in best_spec.yaml."),
    ("interrupted", {**_skipped("the search was interrupted before it"), "interrupted": True},
     "The best configuration changes 3 settings"),
    ("spec as written is best", {**_skipped("the spec as written is the best configuration: nothing changed"),
                                 "best_trial": "baseline", "changes": []},
     "Nothing to change: your spec as written is the best configuration found."),
    ("older summary", {}, "The best configuration changes 3 settings"),
])
def test_without_a_minimal_fix_the_lead_says_why(tmp_path, case, keys, headline):
    folder = _update(write_fake_outputs(tmp_path), **keys)
    text = report_html(folder)
    page = _page(text)
    lead = _squash(page.sections["what-to-change"])
    assert page.order[:2] == ["verdict", "what-to-change"]
    assert headline in lead
    assert 'id="minimal-fix"' not in text and "Some outputs are missing" not in text
    if case in ("minimize off", "interrupted", "older summary"):
        assert "preprocessing.target: none -> standard" in lead  # the best configuration's changes, as they are
        assert "Which of these changes the fix needs was not worked out" in lead
    if case == "minimize off":
        assert "turned off (search.minimize: false" in lead
    if case == "interrupted":
        assert lead.count("The search was interrupted: this is the best it found before it stopped.") == 1
    if case == "older summary":
        assert "(this search has no minimal fix)" in lead


def test_a_missing_minimal_spec_is_named_where_it_would_be(tmp_path):
    text = report_html(_with_minimal(tmp_path, spec_file=False))
    lead = _squash(_page(text).sections["what-to-change"])
    assert VERDICT in lead and "minimal_spec.yaml is missing from the folder." in lead
    assert "Some outputs are missing" in text and "minimal_spec.yaml is missing (the minimal fix ran" in text


def _cannot_train(folder: Path) -> Path:
    """The spec as written as a search records one Keras refused: no metrics, objective 4, the reason."""
    write_fake_outputs(folder)
    run = RunDir(folder)
    run.baseline.write_text(json.dumps({
        "trial_id": "baseline", "status": "failed", "score": 4.0, "state": "cannot_train", "beats_constant": False,
        "message": "cannot train: the loss sparse_categorical_crossentropy needs class labels, got floats",
        "val_targets": json.loads(run.baseline.read_text())["val_targets"],
    }))
    return _update(folder, baseline=None, baseline_state="cannot_train", baseline_objective=4.0)


def test_a_spec_keras_could_not_train_is_said_so_and_every_section_still_draws(tmp_path):
    text = report_html(_cannot_train(tmp_path))
    page = _page(text)
    lead = _squash(page.sections["what-to-change"])
    assert ("Your spec as written could not be trained at all (the loss sparse_categorical_crossentropy needs class "
            "labels, got floats)") in lead
    assert "could not be drawn" not in text and "Some outputs are missing" not in text
    table = page.sections["before-after"].replace(" ", "")
    assert "r2-0.898" in table  # no r2 for the spec as written (a dash), the best found's beside it
    assert text.count('alt="Optimisation history') == 1


def test_the_lead_escapes_what_it_quotes(tmp_path):
    script, escaped = "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"
    folder = _with_minimal(tmp_path)
    poisoned = [{**NECESSARY[0], "description": f"scale {script}", "change": f"data.x: a -> {script}"}]
    _update(folder, necessary_changes=poisoned, incidental_changes=[{**INCIDENTAL[0], "description": script}])
    RunDir(folder).minimal_spec.write_text(f"# {script}\n")
    text = report_html(folder)
    assert script not in text
    assert f"scale {escaped}: <code>data.x: a -&gt; {escaped}</code>" in text
    assert f"# {escaped}\n</code></pre>" in text


@needs_browser
def test_what_to_change_is_on_the_first_screen_and_the_evidence_is_folded_in_chromium(tmp_path):
    seen = screenshot_report.probe_page(write_report(_with_minimal(tmp_path / "out")), browser=BROWSER,
                                        width=1200, height=900)
    headings = [h["text"] for h in seen["headings"]]
    assert headings[:2] == ["What to change", "Before and after"]
    assert 0 < seen["headings"][0]["top"] < 900
    assert seen["evidenceShown"] == 0
