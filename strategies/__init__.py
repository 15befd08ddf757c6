"""The built-in remedy strategies, one YAML file each.

This folder stays at the top of the repository; ``autofix_lstm/strategies`` is a symlink to it,
so the package ships these files as ``autofix_lstm.strategies`` (real copies in wheels and
sdists). Read them with ``autofix_lstm.resources.builtin_strategy_texts()``.
"""
