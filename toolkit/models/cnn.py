"""CNN-1-C, CNN-2-C and CNN-3-C of Barannikov et al. Tables 8-10 (CIFAR-10, Figs. 4 and 8).

The tables give ``Conv(.., 5x5)`` and a final ``Linear(16 C, 10)``: 16 = 4 x 4 positions on a
32x32 input, which requires "same" padding (2) in every convolution, with max-pooling 8 (CNN-1),
2 then 4 (CNN-2) and 2, 2, 2 (CNN-3). Counts: CNN-1-C = 76 C + 160 C + 10 (7,562 for C = 32, the
paper's "7K"); CNN-2-C = 76 C + (25 C + 1) C + 160 C + 10 (117,578 for C = 64, the paper's
"117K"); CNN-3-32 = 58,826. ``bn=True`` puts BatchNorm (with its 2 C affine parameters) between
each convolution and its ReLU, as in Fig. 8.
"""

from __future__ import annotations

import torch
from torch import nn

_POOLS = {1: (8,), 2: (2, 4), 3: (2, 2, 2)}


class CNN(nn.Module):
    """``layers`` x [Conv(5x5, pad 2), (BN), ReLU, MaxPool(k)] then Linear(C * 4 * 4 -> classes).

    Input ``[B, 3, 32, 32]`` (any size works; the linear layer's width follows the pooled map).
    """

    def __init__(self, layers: int = 1, channels: int = 32, bn: bool = False,
                 in_shape=(3, 32, 32), num_classes: int = 10):
        super().__init__()
        if layers not in _POOLS:
            raise ValueError(f"layers must be 1, 2 or 3 (Tables 8-10), got {layers}")
        mods: list[nn.Module] = []
        c_in = in_shape[0]
        for pool in _POOLS[layers]:
            mods.append(nn.Conv2d(c_in, channels, 5, padding=2))
            if bn:
                mods.append(nn.BatchNorm2d(channels))
            mods += [nn.ReLU(), nn.MaxPool2d(pool)]
            c_in = channels
        self.features = nn.Sequential(*mods)
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, *in_shape)).numel()
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def cnn(layers: int = 1, channels: int = 32, bn: bool = False, in_shape=(3, 32, 32),
        num_classes: int = 10) -> CNN:
    """``CNN`` factory for the registry: ``layers`` 1|2|3 is CNN-``layers``-``channels``."""
    return CNN(layers, channels, bn, tuple(in_shape), num_classes)
