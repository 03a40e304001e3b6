"""`robustmsa zoo build`: every recipe builds a usable checkpoint and its model card.

Text recipes run on a few real rows of ``../shared/labels`` per split, the ``clips`` recipe on
the fixture clips (`clips_model`); all with a tiny backbone and 2 epochs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from media_consts import OZ_TEXT, TINY_MODEL

from robustmsa.cli import main
from robustmsa.errors import ConfigError, DataError
from robustmsa.zoo import RECIPES, build, model_path, resolve_checkpoint, zoo_root

LABELS = {"text-mosi": "mosi_label.csv", "text-mosei": "mosei_label.csv"}


def _few_rows(src: Path, dst: Path, per_split: int = 6) -> list[dict]:
    with src.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        seen: dict[str, int] = {}
        rows = []
        for r in reader:
            if seen.get(r["mode"], 0) < per_split:
                seen[r["mode"]] = seen.get(r["mode"], 0) + 1
                rows.append(r)
        fields = reader.fieldnames
    with dst.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return rows


def _check_card(folder: Path, recipe: str, modalities: list[str]) -> dict:
    card = json.loads((folder / "card.json").read_text())
    assert card["name"] == recipe and card["model"]["modalities"] == modalities
    assert set(card["metrics"]["conditions"]) == set(RECIPES[recipe].conditions)
    assert "MAE" in card["metrics"]["conditions"]["complete"]
    assert card["known_limits"] and card["train_ids"] and card["valid_ids"]
    assert len(card["data"]["labels_sha256"]) == 64
    md = (folder / "MODEL_CARD.md").read_text()
    assert "## Metrics on the test split" in md and "## Known limits" in md
    assert (folder / "model.pt").is_file() and not (folder / "work").exists()
    return card


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_builds_a_model_with_a_card(recipe, request, labels_dir, pipeline,
                                                 tmp_path):
    if RECIPES[recipe].kind == "clips":
        folder = request.getfixturevalue("clips_model").parent
        card = _check_card(folder, recipe, ["text", "audio", "vision"])
        assert card["train_ids"] == ["Oz06ZWiO20M_6"]
        assert card["valid_ids"] == ["openvna_mosi_clip"]
        assert [s["method"] for s in card["model"]["stages"]] == ["teacher", "corrkd"]
        return
    rows = _few_rows(labels_dir / LABELS[recipe], tmp_path / "label.csv")
    folder = build(recipe, tmp_path / "label.csv", root=tmp_path / "zoo", overrides=TINY_MODEL,
                   pipeline=pipeline, progress=False, say=lambda s: None)
    assert folder == tmp_path / "zoo" / recipe
    card = _check_card(folder, recipe, ["text"])
    assert card["data"]["clips"] == {"train": 6, "valid": 6, "test": 6}
    first = rows[0]
    train_id = first.get("id") or f"{first['video_id']}_{first['clip_id']}"
    assert train_id in card["train_ids"]


def test_text_model_predicts_by_name_and_flags_training_clips(labels_dir, pipeline, tmp_path,
                                                              capsys, monkeypatch):
    import robustmsa

    _few_rows(labels_dir / "mosi_label.csv", tmp_path / "label.csv")
    monkeypatch.setenv("ROBUSTMSA_HOME", str(tmp_path / "home"))  # read by the zoo, never set
    build("text-mosi", tmp_path / "label.csv", overrides=TINY_MODEL, pipeline=pipeline,
          progress=False, say=lambda s: None)
    assert model_path("text-mosi") == tmp_path / "home" / "zoo" / "text-mosi" / "model.pt"
    capsys.readouterr()
    # an id of the training split (the first MOSI row) is flagged; the text is all it uses
    assert main(["predict", "--model", "text-mosi", "--transcript", "anyhow it was really good",
                 "--id", "03bSnISJMiM_1"]) == 0
    out = capsys.readouterr().out
    assert "text    used     " in out and "audio   -        not used by this model" in out
    assert "is in this model's training split" in out
    # the Python one-liner returns the batch row's fields
    row = robustmsa.predict_clip(model_path("text-mosi"), transcript=OZ_TEXT, clip_id="new_1")
    assert row["used"] == ["text"] and row["model_split"] is None
    assert row["polarity"] in ("negative", "neutral", "positive")
    # a second build is a no-op unless forced
    msgs: list[str] = []
    build("text-mosi", tmp_path / "label.csv", say=msgs.append)
    assert "already built" in msgs[0]


def test_zoo_root_and_resolution_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ROBUSTMSA_HOME", raising=False)
    assert zoo_root() == Path.home() / ".cache" / "robustmsa" / "zoo"
    assert zoo_root(tmp_path) == tmp_path
    with pytest.raises(ConfigError, match="not built under .*robustmsa zoo build text-mosi"):
        model_path("text-mosi", tmp_path)
    with pytest.raises(ConfigError, match="not both"):
        resolve_checkpoint("a.pt", "text-mosi")
    with pytest.raises(ConfigError, match="--model NAME"):
        resolve_checkpoint(None, None)
    with pytest.raises(ConfigError, match="unknown zoo recipe"):
        build("nope", tmp_path / "x.csv")


def test_clips_recipe_on_the_flat_shared_media_folder(labels_dir, media_dir, pipeline, tmp_path,
                                                      capsys):
    """The README's extract command on ../shared/media as shipped: the flat layout is found;
    with only training clips there, the recipe says what the data lacks."""
    with pytest.raises(DataError, match="needs train, valid and test clips; the extracted data "
                       "has train 2"):  # Oz06ZWiO20M_6.mp4 and 03bSnISJMiM_1.wav
        build("clips", labels_dir / "mosi_label.csv", media=media_dir, root=tmp_path / "zoo",
              pipeline=pipeline, progress=False, say=lambda s: None)
    failures = tmp_path / "zoo" / "clips" / "work" / "features.parts" / "failures.jsonl"
    lines = [json.loads(x) for x in failures.read_text().splitlines()]
    assert len(lines) == 2195 - 2 and all("no media file" in x["error"] for x in lines)
    assert main(["zoo", "list", "--root", str(tmp_path / "zoo")]) == 0
    assert "text-mosi   not built" in capsys.readouterr().out
