"""Presentation only: figures, the HTML report and its verdict, and live progress.

Number formats do not live here: the report, the verdict and the progress lines write metrics through
``autofix_lstm.format``, the layer below that the CLI's tables and the library's messages share, so a
value reads the same everywhere (durations in seconds and a figure's labels keep their own compact formats).

Nothing below this package imports it at module level; the library hands it result objects and run
folders (``SearchResult.plot`` and ``_repr_html_`` import it when called, the one way in from below).
"""
