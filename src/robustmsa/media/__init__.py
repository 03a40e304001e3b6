"""Raw media -> features, fully offline (needs the ``media`` extra).

Modules:

* `decode` — PyAV decoding (audio to 16 kHz mono, video frames at a fixed fps);
* `text`, `audio`, `vision` — the extractors, registered by name in `registry`
  (``minilm`` 384-d, ``psf`` 41-d, ``egemaps`` 25-d opt-in, ``facemesh`` 1441-d);
* `pipeline` — `MediaPipeline`: one extractor per modality + missing-modality detection;
* `extract_dataset` — label.csv + clips (or transcripts only) -> dataset file (resumable);
* `predict` — `predict_media` / `format_prediction`: clip -> a checkpoint's prediction;
* `batch` — `predict_dir` (a folder of clips, one row each), `ClipPredictor`, `predict_clip`;
* `quiet` — keeps third-party native log lines (MediaPipe/TFLite) off the terminal;
* `provenance` — where datasets store their extractor configuration.

Heavy libraries (torch, transformers, mediapipe, av) load only when used. The names below are
imported lazily from their modules.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MediaPipeline": "robustmsa.media.pipeline",
    "ClipFeatures": "robustmsa.media.pipeline",
    "ModalityFeatures": "robustmsa.media.base",
    "extract_dataset": "robustmsa.media.extract_dataset",
    "extract_text_dataset": "robustmsa.media.extract_dataset",
    "predict_media": "robustmsa.media.predict",
    "format_prediction": "robustmsa.media.predict",
    "result_to_json": "robustmsa.media.predict",
    "predict_dir": "robustmsa.media.batch",
    "predict_clip": "robustmsa.media.batch",
    "ClipPredictor": "robustmsa.media.batch",
    "extractor_config": "robustmsa.media.provenance",
    "build_extractor": "robustmsa.media.registry",
    "extractor_names": "robustmsa.media.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'robustmsa.media' has no attribute {name!r}")
