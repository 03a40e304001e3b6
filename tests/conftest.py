"""Shared fixtures: tiny in-memory datasets generated in code (no files needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robustmsa.config import load_config
from robustmsa.data.groups import groups_from_ids
from robustmsa.data.schema import MSADataset, MSASplit, infer_info

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def make_tiny_split(n: int, seed: int, t: int = 8, dims=(("text", 12), ("audio", 5), ("vision", 7))
                    ) -> MSASplit:
    """Scores on the 0.2 grid (zeros included); each modality carries a noisy copy of it."""
    rng = np.random.default_rng(seed)
    y = np.round(rng.uniform(-3, 3, n) / 0.2) * 0.2
    y[:2] = [0.0, -0.0]
    feats, lens = {}, {}
    for k, (m, d) in enumerate(dims):
        x = rng.normal(size=(n, t, d)).astype(np.float32)
        x[:, :, 0] += (1.5 - 0.5 * k) * y[:, None]
        ln = rng.integers(2, t + 1, n)
        x[np.arange(t)[None, :] >= ln[:, None]] = 0
        feats[m], lens[m] = x, ln
    ids = np.array([f"v{i // 4}_{i}" for i in range(n)])
    # groups (videos of 4 clips) let conversation-level methods (GCNet) run on the fixture
    return MSASplit(feats, lens, y.astype(np.float32), ids, groups=groups_from_ids(ids))


def make_tiny_dataset(seed: int = 0, n=(48, 16, 16), **kw) -> MSADataset:
    splits = {s: make_tiny_split(k, seed + i, **kw) for i, (s, k) in enumerate(zip(("train", "valid", "test"), n, strict=True))}
    return MSADataset(splits, infer_info(splits, name="tiny", source="tests/conftest.py"))


@pytest.fixture
def tiny_data() -> MSADataset:
    return make_tiny_dataset()


def tiny_config(method: str = "teacher", *extra: str, teacher: str = ""):
    ov = [f"method={method}", "train.epochs=2", "train.batch_size=16", "train.progress=false",
          "model.d_model=8", "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=16"]
    if teacher:
        ov.append(f"teacher={teacher}")
    return load_config(None, ov + list(extra))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED
