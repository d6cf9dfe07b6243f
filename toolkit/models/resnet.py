"""ResNet-like net of Barannikov et al. Table 11 (CIFAR-10 / SVHN, §3, Tables 1-2).

Table 11, read literally, has a fourth stage "MaxPooling(2x2), Conv(64, 64, 3x3), ReLU" before
its last residual block and a final ``Linear(?, 10)`` whose input width was lost. That net has
448 + 4,640 + 4,640 + 18,496 + 18,496 + 73,856 + 36,928 + 73,856 + 128 + 650 = 232,138
parameters (with global average pooling before the linear layer; 234,058 with a flattened 2x2x64
map), not the "195k" of §3. The authors' code (github.com/gsotnikov/BarcodesDNN, ``resnet9``) has
no convolution in the fourth stage: the block's skip input is the pooled map itself, and the head
is BatchNorm(64), global average pooling, Linear(64, 10). That gives
448 + 4,640 + 4,640 + 18,496 + 18,496 + 73,856 + 73,856 + 128 + 650 = 195,210 = "195k", so we
follow the code. A residual block is ``relu(conv(relu(conv(s))) + s)``; convolutions are 3x3 with
padding 1 and biases; weights are Kaiming-normal and biases 0.01, as in that code.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Block(nn.Module):
    """``relu(conv2(relu(conv1(s))) + s)`` at constant width."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, s):
        return F.relu(self.conv2(F.relu(self.conv1(s))) + s)


class ResNetLike(nn.Module):
    """Input ``[B, C, H, W]`` (32x32 in the paper), logits ``[B, num_classes]``; ``width``
    multiplies the channel counts 16, 32, 64 (``width=1`` is the paper's net)."""

    def __init__(self, in_shape=(3, 32, 32), num_classes: int = 10, width: float = 1.0):
        super().__init__()
        c1, c2, c3 = (int(16 * width), int(32 * width), int(64 * width))
        self.stem = nn.Conv2d(in_shape[0], c1, 3, padding=1)
        self.block1 = _Block(c1)
        self.down2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.block2 = _Block(c2)
        self.down3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.block3 = _Block(c3)
        self.block4 = _Block(c3)
        self.bn = nn.BatchNorm2d(c3)
        self.linear = nn.Linear(c3, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                nn.init.constant_(m.bias, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.block1(F.relu(self.stem(x)))
        s = self.block2(F.relu(self.down2(F.max_pool2d(s, 2))))
        s = self.block3(F.relu(self.down3(F.max_pool2d(s, 2))))
        s = self.block4(F.max_pool2d(s, 2))
        s = self.bn(F.max_pool2d(s, 2))
        return self.linear(s.mean(dim=(2, 3)))


def resnet_like(in_shape=(3, 32, 32), num_classes: int = 10, width: float = 1.0) -> ResNetLike:
    """``ResNetLike`` factory for the registry."""
    return ResNetLike(tuple(in_shape), num_classes, width)
