"""Gate saturation: how much of a recurrent layer's gate activations sit in the flat ends of their sigmoid/tanh.

The gates are recomputed from the cell's weights over the whole sequence (both directions of a
``Bidirectional`` layer), so every timestep is seen, not only the layer's output. A saturated gate
passes almost no gradient.
"""

from __future__ import annotations

import keras
import numpy as np

# A sigmoid/tanh activation within 1% of its bounds is saturated: its derivative is under 4% (sigmoid)
# or 2% (tanh) of its maximum, so almost no gradient passes through it.
SATURATION_MARGIN = 0.01


# activation name -> the same function in numpy (the gate recomputation calls these at every timestep,
# where a round trip through a tensor per call costs more than the arithmetic)
_NUMPY_ACTIVATIONS = {
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def _activation_values(fn, z: np.ndarray) -> np.ndarray:
    numpy_fn = _NUMPY_ACTIVATIONS.get(getattr(fn, "__name__", ""))
    if numpy_fn is not None:
        return numpy_fn(z)
    return np.asarray(keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(z.astype(np.float32)))), dtype=np.float64)


def _bounds(fn) -> tuple[float, float] | None:
    """(low, high) of a bounded activation such as sigmoid or tanh; None for unbounded ones."""
    probe = _activation_values(fn, np.array([-1e4, 1e4]))
    if np.all(np.isfinite(probe)) and probe[1] - probe[0] > 0 and abs(probe[1]) <= 1.0 + 1e-6:
        return float(probe[0]), float(probe[1])
    return None


def _saturated(values: np.ndarray, bounds: tuple[float, float] | None) -> float | None:
    if bounds is None:
        return None
    low, high = bounds
    margin = SATURATION_MARGIN * (high - low)
    return float(np.mean((values < low + margin) | (values > high - margin)))


def recurrent_gates(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, np.ndarray]:
    """Gate and cell activations of a recurrent layer over the sequences ``x`` (samples, time, inputs).

    Recomputed from the cell's weights (Keras' gate order: LSTM ``i, f, c, o``; GRU ``z, r, h``), so
    every timestep's values are seen, not only the layer's output. Returns name -> (samples, time, units).
    """
    cell = layer.cell
    kernel = np.asarray(cell.kernel.numpy(), dtype=np.float64)
    recurrent = np.asarray(cell.recurrent_kernel.numpy(), dtype=np.float64)
    bias = np.asarray(cell.bias.numpy(), dtype=np.float64) if getattr(cell, "use_bias", False) else None
    units = cell.units
    n, steps = x.shape[0], x.shape[1]
    h = np.zeros((n, units))
    c = np.zeros((n, units))
    act, rec_act = cell.activation, getattr(cell, "recurrent_activation", None)
    kind = type(layer).__name__
    seen: dict[str, list[np.ndarray]] = {}

    def keep(name, value):
        seen.setdefault(name, []).append(value)

    for t in range(steps):
        xt = x[:, t, :].astype(np.float64)
        if kind == "LSTM":
            z = xt @ kernel + h @ recurrent + (bias if bias is not None else 0.0)
            zi, zf, zc, zo = np.split(z, 4, axis=1)
            i, f, o = (_activation_values(rec_act, v) for v in (zi, zf, zo))
            g = _activation_values(act, zc)
            c = f * c + i * g
            cell_out = _activation_values(act, c)
            h = o * cell_out
            for name, value in (("input", i), ("forget", f), ("candidate", g), ("output", o), ("cell", cell_out)):
                keep(name, value)
        elif kind == "GRU":
            reset_after = getattr(cell, "reset_after", True)
            if bias is None:
                b_in, b_rec = 0.0, 0.0
            elif bias.ndim == 2:
                b_in, b_rec = bias[0], bias[1]
            else:
                b_in, b_rec = bias, 0.0
            xz, xr, xh = np.split(xt @ kernel + b_in, 3, axis=1)
            rz, rr, rh_w = np.split(recurrent, 3, axis=1)
            if reset_after:
                hz, hr, hh = np.split(h @ recurrent + b_rec, 3, axis=1)
            else:
                hz, hr = h @ rz, h @ rr
            zg = _activation_values(rec_act, xz + hz)
            r = _activation_values(rec_act, xr + hr)
            cand = _activation_values(act, xh + (r * hh if reset_after else (r * h) @ rh_w))
            h = zg * h + (1 - zg) * cand
            for name, value in (("update", zg), ("reset", r), ("candidate", cand)):
                keep(name, value)
        else:  # SimpleRNN
            h = _activation_values(act, xt @ kernel + h @ recurrent + (bias if bias is not None else 0.0))
            keep("candidate", h)
    return {name: np.stack(values, axis=1) for name, values in seen.items()}


def gate_saturation(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, float]:
    """Fraction of each gate's activations within ``SATURATION_MARGIN`` of its bounds, and ``all`` (mean).

    Gates with an unbounded activation (relu, linear) are left out.
    """
    cell = layer.cell
    act_bounds = _bounds(cell.activation)
    rec_bounds = _bounds(cell.recurrent_activation) if hasattr(cell, "recurrent_activation") else None
    out = {}
    for name, values in recurrent_gates(layer, x).items():
        bounds = act_bounds if name in ("candidate", "cell") else rec_bounds
        fraction = _saturated(values, bounds)
        if fraction is not None:
            out[name] = fraction
    gates = [v for k, v in out.items() if k != "cell"]
    if gates:
        out["all"] = float(np.mean(gates))
    return out


def _recurrent_directions(layer: keras.layers.Layer) -> list[tuple[keras.layers.Layer, bool]]:
    """The recurrent layers inside ``layer`` and whether each reads the sequence backwards: the layer
    itself for an RNN, both directions of a ``Bidirectional``, none for anything else."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [(layer.forward_layer, False), (layer.backward_layer, True)]
    if isinstance(layer, keras.layers.RNN):
        return [(layer, bool(getattr(layer, "go_backwards", False)))]
    return []


def layer_saturation(layer: keras.layers.Layer, x: np.ndarray) -> dict[str, float]:
    """``gate_saturation`` of a recurrent layer, or of both directions of a ``Bidirectional`` (their mean,
    gate by gate); empty for a layer without recurrence."""
    measured = [gate_saturation(rnn, x[:, ::-1, :] if backwards else x) for rnn, backwards in _recurrent_directions(layer)]
    if len(measured) <= 1:
        return measured[0] if measured else {}
    return {gate: float(np.mean([m[gate] for m in measured if gate in m])) for gate in measured[0]}


def measure_saturation(layers, names: list[str], pairs) -> dict[str, dict[str, float]]:
    """``gate_saturation`` of every recurrent layer of ``layers`` (a model's layers, wrapped in
    ``Bidirectional`` or not), given each layer's name and (input, output), in the same order."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    # Small matrices, one timestep at a time: BLAS threads only wait on each other (10x slower here).
    with threadpool_limits(limits=1, user_api="blas"):
        return {
            names[i]: layer_saturation(layer, pairs[i][0])
            for i, layer in enumerate(layers)
            if _recurrent_directions(layer)
        }
