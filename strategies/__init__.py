"""The built-in remedy strategies, one YAML file each: their one source.

This folder stays at the top of the repository. Wheels carry copies of these files as
``autofix_lstm/remedies/builtin/`` (setup.py's build step; MANIFEST.in puts them in sdists); an
editable install or a source checkout reads this folder. Read them with
``autofix_lstm.resources.builtin_strategy_texts()``.
"""
