"""The remedy catalogue's contract: every registered ``Field`` and every built-in strategy file goes
through the same checks, so a new one is tested the moment it is registered (as the detectors are in
``tests/diagnosis/test_diagnosis_contract.py``).

- A field writes what it reads: a value applied to a spec dict reads back, through the field's own
  reader, as that value; applying it again changes nothing; and its change reads as words.
- A strategy file names registered fields and known finding ids, and seeds allowed values.
- Every value a built-in strategy may try, on every task it is for, gives a spec the loader accepts
  and a Keras model that builds, compiles and answers with one output per class.
"""

from __future__ import annotations

import copy
import functools
import json
import math

import numpy as np
import pytest
from helpers import spec_dict

from autofix_lstm.finding_ids import FINDING_IDS
from autofix_lstm.modeling.build import build_core, compile_core
from autofix_lstm.remedies.descriptions import TASK_HEAD
from autofix_lstm.remedies.fields import FIELDS, apply_values
from autofix_lstm.remedies.strategies import TASKS, FieldSpace, Strategy, builtin_strategies
from autofix_lstm.spec import load_spec

STRATEGIES: dict[str, Strategy] = builtin_strategies()
WINDOW, FEATURES, CLASSES = 8, 2, 3
# Values to try for a field that no built-in strategy names (e.g. one a user's file will use):
# a field must appear here or in a built-in strategy to be tested.
EXTRA_VALUES: dict[str, list] = {"train.batch_size": [8, 64], "train.epochs": [2, 5],  # fields no built-in names
                                 "data.window": [4, 24]}

# A spec per task, with the structure the fields act on: two stacked recurrent layers (a taper),
# a dropout layer between them, and a head; the bidirectional variant wraps its recurrent layers.
_HEADS = {
    "regression": ({"type": "dense", "units": 1}, "mse"),
    "binary": ({"type": "dense", "units": 1, "activation": "sigmoid"}, "binary_crossentropy"),
    "multiclass": ({"type": "dense", "units": CLASSES, "activation": "softmax"}, "sparse_categorical_crossentropy"),
}
_STACKS = {
    "stacked": [{"type": "lstm", "units": 16, "return_sequences": True}, {"type": "dropout", "rate": 0.2},
                {"type": "gru", "units": 8}],
    "bidirectional": [{"type": "bidirectional", "layer": {"type": "lstm", "units": 8}}],
    # a one-unit sigmoid layer before the head: the bottleneck the hidden Dense field widens or removes
    "hidden_dense": [{"type": "lstm", "units": 8}, {"type": "dense", "units": 1, "activation": "sigmoid"}],
    # a stateful LSTM: what the stateful field makes stateless
    "stateful": [{"type": "lstm", "units": 8, "stateful": True}],
}
# field -> the stack its values are tried on, where neither the plain stack nor the hidden Dense one has what it acts on
_STACK_FOR = {"architecture.stateful": "stateful"}


def _context(task: str) -> dict:
    return {"task": task, "n_classes": {"regression": 0, "binary": 2, "multiclass": CLASSES}[task]}


@functools.cache
def _base_json(task: str, stack: str) -> str:
    head, loss = _HEADS[task]
    raw = spec_dict("series.csv", data={"task": task},
                    model={"layers": [*_STACKS[stack], head], "loss": loss,
                           "optimizer": {"name": "adam", "learning_rate": 0.01}})
    return json.dumps(load_spec(raw).to_dict())  # the spec as the search sees it: validated, then a dict


def _base(task: str, stack: str = "stacked") -> dict:
    return json.loads(_base_json(task, stack))


def _candidates(space: FieldSpace) -> list:
    """The values a strategy may try for one field: its list, or a range's ends and geometric middle."""
    if space.values is not None:
        return list(space.values)
    low, high = float(space.range["min"]), float(space.range["max"])
    middle = math.sqrt(low * high) if space.range.get("sampling") == "log" else (low + high) / 2
    return [low, middle, high]


def _field_values() -> dict[str, list]:
    """Field name -> every value a built-in strategy may try for it (plus ``EXTRA_VALUES``), in order."""
    out: dict[str, list] = {name: list(values) for name, values in EXTRA_VALUES.items()}
    for strategy in STRATEGIES.values():
        for name, space in strategy.fields.items():
            out.setdefault(name, []).extend(v for v in _candidates(space) if v not in out[name])
    return out


FIELD_VALUES = _field_values()


def _tasks(strategy: Strategy, name: str) -> list[str]:
    space = strategy.fields[name]
    return [t for t in TASKS if strategy.applies_to(t) and (space.tasks is None or t in space.tasks)]


# (strategy, field, value, task): every value every built-in strategy may try, on every task it is for
TRIES = [
    pytest.param(s.name, name, value, task, id=f"{s.name}-{name}={value}-{task}")
    for s in STRATEGIES.values() for name, space in s.fields.items()
    for value in _candidates(space) for task in _tasks(s, name)
]


# --- every field -------------------------------------------------------------------------------


def test_every_field_has_values_to_test():
    untested = sorted(set(FIELDS) - set(FIELD_VALUES))
    assert untested == [], f"name {untested} in a built-in strategy, or give them EXTRA_VALUES in this file"


@pytest.mark.parametrize("stack", list(_STACKS))
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", list(FIELDS))
def test_a_field_reads_back_what_it_writes(name, task, stack):
    field, ctx = FIELDS[name], _context(task)
    if field.optional and all(apply_values(_base(task, stack), {name: v}, ctx) == _base(task, stack)
                              for v in FIELD_VALUES[name]):
        pytest.skip(f"{stack} has nothing {name} acts on (the search leaves it out)")
    for value in FIELD_VALUES.get(name, []):
        if name == "model.loss" and task != "regression" and value != "task":
            continue  # not allowed: a classifier takes its task's loss only (the field's ``allowed``)
        raw = _base(task, stack)
        before = copy.deepcopy(raw)
        once = apply_values(raw, {name: value}, ctx)
        assert raw == before, f"{name}={value!r} edited the spec it was given"
        # A forced value (``activations.head: task``, ``model.loss: task``) names a setting; it reads back
        # as what it set.
        expected = TASK_HEAD[task] if name == "activations.head" and value == "task" else value
        if name == "model.loss" and value == "task":
            expected = _HEADS[task][1]
        assert field.own(once, ctx) == expected, f"{name}={value!r} reads back as {field.own(once, ctx)!r}"
        assert apply_values(once, {name: value}, ctx) == once, f"{name}={value!r} applied twice changes the spec"


@pytest.mark.parametrize("stack", list(_STACKS))
@pytest.mark.parametrize("name", list(FIELDS))
def test_a_fields_own_value_changes_nothing(name, stack):
    for task in TASKS:
        raw, ctx = _base(task, stack), _context(task)
        assert apply_values(raw, {name: FIELDS[name].own(raw, ctx)}, ctx) == raw, task


@pytest.mark.parametrize("name", list(FIELDS))
def test_a_fields_change_reads_as_words(name):
    field = FIELDS[name]
    for task in TASKS:
        own = field.own(_base(task), _context(task))
        for value in FIELD_VALUES.get(name, []):
            text = field.description(own, value, task)
            assert isinstance(text, str) and text and text == text.strip() and "\n" not in text, (name, value, text)


# --- every strategy file -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_strategy_names_registered_fields_and_known_findings(name):
    strategy = STRATEGIES[name]
    assert strategy.description.strip(), f"{name} has no description"
    assert strategy.fields, f"{name} changes no field"
    assert sorted(set(strategy.fields) - set(FIELDS)) == [], "fields not in remedies.fields.FIELDS"
    assert sorted(set(strategy.findings) - set(FINDING_IDS)) == [], "findings not in finding_ids.FINDING_IDS"
    assert len(set(strategy.findings)) == len(strategy.findings), "a finding listed twice"
    assert set(strategy.tasks) <= set(TASKS) and strategy.tasks
    for field_name, space in strategy.fields.items():
        assert space.tasks is None or set(space.tasks) <= set(strategy.tasks), f"{field_name} is for another task"


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_strategy_seeds_allowed_values(name):
    strategy = STRATEGIES[name]
    for key, values in strategy.seed.items():
        assert key == "default" or key in FINDING_IDS, f"seed.{key} is neither 'default' nor a finding id"
        for field_name, value in values.items():
            space = strategy.fields[field_name]
            if space.values is not None:
                assert value in space.values, f"seed.{key}.{field_name}={value!r} is not among {space.values}"
            else:
                low, high = float(space.range["min"]), float(space.range["max"])
                assert low <= float(value) <= high, f"seed.{key}.{field_name}={value!r} is outside {space.range}"


def test_the_strategies_are_the_files_by_name():
    from autofix_lstm.resources import builtin_strategy_texts

    assert sorted(f"{name}.yaml" for name in STRATEGIES) == sorted(builtin_strategy_texts())


# --- every value a strategy may try builds ---------------------------------------------------------


# model section (JSON) -> the shape of its answer to 2 samples: the same model is built once
_ANSWERS: dict[str, tuple[int, ...]] = {}


def _answer_shape(model_spec) -> tuple[int, ...]:
    """Build and compile the model on (window, features) inputs; the shape of its answer to 2 samples."""
    key = json.dumps(model_spec.model_dump(mode="json"), sort_keys=True)
    if key not in _ANSWERS:
        model = compile_core(build_core(model_spec, (WINDOW, FEATURES)), model_spec)
        _ANSWERS[key] = tuple(np.asarray(model(np.zeros((2, WINDOW, FEATURES), dtype="float32"))).shape)
    return _ANSWERS[key]


@pytest.mark.parametrize(("strategy", "name", "value", "task"), TRIES)
def test_every_value_a_strategy_may_try_builds(strategy, name, value, task):
    stack = _STACK_FOR.get(name, "hidden_dense" if FIELDS[name].optional else "stacked")
    raw = apply_values(_base(task, stack), {name: value}, _context(task))
    spec = load_spec(raw)  # the loader's checks, Keras-backed ones included
    assert spec.data.task == task
    outputs = CLASSES if task == "multiclass" else 1
    assert _answer_shape(spec.model) == (2, outputs)


# --- forecasts: a Dense(H) head and an encoder-decoder (issue 24, point 1) ------------------------------------

STEPS = 4
_FORECASTS = {
    "vector": [{"type": "lstm", "units": 8}, {"type": "dense", "units": STEPS}],
    "encoder_decoder": [{"type": "lstm", "units": 8}, {"type": "repeat_vector", "n": STEPS},
                        {"type": "lstm", "units": 8, "return_sequences": True},
                        {"type": "time_distributed", "layer": {"type": "dense", "units": 1}}],
}
FORECAST_TRIES = [
    pytest.param(form, name, value, id=f"{form}-{name}={value}")
    for form in _FORECASTS for name in FIELDS for value in FIELD_VALUES.get(name, [])
]


@pytest.mark.parametrize(("form", "name", "value"), FORECAST_TRIES)
def test_every_value_keeps_a_forecasts_steps(form, name, value):
    raw = spec_dict("series.csv", data={"task": "regression", "horizon": {"steps": STEPS}},
                    model={"layers": _FORECASTS[form], "loss": "mse", "optimizer": {"name": "adam", "learning_rate": 0.01}})
    ctx = {**_context("regression"), "n_outputs": STEPS}
    spec = load_spec(apply_values(json.loads(json.dumps(load_spec(raw).to_dict())), {name: value}, ctx))
    shape = _answer_shape(spec.model)
    assert shape[0] == 2 and int(np.prod(shape[1:])) == STEPS, f"{name}={value!r} answers {shape}"


@pytest.mark.parametrize("form", list(_FORECASTS))
def test_the_heads_width_for_a_forecast_is_one_unit_per_step(form):
    layers = copy.deepcopy(_FORECASTS[form])
    head = layers[-1].get("layer", layers[-1])
    head["units"] = 2  # a mistake the loss field fits back
    if form == "encoder_decoder":
        layers[1]["n"] = 3
    raw = spec_dict("series.csv", data={"horizon": {"steps": STEPS}}, model={"layers": layers, "loss": "mse"})
    ctx = {**_context("regression"), "n_outputs": STEPS}
    fitted = apply_values(json.loads(json.dumps(load_spec(raw).to_dict())), {"model.loss": "task"}, ctx)
    assert _answer_shape(load_spec(fitted).model) in ((2, STEPS), (2, STEPS, 1))
