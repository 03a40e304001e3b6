"""Shared fixtures: tiny in-memory datasets generated in code (no files needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robustmsa.config import ExperimentConfig, load_config
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


def tiny_config(method: str = "teacher", *extra: str, teacher: str = "") -> ExperimentConfig:
    ov = [f"method={method}", "train.epochs=2", "train.batch_size=16", "train.progress=false",
          "model.d_model=8", "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=16"]
    if teacher:
        ov.append(f"teacher={teacher}")
    return load_config(None, ov + list(extra))


def train_tiny(method: str, data: MSADataset, out: Path, *extra: str, teacher: str = "") -> str:
    """Train ``tiny_config(method, *extra)`` on ``data`` into ``out``; the best.pt path."""
    from robustmsa.engine.trainer import Trainer

    Trainer(tiny_config(method, *extra, teacher=teacher), data, out).fit()
    return str(out / "best.pt")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``robustmsa ARGS`` in this process: (exit status, stdout, stderr)."""
    from robustmsa.cli import main

    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``robustmsa ARGS`` in this process; its stdout (fails the test on a non-zero exit)."""
    rc, out, err = cli(capsys, *args)
    assert rc == 0, err
    return out


def record_values(records: list[dict]) -> dict[tuple, float]:
    """results.json records keyed by (name, fold, protocol, condition, mask_seed, metric)."""
    return {(r["name"], r.get("fold"), r["protocol"], r["condition"], r["mask_seed"],
             r["metric"]): r["value"] for r in records}


@pytest.fixture(scope="session")
def tiny_data() -> MSADataset:
    """``make_tiny_dataset()``, one for the whole session: read-only (copy before changing)."""
    return make_tiny_dataset()


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory, tiny_data: MSADataset) -> str:
    """best.pt of a ``teacher`` trained on `tiny_data` with `tiny_config`'s defaults (2
    epochs), shared by every test that needs a frozen teacher for ``tiny_data``."""
    return train_tiny("teacher", tiny_data, tmp_path_factory.mktemp("tiny_teacher"))


@pytest.fixture(scope="session")
def resumed_logit_kd(tmp_path_factory: pytest.TempPathFactory, tiny_data: MSADataset,
                     tiny_teacher: str) -> tuple[Path, Path]:
    """(full, part) run directories of ``logit_kd`` on `tiny_data`: 3 epochs in one go, and 1
    epoch then resumed to 3 (``train.epochs`` raised in ``last.pt``, as a user extends a run)."""
    import torch

    from robustmsa.engine.checkpoint import save_checkpoint
    from robustmsa.engine.trainer import Trainer

    root = tmp_path_factory.mktemp("resumed_logit_kd")
    full, part = root / "full", root / "part"
    train_tiny("logit_kd", tiny_data, full, "train.epochs=3", teacher=tiny_teacher)
    train_tiny("logit_kd", tiny_data, part, "train.epochs=1", teacher=tiny_teacher)
    ck = torch.load(part / "last.pt", weights_only=True)
    ck["config"]["train"]["epochs"] = 3
    save_checkpoint({k: v for k, v in ck.items()
                     if not k.startswith(("format", "robustmsa_v", "torch_v"))}, part / "last.pt")
    Trainer(tiny_config("logit_kd", "train.epochs=3", teacher=tiny_teacher), tiny_data,
            part).fit(resume=True)
    return full, part


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED
