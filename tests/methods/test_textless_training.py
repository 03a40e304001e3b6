"""Every registered method on a training split without text (ICT-MMMO's case: valid and test
have text, train has none): it trains on the modalities it has, or refuses in one line naming
the missing modality (dfsd). See the README's "Training without a modality" table."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.schema import MSADataset, infer_info
from robustmsa.engine.trainer import train
from robustmsa.errors import ConfigError
from robustmsa.evaluation.evaluator import evaluate_conditions
from robustmsa.inference import load_method
from robustmsa.methods import METHODS

# method -> modality it cannot train without (mctn: its source; transm: its pivot)
REFUSES = {"dfsd": "text", "mctn": "text", "transm": "text"}
# the README's way round the refusal: another source / pivot
ALTERNATIVE = {"mctn": "method_config.order=av", "transm": "method_config.pivot=audio"}


def textless() -> MSADataset:
    ds = make_tiny_dataset()
    tr = ds["train"]
    tr.features["text"] = np.zeros_like(tr.features["text"])
    tr.lengths["text"] = np.zeros_like(tr.lengths["text"])
    return MSADataset(ds.splits, infer_info(ds.splits, name="textless", source="t"))


@pytest.fixture(scope="module")
def data():
    return textless()


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("textless_teacher")
    train(tiny_config("teacher", "train.epochs=1"), d, data=data)
    return str(d / "best.pt")


@pytest.mark.parametrize("name", METHODS.names())
def test_trains_on_what_it_has_or_refuses(name, data, teacher, tmp_path, caplog) -> None:
    cls = METHODS.get(name)
    cfg = tiny_config(name, "train.epochs=1", "train.select_conditions=[a,v,av]",
                      teacher=teacher if cls.teacher_mode == "frozen" else "")
    if name in REFUSES:
        with pytest.raises(ConfigError) as e:
            train(cfg, tmp_path / name, data=data)
        msg = str(e.value)
        assert f"modality {REFUSES[name]!r} is absent from every training sample" in msg
        assert name in msg and "\n" not in msg
        return
    with caplog.at_level("WARNING"):
        train(cfg, tmp_path / name, data=data)
    assert "no training sample has text" in caplog.text
    method, _ = load_method(tmp_path / name / "best.pt")
    recs = evaluate_conditions(method, data["test"], split_name="test",
                               conditions=["av", "complete"], mask_seeds=[0])
    assert all(np.isfinite(r["value"]) for r in recs if r["metric"] in ("F1", "coverage"))


@pytest.mark.parametrize("name", sorted(ALTERNATIVE))
def test_another_source_or_pivot_trains_without_text(name, data, tmp_path) -> None:
    """MCTN with ``order=av`` / TransM with ``pivot=audio`` train on the text-less split and
    on audio + vision multi-target data (POM's case)."""
    from dataclasses import replace

    import torch
    from tests.test_multi_target import multi_data

    from robustmsa.data.dataset import collate_rows
    from robustmsa.engine.builder import build_method

    train(tiny_config(name, "train.epochs=1", "train.select_conditions=[a,v,av]",
                      ALTERNATIVE[name]), tmp_path / name, data=data)
    assert (tmp_path / name / "best.pt").is_file()
    pom = multi_data()
    m = build_method(tiny_config(name, "task.kind=multi_regression", ALTERNATIVE[name]), pom.info)
    b = collate_rows(pom["train"], list(range(16)))
    out = m(replace(b, train_mask=None))
    assert torch.isfinite(out.loss)
