"""Presentation only: number formats, figures, the HTML report and live progress.

Nothing below this package imports it; the library hands it result objects and run folders.
"""
