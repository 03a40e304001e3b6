"""Word alignment: timings files, pooling frames onto words, aligned pipeline / dataset / predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from media_consts import OZ_TEXT, OZ_VIDEO, WAV, WAV_TEXT

from robustmsa.errors import ConfigError, DataError
from robustmsa.media.align import (
    Word,
    find_timings,
    pool_to_words,
    read_word_timings,
    words_digest,
)


def spread(text: str, duration: float, start: float = 0.0) -> list[Word]:
    """Words of ``text`` given equal, consecutive spans over ``duration`` seconds."""
    ws = text.split()
    step = duration / len(ws)
    return [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(ws)]


def write_tsv(path, words: list[Word]) -> None:
    path.write_text("".join(f"{w.start:.3f}\t{w.end:.3f}\t{w.text}\n" for w in words))


# -- timings files ------------------------------------------------------------------------
def test_read_word_timings_formats(tmp_path):
    want = [Word("hello", 0.1, 0.4), Word("there", 0.5, 0.9)]
    files = {
        "a.tsv": "# comment\n0.5\t0.9\tthere\n0.1\t0.4\thello\n0.4 0.5 sp\n",
        "b.csv": "start,end,word\n0.1,0.4,hello\n0.5,0.9,there\n",
        "c.txt": "hello 0.1 0.4\nthere 0.5 0.9\n",
        "d.json": json.dumps([{"word": "hello", "start": 0.1, "end": 0.4},
                              {"text": "there", "start": 0.5, "end": 0.9}]),
        "e.json": json.dumps({"words": [{"word": "hello", "start": 0.1, "end": 0.4},
                                        {"word": "<sil>", "start": 0.4, "end": 0.5},
                                        {"word": "there", "start": 0.5, "end": 0.9}]}),
        "f.json": json.dumps({"segments": [{"words": [{"word": " hello", "start": 0.1,
                                                       "end": 0.4}]},
                                           {"words": [{"word": "there", "start": 0.5,
                                                       "end": 0.9}]}]}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        assert read_word_timings(tmp_path / name) == want, name
    assert find_timings(tmp_path, "d") == tmp_path / "d.json"
    assert find_timings(tmp_path, "zzz") is None
    assert words_digest(want) == words_digest(list(want))
    assert words_digest(want) != words_digest([want[0], Word("there", 0.5, 1.0)])


@pytest.mark.parametrize("name,text,needle", [
    ("bad.tsv", "0.1 0.4 hi\nnot a line\n", "bad.tsv:2: expected 'start end word'"),
    ("rev.tsv", "0.5 0.1 hi\n", "word 1 ('hi') has an invalid span [0.5, 0.1]"),
    ("neg.tsv", "-1 0.1 hi\n", "invalid span"),
    ("empty.tsv", "# nothing\n", "no words"),
    ("sil.tsv", "0 1 sp\n", "no words"),
    ("bad.json", "{", "invalid JSON"),
    ("obj.json", json.dumps({"x": 1}), "expected a list of words"),
    ("nostart.json", json.dumps([{"word": "a", "end": 1}]), "word 1 needs 'word'"),
])
def test_read_word_timings_errors_name_the_file(tmp_path, name, text, needle):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=None) as e:
        read_word_timings(tmp_path / name)
    assert needle in str(e.value) and name in str(e.value)


def test_missing_timings_file(tmp_path):
    with pytest.raises(DataError, match="nope.tsv: cannot read"):
        read_word_timings(tmp_path / "nope.tsv")


# -- pooling ------------------------------------------------------------------------------
def naive_pool(x, t, valid, words, max_gap):
    out, got = np.zeros((len(words), x.shape[1]), np.float32), np.zeros(len(words), bool)
    for i, w in enumerate(words):
        rows = [x[k] for k in range(len(t)) if valid[k] and w.start <= t[k] < w.end]
        if rows:
            out[i], got[i] = np.mean(rows, axis=0), True
            continue
        best, best_d = None, None
        for k in range(len(t)):
            if not valid[k]:
                continue
            d = max(w.start - t[k], 0.0) + max(t[k] - w.end, 0.0)
            if best_d is None or d < best_d:
                best, best_d = k, d
        if best is not None and best_d <= max_gap:
            out[i], got[i] = x[best], True
    return out, got


def test_pool_to_words_matches_naive_reference():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 3, 40))
    x = rng.normal(size=(40, 5)).astype(np.float32)
    valid = rng.uniform(size=40) > 0.3
    words = [Word("a", 0.0, 0.2), Word("b", 0.2, 0.21), Word("c", 0.5, 1.4),
             Word("d", 1.4, 1.401), Word("e", 2.5, 3.0), Word("far", 9.0, 9.5)]
    out, got = pool_to_words(x, t, valid, words, max_gap=0.1)
    ref, ref_got = naive_pool(x, t, valid, words, 0.1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert got.tolist() == ref_got.tolist()
    assert not got[-1] and not out[-1].any()  # no frame near the word: zero row, masked


def test_pool_to_words_degenerate():
    x = np.ones((4, 3), np.float32)
    t = np.array([0.1, 0.2, 0.3, 0.4])
    one = [Word("only", 0.0, 1.0)]
    out, got = pool_to_words(x, t, None, one)
    assert out.shape == (1, 3) and got.tolist() == [True]
    out, got = pool_to_words(x, t, np.zeros(4, bool), one)  # no valid frame at all
    assert got.tolist() == [False] and not out.any()
    with pytest.raises(ValueError, match="disagree"):
        pool_to_words(x, t[:3], None, one)


# -- text -------------------------------------------------------------------------------------
def test_text_word_features_are_mean_of_word_pieces(pipeline):
    ex = pipeline.extractors["text"]
    words = OZ_TEXT.split()
    (x, mask), = ex.encode_words([words])
    assert x.shape == (len(words), 384) and mask.all()
    tokens = ex.encode([OZ_TEXT])[0]  # (T, 384), [CLS] ... [SEP]
    wid = ex._tokenizer(OZ_TEXT).word_ids()
    assert len(wid) == tokens.shape[0]
    for i in range(len(words)):
        rows = [tokens[k] for k, w in enumerate(wid) if w == i]
        np.testing.assert_allclose(x[i], np.mean(rows, axis=0), rtol=1e-4, atol=1e-4)


# -- pipeline ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aligned(pipeline):
    from robustmsa.media.pipeline import MediaPipeline

    return MediaPipeline(pipeline.extractors, align="words")


def test_aligned_pipeline_one_row_per_word(aligned, oz_clip, media_dir):
    words = spread(OZ_TEXT, 7.4)
    r = aligned.extract(video=media_dir / OZ_VIDEO, words=words)
    assert r.present == {"text": True, "audio": True, "vision": True}
    assert {m: f.features.shape[0] for m, f in r.modalities.items()} == dict.fromkeys(
        ("text", "audio", "vision"), len(words)
    )
    assert r.inputs["transcript"] == OZ_TEXT and r.inputs["words"] == words_digest(words)
    for m in ("audio", "vision"):  # each word row = mean of the unaligned frames in its span
        u = oz_clip.modalities[m]
        ref, got = naive_pool(u.features, u.times, u.frame_mask, words, 0.1)
        np.testing.assert_allclose(r.modalities[m].features, ref, rtol=1e-4, atol=1e-5)
        assert r.modalities[m].stats["words_without_frames"] == int((~got).sum())
    assert oz_clip.modalities["audio"].times[0] == pytest.approx(0.0125)
    assert np.all(np.diff(oz_clip.modalities["vision"].times) > 0)


def test_aligned_pipeline_needs_words_and_describes_itself(aligned, pipeline, media_dir):
    from robustmsa.media.base import describe_mismatch
    from robustmsa.media.pipeline import MediaPipeline

    with pytest.raises(DataError, match="aligned to words"):
        aligned.extract(audio=media_dir / WAV, transcript=WAV_TEXT)
    desc = aligned.describe()
    assert {d["config"]["alignment"] for d in desc.values()} == {"words"}
    assert MediaPipeline.from_descriptions(desc).align == "words"
    assert MediaPipeline.from_descriptions(pipeline.describe()).align is None
    assert describe_mismatch(desc["audio"], pipeline.describe()["audio"]) == [
        "config.alignment: expected 'words', got None"
    ]
    with pytest.raises(ConfigError, match="alignment"):
        MediaPipeline(pipeline.extractors, align="frames")


def test_wav_aligned_audio_only(aligned, media_dir):
    words = spread(WAV_TEXT, 3.0, start=0.2)
    r = aligned.extract(audio=media_dir / WAV, words=words)
    assert r.present == {"text": True, "audio": True, "vision": False}
    assert r.modalities["audio"].features.shape == (len(words), 41)
    assert r.modalities["vision"].features.shape[0] == 0


# -- dataset and predict ----------------------------------------------------------------------
def test_extract_dataset_with_timings(aligned, media_dir, tmp_path):
    from robustmsa.data.schema import load_dataset
    from robustmsa.media.extract_dataset import extract_dataset
    from robustmsa.media.provenance import read_dataset_extractors

    root = tmp_path / "clips"
    (root / "Oz06ZWiO20M").mkdir(parents=True)
    (root / "Oz06ZWiO20M" / "6.mp4").symlink_to(media_dir / OZ_VIDEO)
    (root / "03bSnISJMiM").mkdir()
    (root / "03bSnISJMiM" / "1.wav").symlink_to(media_dir / WAV)
    (root / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        f"Oz06ZWiO20M,6,{OZ_TEXT},-0.8,train\n03bSnISJMiM,1,{WAV_TEXT},2.4,test\n"
    )
    tdir = tmp_path / "timings"
    tdir.mkdir()
    write_tsv(tdir / "Oz06ZWiO20M_6.tsv", spread(OZ_TEXT, 7.4))
    out = tmp_path / "aligned.npz"
    rep = extract_dataset(root / "label.csv", out, pipeline=aligned, timings_dir=tdir,
                          progress=False, pad="max")
    assert (rep.n_ok, rep.n_failed) == (1, 1)  # the wav has no timings file
    fail = json.loads(rep.failures.read_text().splitlines()[0])
    assert fail["id"] == "03bSnISJMiM_1" and "no word timings for 03bSnISJMiM_1" in fail["error"]
    ds = load_dataset(out)
    n = len(OZ_TEXT.split())
    assert ds.info.seq_lens == dict.fromkeys(("text", "audio", "vision"), n)
    assert {ds["train"].lengths[m][0] for m in ("text", "audio", "vision")} == {n}
    assert read_dataset_extractors(out)["vision"]["config"]["alignment"] == "words"
    assert "aligned to words" in ds.info.notes

    # changed timings invalidate the cached clip; unchanged ones are reused
    write_tsv(tdir / "03bSnISJMiM_1.tsv", spread(WAV_TEXT, 3.0))
    rep = extract_dataset(root / "label.csv", out, pipeline=aligned, timings_dir=tdir,
                          progress=False)
    assert (rep.n_ok, rep.n_cached, rep.n_failed) == (2, 1, 0)
    write_tsv(tdir / "Oz06ZWiO20M_6.tsv", spread(OZ_TEXT, 7.0))
    rep = extract_dataset(root / "label.csv", out, pipeline=aligned, timings_dir=tdir,
                          progress=False)
    assert (rep.n_ok, rep.n_cached) == (2, 1)

    with pytest.raises(ConfigError, match="needs timings_dir"):
        extract_dataset(root / "label.csv", out, pipeline=aligned, progress=False)


def test_predict_with_aligned_checkpoint(aligned, media_dir, tmp_path):
    from test_media_predict import FakePredictor, make_info

    from robustmsa.media.predict import predict_media

    fake = FakePredictor(make_info(aligned.describe(), seq_lens=dict.fromkeys(
        ("text", "audio", "vision"), 50)))
    with pytest.raises(ConfigError, match="word-aligned features; give the clip's word timings"):
        predict_media("ckpt.pt", video=str(media_dir / OZ_VIDEO), transcript=OZ_TEXT,
                      pipeline=aligned, predictor=fake)
    tfile = tmp_path / "oz.json"
    tfile.write_text(json.dumps([{"word": w.text, "start": w.start, "end": w.end}
                                 for w in spread(OZ_TEXT, 7.4)]))
    res = predict_media("ckpt.pt", video=str(media_dir / OZ_VIDEO), timings=str(tfile),
                        pipeline=aligned, predictor=fake)
    feats, present = fake.calls[-1]
    n = len(OZ_TEXT.split())
    assert {m: x.shape[0] for m, x in feats.items()} == dict.fromkeys(("text", "audio", "vision"), n)
    assert res["inputs"]["transcript"] == OZ_TEXT and all(present.values())
    # a pipeline rebuilt from the checkpoint's description is word-aligned as well
    fake2 = FakePredictor(make_info(aligned.describe()))
    with pytest.raises(ConfigError, match="word-aligned"):
        predict_media("ckpt.pt", audio=str(media_dir / WAV), predictor=fake2)
