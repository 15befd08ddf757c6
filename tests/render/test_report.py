"""report.html: its structure (no browser, no training), and the page as a person sees it in Chromium.

The structure tests build the report from a hand-written output folder (``fake_outputs``). The
browser tests load it in headless Chromium through ``examples/screenshot_report.py`` and check that
every image decoded (``naturalWidth > 0``) and that the verdict is on screen; they skip, saying
why, where no Chromium is installed.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_outputs import write_fake_outputs
from typer.testing import CliRunner

from autofix_lstm.cli import app
from autofix_lstm.render.report import load_outputs, report_html, write_report

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
import screenshot_report  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects what the structure tests look at: images, links, scripts and the verdict's text."""

    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.references: list[str] = []  # every src/href value
        self.tags: list[str] = []
        self.verdict = ""
        self._in_verdict = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.references.append(attrs[name])
        if attrs.get("id") == "verdict":
            self._in_verdict = True

    def handle_endtag(self, tag):
        if tag == "div" and self._in_verdict:
            self._in_verdict = False

    def handle_data(self, data):
        if self._in_verdict:
            self.verdict += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(params=["regression", "binary", "multiclass"])
def fake_folder(request, tmp_path) -> Path:
    return write_fake_outputs(tmp_path / "out", task=request.param)


def test_report_is_self_contained(fake_folder):
    path = write_report(fake_folder)
    text = path.read_text(encoding="utf-8")
    page = _parse(text)
    # predictions, the optimisation history and the trials scatter, gradient norms, learning curves
    assert len(page.images) == 5
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == PNG_MAGIC
        assert image.get("alt")
    assert all(ref.startswith("data:") for ref in page.references)
    assert not re.search(r"https?://", text)
    assert not {"script", "link", "iframe"} & set(page.tags)
    assert "@import" not in text and "url(" not in text


def test_report_shows_verdict_table_findings_and_spec(fake_folder):
    text = report_html(fake_folder)
    page = _parse(text)
    assert page.verdict.startswith("Fixed: trial 3")
    assert 'class="verdict fixed"' in text
    assert "your spec as written" in text and "best found" in text
    assert ("constant predictor" in text) == (load_outputs(fake_folder).summary.best.is_regression)
    assert "preprocessing.target: none -&gt; standard" in text
    assert "unscaled_target" in text and "vanishing_gradients" in text
    # evidence is shown, and user/diagnosis text is escaped
    assert "target_std" in text and "&lt;std 812&gt;" in text
    assert "activation: linear" in text  # best_spec.yaml verbatim
    assert "Some outputs are missing" not in text


def test_regression_table_has_constant_and_persistence(tmp_path):
    text = report_html(write_fake_outputs(tmp_path, task="regression"))
    assert "constant predictor" in text and "persistence (last value)" in text


def test_not_fixed_verdict_is_red(tmp_path):
    text = report_html(write_fake_outputs(tmp_path, fixed=False))
    assert 'class="verdict not-fixed"' in text
    assert _parse(text).verdict.startswith("Not fixed")


@pytest.mark.parametrize("missing", ["diagnosis.json", "baseline.json", "trials.csv", "best_trial", "best_spec.yaml"])
def test_report_survives_a_missing_file(tmp_path, missing):
    folder = write_fake_outputs(tmp_path, leave_out=(missing,))
    text = write_report(folder).read_text(encoding="utf-8")
    page = _parse(text)
    assert page.verdict.startswith("Fixed")
    assert "Some outputs are missing" in text
    assert all(image["src"].startswith("data:image/png;base64,") for image in page.images)
    if missing == "diagnosis.json":
        assert "diagnosis.json is missing" in text
        assert "unscaled_target" in text  # the findings still come from summary.json
    if missing == "best_trial":
        assert "record of the best trial, 3" in text


def test_report_of_an_empty_folder_says_so(tmp_path):
    text = write_report(tmp_path).read_text(encoding="utf-8")
    assert "No search summary" in _parse(text).verdict
    assert 'class="verdict unknown"' in text
    for name in ("summary.json", "trials.csv", "baseline.json", "diagnosis.json"):
        assert f"{name} is missing" in text


def test_report_of_a_corrupt_summary_names_the_file(tmp_path):
    folder = write_fake_outputs(tmp_path)
    (folder / "summary.json").write_text("{not json")
    text = report_html(folder)
    assert "summary.json could not be read" in text


def test_write_report_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="autofix-lstm search"):
        write_report(tmp_path / "nowhere")


def test_cli_report(tmp_path):
    folder = write_fake_outputs(tmp_path / "out")
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").is_file()
    assert "report.html" in result.output


def test_cli_report_from_the_spec(tmp_path):
    write_fake_outputs(tmp_path / "runs" / "x")
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {path: d.csv, target: y, window: 4}\nmodel: {layers: [{type: lstm, units: 2}, "
                    "{type: dense, units: 1}]}\noutput: runs/x\n")
    result = CliRunner().invoke(app, ["report", str(spec)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "x" / "report.html").is_file()


def test_cli_report_missing_folder(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no output folder" in result.output


# ---------------------------------------------------------------- in a real browser

BROWSER = screenshot_report.find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium/chrome on PATH: install it (Debian: apt-get install chromium chromium-driver) "
    "to render report.html the way a person sees it",
)


@needs_browser
@pytest.mark.parametrize("task", ["regression", "binary"])
def test_report_renders_in_chromium(tmp_path, task):
    report = write_report(write_fake_outputs(tmp_path / "out", task=task))
    seen = screenshot_report.probe_page(report, browser=BROWSER)
    assert len(seen["images"]) == 5
    for image in seen["images"]:
        assert image["complete"] and image["naturalWidth"] > 0 and image["naturalHeight"] > 0, image
    verdict = seen["verdict"]
    assert verdict is not None, "no #verdict element"
    assert verdict["text"].startswith("Fixed")
    assert verdict["display"] != "none" and verdict["visibility"] == "visible" and float(verdict["opacity"]) > 0
    assert verdict["width"] > 0 and verdict["height"] > 0
    assert 0 <= verdict["top"] < verdict["viewportHeight"], "the verdict is not on the first screen"


@needs_browser
def test_partial_report_renders_in_chromium(tmp_path):
    report = write_report(write_fake_outputs(tmp_path / "out", leave_out=("diagnosis.json", "best_trial")))
    seen = screenshot_report.probe_page(report, browser=BROWSER)
    assert seen["images"] and all(image["naturalWidth"] > 0 for image in seen["images"])
    assert seen["verdict"]["text"].startswith("Fixed")


@needs_browser
def test_screenshot_script_writes_a_png(tmp_path):
    folder = write_fake_outputs(tmp_path / "out")
    write_report(folder)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "screenshot_report.py"), str(folder)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    png = folder / "report.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 10_000


@needs_browser
def test_each_state_cell_has_its_own_colour_in_chromium(tmp_path):
    # Issue 25 (3): the whole state row was red when any cell was collapsed, so the best found's
    # "working" read red under a green "Fixed" banner.
    folder = write_fake_outputs(tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text())
    assert (summary["baseline_state"], summary["best_state"]) == ("collapsed", "working")
    seen = screenshot_report.probe_page(write_report(folder), browser=BROWSER)
    state = {c["text"]: c for c in seen["cells"] if c["row"].startswith("state")}
    assert state["collapsed"]["color"] == "rgb(198, 40, 40)"  # #c62828
    assert state["working"]["color"] == "rgb(46, 125, 50)"  # #2e7d32
    others = [c for c in seen["cells"] if not c["row"].startswith("state") and c["column"] > 0]
    assert others and not any(c["color"] in ("rgb(198, 40, 40)", "rgb(46, 125, 50)") for c in others)
