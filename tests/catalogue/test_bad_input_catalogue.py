"""The bad-input catalogue: every case runs the real CLI in its own process and must give
exit status 2 (or the documented code), exactly one line on stderr naming the file / field /
modality, no traceback, and leave the user's files byte-identical.

Most cases run in children forked from a warm parent (`cli_runner.CLIServer`: one import of
torch for all of them); `test_true_subprocesses` runs a few as plain ``python -m robustmsa``.
The kill/resume and concurrency cases are marked ``slow`` (they still run in ``make test``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import CLIServer, Result, wait_for

from robustmsa.data.schema import MSADataset, infer_info, save_dataset

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.conftest import make_tiny_dataset  # noqa: E402

TINY = ["train.epochs=1", "train.batch_size=16", "train.progress=false", "model.d_model=8",
        "model.num_heads=2", "model.num_layers=1", "model.ffn_dim=8"]
WAV = REPO.parent / "shared" / "media" / "03bSnISJMiM_1.wav"


# ----------------------------------------------------------------------------- fixtures
def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root`` (the lock file excluded)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != ".lock":
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def write_bclstm(folder: Path, *, videos: int = 4, test_videos: int = 2, clips: int = 3) -> Path:
    """A tiny, valid copy of the bc-LSTM release layout (see `robustmsa.data.readers.mosi_bclstm`)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows: list[list[str]] = []
    split_rows: dict[str, list[int]] = {"train": [], "test": []}
    for split, n in (("train", videos), ("test", test_videos)):
        for v in range(n):
            for c in range(clips):
                split_rows[split].append(len(rows))
                rows.append([f"{split}vid{v}_{c + 1}", "SOME WORDS", "93", str((v + c) % 2)])
    with (folder / "transcripts.csv").open("w") as fh:
        fh.writelines(",".join(f'"{x}"' for x in r) + "\n" for r in rows)
    for split, idx in split_rows.items():
        with (folder / f"text_{split}.csv").open("w") as fh:
            fh.writelines(f'"{i}","0.5"\n' for i in idx)
        for stem, d in (("text", 4), ("audio", 3), ("video", 5)):
            with (folder / f"{stem}_{split}0.csv").open("w") as fh:
                for i in idx:
                    vals = [f"{v:.4f}" for v in rng.normal(size=d)] + [rows[i][3]]
                    fh.write(",".join(f'"{x}"' for x in vals) + "\n")
    return folder


def class_dataset() -> MSADataset:
    d = make_tiny_dataset()
    for sp in d.splits.values():
        sp.labels = (sp.labels >= 0).astype(np.int64)
    info = infer_info(d.splits, name="tiny_class", source="catalogue", label_kind="class",
                      class_names=("negative", "positive"))
    return MSADataset(d.splits, info)


@dataclass
class Env:
    root: Path  # the user's files: every case checks they are unchanged
    scratch: Path  # cwd of the cases
    server: CLIServer
    paths: dict[str, str] = field(default_factory=dict)

    def run(self, argv: list[str], **kw) -> Result:
        return self.server.run(argv, cwd=kw.pop("cwd", self.scratch), **kw)

    def train(self, out: Path, *extra: str, data: str | None = None) -> None:
        r = self.run(["train", "method=teacher", f"data.source={data or self.paths['tiny']}",
                      *TINY, *extra, "--out", str(out)])
        assert r.rc == 0, r.err


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("catalogue")
    root, scratch = base / "user", base / "scratch"
    root.mkdir()
    scratch.mkdir()
    with CLIServer(base / "io") as server:
        e = Env(root, scratch, server)
        data = root / "data"
        e.paths["tiny"] = str(save_dataset(make_tiny_dataset(), data / "tiny.npz"))
        e.paths["tiny_other"] = str(save_dataset(make_tiny_dataset(seed=5), data / "tiny5.npz"))
        e.paths["wide"] = str(save_dataset(make_tiny_dataset(dims=(("text", 9), ("audio", 5),
                                                                   ("vision", 7))),
                                           data / "wide.npz"))
        e.paths["classes"] = str(save_dataset(class_dataset(), data / "classes.npz"))
        e.train(root / "runs" / "teacher")
        e.paths["ck"] = str(root / "runs" / "teacher" / "best.pt")
        e.paths["run"] = str(root / "runs" / "teacher")
        r = e.run(["train", "method=student", f"data.source={e.paths['tiny']}", *TINY,
                   "--out", str(root / "runs" / "student")])
        assert r.rc == 0, r.err
        e.paths["student_ck"] = str(root / "runs" / "student" / "best.pt")
        e.train(root / "runs" / "teacher_other", data=e.paths["tiny_other"])
        e.paths["ck_other"] = str(root / "runs" / "teacher_other" / "best.pt")
        preds = root / "preds.npz"
        r = e.run(["predict", "-c", e.paths["ck"], "--data", e.paths["tiny"], "--out", str(preds)])
        assert r.rc == 0, r.err
        e.paths["preds"] = str(preds)
        e.paths["bclstm"] = str(write_bclstm(root / "bclstm_ok"))
        r = e.run(["data", "info", e.paths["bclstm"]])
        assert r.rc == 0, r.err  # the valid copy loads: every broken copy differs in one thing
        audio_ck = _audio_checkpoint(e)
        if audio_ck:
            e.paths["audio_ck"] = audio_ck
        yield e


def _audio_checkpoint(e: Env) -> str | None:
    """A tiny model on 41-d audio features recorded as extracted by the default audio
    extractor (so raw-media prediction rebuilds it); None without the media extra."""
    try:
        from robustmsa.media.pipeline import MediaPipeline
        from robustmsa.media.provenance import notes_with_extractors
    except ImportError:
        return None
    desc = MediaPipeline.default(["audio"]).describe()
    d = make_tiny_dataset(dims=(("audio", 41),))
    info = infer_info(d.splits, name="tiny_audio", source="catalogue",
                      notes=notes_with_extractors("", desc))
    path = save_dataset(MSADataset(d.splits, info), e.root / "data" / "audio.npz")
    out = e.root / "runs" / "audio"
    e.train(out, data=str(path))
    return str(out / "best.pt")


# ----------------------------------------------------------------------------- case helpers
Setup = Callable[[Env, Path], None]


@dataclass
class Case:
    id: str
    argv: list[str]  # "{name}" placeholders: Env.paths plus {case} (the case's own folder)
    needles: tuple[str, ...]  # all must appear in the one stderr line
    setup: Setup | None = None
    rc: int = 2
    needs: tuple[str, ...] = ()  # Env.paths keys that must exist (else skipped)
    run_kw: dict = field(default_factory=dict)
    check: Callable[[Env, Path, Result], None] | None = None


def npz_case(mutate: Callable[[dict, dict], None], name: str = "d") -> Setup:
    """Write ``case/NAME.npz`` + ``.json``: the tiny dataset's arrays and sidecar, mutated."""

    def setup(e: Env, case: Path) -> None:
        src = Path(e.paths["tiny"])
        with np.load(src) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(src.with_suffix(".json").read_text())
        mutate(arrays, meta)
        np.savez(case / f"{name}.npz", **arrays)
        if meta is not None:
            (case / f"{name}.json").write_text(meta if isinstance(meta, str) else
                                               json.dumps(meta))

    return setup


def sidecar(text: str) -> Setup:
    def setup(e: Env, case: Path) -> None:
        npz_case(lambda a, m: None)(e, case)
        (case / "d.json").write_text(text)

    return setup


def write(name: str, content: bytes | str) -> Setup:
    def setup(e: Env, case: Path) -> None:
        p = case / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)

    return setup


def both(*setups: Setup) -> Setup:
    def setup(e: Env, case: Path) -> None:
        for s in setups:
            s(e, case)

    return setup


def bclstm(mutate: Callable[[Path], None]) -> Setup:
    def setup(e: Env, case: Path) -> None:
        dst = case / "mosi_copy"
        shutil.copytree(e.paths["bclstm"], dst)
        mutate(dst)

    return setup


def ckpt_case(mutate: Callable[[dict], object]) -> Setup:
    """``case/ck.pt``: the fixture teacher's checkpoint, mutated (saved with torch.save)."""

    def setup(e: Env, case: Path) -> None:
        ck = torch.load(e.paths["ck"], weights_only=True)
        mutate(ck)
        torch.save(ck, case / "ck.pt")

    return setup


def copy_run(e: Env, case: Path) -> None:
    shutil.copytree(e.paths["run"], case / "run")


def set_label(arrays: dict, split: str, row: int, value) -> None:
    arrays[f"{split}/labels"] = arrays[f"{split}/labels"].copy()
    arrays[f"{split}/labels"][row] = value


def to_classes(arrays: dict, meta: dict) -> None:
    for s in ("train", "valid", "test"):
        arrays[f"{s}/labels"] = (arrays[f"{s}/labels"] >= 0).astype(np.int64)
    meta["info"].update(label_kind="class", class_names=["negative", "positive"])


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_pickle(name: str, wrap: Callable[[object], object] = lambda x: x) -> Setup:
    def setup(e: Env, case: Path) -> None:
        import pickle

        with (case / name).open("wb") as fh:
            pickle.dump(wrap(Evil(str(case / "PWNED"))), fh, protocol=2)

    return setup


def no_pwned(e: Env, case: Path, r: Result) -> None:
    assert not (case / "PWNED").exists(), "a pickle ran code"


def no_best_without_last(e: Env, case: Path, r: Result) -> None:
    run = case / "run"
    assert (run / "last.pt").exists() or not (run / "best.pt").exists()


D = ["data", "info"]
TRAIN = ["train", "method=teacher", *TINY]
TRAIN_TINY = [*TRAIN, "data.source={tiny}"]
EVAL = ["evaluate", "-c", "{ck}", "--protocol", "subsets", "--mask-seeds", "0", "--out",
        "{case}/eval"]
PRED = ["predict", "-c", "{ck}"]

CASES: list[Case] = [
    # --- data files ------------------------------------------------------------------------
    Case("npz-string-labels", [*D, "{case}/d.npz"], ("d.npz", "[train]", "labels must be numbers"),
         npz_case(lambda a, m: a.update({"train/labels": np.array(["pos"] * 48)}))),
    Case("npz-string-features", [*D, "{case}/d.npz"], ("d.npz", "[train]", "'text'", "numeric"),
         npz_case(lambda a, m: a.update({"train/text": a["train/text"].astype(str)}))),
    Case("npz-class-id-out-of-range", [*D, "{case}/d.npz"],
         ("d.npz", "[valid]", "label 5", "not a class id of 2 classes"),
         npz_case(lambda a, m: (to_classes(a, m), set_label(a, "valid", 3, 5)))),
    Case("npz-class-id-not-integer", [*D, "{case}/d.npz"], ("d.npz", "[train]", "label 0.5"),
         npz_case(lambda a, m: (to_classes(a, m),
                                a.update({"train/labels": a["train/labels"] * 0.5})))),
    Case("npz-class-id-out-of-range-train", [*TRAIN, "task.kind=native",
                                             "data.source={case}/d.npz", "--out", "{case}/run"],
         ("d.npz", "[test]", "label -1"),
         npz_case(lambda a, m: (to_classes(a, m), set_label(a, "test", 0, -1)))),
    Case("sidecar-no-dims", [*D, "{case}/d.npz"], ("d.json", "'info'", "missing field 'dims'"),
         npz_case(lambda a, m: m["info"].pop("dims"))),
    Case("sidecar-no-splits", [*D, "{case}/d.npz"], ("d.json", "'splits'"),
         npz_case(lambda a, m: m.pop("splits"))),
    Case("sidecar-json-list", [*D, "{case}/d.npz"], ("d.json", "JSON object", "list"),
         sidecar("[1, 2, 3]")),
    Case("sidecar-invalid-json", [*D, "{case}/d.npz"], ("d.json", "not valid JSON"),
         sidecar("{not json")),
    Case("sidecar-missing", [*D, "{case}/d.npz"], ("d.npz", "sidecar d.json not found"),
         both(npz_case(lambda a, m: None), lambda e, c: (c / "d.json").unlink())),
    Case("sidecar-wrong-format", [*D, "{case}/d.npz"], ("d.json", "'format'"),
         npz_case(lambda a, m: m.update(format="other"))),
    Case("sidecar-split-not-object", [*D, "{case}/d.npz"], ("d.json", "splits.train"),
         npz_case(lambda a, m: m["splits"].update(train=3))),
    Case("npz-corrupt", [*D, "{case}/d.npz"], ("d.npz", "not a readable .npz"),
         both(npz_case(lambda a, m: None), write("d.npz", b"PK\x03\x04 truncated"))),
    Case("npz-single-array", [*D, "{case}/d.npz"], ("d.npz", "single array"),
         both(npz_case(lambda a, m: None),
              lambda e, c: np.save(open(c / "d.npz", "wb"), np.zeros(3)))),
    Case("npz-nan-features", [*D, "{case}/d.npz"], ("d.npz", "[test]", "'audio'", "NaN"),
         npz_case(lambda a, m: a["test/audio"].__setitem__((2, 0, 0), np.nan))),
    Case("npz-nan-labels", [*D, "{case}/d.npz"], ("d.npz", "[train]", "labels contain NaN"),
         npz_case(lambda a, m: set_label(a, "train", 1, np.nan))),
    Case("npz-lengths-too-long", [*D, "{case}/d.npz"], ("d.npz", "'vision_lengths'", "outside"),
         npz_case(lambda a, m: a["train/vision_lengths"].__setitem__(0, 99))),
    Case("npz-missing-array", [*D, "{case}/d.npz"], ("d.npz", "lacks array", "valid/audio"),
         npz_case(lambda a, m: a.pop("valid/audio"))),
    Case("npz-dims-differ", [*D, "{case}/d.npz"], ("d.npz", "'text'", "differs across splits"),
         npz_case(lambda a, m: a.update({"test/text": a["test/text"][:, :, :5]}))),
    Case("npz-empty-split", [*D, "{case}/d.npz"], ("d.npz", "[valid]", "empty"),
         npz_case(lambda a, m: [a.update({k: v[:0]}) for k, v in list(a.items())
                                if k.startswith("valid/")])),
    Case("data-missing-file", [*TRAIN, "data.source={case}/nope.npz", "--out", "{case}/run"],
         ("nope.npz", "no such file")),
    Case("data-bracket-path", [*TRAIN, "data.source=[x].npz", "--out", "{case}/run"],
         ("[x].npz", "no such file")),
    Case("data-non-utf8-path", [*TRAIN, "data.source={case}/caf\udce9.npz", "--out",
                                "{case}/run"], ("caf", ".npz", "no such file")),
    Case("data-unknown-preset", [*D, "synthetic:huge"], ("synthetic:huge", "unknown synthetic")),
    Case("data-empty-folder", [*D, "{case}/empty"], ("empty", "no reader recognises"),
         lambda e, c: (c / "empty").mkdir()),
    Case("pickle-evil", [*D, "{case}/evil.pkl"], ("evil.pkl", "system"), evil_pickle("evil.pkl"),
         check=no_pwned),
    Case("pickle-not-a-pickle", [*D, "{case}/junk.pkl"], ("junk.pkl",),
         write("junk.pkl", b"\x00\x01 definitely not a pickle")),
    Case("evaluate-data-other-width", [*EVAL, "--data", "{wide}"],
         ("best.pt", "text features of width 12", "width 9")),
    Case("evaluate-data-class-labels", [*EVAL, "--data", "{classes}"],
         ("best.pt", "sentiment scores", "native class ids")),
    Case("predict-data-other-width", [*PRED, "--data", "{wide}", "--out", "{case}/p.npz"],
         ("best.pt", "width 9")),
    # --- the mosi_bclstm reader ------------------------------------------------------------
    Case("bclstm-label-not-number", [*D, "{case}/mosi_copy"],
         ("transcripts.csv", "clip trainvid1_2", "not a number", "'x'"),
         bclstm(lambda d: (d / "transcripts.csv").write_text(
             (d / "transcripts.csv").read_text().replace('"trainvid1_2","SOME WORDS","93","0"',
                                                         '"trainvid1_2","SOME WORDS","93","x"')))),
    Case("bclstm-missing-audio-csv", [*D, "{case}/mosi_copy"], ("audio_train0.csv", "not found"),
         bclstm(lambda d: (d / "audio_train0.csv").unlink())),
    Case("bclstm-missing-index-csv", [*D, "{case}/mosi_copy"],
         ("mosi_copy", "mosi_bclstm", "lacks text_train.csv"),
         bclstm(lambda d: (d / "text_train.csv").unlink())),
    Case("bclstm-missing-transcripts", [*D, "{case}/mosi_copy"], ("lacks transcripts.csv",),
         bclstm(lambda d: (d / "transcripts.csv").unlink())),
    Case("bclstm-non-numeric-feature", [*D, "{case}/mosi_copy"],
         ("video_test0.csv", "non-numeric"),
         bclstm(lambda d: (d / "video_test0.csv").write_text(
             '"abc"' + (t := (d / "video_test0.csv").read_text())[t.index(","):]))),
    Case("bclstm-labels-disagree", [*D, "{case}/mosi_copy"], ("audio_test0.csv", "disagree"),
         bclstm(lambda d: (d / "audio_test0.csv").write_text(
             (d / "audio_test0.csv").read_text().replace('"0"\n', '"1"\n', 1)))),
    # --- configs and condition strings ------------------------------------------------------
    Case("lr-nan", [*TRAIN_TINY, "train.lr=.nan", "--out", "{case}/run"], ("train.lr", "nan")),
    Case("lr-inf", [*TRAIN_TINY, "train.lr=.inf", "--out", "{case}/run"], ("train.lr", "inf")),
    Case("lr-nan-word", [*TRAIN_TINY, "train.lr=nan", "--out", "{case}/run"], ("train.lr",)),
    Case("weight-decay-negative", [*TRAIN_TINY, "train.weight_decay=-0.1", "--out", "{case}/run"],
         ("train.weight_decay", "-0.1")),
    Case("grad-clip-negative", [*TRAIN_TINY, "train.grad_clip=-1", "--out", "{case}/run"],
         ("train.grad_clip",)),
    Case("log-every-zero", [*TRAIN_TINY, "train.log_every=0", "--out", "{case}/run"],
         ("train.log_every", ">= 1", "0")),
    Case("patience-negative", [*TRAIN_TINY, "train.patience=-3", "--out", "{case}/run"],
         ("train.patience", "-3")),
    Case("epochs-zero", [*TRAIN_TINY, "train.epochs=0", "--out", "{case}/run"],
         ("train.epochs", "0")),
    Case("epochs-not-int", [*TRAIN_TINY, "train.epochs=zero", "--out", "{case}/run"],
         ("train.epochs", "integer")),
    Case("seed-negative", [*TRAIN_TINY, "seed=-1", "--out", "{case}/run"], ("seed", "-1")),
    Case("data-seed-negative", [*TRAIN_TINY, "data.seed=-2", "--out", "{case}/run"],
         ("data.seed", "-2")),
    Case("select-metric-unknown", [*TRAIN_TINY, "train.select_metric=F2", "--out", "{case}/run"],
         ("train.select_metric", "'F2'", "valid:", "F1"),
         check=lambda e, c, r: (not (c / "run" / "metrics.jsonl").exists()
                                or not (c / "run" / "metrics.jsonl").read_text().strip())
         or pytest.fail("training started before the check")),
    Case("device-banana", [*TRAIN_TINY, "train.device=banana", "--out", "{case}/run"],
         ("train.device", "banana")),
    Case("device-cuda-unavailable",
         [*TRAIN_TINY, "train.device=cuda" if not torch.cuda.is_available() else
          "train.device=cuda:99", "--out", "{case}/run"],
         ("train.device=cuda", "CUDA") if not torch.cuda.is_available() else
         ("train.device=cuda:99", "visible")),
    Case("config-is-directory", ["train", "--config", "{case}", "--out", "{case}/run"],
         ("is a directory",)),
    Case("config-missing", ["train", "--config", "{case}/nope.yaml"], ("nope.yaml", "not found")),
    Case("config-invalid-yaml", ["train", "--config", "{case}/c.yaml"], ("c.yaml", "invalid YAML"),
         write("c.yaml", "train: [epochs: 3\n")),
    Case("config-list", ["train", "--config", "{case}/c.yaml"], ("c.yaml", "mapping"),
         write("c.yaml", "- 1\n- 2\n")),
    Case("config-not-utf8", ["train", "--config", "{case}/c.yaml"], ("c.yaml", "UTF-8"),
         write("c.yaml", b"train:\n  epochs: \xff\xfe\n")),
    Case("config-unknown-key", [*TRAIN_TINY, "bogus.key=1"], ("unknown key(s) bogus",)),
    Case("config-unknown-nested-key", [*TRAIN_TINY, "train.epoch=3"], ("train", "epoch")),
    Case("override-no-equals", [*TRAIN_TINY, "train.epochs"], ("train.epochs", "key.sub=value")),
    Case("override-bad-yaml", [*TRAIN_TINY, "train.select_conditions=[ta"],
         ("train.select_conditions", "YAML")),
    Case("method-unknown", ["train", "method=nope"], ("unknown method 'nope'",)),
    Case("task-kind-unknown", [*TRAIN_TINY, "task.kind=banana", "--out", "{case}/run"],
         ("task.kind", "banana")),
    Case("task-native-on-scores", [*TRAIN_TINY, "task.kind=native", "--out", "{case}/run"],
         ("task.kind", "sentiment scores")),
    Case("method-config-unknown", [*TRAIN_TINY, "method_config.margin=2", "--out", "{case}/run"],
         ("method_config", "margin")),
    Case("corrkd-no-teacher", ["train", "method=corrkd", "data.source={tiny}", *TINY, "--out",
                               "{case}/run"], ("needs a trained teacher",)),
    Case("teacher-not-a-teacher", ["train", "method=corrkd", "data.source={tiny}", *TINY,
                                   "teacher={student_ck}", "--out", "{case}/run"],
         ("best.pt", "'student'", "not a 'teacher'")),
    Case("train-missing-eta", [*TRAIN_TINY, "train.missing=eta:0.9"],
         ("train.missing", "eta:0.9", "[0, 0.667]")),
    Case("train-missing-mdrop", [*TRAIN_TINY, "train.missing=mdrop:text=2"],
         ("train.missing", "text", "[0, 1]")),
    Case("select-conditions-bad", [*TRAIN_TINY, "train.select_conditions=[ta,bogus]"],
         ("train.select_conditions[1]", "bogus")),
    Case("evaluate-eta-too-high", [*EVAL, "--condition", "eta:0.9"], ("eta:0.9", "[0, 0.667]")),
    Case("evaluate-mdrop-above-one", [*EVAL, "--condition", "mdrop:text=2"],
         ("mdrop:text=2", "text", "[0, 1]")),
    Case("evaluate-mdrop-negative", [*EVAL, "--condition", "mdrop:text=-1"],
         ("mdrop:text=-1", "-1")),
    Case("evaluate-mdrop-twice", [*EVAL, "--condition", "mdrop:text=0.1,text=0.2"],
         ("text", "twice")),
    Case("evaluate-lnln-above-one", [*EVAL, "--condition", "lnln:5"], ("lnln:5", "[0, 1]")),
    Case("evaluate-frame-above-one", [*EVAL, "--condition", "frame:1.5"], ("frame:1.5",)),
    Case("evaluate-frame-override-modality", [*EVAL, "--condition", "frame:0.2:smell=0"],
         ("frame:0.2:smell=0", "smell")),
    Case("evaluate-unknown-condition", [*EVAL, "--condition", "bogus"], ("unknown condition",)),
    Case("evaluate-unknown-protocol", [*EVAL, "--protocol", "nope"], ("unknown protocol 'nope'",)),
    Case("evaluate-mask-seed-negative", ["evaluate", "-c", "{ck}", "--mask-seeds", "-1"],
         ("--mask-seeds", "-1")),
    Case("predict-bad-condition", [*PRED, "--data", "{tiny}", "--condition", "mdrop:text=2",
                                   "--out", "{case}/p.npz"], ("mdrop:text=2",),
         check=lambda e, c, r: not (c / "p.npz").exists() or pytest.fail("wrote output")),
    Case("evaluate-no-checkpoint-arg", ["evaluate"], ("--checkpoint",)),
    Case("score-bad-convention-choice", ["score", "{preds}", "--convention", "nope"],
         ("--convention", "nope")),
    # --- checkpoints and run directories ------------------------------------------------------
    Case("checkpoint-missing", ["evaluate", "-c", "{case}/nope.pt"], ("nope.pt", "not found")),
    Case("checkpoint-garbage", ["evaluate", "-c", "{case}/g.pt"], ("g.pt", "not a loadable"),
         write("g.pt", b"garbage bytes")),
    Case("checkpoint-empty-file", ["evaluate", "-c", "{case}/g.pt"], ("g.pt",), write("g.pt", b"")),
    Case("checkpoint-directory", ["evaluate", "-c", "{case}"], ("not a loadable",)),
    Case("checkpoint-evil-pickle", ["evaluate", "-c", "{case}/evil.pt"], ("evil.pt",),
         evil_pickle("evil.pt", lambda x: {"format": "robustmsa-checkpoint", "x": x}),
         check=no_pwned),
    Case("checkpoint-format-version", ["evaluate", "-c", "{case}/ck.pt"],
         ("ck.pt", "format_version 99"), ckpt_case(lambda ck: ck.update(format_version=99))),
    Case("checkpoint-dataset-info-no-dims", ["evaluate", "-c", "{case}/ck.pt"],
         ("ck.pt", "dataset_info", "missing field 'dims'"),
         ckpt_case(lambda ck: ck["dataset_info"].pop("dims"))),
    Case("checkpoint-dataset-info-not-dict", ["evaluate", "-c", "{case}/ck.pt"],
         ("ck.pt", "dataset_info"), ckpt_case(lambda ck: ck.update(dataset_info=[1]))),
    Case("checkpoint-no-student", ["evaluate", "-c", "{case}/ck.pt"],
         ("ck.pt", "missing field 'student'"), ckpt_case(lambda ck: ck.pop("student"))),
    Case("checkpoint-weights-do-not-fit", ["evaluate", "-c", "{case}/ck.pt"],
         ("ck.pt", "weights do not fit"),
         ckpt_case(lambda ck: ck["student"].pop(next(iter(ck["student"]))))),
    Case("checkpoint-normalization-width", ["evaluate", "-c", "{case}/ck.pt", "--data", "{tiny}"],
         ("ck.pt", "normalization.text", "width 3"),
         ckpt_case(lambda ck: ck["normalization"]["text"].update(mean=torch.zeros(3),
                                                                 std=torch.ones(3)))),
    Case("checkpoint-normalization-zero-std", ["evaluate", "-c", "{case}/ck.pt", "--data",
                                               "{tiny}"], ("ck.pt", "normalization.audio"),
         ckpt_case(lambda ck: ck["normalization"]["audio"].update(std=torch.zeros(5)))),
    Case("checkpoint-bad-config", ["evaluate", "-c", "{case}/ck.pt"], ("ck.pt", "train.lr"),
         ckpt_case(lambda ck: ck["config"]["train"].update(lr=-1.0))),
    Case("evaluate-same-checkpoint-twice", ["evaluate", "-c", "{ck}", "-c", "{ck}"],
         ("best.pt", "given twice")),
    Case("evaluate-names-clash", ["evaluate", "-c", "{ck}", "-c", "{case}/run/best.pt",
                                  "--name", "x", "--name", "x", "--out", "{case}/eval"],
         ("--name 'x'", "2 checkpoints", "seed 0"), copy_run),
    Case("evaluate-names-count", ["evaluate", "-c", "{ck}", "--name", "a", "--name", "b"],
         ("--name", "2 time(s)", "1 checkpoint(s)")),
    Case("evaluate-different-data", ["evaluate", "-c", "{ck}", "-c", "{ck_other}"],
         ("different data", "tiny.npz", "tiny5.npz", "--data")),
    Case("predict-no-out", [*PRED, "--data", "{tiny}"], ("--out",)),
    Case("predict-missing-split", [*PRED, "--data", "synthetic:small", "--split", "dev"],
         ("--split", "dev")),
    Case("train-existing-run", [*TRAIN_TINY, "--out", "{run}"],
         ("runs/teacher", "already holds files", "--resume", "--overwrite")),
    Case("train-out-is-file", [*TRAIN_TINY, "--out", "{case}/f"], ("f", "not a directory"),
         write("f", "user notes")),
    Case("train-resume-nothing", [*TRAIN_TINY, "--out", "{case}/none", "--resume"],
         ("last.pt", "nothing to resume from")),
    Case("train-resume-and-overwrite", [*TRAIN_TINY, "--out", "{case}/run", "--resume",
                                        "--overwrite"], ("--resume", "--overwrite", "not both"),
         copy_run),
    Case("train-resume-changed-config", [*TRAIN_TINY, "train.lr=0.01", "model.ffn_dim=16",
                                         "--out", "{case}/run", "--resume"],
         ("last.pt", "model.ffn_dim: 8 -> 16", "train.lr: 0.001 -> 0.01", "train.epochs"),
         copy_run),
    Case("train-resume-changed-data", [*TRAIN, "data.source={tiny_other}", "--out", "{case}/run",
                                       "--resume"], ("last.pt", "data.source"), copy_run),
    Case("train-resume-last-garbage", [*TRAIN_TINY, "--out", "{case}/run", "--resume"],
         ("last.pt", "not a loadable"),
         lambda e, c: (copy_run(e, c), (c / "run" / "last.pt").write_bytes(b"torn"))),
    Case("train-locked-directory", [*TRAIN_TINY, "--out", "{case}/locked"],
         ("locked", "another train is running", f"pid {os.getpid()}"),
         lambda e, c: (c / "locked").mkdir(), run_kw={"lock": "locked"}),
    Case("train-read-only-location", [*TRAIN, "data.source=synthetic:small", "--out",
                                      "{ro}/sub/run"], ("sub", "cannot create the run directory"),
         needs=("ro",)),
    Case("train-disk-full", [*TRAIN_TINY, "--out", "{case}/run"], ("run/", "cannot write"),
         run_kw={"fsize": 6000}, check=no_best_without_last),
    Case("score-class-probs-as-regression", ["score", "{preds}", "--convention", "mosi"],
         ("preds.npz", "'polarity2' class model", "classification")),
    Case("score-class-centre-as-regression", ["score", "{preds}", "--convention", "sims",
                                              "--pred-key", "score"],
         ("preds.npz", "P(pos) - P(neg)")),
    Case("score-no-truth", ["score", "{case}/p.npz", "--convention", "mosi"],
         ("p.npz", "'truth' not found"),
         lambda e, c: np.savez(c / "p.npz", pred=np.zeros(3))),
    Case("score-missing-file", ["score", "{case}/nope.npz", "--convention", "mosi"],
         ("nope.npz", "no such file")),
    # --- raw media --------------------------------------------------------------------------
    Case("transcript-looks-like-missing-file", [*PRED, "--transcript", "notes.txt"],
         ("--transcript 'notes.txt'", "no such file", "--transcript-file")),
    Case("transcript-file-missing", [*PRED, "--transcript-file", "{case}/t.txt"],
         ("t.txt", "transcript file not found")),
    Case("transcript-file-not-utf8", [*PRED, "--transcript-file", "{case}/t.txt"],
         ("t.txt", "not UTF-8"), write("t.txt", b"\xff\xfe\x00bad")),
    Case("transcript-and-file", [*PRED, "--transcript", "hi there", "--transcript-file",
                                 "{case}/t.txt"], ("not both",), write("t.txt", "hello")),
    Case("video-missing", [*PRED, "--video", "{case}/clip.mp4"], ("clip.mp4", "--video",
                                                                  "not found")),
    Case("audio-is-directory", [*PRED, "--audio", "{case}"], ("--audio", "not a directory")),
    Case("timings-missing", [*PRED, "--audio", str(WAV), "--timings", "{case}/w.tsv"],
         ("w.tsv", "--timings", "not found"), needs=("wav",)),
    Case("raw-and-data", [*PRED, "--data", "{tiny}", "--video", "{case}/clip.mp4"],
         ("--data", "not both")),
    Case("audio-not-decodable", ["predict", "-c", "{audio_ck}", "--audio", "{case}/fake.wav"],
         ("fake.wav", "cannot open as audio"), write("fake.wav", "RIFF? no, plain text"),
         needs=("audio_ck",)),
    Case("audio-model-without-extractors", [*PRED, "--audio", str(WAV)],
         ("best.pt", "features of width", "extractor"), needs=("wav", "audio_ck")),
]


@pytest.fixture(scope="module")
def ro_dir():
    """A directory this process's CLI children cannot write to (root: run them as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="robustmsa-ro-"))
    base.chmod(0o755)
    ro = base / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    uid = None
    if os.geteuid() == 0:
        import pwd

        try:
            uid = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            uid = None
        # nobody must reach the checkout to run the CLI at all (a clone inside a 0700 mktemp
        # folder cannot): otherwise this case is not runnable here and skips
        repo = Path(__file__).resolve().parents[2]
        if any(not (q.stat().st_mode & 0o001) for q in (repo, *repo.parents)):
            uid = None
    yield (str(ro), uid) if uid is not None or os.geteuid() != 0 else (None, None)
    ro.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_catalogue_is_large_enough():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def check_one_line(r: Result, needles: tuple[str, ...], rc: int = 2) -> str:
    assert "Traceback" not in r.err, r.err
    assert r.rc == rc, (r.rc, r.err)
    lines = r.err_lines
    assert len(lines) == 1, lines
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, env: Env, ro_dir):
    paths = dict(env.paths)
    ro, uid = ro_dir
    if ro:
        paths["ro"] = ro
    if WAV.is_file():
        paths["wav"] = str(WAV)
    for k in case.needs:
        if k not in paths:
            pytest.skip(f"needs {k} (media extra / fixture clip / a read-only location)")
    if any("{audio_ck}" in a for a in case.argv) and "audio_ck" not in paths:
        pytest.skip("media extra not installed")
    d = env.root / "cases" / case.id
    d.mkdir(parents=True)
    if case.setup:
        case.setup(env, d)
    argv = [a.format(**paths, case=d) for a in case.argv]
    kw = dict(case.run_kw)
    lock_fd = None
    if "lock" in kw:  # another "train" holds the run directory
        lock_fd = os.open(d / kw.pop("lock") / ".lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(lock_fd, f"{os.getpid()}\n".encode())
    if case.id == "train-read-only-location":
        kw["uid"] = uid
        kw["cwd"] = Path(ro).parent
    before = snapshot(env.root)
    try:
        r = env.run(argv, **kw)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    line = check_one_line(r, case.needles, case.rc)
    assert line.startswith("robustmsa "), line
    if case.check:
        case.check(env, d, r)
    assert_unchanged(before, snapshot(env.root), allowed_new=f"cases/{case.id}/")


def assert_unchanged(before: dict[str, str], after: dict[str, str], allowed_new: str) -> None:
    """Every file that existed is byte-identical; new files only in the case's own folder."""
    changed = [k for k, h in before.items() if after.get(k) != h]
    assert not changed, f"the user's files changed: {changed}"
    new = [k for k in after if k not in before and not k.startswith(allowed_new)]
    assert not new, f"files appeared outside the case folder: {new}"


def test_true_subprocesses(env: Env):
    """Cases as a user runs them: ``python -m robustmsa``, the processes at once."""
    d = env.root / "cases" / "subprocess"
    d.mkdir(parents=True)
    cases = [
        (["train", "data.source=" + str(d / "missing.npz"), "--out", str(d / "run")],
         ("missing.npz", "no such file")),
        (["score", env.paths["preds"], "--convention", "mosi"], ("class model",)),
    ]
    before = snapshot(env.root)
    procs = [subprocess.Popen([sys.executable, "-m", "robustmsa", *argv], cwd=env.scratch,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
             for argv, _ in cases]
    for p, (_, needles) in zip(procs, cases, strict=True):
        out, err = p.communicate(timeout=120)
        check_one_line(Result(p.returncode, out, err), needles)
    assert_unchanged(before, snapshot(env.root), allowed_new="cases/subprocess/")


def test_non_utf8_paths_work(env: Env):
    """A data file and a run directory whose names are not valid UTF-8 are just paths."""
    d = env.root / "cases" / "non_utf8"
    d.mkdir(parents=True)
    data = d / "caf\udce9.npz"
    shutil.copy(env.paths["tiny"], data)
    shutil.copy(Path(env.paths["tiny"]).with_suffix(".json"), data.with_suffix(".json"))
    run = d / "run\udcff"
    env.train(run, data=str(data))
    r = env.run(["evaluate", "-c", str(run / "best.pt"), "--protocol", "subsets",
                 "--mask-seeds", "0", "--out", str(d / "ev")])
    assert r.rc == 0, r.err
    recs = json.loads((d / "ev" / "results.json").read_text())
    assert {x["name"] for x in recs} == {"run\ufffd"} and recs[0]["checkpoint"] == str(run / "best.pt")


# ----------------------------------------------------------------------------- slow cases
def _load(p: Path) -> dict:
    return torch.load(p, weights_only=True)


def _strip_times(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(x).items() if k != "train_seconds"}
            for x in path.read_text().splitlines()]


@pytest.mark.slow
def test_kill_and_resume_is_identical(env: Env):
    """SIGKILL a run after its second epoch, resume it: the same weights and log as a run
    that was never interrupted."""
    d = env.root / "cases" / "kill_resume"
    ov = ["method=student", f"data.source={env.paths['tiny']}", *TINY, "train.batch_size=8",
          "train.epochs=4", "train.patience=4"]
    full = d / "full"
    r = env.run(["train", *ov, "--out", str(full)])
    assert r.rc == 0, r.err
    part = d / "part"
    pid, _, _ = env.server.start(["train", *ov, "--out", str(part)], cwd=env.scratch)

    def epochs_logged() -> int:
        f = part / "metrics.jsonl"
        return f.read_text().count('"type": "epoch"') if f.exists() else 0

    assert wait_for(lambda: epochs_logged() >= 2, timeout=120)
    os.kill(pid, signal.SIGKILL)
    rc = env.server.wait(pid)
    assert rc in (-signal.SIGKILL, 0)
    r = env.run(["train", *ov, "--out", str(part), "--resume"])
    assert r.rc == 0, r.err
    for name in ("best.pt", "last.pt"):
        a, b = _load(full / name), _load(part / name)
        assert a["epoch"] == b["epoch"]
        for k in a["student"]:
            assert torch.equal(a["student"][k], b["student"][k]), (name, k)
    assert _strip_times(full / "metrics.jsonl") == _strip_times(part / "metrics.jsonl")
    # extending a finished run: train.epochs is a field --resume may change
    r = env.run(["train", *ov[:-2], "train.epochs=5", "train.patience=4", "--out", str(part),
                 "--resume"])
    assert r.rc == 0, r.err
    assert _load(part / "last.pt")["epoch"] == 4


@pytest.mark.slow
def test_concurrent_train_on_one_directory(env: Env):
    """A second ``train`` on a directory in use fails with one line; the first is untouched."""
    d = env.root / "cases" / "concurrent"
    out = d / "run"
    ov = ["method=teacher", f"data.source={env.paths['tiny']}", *TINY, "train.epochs=400",
          "train.patience=400"]
    pid, _, _ = env.server.start(["train", *ov, "--out", str(out)], cwd=env.scratch)
    try:
        assert wait_for(lambda: (out / ".lock").exists() and
                        (out / ".lock").read_text().strip() == str(pid), timeout=120)
        r = env.run(["train", *ov, "--out", str(out), "--overwrite"])
        check_one_line(r, ("another train is running", f"pid {pid}"))
        r = env.run(["train", *ov, "--out", str(out), "--resume"], timeout=60)
        assert r.rc == 2 and len(r.err_lines) == 1, r.err
    finally:
        os.kill(pid, signal.SIGKILL)
        env.server.wait(pid)
    # the killed run is resumable (a lock dies with its process)
    r = env.run(["train", *ov[:-2], "train.epochs=2", "train.patience=400", "--out", str(out),
                 "--resume"])
    assert r.rc == 0 or "nothing to resume" in r.err, r.err
