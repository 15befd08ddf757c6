"""What a command checks before it imports TensorFlow: the spec, the output folder and the data.

Reading YAML, validating it with pydantic and reading a table with pandas take a fraction of a
second; importing TensorFlow takes seconds. The CLI runs ``preflight`` first and imports the
training code only for inputs that passed it, so a bad spec, data file or output folder is refused
at once. (The spec's Keras-backed checks, layer arguments and loss names, import Keras: they run
last, once everything else passed; see ``spec.load_spec``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import Spec, load_spec

if TYPE_CHECKING:
    from autofix_lstm.data.dataset import Dataset


def check_output_folder(spec: Spec) -> None:
    """Fail before anything trains when the spec's output folder cannot be made or written
    (``RunDir.check_writable``).

    Raises:
        SpecError: a file stands where the folder, or a folder above it, should be.
        RunFolderError: the folder, or the nearest existing folder above it, is not writable.
    """
    RunDir(spec.output_dir).check_writable(spec.source)


def preflight(spec: str | Path | dict | Spec, *, save: bool = True) -> tuple[Spec, Dataset]:
    """The spec validated, its output folder checked (when ``save``) and its data read and windowed.

    Everything but the spec's Keras-backed checks runs before TensorFlow is imported, so a bad spec
    field, output folder or data file is refused at once; those checks come last.

    Pass the returned ``Dataset`` as ``data=`` to ``train``, ``diagnose`` or ``search`` so the data
    is not read twice.

    Raises:
        SpecError, DataError: bad input, with the field or file and the fix.
        RunFolderError: the output folder is not writable.
    """
    light = load_spec(spec, keras_checks=False)
    if save:
        check_output_folder(light)
    from autofix_lstm.data.dataset import load_dataset  # pandas: not needed to refuse a bad spec

    dataset = load_dataset(light)
    return load_spec(spec), dataset  # now the checks that import TensorFlow: layers, loss, a saved model


__all__ = ["check_output_folder", "preflight"]
