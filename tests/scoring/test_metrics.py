"""Metrics against values worked out by hand, and the collapse verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from autofix_lstm.scoring.metrics import (
    CLASSIFICATION_KEYS,
    COLLAPSE_STD_RATIO,
    OPTIONAL_KEYS,
    REGRESSION_KEYS,
    Metrics,
    class_probabilities,
    classification_metrics,
    is_collapsed,
    regression_metrics,
)
from autofix_lstm.scoring.objective import (
    ModelState,
    beats_constant,
    beats_persistence,
    is_fix,
    judge,
    model_state,
    score,
)

# --- regression -----------------------------------------------------------------------------------

Y_VAL = np.array([1.0, 2.0, 3.0, 4.0])
PRED = np.array([1.0, 1.0, 3.0, 5.0])
Y_TRAIN = np.array([0.0, 2.0])  # mean 1: the best constant
LAST_SEEN = np.array([0.0, 1.0, 2.0, 3.0])  # persistence: predict the last observed value


def test_regression_hand_values():
    m = regression_metrics(Y_VAL, PRED, Y_TRAIN, LAST_SEEN)
    # errors 0, -1, 0, 1 -> mse 2/4, mae 2/4; var(y_val) = 1.25 -> r2 = 1 - 0.5/1.25
    assert m.mse == pytest.approx(0.5)
    assert m.mae == pytest.approx(0.5)
    assert m.r2 == pytest.approx(0.6)
    # std(pred) = sqrt(2.75) (mean 2.5, squares 2.25 2.25 .25 6.25), std(y_val) = sqrt(1.25)
    assert m.std_ratio == pytest.approx(math.sqrt(2.75 / 1.25))
    # the constant 1 misses by 0, 1, 2, 3 -> (0 + 1 + 4 + 9) / 4
    assert m.constant_mse == pytest.approx(3.5)
    # persistence misses by 1 each time
    assert m.persistence_mse == pytest.approx(1.0)
    assert m.task == "regression" and m.n_val == 4
    assert m.nan is False and m.collapsed is False


def test_regression_without_persistence():
    assert regression_metrics(Y_VAL, PRED, Y_TRAIN).persistence_mse is None


def test_constant_prediction_collapses():
    m = regression_metrics(Y_VAL, np.full(4, 2.5), Y_TRAIN)
    assert m.std_ratio == 0.0 and m.collapsed is True
    assert m.mse == pytest.approx(1.25) and m.r2 == pytest.approx(0.0)


def test_prediction_shape_n_by_1_is_accepted():
    m = regression_metrics(Y_VAL, PRED.reshape(-1, 1), Y_TRAIN)
    assert m.mse == pytest.approx(0.5)


@pytest.mark.parametrize(("factor", "collapsed"), [(0.099, True), (0.101, False)])
def test_collapse_threshold_on_std_ratio(factor, collapsed):
    truth = np.array([-1.0, 1.0, -1.0, 1.0])  # std 1
    m = regression_metrics(truth, factor * truth, np.array([0.0, 1.0]))
    assert m.std_ratio == pytest.approx(factor)
    assert m.collapsed is collapsed
    assert COLLAPSE_STD_RATIO == 0.1


def test_custom_min_std_ratio():
    truth = np.array([-1.0, 1.0, -1.0, 1.0])
    m = regression_metrics(truth, 0.3 * truth, np.array([0.0, 1.0]), min_std_ratio=0.5)
    assert m.collapsed is True
    assert is_collapsed(m, 0.2) is False and is_collapsed(m, 0.5) is True


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_prediction_collapses(bad):
    m = regression_metrics(Y_VAL, np.array([1.0, bad, 3.0, 4.0]), Y_TRAIN, LAST_SEEN)
    assert m.nan is True and m.collapsed is True
    assert m.std_ratio is None and m.mse is None and m.r2 is None
    assert m.constant_mse == pytest.approx(3.5)  # the baselines are still there
    assert is_collapsed(m)


def test_constant_validation_targets_fall_back_to_the_training_spread():
    m = regression_metrics(np.full(4, 2.0), np.array([1.0, 3.0, 1.0, 3.0]), np.array([0.0, 4.0]))
    assert m.std_ratio == pytest.approx(1.0 / 2.0)  # std(pred) 1, std(y_train) 2
    assert m.collapsed is False


# --- classification -------------------------------------------------------------------------------

B_VAL = np.array([0, 0, 1, 1, 1])
B_PROB1 = np.array([0.2, 0.6, 0.7, 0.4, 0.9])  # predicted classes 0 1 1 0 1
B_TRAIN = np.array([0, 0, 0, 1])  # majority class 0


def test_binary_hand_values():
    m = classification_metrics(B_VAL, np.stack([1 - B_PROB1, B_PROB1], axis=1), B_TRAIN, 2)
    assert m.task == "binary" and m.n_val == 5
    assert m.accuracy == pytest.approx(3 / 5)
    # recall of class 0: 1/2, of class 1: 2/3
    assert m.balanced_accuracy == pytest.approx((1 / 2 + 2 / 3) / 2)
    # class 0: precision 1/2 recall 1/2 -> f1 1/2; class 1: precision 2/3 recall 2/3 -> f1 2/3
    assert m.macro_f1 == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m.distinct_predictions == 2
    # std of P(class 1): deviations from 0.56 are -.36 .04 .14 -.16 .34 -> variance 0.0584; std of labels sqrt(.24)
    assert m.std_ratio == pytest.approx(math.sqrt(0.0584) / math.sqrt(0.24))
    expected_log_loss = -np.mean(np.log([0.8, 0.4, 0.7, 0.4, 0.9]))
    assert m.log_loss == pytest.approx(expected_log_loss)
    assert m.collapsed is False and m.nan is False


def test_binary_majority_baseline_hand_values():
    m = classification_metrics(B_VAL, np.stack([1 - B_PROB1, B_PROB1], axis=1), B_TRAIN, 2)
    # always class 0: 2 of 5 right; recall 1 and 0; f1 of class 0 = 2 * .4 * 1 / 1.4, of class 1 = 0
    assert m.majority_accuracy == pytest.approx(0.4)
    assert m.majority_balanced_accuracy == pytest.approx(0.5)
    assert m.majority_macro_f1 == pytest.approx((2 * 0.4 / 1.4) / 2)
    # prior from training: P(1) = 1/4
    assert m.prior_log_loss == pytest.approx(-(2 * np.log(0.75) + 3 * np.log(0.25)) / 5)


def test_single_class_prediction_collapses():
    prob1 = np.array([0.1, 0.3, 0.45, 0.2, 0.4])  # varies, but never crosses 0.5
    m = classification_metrics(B_VAL, np.stack([1 - prob1, prob1], axis=1), B_TRAIN, 2)
    assert m.distinct_predictions == 1
    assert m.accuracy == pytest.approx(m.majority_accuracy)
    assert m.std_ratio > COLLAPSE_STD_RATIO and m.collapsed is True
    assert is_collapsed(m)


def test_multiclass_hand_values():
    y_val = np.array([0, 1, 2, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])  # predicts 0 1 1 2
    m = classification_metrics(y_val, proba, np.array([2, 2, 1, 0]), 3)
    assert m.task == "multiclass" and m.distinct_predictions == 3
    assert m.accuracy == pytest.approx(0.75)
    assert m.balanced_accuracy == pytest.approx((1 + 1 + 0.5) / 3)
    # f1: class 0 = 1; class 1: precision 1/2 recall 1 -> 2/3; class 2: precision 1 recall 1/2 -> 2/3
    assert m.macro_f1 == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    # std of the predicted class index [0 1 1 2] over std of the labels [0 1 2 2]
    assert m.std_ratio == pytest.approx(np.std([0, 1, 1, 2]) / np.std([0, 1, 2, 2]))
    assert m.majority_accuracy == pytest.approx(0.5)  # training majority is class 2
    assert m.collapsed is False


def test_nan_probabilities_collapse():
    proba = np.array([[0.5, 0.5], [np.nan, np.nan], [0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
    m = classification_metrics(B_VAL, proba, B_TRAIN, 2)
    assert m.nan is True and m.collapsed is True and m.accuracy is None
    assert m.distinct_predictions == 0 and m.majority_accuracy == pytest.approx(0.4)


def test_class_probabilities_from_one_unit():
    np.testing.assert_allclose(class_probabilities(np.array([[0.25], [0.9]]), 2), [[0.75, 0.25], [0.1, 0.9]])
    # one unit on a multiclass task is read as a class index, rounded and clipped
    out = class_probabilities(np.array([[0.2], [1.6], [7.0], [-3.0]]), 3)
    np.testing.assert_array_equal(out.argmax(axis=1), [0, 2, 2, 0])
    np.testing.assert_array_equal(out.sum(axis=1), 1.0)
    assert np.isnan(class_probabilities(np.array([[np.nan], [1.0]]), 3)[0]).all()
    three = np.array([[0.1, 0.2, 0.7]])
    np.testing.assert_array_equal(class_probabilities(three, 3), three)


def test_rare_class_missing_from_validation_is_not_collapse():
    y_val = np.zeros(6, dtype=int)  # the rare class does not appear in this validation part
    prob1 = np.array([0.1, 0.7, 0.2, 0.6, 0.1, 0.3])
    m = classification_metrics(y_val, np.stack([1 - prob1, prob1], axis=1), np.array([0, 0, 0, 1]), 2)
    assert m.std_ratio == pytest.approx(np.std(prob1) / np.std([0, 0, 0, 1]))
    assert m.distinct_predictions == 2 and m.collapsed is False


# --- the Metrics record ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_non_finite_values_become_none():
    # finite predictions so large that squares overflow: mse, r2 and std_ratio are inf, and are kept as None
    m = regression_metrics(Y_VAL, np.array([1e200, -1e200, 1e200, -1e200]), Y_TRAIN, LAST_SEEN)
    assert m.nan is False and m.mse is None and m.r2 is None and m.std_ratio is None
    assert m.mae == pytest.approx(1e200)  # finite: kept
    json.dumps(m.to_dict(), allow_nan=False)
    # values set by hand are written as None too: the JSON files never hold NaN/inf
    raw = Metrics(task="regression", mse=float("nan"), r2=float("-inf"), std_ratio=float("inf"),
                  extra={"odd": float("nan")}).to_dict()
    assert raw["mse"] is None and raw["r2"] is None and raw["std_ratio"] is None and raw["odd"] is None
    json.dumps(raw, allow_nan=False)


def test_to_dict_has_exactly_the_task_keys_plus_the_optional_ones_set():
    regression = regression_metrics(Y_VAL, PRED, Y_TRAIN, LAST_SEEN)
    assert tuple(regression.to_dict()) == REGRESSION_KEYS
    binary = classification_metrics(B_VAL, np.stack([1 - B_PROB1, B_PROB1], axis=1), B_TRAIN, 2)
    assert tuple(binary.to_dict()) == CLASSIFICATION_KEYS
    nan = classification_metrics(B_VAL, np.full((5, 2), np.nan), B_TRAIN, 2)
    assert tuple(nan.to_dict()) == CLASSIFICATION_KEYS
    json.dumps(regression.to_dict(), allow_nan=False)
    json.dumps(nan.to_dict(), allow_nan=False)
    trained = regression.with_training(loss_diverged=False, collapse_checks_on="8 of 8 validation windows")
    assert tuple(trained.to_dict()) == (*REGRESSION_KEYS, "loss_diverged", "collapse_checks_on")
    assert trained.to_dict()["loss_diverged"] is False  # set to False is set: written
    failed = Metrics.failed("binary", "NaN loss")
    assert tuple(failed.to_dict()) == (*CLASSIFICATION_KEYS, "message")
    assert failed.nan is True and failed.collapsed is True and failed.message == "NaN loss"
    assert set(OPTIONAL_KEYS).isdisjoint(REGRESSION_KEYS + CLASSIFICATION_KEYS)


def test_from_dict_of_to_dict_is_the_same_metrics():
    for m in (
        regression_metrics(Y_VAL, PRED, Y_TRAIN, LAST_SEEN),
        regression_metrics(Y_VAL, PRED, Y_TRAIN).with_training(loss_diverged=True, collapse_checks_on="all"),
        regression_metrics(Y_VAL, np.array([1.0, np.nan, 3.0, 4.0]), Y_TRAIN),
        classification_metrics(B_VAL, np.stack([1 - B_PROB1, B_PROB1], axis=1), B_TRAIN, 2),
        classification_metrics(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 1, 2]], np.array([2, 2, 1, 0]), 3),
        Metrics.failed("regression", "could not build the model"),
    ):
        assert Metrics.from_dict(m.to_dict()) == m
        assert Metrics.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    m = regression_metrics(Y_VAL, PRED, Y_TRAIN)
    assert Metrics.from_dict(m) is m


def test_unknown_keys_survive_a_round_trip_in_extra():
    raw = {**regression_metrics(Y_VAL, PRED, Y_TRAIN).to_dict(), "future_metric": 0.25, "notes": ["a", "b"]}
    m = Metrics.from_dict(raw)
    assert m.extra == {"future_metric": 0.25, "notes": ["a", "b"]}
    assert m.r2 == pytest.approx(0.6)
    assert m.to_dict() == raw
    assert Metrics.from_dict(m.to_dict()) == m


def test_from_dict_refuses_what_is_not_metrics():
    with pytest.raises(TypeError):
        Metrics.from_dict({"r2": 0.5})  # no task
    with pytest.raises(TypeError):
        Metrics.from_dict([("task", "regression")])


def test_quality_is_r2_or_balanced_accuracy():
    regression = regression_metrics(Y_VAL, PRED, Y_TRAIN)
    assert regression.quality == regression.r2 and regression.quality_label == "r2"
    binary = classification_metrics(B_VAL, np.stack([1 - B_PROB1, B_PROB1], axis=1), B_TRAIN, 2)
    assert binary.quality == binary.balanced_accuracy and binary.quality_label == "balanced accuracy"


# --- judge(): every verdict at once, agreeing with the single ones -------------------------------------------------

_FIX = regression_metrics(Y_VAL, PRED, Y_TRAIN, LAST_SEEN)  # r2 0.6, mse 0.5 < persistence 1.0 < constant 3.5
_COLLAPSED = regression_metrics(Y_VAL, np.full(4, 2.5), Y_TRAIN, LAST_SEEN)
_DIVERGED = _FIX.with_training(loss_diverged=True)  # finite, varying outputs from a loss that went NaN
_CLASSIFIER = classification_metrics(np.array([0, 1, 2, 2]), np.eye(3)[[0, 1, 1, 2]], np.array([2, 2, 1, 0]), 3)


@pytest.mark.parametrize(("metrics", "state", "fix", "beats", "beats_last"), [
    (_FIX, ModelState.WORKING, True, True, True),
    (_COLLAPSED, ModelState.COLLAPSED, False, False, False),
    (_DIVERGED, ModelState.DIVERGED, False, True, True),
    (_CLASSIFIER, ModelState.WORKING, True, True, None),
], ids=["regression-fix", "collapsed", "diverged", "classifier"])
def test_judge_agrees_with_each_verdict(metrics, state, fix, beats, beats_last):
    for floor in (COLLAPSE_STD_RATIO, 0.5):
        judgment = judge(metrics, floor)
        assert judgment.score == score(metrics, floor)
        assert judgment.state is model_state(metrics, floor)
        assert judgment.fix is is_fix(metrics, floor)
        assert judgment.beats_constant is beats_constant(metrics)
        assert judgment.beats_persistence is beats_persistence(metrics)
    judgment = judge(metrics)  # the default floor
    assert (judgment.state, judgment.fix, judgment.beats_constant, judgment.beats_persistence) == (
        state, fix, beats, beats_last)
    assert judgment.fix is (judgment.state is ModelState.WORKING)


def test_a_head_wider_or_narrower_than_the_classes_is_measured_not_a_crash():
    # Found by the fuzz benchmark: a boolean target under a 3-way softmax made diagnose exit 4
    # (scikit-learn: "The number of classes in labels is different from that in y_prob").
    from autofix_lstm.scoring.metrics import classification_metrics

    rng = np.random.default_rng(0)
    y_train, y_val = rng.integers(0, 2, 80), rng.integers(0, 2, 40)
    wide = rng.dirichlet(np.ones(3), size=40)  # 3 columns, 2 classes
    metrics = classification_metrics(y_val, wide, y_train, n_classes=2)
    assert metrics.log_loss is not None and np.isfinite(metrics.log_loss)
    narrow = rng.dirichlet(np.ones(2), size=40)  # 2 columns, 3 classes
    y3 = rng.integers(0, 3, 40)
    metrics = classification_metrics(y3, narrow, rng.integers(0, 3, 80), n_classes=3)
    assert metrics.log_loss is not None and np.isfinite(metrics.log_loss) and metrics.distinct_predictions <= 2
