"""Take a full-page PNG screenshot of a report.html with headless Chromium (for maintainers).

    python examples/screenshot_report.py examples/runs/energy            # -> examples/runs/energy/report.png
    python examples/screenshot_report.py path/to/report.html -o shot.png --width 1000

It first asks Chromium for the page's height (``--dump-dom`` with a small measuring script), then
takes one screenshot that tall, so the whole page is in one image. Needs ``chromium`` (Debian:
``apt-get install chromium``); it runs with no network features and a throwaway profile.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--hide-scrollbars", "--disable-extensions",
)
# Runs in the page after it loaded; writes what it measured into the DOM that --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    var box = img.getBoundingClientRect();
    return {alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
            src: img.src.slice(0, 40), top: box.top, left: box.left, width: box.width, height: box.height};
  });
  var verdict = document.getElementById("verdict"), seen = null;
  if (verdict) {
    var style = getComputedStyle(verdict), box = verdict.getBoundingClientRect();
    seen = {text: verdict.innerText, display: style.display, visibility: style.visibility, opacity: style.opacity,
            top: box.top, width: box.width, height: box.height, viewportHeight: window.innerHeight};
  }
  var cells = Array.prototype.map.call(document.querySelectorAll("table.before-after td"), function (td) {
    var style = getComputedStyle(td);
    return {row: td.parentElement.cells[0].innerText, column: td.cellIndex, text: td.innerText,
            color: style.color, fontWeight: style.fontWeight};
  });
  var headings = Array.prototype.map.call(document.querySelectorAll("h2"), function (h) {
    return {text: h.innerText, top: h.getBoundingClientRect().top};
  });
  // a closed <details> keeps its content laid out but unrendered (content-visibility), so ask for visibility
  var evidence = Array.prototype.filter.call(document.querySelectorAll("ul.evidence"), function (ul) {
    return ul.checkVisibility ? ul.checkVisibility() : ul.getBoundingClientRect().height > 0;
  }).length;
  var out = document.createElement("pre");
  out.id = "autofix-probe";
  out.textContent = JSON.stringify({images: images, verdict: seen, cells: cells, headings: headings,
                                    evidenceShown: evidence, height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""
PROBE_OUTPUT = re.compile(r'<pre id="autofix-probe">(.*?)</pre>', re.S)


def find_browser() -> str | None:
    """The path of an installed Chromium/Chrome, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="autofix-chromium-") as profile:
        command = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def probe_page(report: Path, *, browser: str | None = None, width: int = 1200, height: int = 900,
               timeout: float = 60) -> dict:
    """Load ``report`` in headless Chromium and return what a person would see.

    Returns a dict with ``images`` (alt, complete, naturalWidth, naturalHeight and the box it is drawn in:
    top, left, width, height, for every ``<img>``),
    ``verdict`` (its text, computed display/visibility/opacity and box, or None when absent), ``cells``
    (the before/after table's cells and their computed colour), ``headings`` (each ``<h2>``'s text and
    top, in page order), ``evidenceShown`` (how many findings' evidence lists a reader sees: 0 while
    they are folded) and ``height`` (the page's full height in CSS pixels). The page is loaded from a temporary copy
    with a measuring script appended; the report itself is not changed.

    Raises:
        RuntimeError: no browser, or Chromium did not produce the measurements.
    """
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no chromium/chrome found; install it (Debian: apt-get install chromium)")
    text = Path(report).read_text(encoding="utf-8")
    probed = text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE
    with tempfile.TemporaryDirectory(prefix="autofix-report-") as folder:
        copy = Path(folder) / "report.html"
        copy.write_text(probed, encoding="utf-8")
        done = _run(browser, [f"--window-size={width},{height}", "--virtual-time-budget=10000",
                              "--dump-dom", copy.as_uri()], timeout)
    match = PROBE_OUTPUT.search(done.stdout)
    if match is None:
        raise RuntimeError(f"chromium printed no measurements (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    import html

    return json.loads(html.unescape(match.group(1)))


def screenshot(report: Path, png: Path, *, browser: str | None = None, width: int = 1200, timeout: float = 90) -> Path:
    """Write a full-page PNG screenshot of ``report`` to ``png``; return its path."""
    browser = browser or find_browser()
    if browser is None:
        raise RuntimeError("no chromium/chrome found; install it (Debian: apt-get install chromium)")
    height = int(probe_page(report, browser=browser, width=width, timeout=timeout)["height"]) + 20
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    done = _run(browser, [f"--window-size={width},{height}", f"--screenshot={png}", Path(report).resolve().as_uri()],
                timeout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a report.html, or the output folder holding one")
    parser.add_argument("-o", "--output", type=Path, help="the PNG to write (default: report.png beside the report)")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    args = parser.parse_args(argv)
    report = args.report / "report.html" if args.report.is_dir() else args.report
    if not report.is_file():
        print(f"error: no report at {report} (write one with: autofix-lstm report <output>)", file=sys.stderr)
        return 2
    try:
        png = screenshot(report, args.output or report.with_suffix(".png"), width=args.width)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
