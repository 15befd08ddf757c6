"""``format.evidence_lines``: the one way a finding's evidence is written (CLI, notebook table, report)."""

from __future__ import annotations

import math

from autofix_lstm.format import evidence_lines


def test_numbers_booleans_and_missing_values_read_as_in_tables():
    lines = evidence_lines({"std": 812.0349, "ratio": 1.23456e-4, "units": 8, "collapsed": True, "loss": None,
                            "nan": math.nan, "activation": "sigmoid"})
    assert lines == ["std: 812", "ratio: 0.000123", "units: 8", "collapsed: yes", "loss: -", "nan: -",
                     "activation: sigmoid"]
    # rounded for reading: 3 significant digits, whole thousands with separators, never an exponent there
    assert evidence_lines({"mse": 18978.43, "r2": 0.93747, "big": -1234567.8}) == ["mse: 18,978", "r2: 0.937",
                                                                                  "big: -1,234,568"]


def test_nested_values_are_compact_and_rounded():
    lines = evidence_lines({"norms": {"lstm_0": 2.00001e-5, "dense_1": [0.123456, None]}})
    assert lines == ["norms: {lstm_0: 2e-05, dense_1: [0.123, -]}"]


def test_long_values_are_cut_to_the_width():
    (line,) = evidence_lines({"values": list(range(100))}, width=20)
    assert line == "values: [0, 1, 2, 3, 4, 5..."
    assert len(line) == len("values: ") + 20


def test_past_the_limit_one_line_says_how_many_are_left_out():
    evidence = {f"k{i}": i for i in range(13)}
    lines = evidence_lines(evidence)
    assert len(lines) == 11 and lines[-1] == "... 3 more"
    assert evidence_lines(evidence, limit=None)[-1] == "k12: 12"
    assert evidence_lines({}) == []
