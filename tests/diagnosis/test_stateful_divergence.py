"""``carried_state_diverged``: a stateful model whose validation loss explodes while its training loss falls.

The brief training reads the validation windows batch after batch from zero states, each batch's states
carried into the next; with relu cells that carried state can diverge (benchmarks/cases/stateful_shuffled_pump:
validation loss 0.72 -> 2.9e16 in 3 epochs while the training loss fell 0.91 -> 0.11).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from autofix_lstm.diagnosis.stateful_checks import carried_state_diverged


class _Layer(dict):
    def to_dict(self):
        return dict(self)


def _ctx(val_loss, end_over_start=0.4, stateful=True, nonfinite=None):
    layer = _Layer(type="lstm", units=8, **({"stateful": True} if stateful else {}))
    return SimpleNamespace(
        probe=SimpleNamespace(val_loss=val_loss, nonfinite_loss_step=nonfinite),
        spec=SimpleNamespace(model=SimpleNamespace(layers=[layer, _Layer(type="dense", units=1)])),
        loss_summary={"end_over_start": end_over_start},
    )


@pytest.mark.parametrize("val_loss, end_over_start, stateful, nonfinite, expected", [
    ([0.72, 3.3e15, 2.9e16], 0.42, True, None, True),   # the pump case
    ([0.72, 5.0, None], 0.42, True, None, True),        # NaN/inf at the end
    ([0.72, 0.9, 1.1], 0.42, True, None, False),        # a little overfitting: not divergence
    ([0.72, 3.3e15, 2.9e16], 0.42, False, None, False),  # stateless: not this finding's business
    ([0.72, 3.3e15, 2.9e16], 5.0, True, None, False),    # the training loss grew too: carried_state_grew's case
    ([0.72, 3.3e15, 2.9e16], 0.42, True, 12, False),     # the training itself went NaN
    ([None, 3.0e16], 0.42, True, None, False),          # no finite start to compare with
])
def test_a_validation_loss_that_explodes_while_the_training_loss_falls(val_loss, end_over_start, stateful, nonfinite,
                                                                       expected):
    assert carried_state_diverged(_ctx(val_loss, end_over_start, stateful, nonfinite)) is expected
