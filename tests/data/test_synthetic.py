"""The synthetic benchmark: determinism, presets, structure, and the documented informativeness."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robustmsa.data import MSASplit, make_synthetic_msa, make_synthetic_preset
from robustmsa.errors import ConfigError

MODS = ("text", "audio", "vision")


class Ridge:
    """Closed-form ridge regression on standardised inputs (intercept = mean label)."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> Ridge:
        x = x.astype(np.float64)
        self.b = float(y.mean())
        self.w = np.linalg.solve(x.T @ x + self.alpha * np.eye(x.shape[1]), x.T @ (y - self.b))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ self.w + self.b


class StandardScaler:
    def fit(self, x: np.ndarray) -> StandardScaler:
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-8
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) / self.sd


@pytest.fixture(scope="module")
def mosi():
    t0 = time.perf_counter()
    ds = make_synthetic_preset("mosi", random_state=0)
    return ds, time.perf_counter() - t0


def _pooled(sp: MSASplit, mods, keep: np.ndarray | None = None) -> np.ndarray:
    cols = []
    for m in mods:
        x, ln = sp.features[m], sp.lengths[m]
        valid = np.arange(x.shape[1])[None, :] < ln[:, None]
        if keep is not None:
            valid = valid & keep
        cols.append((x * valid[..., None]).sum(1) / np.maximum(valid.sum(1), 1)[:, None])
    return np.concatenate(cols, axis=1)


def _ridge(ds, mods, cache: dict | None = None) -> tuple[float, float, Ridge, StandardScaler]:
    """Ridge on time-averaged features, alpha picked on valid; test (corr, acc2)."""
    cache = {} if cache is None else cache

    def feats(split: str) -> np.ndarray:
        for m in mods:
            if (split, m) not in cache:
                cache[split, m] = _pooled(ds[split], (m,))
        return np.concatenate([cache[split, m] for m in mods], axis=1)

    tr, va, te = ds["train"], ds["valid"], ds["test"]
    sc = StandardScaler().fit(feats("train"))
    xtr, xva, xte = sc.transform(feats("train")), sc.transform(feats("valid")), sc.transform(
        feats("test"))
    fits = [Ridge(alpha=a).fit(xtr, tr.labels) for a in (1.0, 10.0, 100.0, 1000.0)]
    best = max(fits, key=lambda r: np.corrcoef(r.predict(xva), va.labels)[0, 1])
    p = best.predict(xte)
    nz = te.labels != 0
    return (float(np.corrcoef(p, te.labels)[0, 1]),
            float(((p[nz] > 0) == (te.labels[nz] > 0)).mean()), best, sc)


@pytest.fixture(scope="module")
def pooled_cache() -> dict:
    return {}


def test_presets_shapes_and_speed(mosi) -> None:
    ds, seconds = mosi
    assert {s: len(sp) for s, sp in ds.splits.items()} == {"train": 1284, "valid": 229,
                                                           "test": 686}
    assert ds.info.dims == {"text": 300, "audio": 5, "vision": 20}
    assert ds.info.seq_lens == {"text": 50, "audio": 50, "vision": 50}
    assert ds["train"].features["text"].shape == (1284, 50, 300)
    assert seconds < 6.0  # ~1 s on 2 cores; generous bound against noisy CI machines
    small = make_synthetic_preset("small")
    assert {s: len(sp) for s, sp in small.splits.items()} == {"train": 300, "valid": 100,
                                                             "test": 100}
    assert set(small.info.seq_lens.values()) == {20}


def test_deterministic_and_no_global_rng() -> None:
    state = np.random.get_state()[1].copy()
    a = make_synthetic_preset("small", random_state=7)
    b = make_synthetic_preset("small", random_state=7)
    c = make_synthetic_preset("small", random_state=8)
    assert np.array_equal(np.random.get_state()[1], state)
    for s in a.splits:
        for m in MODS:
            np.testing.assert_array_equal(a[s].features[m], b[s].features[m])
            np.testing.assert_array_equal(a[s].lengths[m], b[s].lengths[m])
        np.testing.assert_array_equal(a[s].labels, b[s].labels)
    assert not np.array_equal(a["train"].features["text"], c["train"].features["text"])
    gen = make_synthetic_msa(20, 5, 5, seq_len=6, dims={"text": 4},
                             random_state=np.random.default_rng(1))
    assert gen.info.modalities == ("text",)


def test_structure_labels_lengths_padding(mosi) -> None:
    ds, _ = mosi
    y = np.concatenate([sp.labels for sp in ds.splits.values()])
    assert y.min() >= -3 and y.max() <= 3
    np.testing.assert_allclose(y * 5, np.round(y * 5), atol=1e-4)  # 0.2 grid
    assert 0.02 < (y == 0).mean() < 0.10 and 0.45 < (y >= 0).mean() < 0.62  # MOSI-like
    assert 1.2 < y.std() < 1.7
    for sp in ds.splits.values():
        for m in MODS:
            x, ln = sp.features[m], sp.lengths[m]
            assert x.dtype == np.float32 and np.isfinite(x).all()
            assert ln.min() >= 20 and ln.max() == 50 and len(np.unique(ln)) > 10
            pad = np.arange(50)[None, :] >= ln[:, None]
            assert (x[pad] == 0).all() and (np.abs(x[~pad]).sum(-1) > 0).all()
        np.testing.assert_array_equal(sp.lengths["text"], sp.lengths["audio"])  # aligned
    un = make_synthetic_msa(40, 10, 10, seq_len=12, aligned=False, random_state=0)
    assert not np.array_equal(un["train"].lengths["text"], un["train"].lengths["audio"])


def test_informativeness_ordering(mosi, pooled_cache) -> None:
    """Linear probes on time-averaged features: text >> audio, vision > chance; all >= text."""
    ds, _ = mosi
    corr = {}
    acc = {}
    for mods in (("text",), ("audio",), ("vision",), MODS):
        corr[mods], acc[mods], *_ = _ridge(ds, mods, pooled_cache)
    t, a, v, all3 = corr[("text",)], corr[("audio",)], corr[("vision",)], corr[MODS]
    assert t > a + 0.2 and t > v + 0.2, corr
    assert all3 >= t, corr
    # weak but real, like the real MOSI release (audio 0.55, vision 0.52 accuracy with LR)
    assert a > 0.08 and v > 0.08, corr  # chance ~ 0 +- 0.04 on 686 test clips
    assert acc[("text",)] > 0.72 and acc[("audio",)] > 0.53 and acc[("vision",)] > 0.53, acc


def test_frame_dropping_hurts(mosi, pooled_cache) -> None:
    ds, _ = mosi
    base, _, model, sc = _ridge(ds, ("text",), pooled_cache)
    te = ds["test"]
    keep = np.random.default_rng(0).random(te.features["text"].shape[:2]) >= 0.7
    p = model.predict(sc.transform(_pooled(te, ("text",), keep)))
    dropped = float(np.corrcoef(p, te.labels)[0, 1])
    assert dropped < base - 0.15, (base, dropped)


def test_zero_informativeness_means_no_signal() -> None:
    ds = make_synthetic_msa(600, 100, 300, seq_len=10, dims={"text": 8, "audio": 4},
                            informativeness={"text": 1.0, "audio": 0.0}, random_state=0)
    c, *_ = _ridge(ds, ("audio",))
    assert abs(c) < 0.15


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"n_train": 0}, "n_train"), ({"seq_len": 1}, "seq_len"),
     ({"dims": {"text": 0}}, "dims"), ({"dims": {"smell": 3}}, "dims"),
     ({"informativeness": {"text": -1, "audio": 1, "vision": 1}}, "informativeness"),
     ({"informativeness": {"text": 1}}, "informativeness"),
     ({"specific_share": {"text": 0.5, "audio": 0.3, "vision": 0.3}}, "specific_share"),
     ({"n_events": (0, 2)}, "n_events"), ({"n_events": (3, 80)}, "n_events"),
     ({"event_share": 1.5}, "event_share"), ({"min_length": 0.0}, "min_length"),
     ({"label_noise": -0.1}, "label_noise"), ({"random_state": -3}, "random_state")],
)
def test_parameter_validation(kw: dict, field: str) -> None:
    args = {"n_train": 10, "n_valid": 2, "n_test": 2, **kw}
    with pytest.raises(ConfigError, match=field):
        make_synthetic_msa(args.pop("n_train"), args.pop("n_valid"), args.pop("n_test"), **args)
    with pytest.raises(ConfigError, match="unknown synthetic preset"):
        make_synthetic_preset("huge")
