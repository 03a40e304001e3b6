"""`robustmsa serve` in a real browser: headless Chromium (Debian's ``chromium`` +
``chromium-driver``) driven by Selenium loads the page, submits the real MOSI clip with its
transcript and the audio-only wav, and reads the score and the modality report off the page.

Locally the test skips when Chromium, its driver or Selenium are missing; under CI (``CI`` set,
as `.ci/run` runs) it fails instead, so the browser check cannot silently vanish. A screenshot
of each result is saved (``ROBUSTMSA_TEST_SCREENSHOTS`` = a folder to keep them).
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from media_consts import OZ_TEXT, OZ_VIDEO, WAV

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1300")


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser test (.ci/run installs it)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() or not DRIVER.exists():
        _missing(f"{CHROMIUM} or {DRIVER} not found (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium not installed (pip install -e '.[dev,web]')")
    try:
        import gradio  # noqa: F401
    except ImportError:
        _missing("gradio not installed (pip install -e '.[web]')")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server(clips_model, pipeline):
    from robustmsa.media.batch import ClipPredictor
    from robustmsa.web import serve

    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = tempfile.gettempdir()
    # 1 MB upload limit: the fixture clips (356 kB, 208 kB) pass, test_upload_limit's do not
    srv = serve(clips_model, port=port, block=False, say=lambda m: None, max_file_mb=1,
                clip_predictor=ClipPredictor(clips_model, pipeline=pipeline))
    yield srv
    srv.close()
    assert not srv.temp_dir.exists()  # every temporary file of the server is gone
    assert tempfile.gettempdir() == before


def _submit(driver, url: str, media: Path, transcript: str | None, shot: Path) -> tuple[str, str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#predict"))
    driver.find_element(By.CSS_SELECTOR, "#media input[type=file]").send_keys(str(media))
    # the upload is done when the file is listed in the component (name and extension may wrap)
    WebDriverWait(driver, 60).until(
        lambda d: media.stem in d.find_element(By.ID, "media").text)
    if transcript:
        driver.find_element(By.CSS_SELECTOR, "#transcript textarea").send_keys(transcript)
    driver.find_element(By.CSS_SELECTOR, "#predict").click()
    WebDriverWait(driver, 120).until(
        lambda d: "Score" in d.find_element(By.ID, "result").text
        or "Error" in d.find_element(By.ID, "result").text)
    result = driver.find_element(By.ID, "result").text
    report = driver.find_element(By.CSS_SELECTOR, "#report textarea").get_attribute("value")
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    return result, report


def _without_time(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines() if not ln.startswith("Time:")]


def test_page_scores_real_clips(browser, server, clips_model, pipeline, media_dir,
                                tmp_path_factory):
    from robustmsa.media.predict import format_prediction, predict_media

    assert server.url.startswith("http://127.0.0.1:")
    shots = Path(os.environ.get("ROBUSTMSA_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)

    # the MOSI clip (face + speech) with its transcript: every modality used
    expect = predict_media(str(clips_model), video=media_dir / OZ_VIDEO, transcript=OZ_TEXT,
                           pipeline=pipeline)
    result, report = _submit(browser, server.url, media_dir / OZ_VIDEO, OZ_TEXT,
                             shots / "serve_video.png")
    assert f"Score {expect['score']:+.3f} · {expect['polarity']}" in result
    assert "neutral when |score| ≤ 0.5" in result
    for m in ("text", "audio", "vision"):
        assert f"{m}: used" in result
    # the modality report is exactly the CLI's (timings aside)
    assert _without_time(report) == _without_time(format_prediction(expect))
    assert "vision  used     75 frames x 1441 at 10 fps, face in 75/75 frames" in report
    assert "is in this model's training split" in result  # the card lists the clip

    # the audio-only wav, no transcript: text and vision reported missing with the reason
    expect = predict_media(str(clips_model), audio=media_dir / WAV, pipeline=pipeline)
    result, report = _submit(browser, server.url, media_dir / WAV, None, shots / "serve_wav.png")
    assert f"Score {expect['score']:+.3f}" in result
    assert "audio: used" in result
    assert "text: MISSING - no transcript given" in result
    assert "vision: MISSING - no video given" in result
    assert _without_time(report) == _without_time(format_prediction(expect))
    assert "audio   used     332 frames x 41 at 100 Hz" in report

    # uploads are deleted after each prediction, inside the server's private folder
    assert not [p for p in server.temp_dir.rglob("*") if p.suffix in (".mp4", ".wav")]


def test_upload_limit_is_enforced_before_storing(server):
    import urllib.error
    import urllib.request

    boundary = "robustmsa-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    body += b"\0" * (2 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(server.url.rstrip("/") + "/gradio_api/upload", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 413
    assert not list(server.temp_dir.rglob("big.wav"))
