"""Test-only writers of MMSA / MulT / Python-2-style / malicious pickles (never used by the
library). Imported by the tests as ``msa_pickle_writers`` (tests/data is on sys.path through
its conftest)."""

from __future__ import annotations

import builtins
import os
import pickle
import struct
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_MEDIA = REPO.parent / "shared" / "media"
SIZES = {"train": 6, "valid": 4, "test": 5}
DIMS = {"text": 16, "audio": 5, "vision": 7}


# ----------------------------------------------------------------------------- MMSA layouts
def _padded(rng: np.random.Generator, n: int, t: int, d: int, lengths: np.ndarray) -> np.ndarray:
    x = rng.normal(size=(n, t, d)).astype(np.float32) + 0.1  # no exact zeros inside
    x[np.arange(t)[None, :] >= lengths[:, None]] = 0
    return x


def mmsa_split(kind: str, n: int, seed: int, dims: dict[str, int] = DIMS) -> dict:
    """One split of an MMSA pickle: ``kind`` in aligned / unaligned / sims."""
    rng = np.random.default_rng(seed)
    t_text = 12
    text_len = rng.integers(3, t_text + 1, n)
    mask = (np.arange(t_text)[None, :] < text_len[:, None]).astype(np.float64)
    d: dict = {
        "raw_text": np.array([f"clip {i}" for i in range(n)], dtype=object),
        "id": np.array([f"vid{i // 2}$_${i % 2}" for i in range(n)], dtype=object),
        "text": rng.normal(size=(n, t_text, dims["text"])).astype(np.float32),  # BERT: no zeros
        "text_bert": np.stack([mask * 100, mask, np.zeros_like(mask)], axis=1),
        "annotations": np.array(["Positive"] * n, dtype=object),
        "classification_labels": np.zeros(n, dtype=np.float32),
    }
    lo = -1.0 if kind == "sims" else -3.0
    d["regression_labels"] = np.round(rng.uniform(lo, -lo, n) / 0.2) * 0.2
    if kind == "aligned":
        d["audio"] = _padded(rng, n, t_text, dims["audio"], text_len)
        d["vision"] = _padded(rng, n, t_text, dims["vision"], text_len)
    else:
        t_a, t_v = (30, 20) if kind == "unaligned" else (40, 9)
        la, lv = rng.integers(1, t_a + 1, n), rng.integers(1, t_v + 1, n)
        d["audio"] = _padded(rng, n, t_a, dims["audio"], la)
        d["vision"] = _padded(rng, n, t_v, dims["vision"], lv)
        d["audio_lengths"], d["vision_lengths"] = la, lv
    if kind == "sims":
        for m in "TAV":
            d[f"regression_labels_{m}"] = np.round(rng.uniform(-1, 1, n) / 0.2) * 0.2
    return d


def mmsa_object(kind: str = "aligned", seed: int = 0) -> dict:
    return {s: mmsa_split(kind, n, seed + i) for i, (s, n) in enumerate(SIZES.items())}


def mult_split(n: int, seed: int, *, left_pad: bool = False, t: int = 10) -> dict:
    """One split of a MulT / MultiBench pickle (labels (N,1,1), ids (N,3) of bytes)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, t + 1, n)
    feats = {m: _padded(rng, n, t, d, lengths) for m, d in DIMS.items()}
    if left_pad:
        for m, x in feats.items():
            feats[m] = np.stack([np.roll(x[i], t - lengths[i], axis=0) for i in range(n)])
    ids = np.array([[f"v{i}".encode(), b"0.5", b"2.5"] for i in range(n)], dtype=object)
    return {**feats, "labels": rng.uniform(-3, 3, (n, 1, 1)).astype(np.float32), "id": ids,
            "_lengths": lengths}


def mult_object(seed: int = 0, *, left_pad: bool = False) -> dict:
    return {s: mult_split(n, seed + i, left_pad=left_pad) for i, (s, n) in enumerate(SIZES.items())}


def strip_private(obj: dict) -> dict:
    return {s: {k: v for k, v in d.items() if not k.startswith("_")} for s, d in obj.items()}


# ----------------------------------------------------------------------------- pickle writers
def write_pickle(obj: object, path: Path, protocol: int = 4) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes ``bytes`` as Python 2 ``str`` (BINSTRING), like pickles made under Python 2."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def write_py2_pickle(obj: object, path: Path) -> Path:
    """A protocol-2 pickle shaped like Python 2 + NumPy 1.x output (``numpy.core`` names,
    raw array buffers as ``str``)."""
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    path.write_bytes(data)
    return path


class EvilSystem:
    """Unpickling this runs ``os.system`` (touches a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvilEval:
    """Unpickling this runs ``builtins.eval``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


