"""robustmsa: multimodal sentiment analysis that keeps working when modalities go missing.

Importing the package is cheap: torch and the rest load when a name that needs them is first
used (``robustmsa.Batch``, ``robustmsa.predict_clip``...), so ``robustmsa --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "MODALITIES": "robustmsa.types",
    "Batch": "robustmsa.types",
    "MethodOutput": "robustmsa.types",
    "Prediction": "robustmsa.types",
    "predict_clip": "robustmsa.media.batch",
}

__all__ = ["MODALITIES", "Batch", "MethodOutput", "Prediction", "__version__", "predict_clip"]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'robustmsa' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
