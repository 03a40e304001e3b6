"""``robustmsa serve``: a local web page that scores one clip (Gradio, the ``web`` extra).

The page takes a video or audio file and/or a transcript (typed or a ``.txt`` file), runs
`robustmsa.media.predict.predict_media` with the model and extractors loaded once
(`robustmsa.media.batch.ClipPredictor`), and shows the score, the polarity with its neutral
band, one message per missing or unusable modality, the timings and the modality report exactly
as ``robustmsa predict`` prints it (`robustmsa.media.predict.format_prediction`).

Safety: binds to 127.0.0.1 unless told otherwise; uploads larger than ``max_file_mb`` are refused
(by Gradio before they are stored, and again here); every temporary file of the server process
- Gradio's upload cache included - lives in one private folder (``tempfile.mkdtemp``, made the
process's temporary folder, ``tempfile.tempdir``, while the server runs: Gradio has no per-app
setting, see `serve`) that is removed when the server stops, and each upload is deleted as soon
as its prediction is done. Usage analytics are off; nothing is
fetched from the network.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from robustmsa.errors import ConfigError, RobustMSAError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_MAX_FILE_MB = 200.0


def _require_gradio():
    try:
        import gradio as gr
    except ImportError:
        raise ConfigError("`robustmsa serve` needs Gradio: pip install 'robustmsa[web]'") from None
    return gr


def _model_blurb(checkpoint: str, cp: Any, band: float | None) -> str:
    from robustmsa.media.predict import model_info, neutral_band
    from robustmsa.zoo import read_card

    info = model_info(cp.predictor)
    lo, hi = info.get("score_range", (-3.0, 3.0))
    b = neutral_band((lo, hi)) if band is None else band
    mods = ", ".join(m for m in ("text", "audio", "vision") if m in info.get("dims", {}))
    card = read_card(checkpoint)
    head = f"**Model** `{checkpoint}`"
    if card:
        head = f"**Model** `{card['name']}`: {card['summary']}"
        comp = card["metrics"]["conditions"].get("complete", {})
        if "MAE" in comp:
            corr = comp.get("Corr")
            corr_s = f"{corr:.3f}" if corr is not None and corr == corr else "undefined"
            head += (f" · test MAE {comp['MAE']:.3f}, Corr {corr_s} "
                     f"on {card['metrics']['n']} clips")
    return (f"{head}  \nModalities used by the model: **{mods}** · score on {lo:g} to {hi:g} "
            f"· called neutral when |score| ≤ {b:.3g}")


_ADVICE = {
    "text": "type the transcript or upload a .txt file",
    "audio": "upload a video with sound or an audio file",
    "vision": "upload a video with a visible face",
}


def render_result(res: dict[str, Any], seconds: float) -> str:
    """Markdown of a prediction: score, polarity, one line per missing/unused modality, time."""
    from robustmsa.media.predict import modality_state, scale_of, split_note

    lo, hi, band, word = scale_of(res)
    lines = [f"### Score {res['score']:+.3f} · {word}",
             f"on {lo:g} to {hi:g}; neutral when |score| ≤ {band:.3g}", ""]
    for m, v in res["modalities"].items():
        state = modality_state(v)
        if state == "used":
            lines.append(f"- **{m}**: used")
        elif state == "unused":
            lines.append(f"- **{m}**: not used by this model")
        else:
            lines.append(f"- **{m}**: MISSING - {v['reason']} ({_ADVICE[m]})")
    if not any(v["used"] for v in res["modalities"].values()):
        lines += ["", "**No modality of this model was found in the input: the score is only "
                  "the model's prior, not a prediction.**"]
    note = split_note(res)
    if note:
        lines += ["", f"**{note}**"]
    tm = res.get("timings", {})
    lines += ["", f"Time: {seconds:.2f} s in all (features {tm.get('extract', 0):.2f} s, model "
              f"{tm.get('predict', 0):.3f} s, extractor loading {tm.get('load', 0):.2f} s)"]
    return "\n".join(lines)


def _remove_upload(path: str | None, upload_root: Path) -> None:
    """Delete an uploaded file (and its now-empty folders) inside ``upload_root``."""
    if not path:
        return
    p = Path(path).resolve()
    root = upload_root.resolve()
    if root not in p.parents:
        return
    with contextlib.suppress(OSError):
        p.unlink()
    for d in p.parents:
        if d == root:
            break
        with contextlib.suppress(OSError):
            d.rmdir()


def make_app(checkpoint: str, cp: Any, *, max_file_mb: float = DEFAULT_MAX_FILE_MB,
             band: float | None = None, upload_root: Path | None = None):
    """The Gradio ``Blocks`` page for the loaded ``cp`` (a `ClipPredictor`)."""
    gr = _require_gradio()
    from robustmsa.media.labels import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, is_audio_only
    from robustmsa.media.predict import format_prediction

    root = upload_root or Path(tempfile.gettempdir())
    limit = int(max_file_mb * 1024 * 1024)

    def predict(media: str | None, text: str, text_file: str | None):
        t0 = time.perf_counter()
        try:
            for f in (media, text_file):
                if f and os.path.getsize(f) > limit:
                    raise ConfigError(f"{Path(f).name}: larger than the {max_file_mb:g} MB limit")
            transcript = (text or "").strip() or None
            if text_file:
                transcript = Path(text_file).read_text(encoding="utf-8", errors="replace").strip()
            if media is None and transcript is None:
                raise ConfigError("give a video or audio file and/or a transcript")
            kw: dict[str, Any] = {}
            if media is not None:
                kw["audio" if is_audio_only(Path(media)) else "video"] = media
            res = cp.predict_full(transcript=transcript, **kw,
                                  clip_id=Path(media).stem if media else None)
            secs = time.perf_counter() - t0
            return render_result(res, secs), format_prediction(res)
        except RobustMSAError as e:
            return f"**Error:** {e}", ""
        except Exception as e:  # noqa: BLE001 - the page reports it, the server stays up
            log.exception("prediction failed")
            return f"**Error:** {type(e).__name__}: {e}", ""
        finally:
            _remove_upload(media, root)
            _remove_upload(text_file, root)

    with gr.Blocks(title="robustmsa: sentiment of a clip", analytics_enabled=False) as app:
        gr.Markdown("## Sentiment of a clip\n" + _model_blurb(checkpoint, cp, band)
                    + f"  \nUploads up to {max_file_mb:g} MB; deleted after each prediction. "
                    "Leave out the file or the transcript and the page says what is missing.")
        with gr.Row():
            media = gr.File(label="Video or audio file",
                            file_types=list(VIDEO_EXTENSIONS + AUDIO_EXTENSIONS),
                            type="filepath", elem_id="media")
            with gr.Column():
                text = gr.Textbox(label="Transcript (optional)", lines=3, elem_id="transcript")
                text_file = gr.File(label="...or a transcript file (.txt)", file_types=[".txt"],
                                    type="filepath", elem_id="transcript_file")
        button = gr.Button("Predict", variant="primary", elem_id="predict")
        result = gr.Markdown(elem_id="result")
        report = gr.Textbox(label="Modality report (as `robustmsa predict` prints it)",
                            lines=8, interactive=False, elem_id="report")
        button.click(predict, inputs=[media, text, text_file], outputs=[result, report],
                     concurrency_limit=1)
    return app


class WebServer:
    """A running page: ``url``; ``close()`` stops it and removes its temporary folder."""

    def __init__(self, app: Any, url: str, temp_dir: Path, old_tempdir: str | None) -> None:
        self.app, self.url, self.temp_dir = app, url, temp_dir
        self._old_tempdir = old_tempdir
        self._closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.app.close()
        finally:
            if tempfile.tempdir == str(self.temp_dir):  # not if someone else has changed it
                tempfile.tempdir = self._old_tempdir
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def serve(
    checkpoint: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    band: float | None = None,
    text_model: str | None = None,
    clip_predictor: Any = None,
    block: bool = True,
    say=print,
) -> WebServer:
    """Start the page for ``checkpoint``; with ``block`` serve until Ctrl-C (or SIGTERM in the
    CLI), else return the running `WebServer` (call ``close()``)."""
    if max_file_mb <= 0:
        raise ConfigError(f"--max-file-mb must be > 0; got {max_file_mb}")
    from robustmsa.media.batch import ClipPredictor

    ckpt = str(checkpoint)
    cp = clip_predictor or ClipPredictor(ckpt, text_model=text_model, band=band)
    cp.pipeline.load()  # models load now, not on the first request
    temp_dir = Path(tempfile.mkdtemp(prefix="robustmsa-serve-"))
    old = tempfile.tempdir
    # Process-wide while the server runs, restored by close(), because Gradio offers no
    # per-app folder (checked for gradio 6.31): `gradio.utils.get_upload_folder()` is
    # $GRADIO_TEMP_DIR or tempfile.gettempdir()/gradio, read by every component when it is
    # built (`Block.GRADIO_CACHE`), by the app for uploads (`App.uploaded_file_dir`) and on
    # each request to decide which files may be served; `Blocks(...)` and `launch(...)` take
    # no folder (`delete_cache` only ages files out) and `route_utils.DEFAULT_TEMP_DIR` is
    # read on import. The only other knob is the environment variable, which the library
    # must not set. So: set tempfile.tempdir before gradio is imported and the page is built.
    tempfile.tempdir = str(temp_dir)
    try:
        gr = _require_gradio()
        if not logging.getLogger("robustmsa").isEnabledFor(logging.DEBUG):
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request else
        app = make_app(ckpt, cp, max_file_mb=max_file_mb, band=band, upload_root=temp_dir)
        app.queue(default_concurrency_limit=1)
        _, url, _ = app.launch(server_name=host, server_port=port, share=False,
                               prevent_thread_lock=True, quiet=True, inbrowser=False,
                               max_file_size=int(max_file_mb * 1024 * 1024), ssr_mode=False,
                               show_error=False, enable_monitoring=False, mcp_server=False,
                               run_history=False, footer_links=["api", "gradio"],
                               css="#report textarea {font-family: ui-monospace, monospace}",
                               theme=gr.themes.Default(font=["ui-sans-serif", "system-ui",
                                                             "sans-serif"],
                                                       font_mono=["ui-monospace", "monospace"]))
    except BaseException:
        tempfile.tempdir = old
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    server = WebServer(app, url, temp_dir, old)
    say(f"serving {ckpt} at {url} (uploads in {temp_dir}, removed on exit); Ctrl-C to stop")
    if not block:
        return server
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        server.close()
        if clip_predictor is None:
            cp.close()
    return server
