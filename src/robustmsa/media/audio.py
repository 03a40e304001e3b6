"""Audio extractors: frame-level acoustic features at 100 Hz (optionally pooled to a lower rate).

``psf`` (default, MIT-licensed ``python_speech_features``): per 25 ms window, 10 ms hop, on
16 kHz mono audio:

* 13 MFCC (c0 replaced by the log frame energy, the library default),
* 26 log mel filterbank energies,
* frame RMS in dBFS (floored at -120),
* zero-crossing rate (fraction of sign changes in the window)

= **41 columns**. ``egemaps`` (opt-in): the 25 openSMILE eGeMAPSv02 low-level descriptors at
100 Hz, available only when the ``opensmile`` package is importable; it is not installed by the
media extra because its licence (audEERING research license) is **research-only /
non-commercial**.

**Silence rule** (both extractors): the audio counts as *missing* when fewer than
``min_active_fraction`` (default 2 %) of its 25 ms frames have an RMS above
``silence_dbfs`` (default -50 dBFS), i.e. it is silent over (almost) the whole clip. Clips
shorter than one window (25 ms) are missing too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from robustmsa.errors import ConfigError
from robustmsa.media.base import Extractor, ModalityFeatures
from robustmsa.media.decode import AudioSignal
from robustmsa.media.registry import EXTRACTORS

log = logging.getLogger(__name__)

DB_FLOOR = -120.0
BASE_RATE_HZ = 100.0


def frame_signal(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """(n_frames, frame_len) frames of ``x``, tail zero-padded as in python_speech_features."""
    n = x.shape[0]
    n_frames = 1 if n <= frame_len else 1 + int(np.ceil((n - frame_len) / hop))
    need = (n_frames - 1) * hop + frame_len
    if need > n:
        x = np.concatenate([x, np.zeros(need - n, dtype=x.dtype)])
    idx = np.arange(frame_len)[None, :] + hop * np.arange(n_frames)[:, None]
    return x[idx]


def rms_dbfs(frames: np.ndarray) -> np.ndarray:
    """Per-frame RMS level in dBFS (full scale = 1.0), floored at -120 dB."""
    rms = np.sqrt(np.mean(np.square(frames.astype(np.float64)), axis=1))
    return np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), DB_FLOOR)


def zero_crossing_rate(frames: np.ndarray) -> np.ndarray:
    """Fraction of adjacent samples with a sign change, per frame."""
    s = np.signbit(frames)
    return np.mean(s[:, 1:] != s[:, :-1], axis=1)


def silence_check(
    signal: AudioSignal,
    *,
    silence_dbfs: float,
    min_active_fraction: float,
    winlen: float = 0.025,
    winstep: float = 0.01,
) -> tuple[str, dict[str, Any]]:
    """Apply the silence rule to ``signal``.

    Returns:
        ``(reason, stats)``: reason is empty when the audio is usable, else e.g.
        ``"silent: RMS -62.1 dBFS, 0/330 frames above -50 dBFS"``.
    """
    sr = signal.sample_rate
    flen, hop = int(round(winlen * sr)), int(round(winstep * sr))
    x = signal.samples
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    overall = max(20.0 * float(np.log10(max(rms, 1e-12))), DB_FLOOR)
    stats: dict[str, Any] = {"duration_s": round(signal.duration, 3), "rms_dbfs": round(overall, 1)}
    if x.shape[0] < flen:
        return f"audio too short ({signal.duration:.3f} s)", stats
    db = rms_dbfs(frame_signal(x, flen, hop))
    active = int((db > silence_dbfs).sum())
    frac = active / db.shape[0]
    stats["active_fraction"] = round(frac, 4)
    if frac < min_active_fraction:
        return (
            f"silent: RMS {overall:.1f} dBFS, {active}/{db.shape[0]} frames above "
            f"{silence_dbfs:g} dBFS (needs {min_active_fraction:.0%})"
        ), stats
    return "", stats


def pool_frames(x: np.ndarray, rate_hz: float, base_rate_hz: float = BASE_RATE_HZ) -> np.ndarray:
    """Average non-overlapping blocks of frames to go from ``base_rate_hz`` to ``rate_hz``."""
    factor = _pool_factor(rate_hz, base_rate_hz)
    if factor == 1:
        return x
    n = x.shape[0]
    m = int(np.ceil(n / factor))
    pad = m * factor - n
    xp = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
    return xp.reshape(m, factor, x.shape[1]).mean(axis=1).astype(np.float32)


def _pool_factor(rate_hz: float, base_rate_hz: float = BASE_RATE_HZ) -> int:
    if rate_hz <= 0 or rate_hz > base_rate_hz:
        raise ConfigError(f"audio rate_hz must be in (0, {base_rate_hz:g}]; got {rate_hz}")
    factor = int(round(base_rate_hz / rate_hz))
    if abs(base_rate_hz / factor - rate_hz) > 1e-6:
        raise ConfigError(
            f"audio rate_hz {rate_hz} must divide {base_rate_hz:g} Hz (e.g. 100, 50, 25, 20, 10)"
        )
    return factor


@dataclass
class PSFAudioConfig:
    """Options of `PSFAudioExtractor`.

    Attributes:
        sample_rate: audio is decoded/resampled to this rate (mono).
        numcep: number of MFCCs.
        nfilt: number of mel filters (log filterbank columns).
        nfft: FFT size.
        rate_hz: output frame rate; 100 keeps every 10 ms frame, lower rates average blocks.
        silence_dbfs: frame RMS threshold of the silence rule.
        min_active_fraction: fewer active frames than this fraction -> audio missing.
    """

    sample_rate: int = 16000
    numcep: int = 13
    nfilt: int = 26
    nfft: int = 512
    rate_hz: float = 100.0
    silence_dbfs: float = -50.0
    min_active_fraction: float = 0.02


class _AudioBase(Extractor):
    modality = "audio"
    RUNTIME_FIELDS = ("silence_dbfs", "min_active_fraction")

    def compute(self, signal: AudioSignal) -> np.ndarray:
        raise NotImplementedError

    def extract(
        self, signal: AudioSignal | None, missing_reason: str = "no audio given"
    ) -> ModalityFeatures:
        """Features of ``signal`` (None: missing, ``missing_reason``); applies the silence rule."""
        if signal is None:
            return ModalityFeatures.missing("audio", self.dim, missing_reason)
        if signal.sample_rate != self.config.sample_rate:
            raise ConfigError(
                f"audio extractor {self.name!r} expects {self.config.sample_rate} Hz, "
                f"got {signal.sample_rate} Hz from {signal.source or 'the caller'}"
            )
        reason, stats = silence_check(
            signal,
            silence_dbfs=self.config.silence_dbfs,
            min_active_fraction=self.config.min_active_fraction,
        )
        if reason:
            return ModalityFeatures.missing("audio", self.dim, reason, **stats)
        base = self.compute(signal)  # (T100, D) at 100 Hz
        x = pool_frames(base, self.config.rate_hz)
        # centre time of each 100 Hz analysis window, pooled like the features
        half_window = float(getattr(self.config, "winlen", 0.025)) / 2
        t100 = np.arange(base.shape[0]) / BASE_RATE_HZ + half_window  # (T100,)
        times = pool_frames(t100[:, None], self.config.rate_hz)[:, 0]  # (T,)
        stats["rate_hz"] = self.config.rate_hz
        return ModalityFeatures(
            modality="audio",
            features=np.ascontiguousarray(x, dtype=np.float32),
            present=True,
            frame_mask=np.ones(x.shape[0], dtype=bool),
            stats=stats,
            times=times.astype(np.float64),
        )

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["rate"] = f"{self.config.rate_hz:g} Hz"
        d["columns"] = self.feature_names()
        return d


@EXTRACTORS.register("psf")
class PSFAudioExtractor(_AudioBase):
    """MFCC + log filterbank + RMS + ZCR with python_speech_features (MIT), 100 Hz."""

    name = "psf"
    Config = PSFAudioConfig
    VERSION = 1

    def __init__(self, config: PSFAudioConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        _pool_factor(self.config.rate_hz)

    @property
    def dim(self) -> int:
        return int(self.config.numcep) + int(self.config.nfilt) + 2

    def feature_names(self) -> list[str]:
        c = self.config
        return (
            [f"mfcc{i}" for i in range(c.numcep)]
            + [f"logfbank{i}" for i in range(c.nfilt)]
            + ["rms_dbfs", "zcr"]
        )

    def compute(self, signal: AudioSignal) -> np.ndarray:
        try:
            import python_speech_features as psf
        except ImportError as e:
            raise ConfigError(
                "the psf audio extractor needs python_speech_features (install the media extra)"
            ) from e
        from scipy.fftpack import dct

        c, sr, x = self.config, signal.sample_rate, signal.samples.astype(np.float64)
        # = psf.mfcc (ceplifter 22, c0 = log energy) and psf.logfbank, sharing one filterbank
        feat, energy = psf.fbank(x, sr, winlen=0.025, winstep=0.01, nfilt=c.nfilt, nfft=c.nfft)
        fb = np.log(feat)
        mf = psf.lifter(dct(fb, type=2, axis=1, norm="ortho")[:, : c.numcep], 22)
        mf[:, 0] = np.log(energy)
        frames = frame_signal(x, int(round(0.025 * sr)), int(round(0.01 * sr)))
        n = min(mf.shape[0], fb.shape[0], frames.shape[0])
        out = np.concatenate(
            [
                mf[:n],
                fb[:n],
                rms_dbfs(frames[:n])[:, None],
                zero_crossing_rate(frames[:n])[:, None],
            ],
            axis=1,
        )
        return out.astype(np.float32)


@dataclass
class EGeMAPSConfig:
    """Options of `EGeMAPSAudioExtractor` (see `PSFAudioConfig` for the shared fields)."""

    sample_rate: int = 16000
    rate_hz: float = 100.0
    silence_dbfs: float = -50.0
    min_active_fraction: float = 0.02


@EXTRACTORS.register("egemaps")
class EGeMAPSAudioExtractor(_AudioBase):
    """openSMILE eGeMAPSv02 low-level descriptors (25-d, 100 Hz). Opt-in: needs ``opensmile``,
    whose licence is research-only; it is not part of the media extra."""

    name = "egemaps"
    Config = EGeMAPSConfig
    VERSION = 1

    def __init__(self, config: EGeMAPSConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        _pool_factor(self.config.rate_hz)
        try:
            import opensmile
        except ImportError as e:
            raise ConfigError(
                "audio extractor 'egemaps' needs the opensmile package, which is not installed "
                "(it is opt-in: its audEERING licence is research-only); use 'psf' instead"
            ) from e
        self._smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
        )

    @property
    def dim(self) -> int:
        return 25

    def feature_names(self) -> list[str]:
        return list(self._smile.feature_names)

    def compute(self, signal: AudioSignal) -> np.ndarray:
        df = self._smile.process_signal(signal.samples, signal.sample_rate)
        return np.nan_to_num(df.to_numpy(dtype=np.float32))
