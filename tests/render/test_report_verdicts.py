"""The report's headline and table say what the spec as written did: working specs are not "not fixed"."""

from __future__ import annotations

import html
import json

import pytest
from fake_outputs import fake_result, write_fake_outputs

from autofix_lstm.render.report import report_html, search_result_html
from autofix_lstm.run_dir import RunDir


def _with(folder, **keys):
    path = RunDir(folder).summary
    summary = json.loads(path.read_text())
    summary.update(keys)
    path.write_text(json.dumps(summary))
    return folder


@pytest.mark.slow
def test_a_working_spec_gets_its_own_banner_and_the_state_row_names_a_divergence(tmp_path):
    folder = write_fake_outputs(tmp_path, fixed=False)
    summary = json.loads(RunDir(folder).summary.read_text())
    diverged = {**summary["baseline"], "loss_diverged": True, "std_ratio": 52.0, "collapsed": False}
    verdict = "The spec as written was not collapsed, and beat a constant predictor (r2 0.81); ..."
    _with(folder, verdict=verdict, fixed=False, best_state="working", baseline_state="diverged", baseline=diverged,
          confirmed_seeds="3/3")
    page = html.unescape(report_html(folder))
    assert 'class="verdict working"' in page and verdict in page
    row = page[page.index("state (working, live, collapsed or diverged)"):]
    row = row[: row.index("</tr>")]
    assert '<td class="state-diverged">diverged</td><td class="state-working">working</td>' in row
    assert "held on 3/3 seeds" in page


def test_the_notebook_view_uses_the_same_banner(tmp_path):
    folder = _with(write_fake_outputs(tmp_path, fixed=False), best_state="working", baseline_state="working")
    assert 'class="verdict working"' in search_result_html(fake_result(folder))
    broken = _with(write_fake_outputs(tmp_path / "b", fixed=False), best_state="collapsed")
    assert 'class="verdict not-fixed"' in search_result_html(fake_result(broken))
