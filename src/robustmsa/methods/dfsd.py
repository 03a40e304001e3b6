"""``dfsd``: double-flow self-distillation with UMCA and MIA (SDUMC).

Yuzhe Weng, Haotian Wang, Tian Gao, Kewei Li, Shutong Niu, Jun Du. "Enhancing Multimodal
Sentiment Analysis for Missing Modality through Self-Distillation and Unified Modality
Cross-Attention." ICASSP 2025, arXiv:2410.15029. Specified from the official code
``WarmCongee/SDUMC`` (commits 40bf1d6 / 5da4343) in the project spec ``other_methods.md`` §4.

One network, two flows per batch: the full flow with the real text, the missing flow with a
*simulated* text stream (plus the MIA autoencoders). UMCA: per-modality frame projections,
learnable-query attention pooling, raw modality weights, 2^M - 1 queries (fused views and
unimodal vectors), per-modality multi-query cross-attention, modality-weighted sum, view
attention -> z, task head, RnC projection. Loss (weights: ``preset`` or explicit):

    L = w1 task(full) + w2 task(missing) + w3 RMSE(q_t^1, sg q_t^0) + w4 RMSE(C_t^1, sg C_t^0)
        + w5 RMSE(z^1, z^0) + w6 RnC([r^0; r^1], y; tau=2) (+ simulator MSE)

Presets: "paper-code" (argparse defaults 0.5/0.5/0.1/0.7/0.1/0.8) and "icassp-script" (the
run script's 0.5/0.5/0/0/0.13/0.5). At inference a sample without text gets the simulated
text and the missing flow; a sample with text gets the full flow.

Deviations from the paper / code:
- The raw (no-softmax) modality and view weights start at 1 (bias init): with the public
  code's default init the network did not train at all on MOSI-sized data (task loss stuck).
- No LLM: the text simulator is, by default, a learned frame-level projector from audio frames
  (plus pooled vision) into the text-feature space, trained on the training batches by an MSE
  to the detached real text features (utterance means; also frames when the time axes
  match). Its output enters the missing flow detached (the paper's simulated text is a fixed
  input) unless ``simulator_end_to_end``. ``simulator="data"`` reads a precomputed
  ``batch.extras["text_sim"]`` (+ ``"text_sim_mask"``); ``"zeros"`` gives an empty stream.
- Padding masks in every softmax over time (the code lets padded frames take part).
- MIA enabled (commented out in the shipped code), residual ``+ x_t`` by default.
- Task losses use the project's task loss (L1 for regression, CE for classes; code: MSE).
- RMSE terms use sqrt(MSE + 1e-8) (finite gradient at 0); RnC is vectorised; labels for RnC
  are the score (class id for native-class data).
- Widths default to hidden 64 / query 32 / RnC 32 for CPU speed (paper 256 / 128 / 64);
  the shared ``model.*`` backbone settings do not apply to this architecture.
- Project extension: missing audio/vision are zero-filled; any trainer mask
  (``train.missing``) is applied to the missing flow.
- Missing input: UMCA's attention pooling, cross-attention and the projector follow
  ``model.missing_input``. ``"zeros"`` (default, the papers' zero-filling): dropped frames and
  absent audio/vision are seen as zero vectors and the modality weights are not masked;
  ``"mask"``: they are removed from every softmax over time and an absent modality's weight
  is set to 0. Under both, whether a sample's *text* is missing (``batch.present``) selects
  the missing flow with simulated text, as the paper selects it by the transcript's absence.
- Shuffling, seeding and validation-only model selection are the trainer's (the code does not
  shuffle, never seeds, and selects on test).
- Needs real text in the training split (``train_requires``): a training split where no
  sample has text (ICT-MMMO's train) is refused with one line naming the modality.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustmsa.data.schema import DatasetInfo
from robustmsa.losses.contrastive import rank_n_contrast
from robustmsa.methods.base import Method, register_method
from robustmsa.missing import apply_missing
from robustmsa.nn.backbone import BackboneConfig, encoder_mask
from robustmsa.nn.layers import MLP, masked_mean
from robustmsa.nn.umca import FlowOutput, ResidualAE, UMCANet
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput, Prediction

TERMS = ("full_task", "missing_task", "text_feat", "text_query", "feat", "rnc")
PRESETS = {
    "paper-code": (0.5, 0.5, 0.1, 0.7, 0.1, 0.8),
    "icassp-script": (0.5, 0.5, 0.0, 0.0, 0.13, 0.5),
}
SIMULATORS = ("projector", "data", "zeros")


@dataclass
class DFSDConfig:
    """DFSD hyper-parameters (SDUMC code values unless noted).

    Attributes:
        preset: loss weights "paper-code" (argparse defaults) or "icassp-script".
        full_task_weight, missing_task_weight, text_feat_weight, text_query_weight,
            feat_weight, rnc_weight: explicit loss weights; None = the preset's value.
        rnc_temperature: RnC tau (2). rnc_tie_tol: label-distance tie tolerance (1e-4).
        hidden_dim: general width (paper 256; 64 here for CPU speed).
        query_dim: width of the cross-attention outputs (paper 128; 32 here).
        rnc_dim: RnC projection width (paper 64; 32 here).
        dropout: dropout of the MLPs (0.3). attn_dropout: of the attention blocks (0.5).
        attn_scale: fixed attention logit scale (0.3).
        mia: use the MIA autoencoders in the missing flow.
        mia_residual: "input" (x_hat = AE + x_t) or "transition" (+ s, the code's copy).
        simulator: "projector" (learned), "data" (extras["text_sim"]; required in training,
            an empty text at inference when absent) or "zeros" (an empty text stream).
        simulator_weight: weight of the projector's MSE to the real text features.
        simulator_end_to_end: let the missing-flow losses also train the projector.
    """

    preset: str = "paper-code"
    full_task_weight: float | None = None
    missing_task_weight: float | None = None
    text_feat_weight: float | None = None
    text_query_weight: float | None = None
    feat_weight: float | None = None
    rnc_weight: float | None = None
    rnc_temperature: float = 2.0
    rnc_tie_tol: float = 1e-4
    hidden_dim: int = 64
    query_dim: int = 32
    rnc_dim: int = 32
    dropout: float = 0.3
    attn_dropout: float = 0.5
    attn_scale: float = 0.3
    mia: bool = True
    mia_residual: str = "input"
    simulator: str = "projector"
    simulator_weight: float = 1.0
    simulator_end_to_end: bool = False

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {self.preset!r}")
        if self.simulator not in SIMULATORS:
            raise ValueError(f"simulator must be one of {SIMULATORS}; got {self.simulator!r}")
        if self.mia_residual not in ResidualAE.RESIDUALS:
            raise ValueError(f"mia_residual must be 'input' or 'transition'; "
                             f"got {self.mia_residual!r}")
        if min(self.hidden_dim, self.query_dim, self.rnc_dim) < 2:
            raise ValueError("hidden_dim, query_dim and rnc_dim must be >= 2")

    def weights(self) -> dict[str, float]:
        """Loss weights by term name: explicit fields override the preset."""
        out = {}
        for name, default in zip(TERMS, PRESETS[self.preset], strict=True):
            v = getattr(self, f"{name}_weight")
            out[name] = default if v is None else v
        return out


def rmse(a: Tensor, b: Tensor) -> Tensor:
    """sqrt(mean((a - b)^2) + 1e-8): the code's RMSE with a finite gradient at 0."""
    return (F.mse_loss(a, b) + 1e-8).sqrt()


class TextProjector(nn.Module):
    """Offline text simulator: frames of ``primary`` (+ pooled others) -> text features.

    Stand-in for SDUMC's WavLM -> projector -> Vicuna-7B generation (no LLM offline).
    """

    def __init__(self, dims: dict[str, int], primary: str, hidden: int, dropout: float,
                 missing_input: str = "zeros") -> None:
        super().__init__()
        others = [m for m in dims if m not in ("text", primary)]
        self.primary = primary
        self.missing_input = missing_input
        self.frame = MLP([dims[primary], hidden, dims["text"]], dropout=dropout)
        self.context = nn.ModuleDict({m: nn.Linear(dims[m], dims["text"]) for m in others})

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """-> simulated text (B, T_primary, D_text) and its (B, T_primary) frame mask."""
        mask = _mask(batch, self.primary, self.missing_input)
        sim = self.frame(batch.features[self.primary])  # (B, T, D_t)
        for m, lin in self.context.items():
            sim = sim + lin(masked_mean(batch.features[m], _mask(batch, m, self.missing_input))
                            )[:, None, :]
        return sim * mask[..., None].to(sim.dtype), mask


def _mask(batch: Batch, m: str, missing_input: str = "mask") -> Tensor:
    """(B, T) frames of ``m`` that are seen (`encoder_mask`); "mask" = the real, kept frames."""
    return encoder_mask(batch, m, missing_input)


def simulator_loss(sim: Tensor, sim_mask: Tensor, real: Tensor, real_mask: Tensor) -> Tensor:
    """MSE of the simulated to the (detached) real text: utterance means, plus frames when the
    time axes match. Rows lacking either stream are left out."""
    both = (sim_mask.any(1) & real_mask.any(1)).to(sim.dtype)  # (B,)
    diff = masked_mean(sim, sim_mask) - masked_mean(real, real_mask).detach()  # (B, D)
    loss = (diff.pow(2).mean(-1) * both).sum() / both.sum().clamp_min(1.0)
    if sim.shape[1] == real.shape[1]:
        fm = (sim_mask & real_mask).to(sim.dtype)  # (B, T)
        per = (sim - real.detach()).pow(2).mean(-1)  # (B, T)
        loss = loss + (per * fm).sum() / fm.sum().clamp_min(1.0)
    return loss


@register_method("dfsd")
class DFSD(Method):
    Config = DFSDConfig
    distill_terms = ("text_feat", "text_query", "feat", "rnc")
    teacher_mode = "self"
    train_missing = None
    select_conditions = ("complete", "text_substitute")
    # the text simulator and the full flow learn from real text (e.g. ICT-MMMO train has none)
    train_requires = ("text",)
    train_requires_why = "its full flow and text simulator learn from real text"

    def __init__(self, cfg: DFSDConfig, info: DatasetInfo, task: Task, model: BackboneConfig
                 ) -> None:
        super().__init__(cfg, info, task, model)
        mods = info.modalities
        if "text" not in mods or len(mods) < 2:
            raise ValueError(f"dfsd needs text and another modality; data has {mods}")
        dims = {m: info.dims[m] for m in mods}
        parts: dict[str, nn.Module] = {"net": UMCANet(
            dims, task.num_outputs, hidden_dim=cfg.hidden_dim, query_dim=cfg.query_dim,
            dropout=cfg.dropout, attn_dropout=cfg.attn_dropout, attn_scale=cfg.attn_scale,
            mia=cfg.mia, mia_residual=cfg.mia_residual)}
        if cfg.simulator == "projector":
            primary = "audio" if "audio" in mods else next(m for m in mods if m != "text")
            parts["simulator"] = TextProjector(dims, primary, cfg.hidden_dim, cfg.dropout,
                                               model.missing_input)
        self.student = nn.ModuleDict(parts)
        self.rnc_head = nn.Sequential(nn.Linear(cfg.query_dim, cfg.rnc_dim), nn.ReLU(),
                                      nn.Linear(cfg.rnc_dim, cfg.rnc_dim))  # training only
        self.loss_weights = cfg.weights()

    def simulate_text(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Substitute text stream (B, T', D_t) and its (B, T') mask for every row."""
        sim = self.cfg.simulator
        if sim == "projector":
            return self.student["simulator"](batch)
        if sim == "data" and "text_sim" in batch.extras:
            x = batch.extras["text_sim"].to(batch.features["text"].dtype)
            m = batch.extras.get("text_sim_mask")
            return x, (x.ne(0).any(-1) if m is None else m.bool())
        if sim == "data" and self.training:
            raise ValueError("simulator='data' needs batch.extras['text_sim'] in the training data")
        x = batch.features["text"]
        seen = self.model_cfg.missing_input == "zeros"  # an empty stream = one zero frame
        return (x.new_zeros(x.shape[0], 1, x.shape[-1]),
                torch.full((x.shape[0], 1), seen, dtype=torch.bool, device=x.device))

    def flow(self, batch: Batch, text: tuple[Tensor, Tensor] | None) -> FlowOutput:
        """Full flow (``text=None``: real text) or missing flow (simulated text + MIA)."""
        mods = batch.modalities
        x = {m: batch.features[m] for m in mods}
        zeros = self.model_cfg.missing_input == "zeros"
        mask = {m: _mask(batch, m, self.model_cfg.missing_input) for m in mods}
        # zeros: the modality weights are not told which modality is missing either
        present = torch.ones_like(batch.present) if zeros else batch.present
        if text is not None:
            x["text"], mask["text"] = text
            present = present.clone()
            present[:, mods.index("text")] = True  # the substitute stands in for the text
        return self.student["net"](x, mask, present, missing=text is not None)

    def forward(self, batch: Batch) -> MethodOutput:
        miss_batch = apply_missing(batch, batch.train_mask)
        sim, sim_mask = self.simulate_text(miss_batch)
        losses = {}
        if self.cfg.simulator == "projector":
            losses["simulator"] = simulator_loss(sim, sim_mask, batch.features["text"],
                                                 _mask(batch, "text"))
            if not self.cfg.simulator_end_to_end:
                sim = sim.detach()
        o0 = self.flow(batch, None)
        o1 = self.flow(miss_batch, (sim, sim_mask))
        y = batch.labels
        losses |= {
            "full_task": self.task.loss(o0.logits, y),
            "missing_task": self.task.loss(o1.logits, y),
            "text_feat": rmse(o1.q_text, o0.q_text.detach()),
            "text_query": rmse(o1.c_text, o0.c_text.detach()),
            "feat": rmse(o1.z, o0.z),
        }
        r = self.rnc_head(torch.cat([o0.z, o1.z]))  # (2B, Dr): both flows as two views
        losses["rnc"] = rank_n_contrast(r, torch.cat([y, y]).float(),  # score(s), or class id
                                        temperature=self.cfg.rnc_temperature,
                                        tie_tol=self.cfg.rnc_tie_tol)
        weights = {k: self.loss_weights.get(k, self.cfg.simulator_weight) for k in losses}
        loss = sum(weights[k] * losses[k] for k in TERMS)
        if "simulator" in losses:
            loss = loss + weights["simulator"] * losses["simulator"]
        return MethodOutput(loss=loss, losses=losses, weights=weights)

    def predict(self, batch: Batch) -> Prediction:
        """Rows with text: full flow; rows without: simulated text + missing flow."""
        has_text = batch.present[:, batch.modalities.index("text")]
        logits = None
        for rows, use_sim in ((has_text.nonzero(as_tuple=True)[0], False),
                              ((~has_text).nonzero(as_tuple=True)[0], True)):
            if rows.numel() == 0:
                continue
            sub = batch.select(rows)
            lg = self.flow(sub, self.simulate_text(sub) if use_sim else None).logits
            if logits is None:
                logits = lg.new_zeros(batch.size, lg.shape[-1])
            logits[rows] = lg
        return self.task.predict(logits)
