"""The remedy catalogue: what the search may change, and the strategy files that group the changes.

``fields`` holds one ``Field`` per searchable spec field (how to read it, write it and say its change
in words); ``strategies`` loads and validates the strategy files (the built-in ones and the user's),
which may only name those fields. The built-in files are package data whose one source is the
top-level ``strategies/`` folder (``autofix_lstm.resources`` reads them; a wheel carries copies in
``autofix_lstm/remedies/builtin/``). Both the diagnosis (a finding's strategies) and the search (its
space) read the catalogue; it imports neither.
"""
