"""The Relation Module (paper Eq. 1, Section II-A2).

A left–right bidirectional GRU sweeps along every row of the feature map, then an
up–down bidirectional GRU sweeps along every column of its output, so each output
feature depends on the whole row and column it lies in (four directions in all).

Design choices the paper leaves open, and why:

* **Channel reduction.**  The backbone gives 4096·width channels (512·width after the
  head's 1×1 reduction).  A 1×1 convolution first reduces the ``in_channels`` to
  ``hidden`` (default ``in_channels // 4``), so the recurrent cost stays small at width 1.0.
* **Hidden size.**  Each direction of each GRU has ``hidden // 2`` units, so the
  bidirectional output has ``hidden`` channels again and the two sweeps stack.
* **Residual output.**  A 1×1 convolution maps the GRU output back to ``in_channels`` and
  is *added* to the input: ``f_o = f_i + W·GRU_ud(GRU_lr(R·f_i))``.  The backbone's own
  features thus reach the classifier directly and the recurrent path learns a context
  correction on top; the paper notes that the module can converge poorly when trained
  jointly with a backbone (Table II), and a residual path gives the gradient to the
  backbone a route that crosses no GRU cell (through the sweeps every route crosses at
  least one cell of each sweep, and the routes from distant cells cross many steps).

Every row (and then every column) of the whole batch is one sequence of one batched
``nn.GRU`` call; there is no Python loop over rows or columns.
"""
from __future__ import annotations

import torch
from torch import nn


class RelationModule(nn.Module):
    def __init__(self, in_channels: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(4, in_channels // 4)
        if hidden % 2:
            hidden += 1
        self.hidden = hidden
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, bias=False),
                                    nn.BatchNorm2d(hidden), nn.ReLU(inplace=True))
        self.gru_lr = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.gru_ud = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
        self.project = nn.Conv2d(hidden, in_channels, 1)

    def sweep(self, x: torch.Tensor) -> torch.Tensor:
        """Left–right then up–down bidirectional GRUs over a (B, hidden, H, W) map."""
        b, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(b * h, w, c)           # each row a sequence
        rows, _ = self.gru_lr(rows)                                  # (B*H, W, hidden)
        cols = rows.reshape(b, h, w, c).permute(0, 2, 1, 3).reshape(b * w, h, c)
        cols, _ = self.gru_ud(cols)                                  # (B*W, H, hidden)
        return cols.reshape(b, w, h, c).permute(0, 3, 2, 1).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.sweep(self.reduce(x)))
