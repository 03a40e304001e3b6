"""A synthetic feature pickle in the layout of MMSA's MOSI ``aligned_50.pkl`` (for speed tests).

1,284 / 229 / 686 clips, T = 50, text 768-d (BERT-sized), audio 5-d, vision 20-d, built from
`robustmsa.data.synthetic.make_synthetic_msa` (aligned, shared lengths). Keys per split, as in
MMSA's files: ``text`` (N, 50, 768) float32, ``text_bert`` (N, 3, 50) (token ids, attention
mask, segment ids), ``audio`` (N, 50, 5), ``vision`` (N, 50, 20), ``audio_lengths`` and
``vision_lengths`` (N,) (MMSA's unaligned models read them), ``regression_labels``,
``classification_labels``, ``raw_text``, ``id`` (``video$_$clip``), ``annotations``.

Used by ``benchmarks/train_speed.py`` and ``benchmarks/mmsa_speed.py``; written with plain
``pickle`` because MMSA reads it that way (robustmsa reads it through its restricted
unpickler). Standalone::

    .venv/bin/python benchmarks/mmsa_layout.py runs/aligned_50_synthetic.pkl
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np

DIMS = {"text": 768, "audio": 5, "vision": 20}
SIZES = {"train": 1284, "valid": 229, "test": 686}
SEQ_LEN = 50


def build(seed: int = 0) -> dict:
    from robustmsa.data.synthetic import make_synthetic_msa

    ds = make_synthetic_msa(n_train=SIZES["train"], n_valid=SIZES["valid"], n_test=SIZES["test"],
                            seq_len=SEQ_LEN, dims=DIMS, aligned=True, random_state=seed,
                            name="aligned_50_synthetic")
    out = {}
    for split in ("train", "valid", "test"):
        sp = ds[split]
        n = len(sp)
        length = sp.lengths["text"].astype(np.int64)
        mask = (np.arange(SEQ_LEN)[None, :] < length[:, None]).astype(np.float32)  # (N, T)
        ids = np.where(mask > 0, 1000 + np.arange(SEQ_LEN)[None, :], 0).astype(np.float32)
        labels = sp.labels.astype(np.float32)
        out[split] = {
            "text": sp.features["text"].astype(np.float32),
            "text_bert": np.stack([ids, mask, np.zeros_like(mask)], axis=1),  # (N, 3, T)
            "audio": sp.features["audio"].astype(np.float32),
            "vision": sp.features["vision"].astype(np.float32),
            "audio_lengths": length.copy(),
            "vision_lengths": length.copy(),
            "regression_labels": labels,
            "classification_labels": np.sign(labels).astype(np.float32) + 1,
            "raw_text": np.array([f"clip {i}" for i in range(n)], dtype=object),
            "id": np.array([f"vid{i // 8}$_${i % 8}" for i in range(n)], dtype=object),
            "annotations": np.array(["Neutral"] * n, dtype=object),
        }
    return out


def write(path: str | Path, seed: int = 0) -> Path:
    from robustmsa.fileio import atomic_write

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    obj = build(seed)
    atomic_write(p, lambda fh: pickle.dump(obj, fh, protocol=4))
    return p


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else "runs/aligned_50_synthetic.pkl"))
