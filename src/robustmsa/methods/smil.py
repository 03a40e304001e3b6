"""``smil``: multimodal learning with severely missing modality (Bayesian meta-learning).

Mengmeng Ma, Jian Ren, Long Zhao, Sergey Tulyakov, Cathy Wu, Xi Peng. "SMIL: Multimodal
Learning with Severely Missing Modality." AAAI 2021 (arXiv:2103.05677). Mechanism learned from
the authors' avMNIST code ``mengmenm/SMIL`` (``train_missing_eval_missing.py``,
``models/soundlenet5.py``, ``models/loss.py``) via the spec ``field_baselines.md`` §3; the
three-modality MSA version is ours (the authors' MSA code is not public).

Per-modality encoders give utterance features f_m. A missing f_m is *reconstructed* from the
available ones as a softplus-weighted average of K learned modality priors C_m:
w = softplus(W_m [f_k]_{k != m}), f_hat_m = C_m^T w / sum(w). The main network's fusion
layers (h = [f_m]_m -> h1 = ReLU(W1 h) -> logits) get learned positive perturbations from the
regularisation network on reconstructed rows: h += softplus(mu1(h) + eps), h1 +=
softplus(mu2(h) + eps), with eps ~ N(0, I) in the inner pass only (eps = 0 elsewhere; complete
rows take no perturbation). Modified MAML, per batch:

    inner (incomplete rows):  L_in = task(f_theta(h_recon; eps)),  theta' = theta - a * dL_in/dtheta
                              (one step, second order; theta = the fusion layers W1, Wout)
    outer (complete rows):    for every modality m, drop and reconstruct it:
                              L_out += task(f_theta'(h_rec_m)) + 0.01 MSE(h, h_rec_m)
                                       + 0.01 MSE(h1, h1_rec_m)      (averaged over m)
                              + task(f_theta'(h))                (full path, see below)
    L = L_in + L_out          (encoders, priors, reconstruction and perturbation nets get the
                               gradients of both)

Training missingness (``train_missing = "severe:text=0.9"``): text is absent for 90 % of the
training samples (the authors' MOSI loader keeps text for ``text_ratio = 0.1``), fixed per
sample across epochs (`robustmsa.missing.SevereMissing`: data that is missing, never seen).
Inference: missing modalities reconstructed (eps = 0); complete input uses the full path.
Natural missingness counts as missing (a sample without vision is an incomplete row; on POM,
which has no text, the severe text rate has nothing to remove and the natural vision gaps are
the missingness). A training split where no sample has every modality of the data
(ICT-MMMO's text-less train split) has no complete rows: the outer step and the full path never
train, and SMIL is its incomplete path alone (the absent modality always reconstructed from
priors learned through the task loss) - what the conditions without that modality use; it
runs, as every method does on that split.
Missing-input convention: the shared backbone encoders' (``model.missing_input``); a missing
f_m is replaced by its reconstruction before fusion, so what the encoder makes of zeros is
never used.

Deviations from the paper / code:
- The outer loss adds the full (complete, unperturbed) path's task loss
  (``full_task_weight`` = 1): it stands in for the skipped stage that trains the complete
  model on the paired subset, without which the full path used for complete test input is
  never trained (0 = the meta-training objective alone).
- Priors are learned parameters (initialised N(0, 1/d)) trained end to end, not K-means
  centres of a pre-trained encoder's features (no separate pretraining stages); K = 10.
- Encoders: the project backbone's per-modality encoders (``model.*``) trained from scratch
  in the same run (code: pre-trained on the paired subset).
- Three modalities: one reconstruction head per modality from the concatenation of the other
  modalities' features (zero when absent); the outer step drops each modality in turn.
- The inner step adapts the fusion layers only (code: everything outside the sound branch);
  constant inner rate 1e-3 (code: x0.1 every 1000 iterations). Fusion width 64 (code);
  dropout ``model.dropout``.
- The task loss is the project's (CE for classes, L1 for regression).
- Model selection on validation (the code selects on test accuracy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from robustmsa.data.schema import DatasetInfo
from robustmsa.methods.base import Method, register_method
from robustmsa.missing import apply_missing
from robustmsa.nn.backbone import BackboneConfig
from robustmsa.tasks import Task
from robustmsa.types import Batch, MethodOutput, Prediction


@dataclass
class SMILConfig:
    """SMIL hyper-parameters (avMNIST code values unless noted).

    Attributes:
        num_priors: K, modality priors per modality (code: 10 K-means clusters).
        hidden_dim: width of the first fusion layer (code 64).
        inner_lr: step size of the inner (meta-train) update (code 1e-3).
        feature_weight: alpha, weight of MSE(h, h_rec) in the outer loss (code 0.01).
        hidden_weight: beta, weight of MSE(h1, h1_rec) in the outer loss (code 0.01).
        full_task_weight: weight of the full path's task loss on complete rows (deviation;
            replaces the paired-data pretraining stage).
    """

    num_priors: int = 10
    hidden_dim: int = 64
    inner_lr: float = 1e-3
    feature_weight: float = 0.01
    hidden_weight: float = 0.01
    full_task_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.num_priors < 1 or self.hidden_dim < 1:
            raise ValueError("num_priors and hidden_dim must be >= 1")
        if self.inner_lr < 0:
            raise ValueError(f"inner_lr must be >= 0; got {self.inner_lr}")


class PriorReconstruction(nn.Module):
    """f_hat = C^T softplus(W x) / sum(softplus(W x)): a convex mix of K learned priors."""

    def __init__(self, in_dim: int, dim: int, num_priors: int) -> None:
        super().__init__()
        self.weights = nn.Linear(in_dim, num_priors)
        self.priors = nn.Parameter(torch.randn(num_priors, dim) / dim**0.5)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, in_dim) available features -> (B, dim)."""
        w = F.softplus(self.weights(x))  # (B, K)
        return (w @ self.priors) / w.sum(-1, keepdim=True).clamp_min(1e-8)


class Fusion(nn.Module):
    """The main network's fusion layers (the part the inner step adapts)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.layer = nn.Linear(in_dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, h: Tensor, offset1: Tensor, offset2_fn: Callable[[Tensor], Tensor]
                ) -> tuple[Tensor, Tensor]:
        """h: (B, M*d) -> (h1 (B, hidden), logits (B, C)); perturbations added by the caller's
        offsets (zeros for unperturbed rows)."""
        h_in = h + offset1
        h1 = torch.relu(self.layer(h_in)) + offset2_fn(h_in)
        return h1, self.out(self.drop(h1))


@register_method("smil")
class SMIL(Method):
    Config = SMILConfig
    distill_terms = ("feature", "hidden")
    teacher_mode = "none"
    train_missing = "severe:text=0.9"

    def __init__(self, cfg: SMILConfig, info: DatasetInfo, task: Task, model: BackboneConfig
                 ) -> None:
        super().__init__(cfg, info, task, model)
        enc = self.new_encoders()
        d, mods = model.d_model, enc.modalities
        others = (len(mods) - 1) * d
        self.student = nn.ModuleDict({
            "backbone": enc,
            "recon": nn.ModuleDict({m: PriorReconstruction(max(others, 1), d, cfg.num_priors)
                                    for m in mods}),
            "mu1": nn.Linear(enc.joint_dim, enc.joint_dim),
            "mu2": nn.Linear(enc.joint_dim, cfg.hidden_dim),
            "fusion": Fusion(enc.joint_dim, cfg.hidden_dim, task.num_outputs, model.dropout),
        })

    # -- pieces ------------------------------------------------------------------------------
    def features(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(B, M, d) per-modality features (0 where absent) and (B, M) presence."""
        uni = self.student["backbone"].encode(batch)[1]
        present = batch.present.to(batch.labels.device)
        f = torch.stack([uni[m] for m in self.student["backbone"].modalities], dim=1)
        return f * present[..., None].to(f.dtype), present

    def fill(self, f: Tensor, available: Tensor) -> Tensor:
        """Replace every unavailable slot by its reconstruction from the available others:
        (B, M, d), (B, M) bool -> (B, M*d)."""
        mods = self.student["backbone"].modalities
        f = f * available[..., None].to(f.dtype)
        slots = []
        for j, m in enumerate(mods):
            rest = [f[:, k] for k in range(len(mods)) if k != j]
            x = torch.cat(rest, dim=-1) if rest else f.new_zeros(f.shape[0], 1)
            rec = self.student["recon"][m](x)
            slots.append(torch.where(available[:, j : j + 1], f[:, j], rec))
        return torch.cat(slots, dim=-1)

    def fuse(self, h: Tensor, perturbed: Tensor, params: dict[str, Tensor] | None,
             noise: bool) -> tuple[Tensor, Tensor]:
        """Fusion with the regularisation net's perturbations on the ``perturbed`` (B,) rows;
        ``params`` overrides the fusion weights (the inner-adapted theta')."""
        r = perturbed[:, None].to(h.dtype)  # (B, 1)

        def offset(head: nn.Module, x: Tensor) -> Tensor:
            z = head(x)
            return F.softplus(z + torch.randn_like(z) if noise else z) * r

        fusion = self.student["fusion"]
        args = (h, offset(self.student["mu1"], h), lambda x: offset(self.student["mu2"], x))
        if params is None:
            return fusion(*args)
        return functional_call(fusion, params, args)

    # -- training ----------------------------------------------------------------------------
    def forward(self, batch: Batch) -> MethodOutput:
        masked = apply_missing(batch, batch.train_mask)
        f, avail = self.features(masked)
        y = batch.labels
        complete = avail.all(-1)  # (B,) rows with every modality of the data
        fusion = self.student["fusion"]
        theta = dict(fusion.named_parameters())
        zero = f.sum() * 0.0  # keeps the graph when a part is empty
        inner = outer = feat = hidden = full = zero
        inc = (~complete).nonzero(as_tuple=True)[0]
        if inc.numel():
            h = self.fill(f[inc], avail[inc])
            _, logits = self.fuse(h, torch.ones_like(inc, dtype=torch.bool), None, noise=True)
            inner = self.task.loss(logits, y[inc])
            grads = torch.autograd.grad(inner, list(theta.values()), create_graph=True)
            theta = {k: p - self.cfg.inner_lr * g for (k, p), g in zip(theta.items(), grads,
                                                                       strict=True)}
        cpl = complete.nonzero(as_tuple=True)[0]
        n_mod = f.shape[1]
        if cpl.numel():
            fc, full_av = f[cpl], avail[cpl]
            h_full = fc.flatten(1)  # (Bc, M*d)
            off = torch.zeros_like(cpl, dtype=torch.bool)
            h1_full, logits_full = self.fuse(h_full, off, theta, noise=False)
            full = self.task.loss(logits_full, y[cpl])
            for j in range(n_mod):
                av = full_av.clone()
                av[:, j] = False
                h_rec = self.fill(fc, av)
                h1_rec, logits = self.fuse(h_rec, ~off, theta, noise=False)
                outer = outer + self.task.loss(logits, y[cpl]) / n_mod
                feat = feat + F.mse_loss(h_rec, h_full) / n_mod
                hidden = hidden + F.mse_loss(h1_rec, h1_full) / n_mod
        losses = {"inner_task": inner, "outer_task": outer, "feature": feat, "hidden": hidden,
                  "full_task": full}
        c = self.cfg
        loss = (inner + outer + c.feature_weight * feat + c.hidden_weight * hidden
                + c.full_task_weight * full)
        weights = {"inner_task": 1.0, "outer_task": 1.0, "feature": c.feature_weight,
                   "hidden": c.hidden_weight, "full_task": c.full_task_weight}
        return MethodOutput(loss=loss, losses=losses, weights=weights)

    def predict(self, batch: Batch) -> Prediction:
        f, avail = self.features(batch)
        h = self.fill(f, avail)
        _, logits = self.fuse(h, ~avail.all(-1), None, noise=False)
        return self.task.predict(logits)
