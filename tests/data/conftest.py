"""Fixtures for the data-layer tests: pickle writers (see `msa_pickle_writers`) and the
location of the real data in ``../shared`` (tests needing it skip when it is absent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from msa_pickle_writers import (
    SHARED_DATA,
    SHARED_MEDIA,
    EvilEval,
    EvilSystem,
    mmsa_object,
    mult_object,
    strip_private,
    write_pickle,
)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def write_mmsa(tmp_path: Path) -> Callable[..., Path]:
    """``write_mmsa(kind="aligned", mutate=None, name=...) -> path``; ``mutate(obj)`` edits the
    object before it is pickled."""

    def make(kind: str = "aligned", mutate: Callable[[dict], object] | None = None,
             name: str | None = None, protocol: int = 4) -> Path:
        obj = mmsa_object(kind)
        if mutate is not None:
            mutate(obj)
        return write_pickle(obj, tmp_path / (name or f"{kind}_50.pkl"), protocol)

    return make


@pytest.fixture
def write_mult(tmp_path: Path) -> Callable[..., Path]:
    """``write_mult(mutate=None, left_pad=False) -> path`` (MulT-shaped pickle)."""

    def make(mutate: Callable[[dict], object] | None = None, left_pad: bool = False,
             name: str = "mosi_data.pkl") -> Path:
        obj = strip_private(mult_object(left_pad=left_pad))
        if mutate is not None:
            mutate(obj)
        return write_pickle(obj, tmp_path / name)

    return make


@pytest.fixture
def evil_pickles(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    """Malicious pickles (top-level and hidden inside an MMSA-shaped dict) + the marker path
    that exists if any of them ever ran."""
    marker = tmp_path / "pwned"
    nested = mmsa_object("aligned")
    nested["train"]["id"] = EvilSystem(marker)
    nested_mult = strip_private(mult_object())
    nested_mult["test"]["labels"] = EvilEval(marker)
    paths = {
        "os.system": write_pickle(EvilSystem(marker), tmp_path / "evil_system.pkl"),
        "builtins.eval": write_pickle(EvilEval(marker), tmp_path / "evil_eval.pkl"),
        "os.system-proto0": write_pickle(EvilSystem(marker), tmp_path / "evil_p0.pkl", 0),
        "nested-mmsa": write_pickle(nested, tmp_path / "evil_nested_mmsa.pkl"),
        "nested-mult": write_pickle(nested_mult, tmp_path / "evil_nested_mult.pkl"),
    }
    return paths, marker


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return SHARED_DATA


@pytest.fixture(scope="session")
def bclstm_dir() -> Path:
    d = SHARED_DATA / "mosi_bclstm"
    if not (d / "transcripts.csv").is_file():
        pytest.skip(f"real data not available: {d} is absent (needs ../shared/data/mosi_bclstm)")
    return d


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not (SHARED_MEDIA / "feature_aligned.pkl").is_file():
        pytest.skip(f"real MMSA-FET examples not available in {SHARED_MEDIA}")
    return SHARED_MEDIA
