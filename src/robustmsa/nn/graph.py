"""Conversation graphs over the utterances of a batch (GCNet) and the two graph layers GCNet
takes from PyTorch Geometric, written densely (a batch holds at most a few hundred nodes).

A batch's rows are grouped into conversations (`Conversations`: one per group id, utterances
ordered by `robustmsa.data.groups.utterance_order`); `window_relations` gives the typed edges
of GCNet's temporal graph (no edge between conversations); `RGCNLayer` / `GraphConvLayer`
follow PyG's ``RGCNConv`` (mean per relation, root weight, bias) and ``GraphConv`` (sum over
neighbours, root weight without bias) defaults; `run_over_conversations` applies a recurrent
layer along each conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from robustmsa.data.groups import utterance_order


@dataclass(frozen=True)
class Conversations:
    """Which conversation each row of a batch belongs to, and where.

    Attributes:
        conv: (N,) long, conversation of each row (0..G-1, in order of first appearance).
        position: (N,) long, position of each row inside its conversation (temporal order).
        lengths: (G,) long, utterances per conversation.
    """

    conv: Tensor
    position: Tensor
    lengths: Tensor

    @property
    def num(self) -> int:
        return int(self.lengths.shape[0])

    @classmethod
    def build(cls, ids: Sequence[str], groups: Sequence[str] | None,
              device: torch.device | str = "cpu") -> Conversations:
        """Group rows by ``groups`` (None: every row is a conversation of its own)."""
        n = len(ids)
        if groups is None:
            conv = torch.arange(n)
            pos = torch.zeros(n, dtype=torch.long)
        else:
            names = list(dict.fromkeys(str(g) for g in groups))
            index = {g: k for k, g in enumerate(names)}
            conv = torch.tensor([index[str(g)] for g in groups], dtype=torch.long)
            pos = torch.from_numpy(utterance_order(ids, groups))
        lengths = torch.bincount(conv, minlength=int(conv.max()) + 1 if n else 0)
        return cls(conv.to(device), pos.to(device), lengths.to(device))

    def pad(self, x: Tensor) -> Tensor:
        """(N, D) rows -> (G, L_max, D) conversations, zero-padded."""
        out = x.new_zeros(self.num, int(self.lengths.max()), x.shape[-1])
        out[self.conv, self.position] = x
        return out

    def unpad(self, y: Tensor) -> Tensor:
        """(G, L_max, D) -> (N, D) in the batch's row order."""
        return y[self.conv, self.position]


def run_over_conversations(rnn: nn.RNNBase, x: Tensor, convs: Conversations) -> Tensor:
    """Apply a batch-first recurrent layer along every conversation: (N, D) -> (N, D_out)."""
    packed = pack_padded_sequence(convs.pad(x), convs.lengths.cpu(), batch_first=True,
                                  enforce_sorted=False)
    out, _ = rnn(packed)
    y, _ = pad_packed_sequence(out, batch_first=True)  # (G, L_max, D_out)
    return convs.unpad(y)


def window_relations(convs: Conversations, window_past: int, window_future: int) -> Tensor:
    """GCNet's temporal graph as dense adjacency, one (N, N) slice per relation.

    Node i receives from node j of the same conversation when
    ``pos_i - window_past <= pos_j <= pos_i + window_future`` (the self-loop included);
    relations: 0 = past (pos_j < pos_i), 1 = now (j = i), 2 = future (pos_j > pos_i).

    Returns: (3, N, N) float, ``A[r, i, j] = 1`` for an edge j -> i of relation r.
    """
    same = convs.conv[:, None] == convs.conv[None, :]  # (N, N)
    d = convs.position[None, :] - convs.position[:, None]  # pos_j - pos_i
    within = same & (d >= -window_past) & (d <= window_future)
    rel = torch.stack([within & (d < 0), within & (d == 0), within & (d > 0)])
    return rel.float()


class RGCNLayer(nn.Module):
    """Relational GCN (Schlichtkrull et al. 2018) as PyG's ``RGCNConv`` defaults:
    ``out_i = W_0 x_i + sum_r mean_{j in N_r(i)} W_r x_j + b`` (empty neighbourhoods add 0)."""

    def __init__(self, in_dim: int, out_dim: int, num_relations: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_relations, in_dim, out_dim))
        self.root = nn.Linear(in_dim, out_dim)
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        """x: (N, D_in), adj: (R, N, N) -> (N, D_out)."""
        deg = adj.sum(-1, keepdim=True).clamp_min(1.0)  # (R, N, 1)
        agg = torch.einsum("rij,jd->rid", adj / deg, x)  # (R, N, D_in) neighbour means
        return self.root(x) + torch.einsum("rid,rde->ie", agg, self.weight)


class GraphConvLayer(nn.Module):
    """Morris et al. 2019 ``GraphConv`` as in PyG: ``out_i = W_1 x_i + W_2 sum_{j in N(i)} x_j``
    (``W_2`` with bias, ``W_1`` without)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.rel = nn.Linear(in_dim, out_dim)
        self.root = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        """x: (N, D_in), adj: (N, N) 0/1 (edge j -> i at [i, j]) -> (N, D_out)."""
        return self.root(x) + self.rel(adj @ x)
