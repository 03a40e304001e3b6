"""``robustmsa zoo``: build a ready-to-use model from data you have, list built models, show a
model card. Recipes and where models live: `robustmsa.zoo`."""

from __future__ import annotations

import argparse

# names of `robustmsa.zoo.RECIPES` (tests/test_cli.py checks they agree); importing
# robustmsa.zoo is cheap, but keeping the parser free of imports keeps --help obviously fast
RECIPE_NAMES: tuple[str, ...] = ("text-mosi", "text-mosei", "clips")


def _build(args: argparse.Namespace) -> int:
    from robustmsa.zoo import build

    build(args.name, args.labels, media=args.media, root=args.root, seed=args.seed,
          overrides=args.overrides, force=args.force, keep_work=args.keep_work,
          progress=not args.no_progress)
    return 0


def _list(args: argparse.Namespace) -> int:
    from robustmsa.zoo import RECIPES, read_card, zoo_root

    root = zoo_root(args.root)
    print(f"zoo folder: {root}")
    for name, r in RECIPES.items():
        card = read_card(root / name / "card.json")
        if card:
            mt = card["metrics"]["conditions"].get("complete", {})
            key = "MAE" if "MAE" in mt else "F1"
            state = (f"built {card['created']}, test {key} {mt.get(key, float('nan')):.3f} "
                     f"({card['metrics']['n']} clips)")
        else:
            state = "not built"
        print(f"  {name:<11} {state:<48} {r.summary}")
    return 0


def _card(args: argparse.Namespace) -> int:
    from robustmsa.zoo import CARD_MD, model_path

    print(model_path(args.name, args.root).with_name(CARD_MD).read_text(encoding="utf-8"))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "zoo", help="build a ready model in one command; list built models",
        description="Ready-to-use models built from data you have. Recipes: text-mosi / "
        "text-mosei (text-only regression from an MMSA label.csv with transcripts), clips "
        "(text + audio + vision CorrKD model from an MMSA-FET clip folder). Models live in "
        "--root, else $ROBUSTMSA_HOME/zoo, else ~/.cache/robustmsa/zoo; use one with "
        "`robustmsa predict --model NAME` or `robustmsa serve --model NAME`.",
    )
    zsub = p.add_subparsers(dest="zoo_command", metavar="SUBCOMMAND")
    zsub.required = True
    b = zsub.add_parser(
        "build", help="build a model and its model card",
        description="Example: robustmsa zoo build text-mosi --labels "
        "../shared/labels/mosi_label.csv. Splits come from the label file's mode column; the "
        "model card (data, split sizes, test metrics, modalities, known limits, training ids) "
        "is written next to the model.",
    )
    b.add_argument("name", choices=RECIPE_NAMES, help="recipe")
    b.add_argument("--labels", required=True, help="MMSA-style label.csv (id or video_id,clip_id; "
                   "text, label, mode)")
    b.add_argument("--media", default=None, help="clips recipe: the clip folder (default: the "
                   "folder of --labels; Raw/{video_id}/{clip_id}.mp4 or flat {video_id}_{clip}.mp4)")
    b.add_argument("--root", default=None, help="zoo folder")
    b.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    b.add_argument("--force", action="store_true", help="rebuild an existing model")
    b.add_argument("--keep-work", action="store_true",
                   help="keep the extracted features and training runs (ROOT/NAME/work)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every training stage, e.g. --set "
                   "train.epochs=5 (repeatable)")
    b.set_defaults(func=_build)
    ls = zsub.add_parser("list", help="recipes and built models")
    ls.add_argument("--root", default=None, help="zoo folder")
    ls.set_defaults(func=_list)
    c = zsub.add_parser("card", help="print the model card of a built model")
    c.add_argument("name", help="model name")
    c.add_argument("--root", default=None, help="zoo folder")
    c.set_defaults(func=_card)
