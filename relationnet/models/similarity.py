"""The similarity estimation subnet (Section II-A3) over the shift-feature operation.

For each of the nine offsets of :data:`relationnet.ops.OFFSETS`, the correlation feature
(anchor concatenated with the shifted neighbour, Fig. 3) is classified as "same label" or
not; the subnet returns one logit per offset: ``similarity[:, k, y, x]`` is the logit that
pixel ``(y, x)`` and pixel ``(y + dy, x + dx)`` share a label, ``(dy, dx) = OFFSETS[k]``.

Design choices the paper leaves open, and why:

* A 1×1 convolution first embeds the features into ``embed`` channels (default
  ``in_channels // 4``), so the ninefold correlation tensor stays small.
* The subnet itself is two 1×1 convolutions (``2·embed -> embed -> 1``, ReLU between)
  shared by all nine offsets: the offsets are folded into the batch, one call for all.
* It is only run in training or when asked: at test time RelationNet skips it, as the
  paper removes it for testing.
"""
from __future__ import annotations

import torch
from torch import nn

from ..ops.shift import correlation_features


class SimilaritySubnet(nn.Module):
    def __init__(self, in_channels: int, embed: int | None = None):
        super().__init__()
        embed = embed or max(4, in_channels // 4)
        self.embed = nn.Sequential(nn.Conv2d(in_channels, embed, 1, bias=False),
                                   nn.BatchNorm2d(embed), nn.ReLU(inplace=True))
        self.classify = nn.Sequential(nn.Conv2d(2 * embed, embed, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(embed, 1, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        e = self.embed(features)
        b, c, h, w = e.shape
        corr = correlation_features(e)                    # (B, 9, 2C, H, W)
        logits = self.classify(corr.reshape(b * 9, 2 * c, h, w))
        return logits.view(b, 9, h, w)
