"""WideResNet-16-10 (Zagoruyko & Komodakis 2016) as used by Garipov et al. (2018) and Barannikov
et al. §4 (CIFAR-100, Table 3, "about 17.1M" parameters).

Pre-activation basic blocks ``BN-ReLU-Conv3x3-BN-ReLU-Conv3x3`` plus a (1x1 convolution) shortcut
where the shape changes; stage widths 16, 16k, 32k, 64k; ``(depth - 4) / 6`` blocks per stage;
convolutions with biases and the stride on the block's second convolution, as in Garipov et al.'s
code, which Barannikov et al. say they followed. With ``depth = 16, k = 10`` and 100 classes
this counts 17,179,940 parameters. The paper says "about 17.1M": that is
the count of the same net with a 10-class head (17,122,250; Zagoruyko & Komodakis list WRN-16-10
as 17.1M), the CIFAR-100 head adds 640 x 90 + 90 = 57,690.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _WideBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=stride, padding=1)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride=stride)
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WideResNet(nn.Module):
    """Input ``[B, 3, 32, 32]``, logits ``[B, num_classes]``."""

    def __init__(self, depth: int = 16, widen_factor: int = 10, in_shape=(3, 32, 32),
                 num_classes: int = 100):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n + 4 (16, 22, 28, ...), got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(in_shape[0], widths[0], 3, padding=1)
        blocks: list[nn.Module] = []
        c_in = widths[0]
        for c_out, stride in zip(widths[1:], (1, 2, 2)):
            for i in range(n):
                blocks.append(_WideBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c_in)
        self.linear = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.blocks(self.conv1(x))))
        return self.linear(out.mean(dim=(2, 3)))


def wrn16x10(depth: int = 16, widen_factor: int = 10, in_shape=(3, 32, 32),
             num_classes: int = 100) -> WideResNet:
    """``WideResNet`` factory for the registry (defaults: WRN-16-10 for CIFAR-100)."""
    return WideResNet(depth, widen_factor, tuple(in_shape), num_classes)
