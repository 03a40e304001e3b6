"""Registry of feature extractors: name -> extractor class.

=========== ========= ====== ===============================================================
name        modality  dim    what
=========== ========= ====== ===============================================================
``minilm``  text      384    MiniLM-L6 token features (or any local encoder: ``text_model``)
``psf``     audio     41     python_speech_features MFCC 13 + log-fbank 26 + RMS dBFS + ZCR
``egemaps`` audio     25     openSMILE eGeMAPSv02 LLD (only if ``opensmile`` is installed;
                             research-only licence)
``facemesh`` vision   1441   MediaPipe FaceMesh 478x3 normalised landmarks + 7 distances
=========== ========= ====== ===============================================================

Importing this module is cheap: models and heavy libraries load on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import fields
from typing import Any

from robustmsa.errors import ConfigError
from robustmsa.registry import Registry

EXTRACTORS: Registry[type] = Registry("extractor")

DEFAULTS: dict[str, str] = {"text": "minilm", "audio": "psf", "vision": "facemesh"}

_MODULES = ("robustmsa.media.text", "robustmsa.media.audio", "robustmsa.media.vision")


def _populate() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def extractor_names(modality: str | None = None) -> list[str]:
    """Registered extractor names, optionally only those of ``modality``."""
    _populate()
    return [
        n for n in EXTRACTORS.names() if modality is None or EXTRACTORS.get(n).modality == modality
    ]


def get_extractor_class(name: str) -> type:
    """The class registered as ``name``.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    _populate()
    try:
        return EXTRACTORS.get(name)
    except KeyError as e:
        raise ConfigError(str(e.args[0])) from None


def build_extractor(name: str, **options: Any):
    """An extractor object ``name`` with its config fields overridden by ``options``."""
    return get_extractor_class(name)(**options)


def build_from_description(desc: dict[str, Any]):
    """Rebuild an extractor from its `Extractor.describe` dict (config + runtime fields).

    Keys that are not fields of the extractor's config (e.g. the text ``model`` identity) are
    descriptive only and ignored here; `describe_mismatch` compares them afterwards.
    """
    try:
        name = desc["name"]
    except (KeyError, TypeError):
        raise ConfigError(f"extractor description without a 'name': {desc!r}") from None
    cls = get_extractor_class(name)
    valid = {f.name for f in fields(cls.Config)}
    opts = {**(desc.get("runtime") or {}), **(desc.get("config") or {})}
    return cls(**{k: v for k, v in opts.items() if k in valid})
