"""A searchable field is one ``Field`` in ``remedies.fields``: registering one is all a strategy file needs."""

from __future__ import annotations

from pathlib import Path

from helpers import make_series_csv, series_frame, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.remedies import fields
from autofix_lstm.remedies.strategies import resolve_strategies
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning.space import build_space


def test_a_new_field_registered_in_one_place_is_searchable(tmp_path, monkeypatch):
    batch = fields._plain("train.batch_size", allowed=lambda value, dataset: int(value) <= len(dataset.y_train))
    monkeypatch.setitem(fields.FIELDS, "train.batch_size", batch)
    make_series_csv(tmp_path, n=200, kind="sine")
    (tmp_path / "batches.yaml").write_text(
        "name: batches\nfields:\n  train.batch_size: {values: [8, 16, 100000]}\n"
    )
    spec = load_spec(write_spec(tmp_path, spec_dict("series.csv", search={"strategies": ["batches.yaml"]})))
    space = build_space(spec, load_dataset(spec), resolve_strategies(spec.search.strategies, spec.base_dir))
    assert space.fields == ["train.batch_size"]
    assert sorted(space.choices["train.batch_size"].values()) == sorted({spec.train.batch_size, 8, 16})  # 100000 not allowed
    candidate = space.spec_for(spec, {"train.batch_size": "8"})
    assert candidate.train.batch_size == 8 and candidate.model == spec.model
    assert batch.description(32, 8, "regression") == "set train.batch_size to 8"  # no words given: the plain ones


def test_a_fields_change_reads_in_its_own_words():
    target = fields.FIELDS["preprocessing.target"]
    assert target.description("none", "standard", "regression") == "scale the target (standard)"
    assert fields.FIELDS["activations.head"].description("sigmoid", "task", "multiclass") == (
        "make the head softmax with a matching loss")
    assert fields.FIELDS["model.optimizer.learning_rate"].description(0.01, 0.001, "binary") == (
        "lower the learning rate to 0.001")


def test_fields_that_need_a_recurrent_layer_say_so():
    assert {name for name, f in fields.FIELDS.items() if f.needs_recurrent} == {
        "architecture.depth", "architecture.units", "activations.cell"
    }


_CTX = {"task": "regression", "n_classes": 0}


def _raw(layers: list[dict]) -> dict:
    return load_spec(spec_dict("s.csv", model={"layers": layers})).to_dict()


def test_strategies_act_on_the_recurrent_layer_a_bidirectional_wraps():
    raw = _raw([{"type": "bidirectional", "layer": {"type": "lstm", "units": 8}, "merge_mode": "concat"},
                {"type": "dense", "units": 1}])
    assert [fields.own_value(raw, name, _CTX) for name in ("architecture.units", "architecture.depth",
                                                            "activations.cell", "dropout.rate")] == [8, 1, "tanh", 0.0]
    out = fields.apply_values(raw, {"architecture.units": 32, "dropout.rate": 0.2, "dropout.recurrent": 0.1,
                                    "activations.cell": "relu"}, _CTX)
    wrapper = out["model"]["layers"][0]
    assert wrapper["type"] == "bidirectional" and wrapper["merge_mode"] == "concat"
    assert wrapper["layer"] == {"type": "lstm", "units": 32, "dropout": 0.2, "recurrent_dropout": 0.1,
                                "activation": "relu"}
    assert raw["model"]["layers"][0]["layer"] == {"type": "lstm", "units": 8}  # the user's spec is untouched


def test_depth_adds_a_layer_of_the_same_kind_and_keeps_what_the_head_reads():
    # a bidirectional stack grows by bidirectional layers; the last keeps the user's return_sequences
    raw = _raw([{"type": "conv1d", "filters": 4, "kernel_size": 3},
                {"type": "bidirectional", "layer": {"type": "gru", "units": 8, "return_sequences": True}},
                {"type": "global_average_pooling1d"}, {"type": "dense", "units": 1}])
    deeper = fields.apply_values(raw, {"architecture.depth": 3}, _CTX)
    assert [layer["type"] for layer in deeper["model"]["layers"]] == [
        "conv1d", "bidirectional", "bidirectional", "bidirectional", "global_average_pooling1d", "dense"]
    assert [layer["layer"]["return_sequences"] for layer in deeper["model"]["layers"][1:4]] == [True, True, True]
    assert all(layer["layer"]["type"] == "gru" and layer["layer"]["units"] == 8 for layer in deeper["model"]["layers"][1:4])
    shallower = fields.apply_values(deeper, {"architecture.depth": 1}, _CTX)
    assert shallower["model"]["layers"] == raw["model"]["layers"]
    # a plain stack still ends in a layer that returns one vector
    plain = _raw([{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}])
    two = fields.apply_values(plain, {"architecture.depth": 2}, _CTX)["model"]["layers"]
    assert [(layer["type"], layer["return_sequences"]) for layer in two[:2]] == [("lstm", True), ("lstm", False)]


def test_the_hidden_dense_field_widens_or_removes_the_layers_before_the_head():
    # Issue 24 (4): a one-unit sigmoid layer before a softmax squeezes every sample through one number.
    ctx = {"task": "multiclass", "n_classes": 9}
    raw = load_spec(spec_dict("s.csv", data={"task": "multiclass"}, model={
        "layers": [{"type": "lstm", "units": 8}, {"type": "dropout", "rate": 0.1},
                   {"type": "dense", "units": 1, "activation": "sigmoid"}, {"type": "dense", "units": 9, "activation": "softmax"}],
        "loss": "sparse_categorical_crossentropy"})).to_dict()
    field = fields.FIELDS["architecture.hidden_dense_units"]
    assert field.own(raw, ctx) == 1
    wide = fields.apply_values(raw, {"architecture.hidden_dense_units": 32}, ctx)["model"]["layers"]
    assert wide[2] == {"type": "dense", "units": 32, "activation": "sigmoid"} and wide[3]["units"] == 9
    gone = fields.apply_values(raw, {"architecture.hidden_dense_units": 0}, ctx)["model"]["layers"]
    assert [layer["type"] for layer in gone] == ["lstm", "dropout", "dense"] and gone[-1]["units"] == 9
    assert field.description(1, 0, "multiclass") == "remove the Dense layer between the recurrent layers and the head"
    assert field.description(1, 32, "multiclass") == "widen the Dense layer before the head to 32 units"
    # a model without such a layer reads 0 and writing changes nothing: the search leaves the field out
    plain = _raw([{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}])
    assert field.own(plain, _CTX) == 0
    assert fields.apply_values(plain, {"architecture.hidden_dense_units": 32}, _CTX) == plain


def test_the_search_space_holds_the_hidden_dense_field_only_for_a_model_with_such_a_layer():
    frame = series_frame(120)
    for layers, expected in (
        ([{"type": "lstm", "units": 8}, {"type": "dense", "units": 2, "activation": "tanh"}, {"type": "dense", "units": 1}],
         {"2": 2, "0": 0, "16": 16, "32": 32, "64": 64}),
        ([{"type": "lstm", "units": 8}, {"type": "dense", "units": 1}], None),
    ):
        spec = load_spec(spec_dict(None, data={"path": None, "window": 4}, model={"layers": layers}))
        space = build_space(spec, load_dataset(spec, frame=frame), resolve_strategies("all", Path(".")))
        assert space.choices.get("architecture.hidden_dense_units") == expected


def test_the_window_field_reads_writes_and_offers_only_the_windows_the_data_can_take(tmp_path):
    # Issue 25 (10): data.window was refused in a strategy; a user's strategy may now search it.
    window = fields.FIELDS["data.window"]
    make_series_csv(tmp_path, n=60, kind="sine")  # window 8: 52 samples, 42 to train on, 10 to validate
    (tmp_path / "windows.yaml").write_text("name: windows\nfields:\n  data.window: {values: [4, 16, 40]}\n")
    spec = load_spec(write_spec(tmp_path, spec_dict("series.csv", search={"strategies": ["windows.yaml"]})))
    dataset = load_dataset(spec)
    raw = spec.to_dict()
    assert window.own(raw, {}) == 8
    written = fields.apply_values(raw, {"data.window": 16}, {})
    assert window.own(written, {}) == 16 and written["model"] == raw["model"] and raw["data"]["window"] == 8
    # 40 rows would leave 42 - 32 = 10 training samples: allowed; 47 leaves 3: not
    assert [window.allowed(w, dataset) for w in (1, 4, 16, 40, 46, 47)] == [True] * 5 + [False]
    space = build_space(spec, dataset, resolve_strategies(spec.search.strategies, spec.base_dir))
    assert space.fields == ["data.window"] and list(space.choices["data.window"].values()) == [8, 4, 16, 40]
    candidate = space.spec_for(spec, space.encode({"data.window": 16}))
    assert candidate.data.window == 16 and candidate.data.path == spec.data.path and candidate.model == spec.model
    assert window.description(8, 16, "regression") == "use windows of 16 steps"


def test_making_the_layers_stateless_drops_the_state_resets_so_the_candidate_still_validates():
    raw = spec_dict("s.csv", model={"layers": [{"type": "lstm", "units": 8, "stateful": True}, {"type": "dense", "units": 1}]},
                    train={"batch_size": 16, "reset_states": "epoch"})
    spec = load_spec(raw)
    assert fields.own_value(spec.to_dict(), "architecture.stateful", _CTX) is True
    candidate = fields.spec_with_values(spec, {"architecture.stateful": False}, _CTX)
    assert "stateful" not in candidate.model.layers[0].kwargs and candidate.train.reset_states == "never"
    assert candidate.train.batch_size == 16  # the rest of the training is the user's
    assert spec.train.reset_states == "epoch"  # the user's spec is untouched
