"""The output folder checked before anything trains, and before TensorFlow is imported.

Importing TensorFlow takes seconds: ``inputs.resolve_inputs`` runs this check (with the spec's
schema and the data) first, so an unusable output folder is refused at once; training and diagnosis
run it again before they write.
"""

from __future__ import annotations

from autofix_lstm.run_dir import RunDir
from autofix_lstm.spec import Spec


def check_output_folder(spec: Spec) -> None:
    """Fail before anything trains when the spec's output folder cannot be made or written
    (``RunDir.check_writable``).

    Raises:
        SpecError: the path holds a NUL byte or cannot be resolved (a symbolic link loop), or a file stands
            where the folder, or a folder above it, should be.
        RunFolderError: no file can be created in the folder, or in the nearest existing folder above it.
    """
    RunDir(spec.output_dir).check_writable(spec.source)


__all__ = ["check_output_folder"]
