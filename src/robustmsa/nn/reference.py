"""Reference implementations that faster code in the library is checked against.

`TorchModalityEncoder` is the backbone's original per-modality encoder, built on
``torch.nn.TransformerEncoder``. `robustmsa.nn.backbone.ModalityEncoder` must compute the same
function in evaluation mode, with the same parameter names and the same initial weights for a
given seed (tested in ``tests/nn/test_encoder.py``; timed against it in
``benchmarks/train_speed.py``). Not used by any method.
"""

from __future__ import annotations

from torch import Tensor, nn

from robustmsa.nn.layers import sinusoidal_positions


class TorchModalityEncoder(nn.Module):
    """Conv1d(k=3) + sinusoidal positions + ``nn.TransformerEncoder`` (padding-masked).

    Attention weights are dropped at ``cfg.dropout`` (torch's layer has one rate), i.e. the
    training behaviour of ``BackboneConfig(attention_dropout=cfg.dropout)``.
    """

    def __init__(self, in_dim: int, cfg) -> None:  # cfg: BackboneConfig
        super().__init__()
        self.proj = nn.Conv1d(in_dim, cfg.d_model, kernel_size=3, padding=1, bias=False)
        self.drop = nn.Dropout(cfg.embed_dropout)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.num_heads, cfg.ffn_dim, cfg.dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.num_layers, enable_nested_tensor=False)
        self.register_buffer("pe", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x: (B, T, D_m), mask: (B, T) valid frames -> (B, T, d)."""
        t = x.shape[1]
        h = self.proj(x.transpose(1, 2)).transpose(1, 2)  # (B, D, T) -> (B, d, T) -> (B, T, d)
        h = self.drop(h + self.pe[:t])
        empty = ~mask.any(1, keepdim=True)  # (B, 1)
        pad = ~(mask | empty)  # (B, T) True = ignore
        return self.encoder(h, src_key_padding_mask=pad)
