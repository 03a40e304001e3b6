"""Paths and transcripts of the fixture clips used by the raw-media tests."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
MEDIA_DIR = Path(os.environ.get("ROBUSTMSA_MEDIA_DIR", SHARED / "media"))
LABELS_DIR = Path(os.environ.get("ROBUSTMSA_LABELS_DIR", SHARED / "labels"))

OZ_VIDEO = "Oz06ZWiO20M_6.mp4"
OZ_TEXT = (
    "and sucker punch is a failer but like a really ambitious weird the interesting "
    "idiosyncratic failure"
)
WAV = "03bSnISJMiM_1.wav"
WAV_TEXT = "anyhow it was really good"
OPENVNA_CLIP = "openvna_mosi_clip.mp4"
OPENVNA_TEST = "openvna_test.mp4"

# tiny backbone, 2 epochs: config overrides of the zoo builds in the tests
TINY_MODEL = ("train.epochs=2", "train.batch_size=4", "model.d_model=8", "model.num_heads=2",
              "model.num_layers=1", "model.ffn_dim=8")
