"""`model.missing_input`: what the encoders see of missing frames, modalities and padding."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from tests.conftest import make_tiny_dataset, tiny_config

from robustmsa.data.dataset import collate_rows
from robustmsa.engine.checkpoint import load_checkpoint, save_checkpoint
from robustmsa.engine.trainer import Trainer
from robustmsa.errors import ConfigError
from robustmsa.evaluation.api import evaluate
from robustmsa.inference import load_method
from robustmsa.missing import MissingMask, Subset, apply_missing, draw_mask, parse_condition
from robustmsa.nn.backbone import BackboneConfig, MultimodalNet, encoder_mask


@pytest.fixture(scope="module")
def data():
    return make_tiny_dataset(n=(24, 8, 12))


def small(mi: str) -> BackboneConfig:
    return BackboneConfig(d_model=8, num_heads=2, num_layers=1, ffn_dim=16, dropout=0.0,
                          missing_input=mi)


def nets(data) -> dict[str, MultimodalNet]:
    out = {}
    for mi in ("zeros", "mask"):
        torch.manual_seed(0)
        out[mi] = MultimodalNet(data.info.dims, 2, small(mi)).eval()
    return out


def test_encoder_mask(data):
    b = collate_rows(data["test"], [0, 1, 2])
    mask = draw_mask(parse_condition("frame:0.5"), list(b.ids), {m: v.numpy() for m, v in b.lengths.items()},
                     {m: x.shape[1] for m, x in b.features.items()}, seed=0, split="test")
    mb = apply_missing(b, mask)
    valid = {m: torch.arange(x.shape[1])[None] < b.lengths[m][:, None] for m, x in b.features.items()}
    for j, m in enumerate(mb.modalities):
        assert torch.equal(encoder_mask(mb, m, "mask"), mb.frame_mask[m] & mb.present[:, j:j + 1])
        assert torch.equal(encoder_mask(mb, m, "zeros"), valid[m])  # dropped frames seen, padding not
    # a naturally absent modality (length 0) is one zero frame under "zeros", nothing under "mask"
    empty = replace(b, lengths={**b.lengths, "audio": torch.zeros(3, dtype=torch.long)})
    z = encoder_mask(empty, "audio", "zeros")
    assert z[:, 0].all() and not z[:, 1:].any()
    with pytest.raises(ConfigError, match="missing_input"):
        tiny_config("teacher", "model.missing_input=drop")


def test_padding_never_changes_the_output(data):
    b = collate_rows(data["test"], list(range(6)))
    b = apply_missing(b, draw_mask(Subset("ta"), list(b.ids), {m: v.numpy() for m, v in b.lengths.items()},
                                   {m: x.shape[1] for m, x in b.features.items()}, seed=0, split="test"))
    pad = lambda x, k: torch.cat([x, x.new_zeros(x.shape[0], k, *x.shape[2:])], 1)  # noqa: E731
    longer = replace(b, features={m: pad(x, 5) for m, x in b.features.items()},
                     frame_mask={m: pad(x, 5) for m, x in b.frame_mask.items()})
    for net in nets(data).values():
        with torch.no_grad():
            assert torch.allclose(net(b).joint, net(longer).joint, atol=1e-5)


def test_absent_modality_zeros_vs_mask(data):
    b = collate_rows(data["test"], list(range(6)))
    mb = apply_missing(b, draw_mask(Subset("ta"), list(b.ids), {m: v.numpy() for m, v in b.lengths.items()},
                                    {m: x.shape[1] for m, x in b.features.items()}, seed=0, split="test"))
    n = nets(data)
    d = 8
    with torch.no_grad():
        h_mask, h_zero = n["mask"](mb).joint, n["zeros"](mb).joint
    v = slice(2 * d, 3 * d)  # the vision block of H
    assert torch.equal(h_mask[:, v], torch.zeros_like(h_mask[:, v]))  # hard-zeroed, no gradient
    assert h_zero[:, v].abs().sum() > 0  # the encoder sees zero vectors and encodes them
    # "zeros" does not depend on the present flags: only the zero features matter
    told = replace(mb, present=torch.ones_like(mb.present),
                   frame_mask={m: encoder_mask(mb, m, "zeros") for m in mb.modalities})
    with torch.no_grad():
        assert torch.equal(n["zeros"](told).joint, h_zero)
        # on complete input both conventions are the same network
        assert torch.allclose(n["zeros"](b).joint, n["mask"](b).joint)


def test_teacher_convention_is_not_architecture_and_records_state_it(data, tmp_path):
    Trainer(tiny_config("teacher", "train.epochs=1", "model.missing_input=mask"), data,
            tmp_path / "t").fit()
    # a zeros student distils from a mask-trained teacher: same architecture
    Trainer(tiny_config("logit_kd", "train.epochs=1", teacher=str(tmp_path / "t/best.pt")), data,
            tmp_path / "s").fit()
    m, _ = load_method(tmp_path / "s/best.pt")
    assert m.model_cfg.missing_input == "zeros"
    assert m.teacher is None  # rebuilt for inference without the teacher
    recs, _ = evaluate([tmp_path / "t/best.pt"], data, protocols=["subsets"], mask_seeds=[0])
    assert {r["missing_input"] for r in recs} == {"mask"}
    over, _ = evaluate([tmp_path / "t/best.pt"], data, protocols=["subsets"], mask_seeds=[0],
                       missing_input="zeros")
    assert {r["missing_input"] for r in over} == {"zeros"}
    val = lambda rs, c: next(r["value"] for r in rs if r["condition"] == c and r["metric"] == "F1")  # noqa: E731
    assert val(recs, "complete") == val(over, "complete")  # same weights, complete input
    s = json.loads((tmp_path / "s/summary.json").read_text())
    assert s["missing_input"] == "zeros"


def test_checkpoint_without_the_field_runs_the_old_mask_convention(data, tmp_path):
    Trainer(tiny_config("teacher", "train.epochs=1"), data, tmp_path).fit()
    ck = load_checkpoint(tmp_path / "best.pt")
    del ck["config"]["model"]["missing_input"]
    save_checkpoint({k: v for k, v in ck.items() if not k.startswith(("format", "robustmsa_v", "torch_v"))},
                    tmp_path / "old.pt")
    m, _ = load_method(tmp_path / "old.pt")
    assert m.model_cfg.missing_input == "mask"
    assert load_method(tmp_path / "old.pt", missing_input="zeros")[0].model_cfg.missing_input == "zeros"


def test_train_mask_is_exactly_zero_for_zeros(data):
    """Under "zeros" the convention relies on dropped entries being exactly 0 (apply_missing)."""
    b = collate_rows(data["train"], [0, 1])
    keep = {m: torch.zeros_like(v) for m, v in b.frame_mask.items()}
    mb = apply_missing(b, MissingMask(present=torch.ones_like(b.present), keep=keep,
                                      modalities=b.modalities))
    assert all(float(x.abs().sum()) == 0.0 for x in mb.features.values())
