"""Loss-balance diagnostics: how much each named loss term actually moves the deployable network.

For one fixed training batch (fixed rows, fixed training mask), in training mode, the method's
``forward`` gives its named terms ``L_k`` and their weights ``w_k`` (`MethodOutput.weights`,
``loss = sum_k w_k L_k``). With ``theta`` the deployable parameters (what ``best.pt`` ships):

- ``value_k  = w_k * L_k``, the weighted term as it enters the loss (``weight`` = ``w_k``);
- ``g_k      = grad_theta(w_k L_k)`` and ``g = grad_theta(loss) = sum_k g_k``;
- ``grad_norm_k = ||g_k||``;
- ``share_k  = <g_k, g> / ||g||^2``: the signed projection of the term's gradient on the total
  update direction, in units of the update's length. The shares sum to 1; a negative share
  means the term pulls against the step actually taken, a share near 0 that the term does not
  move the network (whatever its value);
- ``cos_k    = <g_k, g> / (||g_k|| ||g||)``.

Totals (``"total"``): ``grad_norm`` = ``||g||``; ``grad_norm_all`` = the norm over *every*
trainable parameter (statistics networks and projection heads included), which is what
``clip_grad_norm_`` clips; ``clip_factor = min(1, grad_clip / grad_norm_all)`` (1 without
clipping). Clipping rescales every term alike, so the shares of the clipped update equal the
shares of ``g``; Adam's per-coordinate rescaling that follows is not part of the definition.
``residual = ||g - sum_k g_k|| / ||g||`` is 0 up to rounding when the method's weights are
stated correctly.

Isolation: the measurement runs inside ``torch.random.fork_rng`` seeded by the caller, uses
``torch.autograd.grad`` (no ``.grad`` is written), never steps the optimiser, restores every
buffer (e.g. CorrKD's automatic margin, CASD's warm-up step counter) and every module's
train/eval mode. A run with diagnostics therefore ends with bit-identical weights to one without
(tested in ``tests/engine/test_diagnostics.py``).

The functions at the end gather the per-run summaries of a benchmark into a method x term
table (share at the start and at the best epoch) and render it as Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from robustmsa.data.dataset import collate_rows
from robustmsa.data.groups import batch_rows
from robustmsa.data.schema import MSASplit
from robustmsa.missing import draw_split_mask
from robustmsa.missing.masks import stable_hash
from robustmsa.types import Batch

ACTING_SHARE = 0.05
DOMINANT_SHARE = 0.9  # one term is (almost) the whole update: the task signal is drowned
DEFINITION = ("share = <g_k, g> / ||g||^2 with g_k the gradient of the weighted term and g the "
              "total gradient, over the deployable parameters, on a fixed training batch; "
              "shares sum to 1, negative = against the update; clip_factor scales all terms alike")


def balance_batch(split: MSASplit, sampler, *, seed: int, batch_size: int,
                  device: torch.device | str = "cpu", groups: np.ndarray | None = None) -> Batch:
    """The fixed diagnostic batch of a run: ``batch_size`` rows chosen by ``seed`` (never the
    epoch orders' generator) — whole groups packed as the trainer packs them when ``groups``
    is given (methods with ``group_batches``) — and, for methods trained on incomplete input,
    a training mask drawn once with its own key (``salt="loss_balance"``) on the split's
    frame masks and natural missingness (`draw_split_mask`)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_hash("loss_balance") & 0xFFFFFFFF])
    perm = rng.permutation(len(split))
    rows = np.sort(perm[: min(batch_size, len(split))] if groups is None
                   else batch_rows(perm, batch_size, groups)[0])
    batch = collate_rows(split, rows)
    if sampler is not None:
        batch = replace(batch, train_mask=draw_split_mask(sampler, split, rows, seed=seed,
                                                          split_name="train", salt="loss_balance"))
    return batch.to(device)


def _flat(grads: Iterable[Tensor | None], params: list[nn.Parameter]) -> Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).double()
                      for g, p in zip(grads, params, strict=True)])


def _grad(value: Tensor, params: list[nn.Parameter]) -> tuple[Tensor | None, ...]:
    if not value.requires_grad:
        return tuple(None for _ in params)
    return torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)


class _Isolated:
    """Restores buffers and train/eval modes of ``module`` and forks the RNG (context manager)."""

    def __init__(self, module: nn.Module, seed: int, device: torch.device) -> None:
        self.module, self.seed = module, seed
        self.devices = [device.index or 0] if device.type == "cuda" else []

    def __enter__(self) -> None:
        self.rng = torch.random.fork_rng(devices=self.devices)
        self.rng.__enter__()
        torch.manual_seed(self.seed)
        self.modes = [(m, m.training) for m in self.module.modules()]
        self.buffers = [(mod, name, buf.detach().clone())
                        for mod in self.module.modules()
                        for name, buf in mod._buffers.items() if buf is not None]

    def __exit__(self, *exc) -> None:
        with torch.no_grad():
            for mod, name, saved in self.buffers:
                cur = mod._buffers.get(name)
                if cur is not None and cur.shape == saved.shape and cur.dtype == saved.dtype:
                    cur.copy_(saved)
                else:
                    mod._buffers[name] = saved
        for m, mode in self.modes:
            m.training = mode
        self.rng.__exit__(*exc)


def measure_balance(method, batch: Batch, *, grad_clip: float = 0.0, seed: int = 0) -> dict:
    """Loss balance of ``method`` on ``batch`` (see the module docstring for the definitions).

    Returns ``{"terms": {name: {"value", "weight", "grad_norm", "share", "cos"}},
    "total": {"loss", "grad_norm", "grad_norm_all", "clip_factor", "residual"}}``.
    """
    device = next(method.parameters()).device
    params = [p for _, p in method.trainable_parameters()]
    dep_ids = {id(p) for p in method.deployable().parameters() if p.requires_grad}
    dep = [i for i, p in enumerate(params) if id(p) in dep_ids]
    dep_params = [params[i] for i in dep]
    with _Isolated(method, seed, device):
        method.train()
        out = method(batch)
        grads = _grad(out.loss, params)
        g_all = _flat(grads, params)  # what clip_grad_norm_ sees
        g_tot = _flat([grads[i] for i in dep], dep_params)  # (P_dep,) total on theta
        terms_g, terms = {}, {}
        for k, v in out.losses.items():
            w = out.weight(k)
            gk = _flat(_grad(w * v, dep_params), dep_params) if w != 0 else g_tot.new_zeros(
                g_tot.shape)
            terms_g[k] = gk
            terms[k] = {"value": float(w * v.detach()), "weight": w}
    norm2 = float(g_tot.dot(g_tot))
    norm = norm2 ** 0.5
    for k, gk in terms_g.items():
        gn = float(gk.norm())
        dot = float(gk.dot(g_tot))
        terms[k] |= {"grad_norm": gn, "share": dot / norm2 if norm2 > 0 else 0.0,
                     "cos": dot / (gn * norm) if gn > 0 and norm > 0 else 0.0}
    resid = g_tot - sum(terms_g.values(), g_tot.new_zeros(g_tot.shape))
    n_all = float(g_all.norm())
    return {"terms": terms, "total": {
        "loss": float(out.loss.detach()), "grad_norm": norm, "grad_norm_all": n_all,
        "clip_factor": min(1.0, grad_clip / (n_all + 1e-6)) if grad_clip > 0 else 1.0,
        "residual": float(resid.norm()) / norm if norm > 0 else 0.0,
    }}


# -- tables over runs -------------------------------------------------------------------------
def read_run_balance(run_dir: str | Path) -> dict | None:
    """A run's loss balance from its ``summary.json``: the phases of ``"loss_balance"`` plus
    ``start_total`` / ``best_total`` and ``method`` (None when absent)."""
    p = Path(run_dir) / "summary.json"
    if not p.exists():
        return None
    s = json.loads(p.read_text())
    lb = s.get("loss_balance")
    if not lb:
        return None
    tot = s.get("loss_balance_total", {})
    return dict(lb) | {f"{k}_total": v for k, v in tot.items()} | {"method": s.get("method", "")}


def balance_rows(runs: Iterable[tuple[str, str | Path]]) -> list[dict]:
    """Rows (run label x term) averaged over the seeds of each label.

    Args:
        runs: ``(label, run_dir)`` pairs; several dirs per label (seeds) are averaged.

    Returns:
        dicts with ``name``, ``method``, ``term``, ``distill`` (declared distinctive term),
        ``weight``, ``share_start``, ``share_best`` (means), ``share_best_min`` /
        ``share_best_max`` (over seeds), ``share_mean`` (+ ``_min`` / ``_max``: the share
        averaged from the start to the best epoch, `BalanceTracker`), ``grad_norm_start``,
        ``grad_norm_best``, ``n_seeds``,
        plus one ``term="(update)"`` row per label holding the clip factors and ``||g||``.
    """
    from robustmsa.methods import METHODS

    by: dict[str, list[dict]] = {}
    for label, d in runs:
        lb = read_run_balance(d)
        if lb is not None:
            by.setdefault(label, []).append(lb)
    rows = []
    for label, lbs in by.items():
        method = lbs[0]["method"]
        declared = set(METHODS.get(method).distill_terms) if method in METHODS.names() else set()
        names: list[str] = []
        for lb in lbs:
            names += [k for k in lb["start"] if k not in names]
        for k in names:
            st = [lb["start"][k] for lb in lbs if k in lb["start"]]
            be = [lb["best"][k] for lb in lbs if k in lb.get("best", {})]
            tm = [lb.get("mean_to_best", lb.get("best", {})).get(k, {}).get("share", 0.0)
                  for lb in lbs if lb.get("best")]
            rows.append({
                "name": label, "method": method, "term": k, "distill": k in declared,
                "weight": float(np.mean([t["weight"] for t in st])),
                "share_start": float(np.mean([t["share"] for t in st])),
                "share_best": float(np.mean([t["share"] for t in be])) if be else float("nan"),
                "share_best_min": float(min(t["share"] for t in be)) if be else float("nan"),
                "share_best_max": float(max(t["share"] for t in be)) if be else float("nan"),
                "share_mean": float(np.mean(tm)) if tm else float("nan"),
                "share_mean_min": float(min(tm)) if tm else float("nan"),
                "share_mean_max": float(max(tm)) if tm else float("nan"),
                "grad_norm_start": float(np.mean([t["grad_norm"] for t in st])),
                "grad_norm_best": float(np.mean([t["grad_norm"] for t in be])) if be else float("nan"),
                "n_seeds": len(st),
            })
        tot_s = [lb["start_total"] for lb in lbs if "start_total" in lb]
        tot_b = [lb["best_total"] for lb in lbs if "best_total" in lb]
        rows.append({
            "name": label, "method": method, "term": "(update)", "distill": False,
            "clip_start": float(np.mean([t["clip_factor"] for t in tot_s])) if tot_s else float("nan"),
            "clip_best": float(np.mean([t["clip_factor"] for t in tot_b])) if tot_b else float("nan"),
            "grad_norm_start": float(np.mean([t["grad_norm"] for t in tot_s])) if tot_s else float("nan"),
            "grad_norm_best": float(np.mean([t["grad_norm"] for t in tot_b])) if tot_b else float("nan"),
            "n_seeds": len(lbs),
        })
    return rows


def benchmark_balance_rows(out_dir: str | Path, names: Iterable[str], seeds: Iterable[int],
                           folds: Iterable[int] | None = None) -> list[dict]:
    """`balance_rows` of a benchmark directory laid out as ``out_dir/<name>/seed<k>/``, or
    ``out_dir/<name>/fold<f>/seed<k>/`` under cross-validation (``folds``; every (fold, seed)
    run is one unit of the row, counted in ``n_seeds``)."""
    out = Path(out_dir)
    subs = [f"seed{s}" for s in seeds] if folds is None else \
        [f"fold{f}/seed{s}" for f in folds for s in seeds]
    return balance_rows((n, out / n / sub) for n in names for sub in subs)


def _pct(v: float) -> str:
    return "—" if v != v else f"{100 * v:.1f} %"


def balance_markdown(rows: list[dict], threshold: float = ACTING_SHARE) -> str:
    """Markdown: one line per (run, term) with its share of the update at the start, averaged
    from the start to the best epoch, and at the best epoch; a declared distinctive term whose
    averaged share (mean over seeds) is below ``threshold`` is flagged "inert"."""
    lines = [
        "| Run | Term | Weight | Share at start | Mean share, start → best (min…max over seeds) "
        "| Share at best epoch | ‖g_k‖ start | ‖g_k‖ best | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["term"] == "(update)":
            lines.append(
                f"| {r['name']} | *(update: clip factor)* | | {r['clip_start']:.3f} | "
                f"| {r['clip_best']:.3f} | {r['grad_norm_start']:.3g} | {r['grad_norm_best']:.3g} | |")
            continue
        flag = ""
        if r["distill"] and r["weight"] != 0:
            flag = "acting" if r["share_mean"] >= threshold else "**inert**"
            if r["share_mean"] >= DOMINANT_SHARE:
                flag = "acting, **dominant**"
        term = f"**{r['term']}**" if r["distill"] else r["term"]
        rng = f" ({_pct(r['share_mean_min'])}…{_pct(r['share_mean_max'])})" if r["n_seeds"] > 1 else ""
        lines.append(
            f"| {r['name']} | {term} | {r['weight']:.3g} | {_pct(r['share_start'])} "
            f"| {_pct(r['share_mean'])}{rng} | {_pct(r['share_best'])} "
            f"| {r['grad_norm_start']:.3g} | {r['grad_norm_best']:.3g} | {flag} |")
    return "\n".join(lines)


def balance_section(rows: list[dict], threshold: float = ACTING_SHARE) -> str:
    """The report section: title, definition, threshold and the table."""
    return (
        "## Loss balance\n\n"
        "Share of each named loss term in the update of the deployable parameters, measured on "
        "a fixed training batch before the first step, after every epoch, and at the selected "
        f"(best) epoch: {DEFINITION}. \"Mean share\" averages the measurements from the start "
        "to the selected epoch (the updates that produced the selected weights). Distinctive "
        "terms are in bold; one counts as *acting* when its mean share (mean over seeds) is at "
        f"least {threshold:.0%}, *dominant* from {DOMINANT_SHARE:.0%}.\n\n"
        + balance_markdown(rows, threshold)
        + "\n")


def trajectory_mean(measurements: list[dict]) -> dict:
    """term -> mean ``share`` / ``grad_norm`` / ``value`` over several measurements' terms (a
    term absent from one counts as 0 there)."""
    names: list[str] = []
    for m in measurements:
        names += [k for k in m if k not in names]
    return {k: {f: float(np.mean([m.get(k, {}).get(f, 0.0) for m in measurements]))
                for f in ("share", "grad_norm", "value")} for k in names}


class BalanceTracker:
    """What the trainer calls: measures at the start and after every epoch, keeps the
    measurement of the best epoch and the per-term history, and survives a resume (``state`` /
    ``load``). ``summary()["mean_to_best"]`` averages every measurement from the start to the
    selected epoch: the share a term had in the updates that produced the selected weights
    (a single epoch's share can swing between seeds; this is the steadier number).

    Args:
        enabled: ``train.loss_balance`` (and rank 0 under DDP).
        split: the training split; sampler: the training missingness (or None).
        seed: the run seed (batch rows, mask and the forked RNG of the measurement).
        batch_size: rows of the fixed batch. grad_clip: the trainer's clipping norm.
        device: where the batch goes. groups: the training split's groups for methods with
            ``group_batches`` (the batch is then whole groups), else None.
    """

    def __init__(self, enabled: bool, split: MSASplit, sampler, *, seed: int, batch_size: int,
                 grad_clip: float, device: torch.device, groups: np.ndarray | None = None) -> None:
        self.enabled = enabled
        self.groups = groups
        self.split, self.sampler, self.seed = split, sampler, seed
        self.batch_size, self.grad_clip, self.device = batch_size, grad_clip, device
        self._batch: Batch | None = None
        self.start: dict | None = None
        self.best: dict | None = None
        self.best_epoch = -1
        self.history: list[dict] = []  # terms of the start, then of epoch 0, 1, ...

    def measure(self, method) -> dict | None:
        if not self.enabled:
            return None
        if self._batch is None:
            self._batch = balance_batch(self.split, self.sampler, seed=self.seed,
                                        batch_size=self.batch_size, device=self.device,
                                        groups=self.groups)
        return measure_balance(method, self._batch, grad_clip=self.grad_clip, seed=self.seed)

    def record_start(self, method) -> dict | None:
        self.start = self.measure(method)
        if self.start is not None:
            self.history = [_compact(self.start["terms"])]
        return self.start

    def record_epoch(self, method, epoch: int, improved: bool) -> dict | None:
        m = self.measure(method)
        if m is not None:
            self.history.append(_compact(m["terms"]))
            if improved:
                self.best, self.best_epoch = m, epoch
        return m

    def state(self) -> dict:
        return {"start": self.start, "best": self.best, "best_epoch": self.best_epoch,
                "history": self.history}

    def load(self, state: dict | None) -> None:
        if state:
            self.start, self.best = state.get("start"), state.get("best")
            self.best_epoch = int(state.get("best_epoch", -1))
            self.history = list(state.get("history", []))

    def summary(self) -> dict:
        """The ``summary.json`` entries ({} when disabled):

        - ``"loss_balance"`` (contract 4): phase -> term -> ``{"value", "grad_norm", "share",
          ...}`` for the phases ``"start"``, ``"best"`` and ``"mean_to_best"``;
        - ``"loss_balance_total"``: phase -> the totals (``clip_factor``, ``grad_norm``, ...);
        - ``"loss_balance_info"``: ``best_epoch`` and the definition.
        """
        if not self.enabled or self.start is None:
            return {}
        lb = {"start": self.start["terms"]}
        tot = {"start": self.start["total"]}
        if self.best is not None:
            lb["best"] = self.best["terms"]
            lb["mean_to_best"] = trajectory_mean(self.history[: self.best_epoch + 2])
            tot["best"] = self.best["total"]
        return {"loss_balance": lb, "loss_balance_total": tot,
                "loss_balance_info": {"best_epoch": self.best_epoch, "definition": DEFINITION}}


def _compact(terms: dict) -> dict:
    return {k: {f: v[f] for f in ("share", "grad_norm", "value")} for k, v in terms.items()}


def write_benchmark_balance(out_dir: str | Path, names: Iterable[str], seeds: Iterable[int],
                            report: str | Path | None = None,
                            threshold: float = ACTING_SHARE,
                            folds: Iterable[int] | None = None) -> list[dict]:
    """Gather a benchmark's loss balance into ``out_dir/loss_balance.json`` (the rows) and
    ``out_dir/loss_balance.md`` (`balance_section`: the table with the acting / inert verdict
    per distinctive term); when ``report`` is given, append the section to that file instead
    of writing ``loss_balance.md``; ``folds``: the CV folds run (`benchmark_balance_rows`).
    Returns the rows."""
    from robustmsa.fileio import atomic_write

    rows = benchmark_balance_rows(out_dir, list(names), list(seeds),
                                  None if folds is None else list(folds))
    atomic_write(Path(out_dir) / "loss_balance.json",
                 json.dumps({"definition": DEFINITION, "acting_threshold": threshold,
                             "rows": rows}, indent=1).encode())
    if rows:
        section = balance_section(rows, threshold)
        if report is not None:
            p = Path(report)
            atomic_write(p, (p.read_text() + "\n" + section).encode())
        else:
            atomic_write(Path(out_dir) / "loss_balance.md", section.encode())
    return rows
