"""Fully connected ReLU nets of Barannikov et al. §2.1 / Fig. 2 (2, 3, 4, 6, 8 hidden layers of 32)."""

from __future__ import annotations

import itertools
import math

from torch import nn


class FC(nn.Module):
    """Flatten, then ``hidden_layers`` x (Linear(width), ReLU), then Linear(num_classes).

    Input ``[B, *in_shape]``, output logits ``[B, num_classes]``. Parameters:
    ``(d + 1) w + (h - 1)(w + 1) w + (w + 1) k`` with ``d = prod(in_shape)``, e.g. 26,506 for
    ``h = 2, w = 32`` on 28x28 MNIST. The paper states no count.
    """

    def __init__(self, hidden_layers: int = 2, width: int = 32, in_shape=(1, 28, 28),
                 num_classes: int = 10):
        super().__init__()
        if hidden_layers < 1 or width < 1:
            raise ValueError(f"need hidden_layers >= 1 and width >= 1, got {hidden_layers}, {width}")
        dims = [math.prod(in_shape)] + [width] * hidden_layers
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def fc(hidden_layers: int = 2, width: int = 32, in_shape=(1, 28, 28), num_classes: int = 10) -> FC:
    """``FC`` factory for the registry."""
    return FC(hidden_layers, width, tuple(in_shape), num_classes)
