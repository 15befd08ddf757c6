"""Which process of a search this is: the chief, or one of Keras Tuner's workers.

Keras Tuner's distributed mode names each process in ``KERASTUNER_TUNER_ID`` ("chief", or a
worker's id such as "tuner0"); a search started without it is the chief.
"""

from __future__ import annotations

import os

CHIEF = "chief"


def worker_name() -> str:
    """This process's name in the search: ``KERASTUNER_TUNER_ID``, or "chief" when it is not set."""
    return os.environ.get("KERASTUNER_TUNER_ID") or CHIEF


__all__ = ["CHIEF", "worker_name"]
