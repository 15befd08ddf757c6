"""The bundled collapsed example, for a person with only the wheel: ``autofix-lstm demo``.

The package carries one spec and its data (``autofix_lstm/demo_data``, a copy of the repository's
``examples/energy.yaml`` and ``energy.csv``): three years of daily electricity load fed unscaled into
an LSTM, whose output collapses to almost one number. ``copy_example`` puts them into a folder of
the user's; ``run_demo`` does that and searches for the fix, exactly as ``autofix-lstm search
<folder>/energy.yaml`` would. Nothing here imports TensorFlow until the search starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from autofix_lstm.errors import SpecError
from autofix_lstm.resources import demo_texts
from autofix_lstm.run_dir import write_text

if TYPE_CHECKING:
    from autofix_lstm.tuning.result import SearchResult

# Where the demo goes when the user names no folder: under the working directory, as the spec's own runs/ does.
DEFAULT_FOLDER = "autofix-lstm-demo"


def copy_example(folder: str | Path = DEFAULT_FOLDER) -> Path:
    """Copy the bundled example's spec and data into ``folder`` (made if needed); return the spec's path.

    A file already there with the bundled content is left as it is, so running the demo again resumes
    its search; the search's outputs go to ``<folder>/runs/energy`` (the spec's ``output``).

    Raises:
        SpecError: ``folder`` is a file, or holds a file of the example's name with other content (an
            edited spec, say), which the demo never overwrites.
        OSError: the folder cannot be made or written (atomic writes: nothing is left half-written).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"the demo's folder {folder} is a file, not a folder; give --output another folder")
    texts = demo_texts()
    for name, text in texts.items():
        path = folder / name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        if path.exists():
            raise SpecError(f"{path} is not the bundled example's {name} (edited?), and the demo does not overwrite "
                            f"it: run `autofix-lstm search {folder / next(iter(texts))}` to search it as it is, or "
                            "give --output another folder")
    for name, text in texts.items():  # written only once every file is known to be the example's or absent
        path = folder / name
        if not path.is_file():
            write_text(text, path)
    return folder / next(iter(texts))


def run_demo(folder: str | Path = DEFAULT_FOLDER, **search_options: Any) -> SearchResult:
    """Copy the bundled collapsed example into ``folder`` and search for its fix.

    Args:
        folder: where the example's spec and data go; the search writes into ``<folder>/runs/energy``.
        **search_options: ``autofix_lstm.search``'s options (``max_trials``, ``fresh``, ``progress``,
            ``minimize``, ``confirm``, ...).

    Returns:
        The ``SearchResult`` of ``autofix_lstm.search`` on the copied spec.

    Raises:
        SpecError: as ``copy_example``; and what ``autofix_lstm.search`` raises.
    """
    spec = copy_example(folder)
    from autofix_lstm.api import search  # imports TensorFlow

    return search(spec, **search_options)


__all__ = ["DEFAULT_FOLDER", "copy_example", "run_demo"]
