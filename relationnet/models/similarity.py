"""The similarity estimation subnet (Section II-A3) over the shift-feature operation.

For each of the nine offsets of :data:`relationnet.ops.OFFSETS`, the correlation feature
(anchor concatenated with the shifted neighbour, Fig. 3) is classified as "same label" or
not; the subnet returns one logit per offset: ``similarity[:, k, y, x]`` is the logit that
pixel ``(y, x)`` and pixel ``(y + dy, x + dx)`` share a label, ``(dy, dx) = OFFSETS[k]``.

Design choices the paper leaves open, and why:

* A 1×1 convolution first embeds the features into ``embed`` channels (default
  ``in_channels // 4``), so the ninefold correlation tensor stays small.
* The subnet itself is two 1×1 convolutions (``2·embed -> embed -> 1``, ReLU between)
  shared by all nine offsets.
* It is only run in training or when asked: at test time RelationNet skips it, as the
  paper removes it for testing.

Fused evaluation: the first convolution is linear in ``[anchor, neighbour]``, so
``W·[a; s_k(e)] = W_a·e + s_k(W_n·e)`` — the neighbour half is applied once to the map and
then shifted (a 1×1 convolution without bias commutes with the zero-padded shift).
:meth:`forward` computes it that way, without materialising the (B, 9, 2·embed, h, w)
correlation tensor; :meth:`forward_reference` is the literal Fig. 3 path (shift, crop,
concatenate, classify) and gives the same numbers (tested).
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops.shift import correlation_features, shift_features


class SimilaritySubnet(nn.Module):
    def __init__(self, in_channels: int, embed: int | None = None):
        super().__init__()
        embed = embed or max(4, in_channels // 4)
        self.embed = nn.Sequential(nn.Conv2d(in_channels, embed, 1, bias=False),
                                   nn.BatchNorm2d(embed), nn.ReLU(inplace=True))
        self.classify = nn.Sequential(nn.Conv2d(2 * embed, embed, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(embed, 1, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # 1×1 convolutions as matrix products over (B, C, h·w): on the CPU these avoid the slow
        # im2col convolution path that PyTorch takes for 1×1 kernels on small maps (same numbers).
        conv, bn, _ = self.embed
        b, _, h, w = features.shape
        e = torch.matmul(conv.weight.flatten(1), features.flatten(2))
        if conv.bias is not None:                                     # batch norm folded in (models.fold)
            e = e + conv.bias[:, None]
        e = torch.relu(bn(e.view(b, -1, h, w)))
        c = e.shape[1]
        first, last = self.classify[0], self.classify[2]
        wa, wn = first.weight[:, :c, 0, 0], first.weight[:, c:, 0, 0]  # (C, C) each
        flat = e.flatten(2)                                           # (B, C, h·w)
        anchor = torch.matmul(wa, flat) + first.bias[:, None]         # (B, C, h·w)
        # shift_features gives (B, 9, C, h, w) as a view of a (B, C, 9, h, w) block: keep that layout
        neigh = shift_features(torch.matmul(wn, flat).view(b, c, h, w)).transpose(1, 2)
        hidden = torch.relu(anchor.view(b, c, 1, h * w) + neigh.reshape(b, c, 9, h * w))
        logits = torch.matmul(last.weight.view(1, c), hidden.view(b, c, 9 * h * w)) + last.bias
        return logits.view(b, 9, h, w)

    def forward_reference(self, features: torch.Tensor) -> torch.Tensor:
        """The literal Fig. 3 computation: correlation features for all offsets, then the classifier."""
        e = self.embed(features)
        b, c, h, w = e.shape
        corr = correlation_features(e)                                # (B, 9, 2C, h, w)
        return self.classify(corr.reshape(b * 9, 2 * c, h, w)).view(b, 9, h, w)
