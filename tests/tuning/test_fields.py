"""A searchable field is one ``Field`` in ``tuning.fields``: registering one is all a strategy file needs."""

from __future__ import annotations

from helpers import make_series_csv, spec_dict, write_spec

from autofix_lstm.data.dataset import load_dataset
from autofix_lstm.spec import load_spec
from autofix_lstm.tuning import fields
from autofix_lstm.tuning.space import build_space
from autofix_lstm.tuning.strategies import resolve_strategies


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


def test_fields_that_need_a_recurrent_layer_say_so():
    assert {name for name, f in fields.FIELDS.items() if f.needs_recurrent} == {
        "architecture.depth", "architecture.units", "activations.cell"
    }
