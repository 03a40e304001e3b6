"""Speed of raw-media feature extraction and of the predict-from-clip path (CPU, 2 threads).

Measures, on the fixture clips in ``../shared/media`` (override with ``--media DIR``):

* per clip and per modality: extraction time (median of ``--repeats`` warm runs, models
  loaded once) and real-time factor RTF = processing time / clip duration;
* a few vision settings (fps 10 / 15 / native, ``skip_nonref``) on the 9 s 720p clip;
* the predict path on ``openvna_test.mp4`` (9 s) in a fresh subprocess: import, model load,
  the first and the median of 3 warm ``predict_media`` calls (extraction + a dummy
  prediction), and the peak RSS of that process.

Wall times need an otherwise idle machine; CPU times (all threads) are reported too.

Results go to ``benchmarks/results/media_speed.json``. Exact command (from the repo root)::

    .venv/bin/python benchmarks/media_speed.py

Only this script sets ``torch.set_num_threads(2)``; the library never changes thread counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from robustmsa.fileio import atomic_write

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "benchmarks" / "results" / "media_speed.json"
THREADS = 2

# clip -> transcript (None: read from the .txt next to the clip when present)
CLIPS: dict[str, str | None] = {
    "Oz06ZWiO20M_6.mp4": "and sucker punch is a failer but like a really ambitious weird the "
    "interesting idiosyncratic failure",
    "openvna_mosi_clip.mp4": None,
    "openvna_test.mp4": "this is the stock market and it keeps going up and down every day",
    "03bSnISJMiM_1.wav": "anyhow it was really good",
}
PREDICT_CLIP = "openvna_test.mp4"


class DummyPredictor:
    """Mean-pools each present modality and applies a fixed random linear head."""

    def __init__(self, dims: dict[str, int]) -> None:
        import numpy as np

        from robustmsa.data.schema import DatasetInfo

        rng = np.random.default_rng(0)
        self.info = DatasetInfo(name="dummy", dims=dims, seq_lens=dict.fromkeys(dims, 10_000))
        self.w = {m: rng.standard_normal(d).astype(np.float32) / d for m, d in dims.items()}

    def predict_features(self, features, present):
        s = sum(float(x.mean(axis=0) @ self.w[m]) for m, x in features.items())
        return {"score": s, "probs": None, "class_names": None}


def _setup_threads() -> None:
    import torch

    torch.set_num_threads(THREADS)


def _transcript(media: Path, clip: str) -> str | None:
    t = CLIPS.get(clip)
    if t is None and (media / clip).with_suffix(".txt").is_file():
        t = (media / clip).with_suffix(".txt").read_text().strip()
    return t


def _extract(pipeline, media: Path, clip: str):
    path = media / clip
    kw = {"audio": path} if path.suffix == ".wav" else {"video": path}
    return pipeline.extract(transcript=_transcript(media, clip), **kw)


def _timed(fn, repeats: int):
    """Median wall and CPU seconds (all threads of the process) of ``fn()``, after a warm-up."""
    res = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        res = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), res


def bench_clips(media: Path, repeats: int) -> dict:
    from robustmsa.media.decode import decode_audio, probe_media
    from robustmsa.media.pipeline import MediaPipeline

    t = time.perf_counter()
    pipeline = MediaPipeline.default()
    pipeline.load()
    load_s = time.perf_counter() - t
    ex = pipeline.extractors
    out: dict = {"model_load_s": round(load_s, 3), "clips": {}}
    for clip in CLIPS:
        path = media / clip
        if not path.is_file():
            continue
        dur = probe_media(path).duration
        text = _transcript(media, clip)
        steps = {
            "text": lambda text=text: ex["text"].extract(text),
            "audio": lambda path=path: ex["audio"].extract(decode_audio(path)),  # + decoding
        }
        if path.suffix != ".wav":
            steps["vision"] = lambda path=path: ex["vision"].extract(path)
        per: dict = {}
        for m, fn in steps.items():
            w, c, _ = _timed(fn, repeats)
            per[m] = {
                "wall_s": round(w, 4),
                "cpu_s": round(c, 4),
                "rtf": round(w / dur, 4),
                "cpu_rtf": round(c / dur, 4),
            }
        w, c, r = _timed(lambda clip=clip: _extract(pipeline, media, clip), repeats)
        out["clips"][clip] = {
            "duration_s": round(dur, 3),
            "total_wall_s": round(w, 4),
            "total_cpu_s": round(c, 4),
            "rtf": round(w / dur, 4),
            "cpu_rtf": round(c / dur, 4),
            "per_modality": per,
            "shapes": {m: list(x.features.shape) for m, x in r.modalities.items()},
            "present": r.present,
            "missing": r.reasons,
        }
        short = {m: (v["wall_s"], v["cpu_s"]) for m, v in per.items()}
        print(
            f"{clip:24s} {dur:5.2f} s  wall {w:.3f} s (RTF {w / dur:.3f})  "
            f"cpu {c:.3f} s (cpu-RTF {c / dur:.3f})  per modality (wall, cpu) {short}"
        )
    pipeline.close()
    return out


def bench_vision_settings(media: Path, repeats: int) -> dict:
    from robustmsa.media.decode import probe_media
    from robustmsa.media.vision import FaceMeshVisionExtractor

    path = media / PREDICT_CLIP
    if not path.is_file():
        return {}
    dur = probe_media(path).duration
    out = {}
    for name, opts in {
        "fps10": {"fps": 10.0},
        "fps10_skip_nonref": {"fps": 10.0, "skip_nonref": True},
        "fps10_max_side640": {"fps": 10.0, "max_side": 640},
        "fps15": {"fps": 15.0},
        "native_fps": {"fps": 0.0},
    }.items():
        ex = FaceMeshVisionExtractor(**opts)
        med, cpu, r = _timed(lambda ex=ex: ex.extract(path), repeats)
        ex.close()
        out[name] = {
            "vision_wall_s": round(med, 4),
            "vision_cpu_s": round(cpu, 4),
            "vision_rtf": round(med / dur, 4),
            "vision_cpu_rtf": round(cpu / dur, 4),
            "frames": r.stats["frames"],
            "face_fraction": r.stats["face_fraction"],
        }
        print(
            f"vision {name:18s} wall {med:.3f} s  cpu {cpu:.3f} s  RTF {med / dur:.3f}  {r.stats}"
        )
    return {"clip": PREDICT_CLIP, "duration_s": round(dur, 3), "settings": out}


def predict_child(media: Path) -> None:
    """Run in a fresh process: the predict path cold then warm; print JSON timings + peak RSS."""
    t0 = time.perf_counter()
    _setup_threads()
    from robustmsa.media.decode import probe_media
    from robustmsa.media.pipeline import MediaPipeline
    from robustmsa.media.predict import predict_media

    t_import = time.perf_counter() - t0
    t = time.perf_counter()
    pipeline = MediaPipeline.default()
    pipeline.load()
    t_load = time.perf_counter() - t
    path = media / PREDICT_CLIP
    t = time.perf_counter()
    res = predict_media(
        "dummy",
        video=str(path),
        transcript=_transcript(media, PREDICT_CLIP),
        pipeline=pipeline,
        predictor=DummyPredictor(pipeline.dims),
    )
    t_first = time.perf_counter() - t
    walls, cpus = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        predict_media(
            "dummy",
            video=str(path),
            transcript=_transcript(media, PREDICT_CLIP),
            pipeline=pipeline,
            predictor=DummyPredictor(pipeline.dims),
        )
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    t_warm, c_warm = statistics.median(walls), statistics.median(cpus)
    dur = probe_media(path).duration
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "clip": PREDICT_CLIP,
                "duration_s": round(dur, 3),
                "import_s": round(t_import, 3),
                "model_load_s": round(t_load, 3),
                "first_predict_s": round(t_first, 3),
                "first_predict_rtf": round(t_first / dur, 4),
                "warm_predict_s": round(t_warm, 3),
                "warm_predict_rtf": round(t_warm / dur, 4),
                "warm_predict_cpu_s": round(c_warm, 3),
                "warm_predict_cpu_rtf": round(c_warm / dur, 4),
                "cold_total_s": round(t_import + t_load + t_first, 3),
                "peak_rss_mib": round(rss_kb / 1024, 1),
                "present": res["present"],
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--predict-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.predict_child:
        predict_child(args.media)
        return
    _setup_threads()
    import torch

    load1 = os.getloadavg()[0]
    clips = bench_clips(args.media, args.repeats)
    vision = bench_vision_settings(args.media, args.repeats)
    child = subprocess.run(
        [sys.executable, __file__, "--predict-child", "--media", str(args.media)],
        capture_output=True,
        text=True,
        check=True,
    )
    predict = json.loads(child.stdout.strip().splitlines()[-1])
    print("predict path:", predict)
    result = {
        "command": ".venv/bin/python benchmarks/media_speed.py",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus_visible": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_1min_at_start": round(load1, 2),
            "loadavg_1min_at_end": round(os.getloadavg()[0], 2),
        },
        "settings": "default extractors: minilm (text), psf 100 Hz (audio), facemesh 10 fps, "
        "frames larger than 1280 px downscaled (vision)",
        "extraction": clips,
        "vision_settings": vision,
        "predict_path": predict,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, (json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
