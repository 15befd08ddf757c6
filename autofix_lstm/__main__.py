"""``python -m autofix_lstm`` runs the CLI."""

from autofix_lstm.cli import main

main()
