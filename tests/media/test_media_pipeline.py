"""Missing-modality detection on real and synthetic clips."""

from __future__ import annotations

from media_consts import WAV, WAV_TEXT


def test_face_and_speech_clip_has_all_three(oz_clip):
    assert oz_clip.present == {"text": True, "audio": True, "vision": True}
    assert oz_clip.reasons == {}
    assert {m: x.shape[1] for m, x in oz_clip.features.items()} == {
        "text": 384,
        "audio": 41,
        "vision": 1441,
    }
    s = oz_clip.summary()
    assert s["modalities"]["vision"]["shape"] == [75, 1441]
    assert set(s["timings"]) >= {"text", "audio", "vision", "decode_audio"}


def test_audio_only_wav(pipeline, media_dir):
    r = pipeline.extract(audio=media_dir / WAV)
    assert r.present == {"text": False, "audio": True, "vision": False}
    assert r.reasons == {"text": "no transcript given", "vision": "no video given"}
    r2 = pipeline.extract(audio=media_dir / WAV, transcript=WAV_TEXT)
    assert r2.present["text"] and r2.features["text"].shape == (8, 384)


def test_wav_given_as_video_has_no_video_stream(pipeline, media_dir):
    r = pipeline.extract(video=media_dir / WAV, transcript=WAV_TEXT)
    assert r.present == {"text": True, "audio": True, "vision": False}
    assert r.reasons["vision"] == f"no video stream in {WAV}"


def test_video_without_audio_stream(pipeline, stripped_video):
    r = pipeline.extract(video=stripped_video)
    assert r.present == {"text": False, "audio": False, "vision": True}
    assert r.reasons["audio"] == "no audio stream in no_audio.mp4"


def test_blank_silent_video(pipeline, blank_video):
    r = pipeline.extract(video=blank_video, transcript="hello")
    assert r.present == {"text": True, "audio": False, "vision": False}
    assert r.reasons["audio"].startswith("silent: RMS -120.0 dBFS")
    assert r.reasons["vision"] == "face found in 0/20 frames (needs 10%)"
    assert r.modalities["vision"].stats["frames"] == 20


def test_separate_audio_file_overrides_video_track(pipeline, stripped_video, media_dir):
    r = pipeline.extract(video=stripped_video, audio=media_dir / WAV)
    assert r.present["audio"] and r.present["vision"]
    assert r.modalities["audio"].stats["duration_s"] < 4
