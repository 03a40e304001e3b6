"""Metrics vs an independent naive reference written from the spec (§2 of
protocols_and_metrics.md), plus hand-computed and degenerate cases.

The reference below uses Python loops and explicit if/else on Python floats; it never calls
robustmsa.metrics, numpy rounding, np.corrcoef or scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from robustmsa.metrics import (
    CONVENTIONS,
    INCOMPLETE_CONDITIONS,
    MMSA_CLASSIFICATION_KEYS,
    MOSI_KEYS,
    SIMS_KEYS,
    MetricInputError,
    Scores,
    area_under_curve,
    classification_metrics,
    effective_robustness,
    has0_acc2,
    has0_f1,
    mae,
    mean_over_conditions,
    mmsa_classification_metrics,
    mosi_metrics,
    mult_acc,
    non0_acc2,
    non0_f1,
    pearson_corr,
    per_emotion_binary_metrics,
    score,
    sims_classes,
    sims_metrics,
    weighted_f1,
)

NAN = float("nan")

# ------------------------------------------------------------------ naive reference (spec)


def ref_accuracy(a: list, b: list) -> float:
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def ref_weighted_f1(y_true: list, y_pred: list) -> float:
    """Per-class F1 (0 when undefined) weighted by true support, over labels seen anywhere."""
    total = 0.0
    for c in sorted(set(y_true) | set(y_pred)):
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        total += (tp + fn) * f1
    return total / len(y_true)


def ref_round_half_even(x: float) -> float:
    f = math.floor(x)
    d = x - f
    if d > 0.5:
        return f + 1.0
    if d < 0.5:
        return float(f)
    return float(f) if f % 2 == 0 else f + 1.0


def ref_clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def ref_pearson(a: list, b: list) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    saa = sum((x - ma) ** 2 for x in a)
    sbb = sum((y - mb) ** 2 for y in b)
    if saa == 0 or sbb == 0:
        return NAN
    return sab / math.sqrt(saa * sbb)


def ref_mosi(pred: list, truth: list) -> dict[str, float]:
    has0_t = [t >= 0 for t in truth]
    has0_p = [p >= 0 for p in pred]
    idx = [i for i, t in enumerate(truth) if t != 0]
    non0_t = [truth[i] > 0 for i in idx]
    non0_p = [pred[i] > 0 for i in idx]

    def mult(c: float) -> float:
        rp = [ref_round_half_even(ref_clip(p, -c, c)) for p in pred]
        rt = [ref_round_half_even(ref_clip(t, -c, c)) for t in truth]
        return ref_accuracy(rp, rt)

    return {
        "Has0_acc_2": ref_accuracy(has0_p, has0_t),
        "Has0_F1_score": ref_weighted_f1(has0_t, has0_p),
        "Non0_acc_2": ref_accuracy(non0_p, non0_t) if idx else NAN,
        "Non0_F1_score": ref_weighted_f1(non0_t, non0_p) if idx else NAN,
        "Mult_acc_5": mult(2.0),
        "Mult_acc_7": mult(3.0),
        "MAE": sum(abs(p - t) for p, t in zip(pred, truth, strict=True)) / len(pred),
        "Corr": ref_pearson(pred, truth),
    }


def ref_sims_bin(v: float, n: int) -> int:
    if n == 2:
        return 0 if v <= 0.0 else 1
    if n == 3:
        if v <= -0.1:
            return 0
        return 1 if v <= 0.1 else 2
    if v <= -0.7:
        return 0
    if v <= -0.1:
        return 1
    if v <= 0.1:
        return 2
    return 3 if v <= 0.7 else 4


def ref_sims(pred: list, truth: list) -> dict[str, float]:
    p = [ref_clip(x, -1.0, 1.0) for x in pred]
    t = [ref_clip(x, -1.0, 1.0) for x in truth]

    def bins(xs: list, n: int) -> list:
        return [ref_sims_bin(x, n) for x in xs]

    return {
        "Mult_acc_2": ref_accuracy(bins(p, 2), bins(t, 2)),
        "Mult_acc_3": ref_accuracy(bins(p, 3), bins(t, 3)),
        "Mult_acc_5": ref_accuracy(bins(p, 5), bins(t, 5)),
        "F1_score": ref_weighted_f1(bins(t, 2), bins(p, 2)),
        "MAE": sum(abs(a - b) for a, b in zip(p, t, strict=True)) / len(p),
        "Corr": ref_pearson(p, t),
    }


def assert_metrics_close(got: dict, want: dict, tol: float = 1e-9) -> None:
    assert list(got) == list(want)
    for k in want:
        g, w = got[k], want[k]
        assert isinstance(g, float), (k, type(g))
        if math.isnan(w):
            assert math.isnan(g), (k, g)
        else:
            assert abs(g - w) <= tol, (k, g, w)


# ---------------------------------------------------------------- random data generators

MOSI_SPECIAL_PREDS = np.array(
    [0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5, 3.0, -3.0, 2.0, -2.0, 1e-12, -1e-12, 0.2]
)
SIMS_SPECIAL_PREDS = np.array(
    [0.0, 0.1, -0.1, 0.7, -0.7, 1.0, -1.0, 1.5, -1.5, 0.2, -0.2, 1e-12, -1e-12]
)


def mosi_like(rng: np.random.Generator, n: int, grid: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Truth on the 1/grid grid in [-3, 3] (exact zeros included, a few .5 ties); pred
    continuous with some exact zeros, .5 boundaries and copies of the truth."""
    truth = rng.integers(-3 * grid, 3 * grid + 1, n) / grid
    ties = rng.random(n) < 0.05
    truth[ties] = rng.choice([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], int(ties.sum()))
    pred = rng.normal(0.0, 1.6, n)
    special = rng.random(n) < 0.3
    pred[special] = rng.choice(MOSI_SPECIAL_PREDS, int(special.sum()))
    same = rng.random(n) < 0.1
    pred[same] = truth[same]
    return pred, truth


def sims_like(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.integers(-5, 6, n) / 5.0
    pred = rng.normal(0.0, 0.6, n)
    special = rng.random(n) < 0.3
    pred[special] = rng.choice(SIMS_SPECIAL_PREDS, int(special.sum()))
    return pred, truth


SIZES = [1, 2, 3, 5, 17, 64, 229, 686]


@pytest.mark.parametrize("grid", [5, 3])  # MOSI (0.2 grid) and MOSEI (1/3 grid) labels
def test_mosi_random_vs_reference(grid: int) -> None:
    rng = np.random.default_rng(1234 + grid)
    n_checked = 0
    for rep in range(150):
        n = SIZES[rep % len(SIZES)] if rep < 2 * len(SIZES) else int(rng.integers(1, 300))
        pred, truth = mosi_like(rng, n, grid)
        got = mosi_metrics(pred, truth)
        want = ref_mosi(pred.tolist(), truth.tolist())
        assert_metrics_close(got, want)
        n_checked += 1
    assert n_checked == 150


def test_sims_random_vs_reference() -> None:
    rng = np.random.default_rng(99)
    for rep in range(150):
        n = SIZES[rep % len(SIZES)] if rep < 2 * len(SIZES) else int(rng.integers(1, 300))
        pred, truth = sims_like(rng, n)
        assert_metrics_close(sims_metrics(pred, truth), ref_sims(pred.tolist(), truth.tolist()))


def test_float32_mosi_equals_float64_reference() -> None:
    rng = np.random.default_rng(7)
    pred, truth = mosi_like(rng, 500)
    pred32, truth32 = pred.astype(np.float32), truth.astype(np.float32)
    want = ref_mosi([float(x) for x in pred32], [float(x) for x in truth32])
    assert_metrics_close(mosi_metrics(pred32, truth32), want, tol=1e-6)


# ------------------------------------------------------------------------- hand-computed


def test_zero_prediction_is_nonnegative_in_has0_and_negative_in_non0() -> None:
    pred, truth = np.array([0.0]), np.array([0.4])
    assert has0_acc2(pred, truth) == 1.0
    assert non0_acc2(pred, truth) == 0.0
    assert has0_f1(pred, truth) == 1.0
    assert non0_f1(pred, truth) == 0.0
    # mixed case: truth>=0 [T,F,T,T] vs pred>=0 [T,T,T,F]; Non0 drops index 3
    pred, truth = np.array([0.0, 0.0, 1.0, -0.2]), np.array([0.4, -0.4, 1.0, 0.0])
    m = mosi_metrics(pred, truth)
    assert m["Has0_acc_2"] == 0.5
    assert m["Non0_acc_2"] == pytest.approx(2 / 3)


def test_f1_argument_order_truth_first() -> None:
    # truth 4 pos / 2 neg; pred 3 pos / 3 neg. F1(pos) = 4/7, F1(neg) = 2/5.
    truth = np.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0])
    pred = np.array([1.0, 1.0, -1.0, -1.0, -1.0, 1.0])
    right = (4 * (4 / 7) + 2 * (2 / 5)) / 6  # weights = true supports (4, 2)
    swapped = (3 * (4 / 7) + 3 * (2 / 5)) / 6  # weights = predicted supports (3, 3)
    assert abs(right - swapped) > 0.02
    m = mosi_metrics(pred, truth)
    assert m["Has0_F1_score"] == pytest.approx(right, abs=1e-12)
    assert m["Non0_F1_score"] == pytest.approx(right, abs=1e-12)
    assert weighted_f1(truth > 0, pred > 0) == pytest.approx(right, abs=1e-12)
    # SIMS F1 (the metric MMSA once swapped): same bins with SIMS values
    s = sims_metrics(pred * 0.5, truth * 0.5)
    assert s["F1_score"] == pytest.approx(right, abs=1e-12)


def test_round_half_to_even_and_clipping() -> None:
    truth = np.array([2.5, 0.5, -0.5, -2.5, 1.5])
    pred = np.array([2.0, 0.0, 0.0, -2.0, 2.0])  # equal after half-to-even; not after half-up
    assert mult_acc(pred, truth, 3.0) == 1.0
    assert mosi_metrics(pred, truth)["Mult_acc_7"] == 1.0
    # clipping: 4.2 -> 3 matches 3.0 in Acc-7; 2.6 and 2.4 -> 2 in Acc-5, not in Acc-7
    pred, truth = np.array([4.2, 2.4]), np.array([3.0, 2.6])
    m = mosi_metrics(pred, truth)
    assert m["Mult_acc_7"] == 0.5
    assert m["Mult_acc_5"] == 1.0


def test_mae_corr_unclipped_for_mosi_clipped_for_sims() -> None:
    pred, truth = np.array([5.0, -1.0, 0.5]), np.array([1.0, -1.0, 0.0])
    assert mae(pred, truth) == pytest.approx((4.0 + 0.0 + 0.5) / 3)
    assert mosi_metrics(pred, truth)["MAE"] == pytest.approx(4.5 / 3)
    assert sims_metrics(pred, truth)["MAE"] == pytest.approx(0.5 / 3)  # 5 -> 1
    assert pearson_corr(pred, truth) == pytest.approx(ref_pearson([5.0, -1.0, 0.5], [1.0, -1.0, 0.0]))


def test_sims_zero_is_negative_and_bins() -> None:
    assert sims_metrics(np.array([0.0]), np.array([0.2]))["Mult_acc_2"] == 0.0
    assert sims_metrics(np.array([0.0]), np.array([-0.4]))["Mult_acc_2"] == 1.0
    x = np.array([-1.5, -0.7, -0.69, -0.1, -0.09, 0.0, 0.1, 0.11, 0.7, 0.71, 1.0, 2.0])
    np.testing.assert_array_equal(sims_classes(x, 2), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(sims_classes(x, 3), [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    np.testing.assert_array_equal(sims_classes(x, 5), [0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4])
    with pytest.raises(ValueError, match="n_classes"):
        sims_classes(x, 7)


def test_sims_edges_compared_in_input_dtype() -> None:
    # float32(0.1) > 0.1 in float64 but == 0.1 in float32 (MMSA bins its float32 tensors in
    # float32): float32 input stays in (-0.1, 0.1], float64 input of the same value does not.
    # Likewise float32(-0.7) is > -0.7 in float64.
    x32 = np.array([0.1, -0.1, 0.7, -0.7], dtype=np.float32)
    np.testing.assert_array_equal(sims_classes(x32, 5), [2, 1, 3, 0])
    np.testing.assert_array_equal(sims_classes(x32.astype(np.float64), 5), [3, 1, 3, 1])


# --------------------------------------------------------------------- degenerate inputs


def test_all_truths_zero_gives_nan_non0() -> None:
    m = mosi_metrics(np.array([0.3, -0.2, 0.0]), np.zeros(3))
    assert math.isnan(m["Non0_acc_2"]) and math.isnan(m["Non0_F1_score"])
    assert m["Has0_acc_2"] == pytest.approx(2 / 3)
    assert math.isnan(m["Corr"])  # constant truth
    assert math.isnan(non0_acc2(np.array([1.0]), np.array([0.0])))
    assert math.isnan(non0_f1(np.array([1.0]), np.array([0.0])))


def test_constant_prediction_corr_is_nan_without_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = mosi_metrics(np.full(5, 0.7), np.array([1.0, -1.0, 2.0, 0.0, 0.4]))
        s = sims_metrics(np.full(5, 3.0), np.array([1.0, -1.0, 0.2, 0.0, 0.4]))  # clips to 1
        one = mosi_metrics(np.array([1.0]), np.array([2.0]))
    assert math.isnan(m["Corr"]) and math.isnan(s["Corr"]) and math.isnan(one["Corr"])


def test_single_class() -> None:
    m = mosi_metrics(np.array([1.0, 2.0, 0.5]), np.array([0.2, 1.4, 3.0]))
    assert m["Has0_acc_2"] == m["Has0_F1_score"] == m["Non0_acc_2"] == m["Non0_F1_score"] == 1.0
    m = mosi_metrics(np.array([-1.0, 2.0]), np.array([0.2, 1.4]))  # truth single class
    assert m["Has0_F1_score"] == pytest.approx(ref_weighted_f1([True, True], [False, True]))


@pytest.mark.parametrize(
    ("pred", "truth", "match"),
    [
        (np.zeros(3), np.zeros(4), "different lengths: 3 vs 4"),
        (np.zeros(0), np.zeros(0), "pred: empty"),
        (np.array([0.0, np.nan]), np.zeros(2), r"pred: 1 non-finite .* index 1"),
        (np.zeros(2), np.array([np.inf, 0.0]), r"truth: 1 non-finite .* index 0"),
        (np.zeros((3, 2)), np.zeros(3), r"pred: expected .* got shape \(3, 2\)"),
        (np.array(["a", "b"]), np.zeros(2), "pred: expected a real numeric array"),
        (np.float64(1.0), np.zeros(1), "pred: expected"),
    ],
)
def test_invalid_input(pred, truth, match) -> None:
    for fn in (mosi_metrics, sims_metrics, mae, has0_acc2):
        with pytest.raises(MetricInputError, match=match):
            fn(pred, truth)
    with pytest.raises(ValueError):  # MetricInputError is a ValueError
        score(pred, truth, "mosi")


def test_error_names_argument() -> None:
    with pytest.raises(MetricInputError) as ei:
        mosi_metrics(np.zeros(2), np.array([np.nan, 1.0]))
    assert ei.value.argument == "truth"
    with pytest.raises(MetricInputError) as ei:
        mosi_metrics(np.zeros(2), np.zeros(3))
    assert ei.value.argument is None


def test_column_vectors_and_ints_accepted() -> None:
    pred, truth = np.array([[1.0], [-2.0], [0.0]]), np.array([1, -1, 0])
    assert mosi_metrics(pred, truth) == mosi_metrics(pred[:, 0], truth.astype(float))


# ------------------------------------------------------------------------ classification


def test_classification_vs_reference_and_names() -> None:
    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(1, 120))
        logits = rng.normal(size=(n, 3))
        truth = rng.integers(0, 3, n)
        m = classification_metrics(logits, truth, class_names=["neg", "neu", "pos"])
        p = [int(np.argmax(r)) for r in logits]
        t = truth.tolist()
        assert m["Acc"] == pytest.approx(ref_accuracy(p, t), abs=1e-12)
        assert m["F1_weighted"] == pytest.approx(ref_weighted_f1(t, p), abs=1e-12)
        seen = sorted(set(t) | set(p))
        per = {}
        for c, name in enumerate(["neg", "neu", "pos"]):
            binary_t = [x == c for x in t]
            binary_p = [x == c for x in p]
            tp = sum(a and b for a, b in zip(binary_t, binary_p, strict=True))
            denom = sum(binary_t) + sum(binary_p)
            per[c] = 2 * tp / denom if denom else NAN
            if math.isnan(per[c]):
                assert math.isnan(m[f"F1_{name}"])
            else:
                assert m[f"F1_{name}"] == pytest.approx(per[c], abs=1e-12)
        assert m["F1_macro"] == pytest.approx(sum(per[c] for c in seen) / len(seen), abs=1e-12)
    assert list(m) == ["Acc", "F1_weighted", "F1_macro", "F1_neg", "F1_neu", "F1_pos"]


def test_classification_labels_absent_class_and_weights() -> None:
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), class_names=["a", "b", "c"])
    assert math.isnan(m["F1_c"])  # class 2 occurs nowhere
    assert m["F1_macro"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    w = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), sample_weight=[1, 1, 0])
    assert w["Acc"] == 1.0 and w["F1_weighted"] == 1.0
    assert list(w) == ["Acc", "F1_weighted", "F1_macro", "F1_0", "F1_1"]
    with pytest.raises(MetricInputError, match="2 score columns but 1 classes"):
        classification_metrics(np.zeros((3, 2)), np.array([0, 1, 0]), class_names=["a"])
    with pytest.raises(MetricInputError, match="pred: class label 1 out of range for 1 classes"):
        classification_metrics(np.array([0, 1]), np.array([0, 1]), class_names=["a"])
    with pytest.raises(MetricInputError, match="duplicate"):
        classification_metrics(np.array([0, 1]), np.array([0, 1]), class_names=["a", "a"])
    with pytest.raises(MetricInputError, match="truth: class label 5 out of range"):
        classification_metrics(np.zeros((2, 3)), np.array([0, 5]))
    with pytest.raises(MetricInputError, match="integers"):
        classification_metrics(np.array([0, 1]), np.array([0.5, 1.0]))
    with pytest.raises(MetricInputError, match="sample_weight"):
        classification_metrics(np.array([0, 1]), np.array([0, 1]), sample_weight=[-1, 1])


def test_mmsa_classification_hand_case() -> None:
    # classes 0 Neg / 1 Neu / 2 Pos. Two-class prediction = argmax of logits (0, 2).
    logits = np.array(
        [[3.0, 0.0, 1.0],  # p3=0, p2=0 ; truth 0
         [0.0, 3.0, 1.0],  # p3=1, p2=1 ; truth 1 (Neutral)
         [0.0, 1.0, 3.0],  # p3=2, p2=1 ; truth 2
         [2.0, 0.0, 1.0]]  # p3=0, p2=0 ; truth 2
    )
    truth = np.array([0, 1, 2, 2])
    m = mmsa_classification_metrics(logits, truth)
    assert list(m) == list(MMSA_CLASSIFICATION_KEYS)
    assert m["Acc_3"] == 0.75
    # Has0: truth<=1 -> 0: [0,0,1,1] vs p2 [0,1,1,0]
    assert m["Has0_acc_2"] == 0.5
    assert m["Has0_F1_score"] == pytest.approx(ref_weighted_f1([0, 0, 1, 1], [0, 1, 1, 0]))
    # Non0 drops the Neutral; truth {0,2} -> {0,1}: [0,1,1] vs [0,1,0]
    assert m["Non0_acc_2"] == pytest.approx(2 / 3)
    assert m["Non0_F1_score"] == pytest.approx(ref_weighted_f1([0, 1, 1], [0, 1, 0]))
    assert m["F1_score_3"] == pytest.approx(ref_weighted_f1([0, 1, 2, 2], [0, 1, 2, 0]))
    allneu = mmsa_classification_metrics(logits, np.ones(4))
    assert math.isnan(allneu["Non0_acc_2"]) and math.isnan(allneu["Non0_F1_score"])
    with pytest.raises(MetricInputError, match=r"pred: expected \(N, 3\)"):
        mmsa_classification_metrics(logits[:, :2], truth)


def test_iemocap_per_emotion() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(40, 4, 2))
    truth = rng.integers(0, 2, (40, 4))
    m = per_emotion_binary_metrics(logits, truth)
    assert list(m)[:2] == ["Acc_Neutral", "F1_Neutral"] and len(m) == 8
    for i, emo in enumerate(["Neutral", "Happy", "Sad", "Angry"]):
        p = [int(logits[j, i, 1] > logits[j, i, 0]) for j in range(40)]
        t = truth[:, i].tolist()
        assert m[f"F1_{emo}"] == pytest.approx(ref_weighted_f1(t, p), abs=1e-12)
        assert m[f"Acc_{emo}"] == pytest.approx(ref_accuracy(p, t), abs=1e-12)
    hard = np.argmax(logits, axis=-1)
    assert per_emotion_binary_metrics(hard, truth) == m
    single = per_emotion_binary_metrics(logits[:, 1], truth[:, 1], class_names=["Happy"])
    assert single == {"Acc_Happy": m["Acc_Happy"], "F1_Happy": m["F1_Happy"]}
    assert list(per_emotion_binary_metrics(hard[:, :2], truth[:, :2])) == [
        "Acc_0", "F1_0", "Acc_1", "F1_1"]
    with pytest.raises(MetricInputError, match="pred: shape"):
        per_emotion_binary_metrics(logits[:, :, :1], truth)
    with pytest.raises(MetricInputError, match="binary"):
        per_emotion_binary_metrics(hard, truth * 2)


# ---------------------------------------------------------------------------- robustness


def test_mean_over_conditions() -> None:
    vals = {c: float(i) for i, c in enumerate(INCOMPLETE_CONDITIONS)} | {"tav": 100.0}
    assert INCOMPLETE_CONDITIONS == ("t", "a", "v", "ta", "tv", "av")
    assert mean_over_conditions(vals) == pytest.approx(2.5)
    assert mean_over_conditions(vals, ["tav", "t"]) == 50.0
    with pytest.raises(ValueError, match=r"no entry for condition\(s\) \['av'\]"):
        mean_over_conditions({c: 1.0 for c in INCOMPLETE_CONDITIONS[:-1]})
    with pytest.raises(ValueError, match="empty"):
        mean_over_conditions(vals, [])
    assert math.isnan(mean_over_conditions(vals | {"t": NAN}))


def test_area_under_curve_and_effective_robustness() -> None:
    rates = [0.0, 0.1, 0.2, 0.4]
    vals = [0.8, 0.7, 0.7, 0.5]
    raw = 0.1 * (0.8 + 0.7) / 2 + 0.1 * (0.7 + 0.7) / 2 + 0.2 * (0.7 + 0.5) / 2
    assert area_under_curve(rates, vals, normalize=False) == pytest.approx(raw)
    assert area_under_curve(rates, vals) == pytest.approx(raw / 0.4)
    assert area_under_curve([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    # MultiBench helper: sum over levels of (f_i + f_{i+1}) * 0.1 / 2
    f = [0.9, 0.8, 0.6, 0.5]
    mb = sum((f[i] + f[i + 1]) * 0.1 / 2 for i in range(3))
    assert area_under_curve([0.0, 0.1, 0.2, 0.3], f, normalize=False) == pytest.approx(mb)
    with pytest.raises(ValueError, match="strictly increasing"):
        area_under_curve([0.0, 0.2, 0.1], [1, 1, 1])
    with pytest.raises(ValueError, match="at least 2"):
        area_under_curve([0.0], [1.0])
    with pytest.raises(ValueError, match="equal length"):
        area_under_curve([0.0, 0.1], [1.0])
    ref = [0.8, 0.6, 0.3, 0.1]
    # beta = ref + (0.9 - 0.8) = [0.9, 0.7, 0.4, 0.2]; f - beta = [0, .1, .2, .3]
    assert effective_robustness(f, ref) == pytest.approx(0.6)
    assert effective_robustness(ref, ref) == 0.0
    with pytest.raises(ValueError):
        effective_robustness([1.0, 2.0], [1.0])


# ------------------------------------------------------------------------------ registry


def test_score_registry_and_json() -> None:
    rng = np.random.default_rng(11)
    pred, truth = mosi_like(rng, 50)
    for conv, keys in (("mosi", MOSI_KEYS), ("mosei", MOSI_KEYS), ("sims", SIMS_KEYS)):
        s = score(pred, truth, conv)
        assert isinstance(s, Scores) and s.convention == conv and tuple(s) == keys
    assert score(pred, truth, "MOSI") == mosi_metrics(pred, truth)
    assert set(CONVENTIONS) == {
        "mosi", "mosei", "sims", "mmsa_classification", "classification", "iemocap"}
    with pytest.raises(ValueError, match="unknown convention 'foo'"):
        score(pred, truth, "foo")
    with pytest.raises(ValueError, match="does not take 'class_names'"):
        score(pred, truth, "mosi", class_names=["a"])
    s = score(np.full(3, 1.0), np.array([1.0, 2.0, 0.0]), "mosi")
    j = s.to_json_dict()
    assert list(j) == ["convention", *MOSI_KEYS] and j["convention"] == "mosi"
    assert j["Corr"] is None and math.isnan(s["Corr"])
    assert s.to_json_dict(decimals=4)["MAE"] == round(s["MAE"], 4)
