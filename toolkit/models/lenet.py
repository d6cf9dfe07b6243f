"""LeNet-like net of Barannikov et al. App. B (Fashion-MNIST, Figs. 15-16)."""

from __future__ import annotations

from torch import nn


class LeNet(nn.Module):
    """Conv(1,6,5)-ReLU-Pool2, Conv(6,16,5)-ReLU-Pool2, Linear(256,120)-ReLU, Linear(120,84)-ReLU,
    Linear(84,10); input ``[B, 1, 28, 28]`` (so that 16 x 4 x 4 = 256, as in the table).

    Parameters: 156 + 2,416 + 30,840 + 10,164 + 850 = 44,426 (the paper states no count).
    """

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10):
        super().__init__()
        c, h, w = in_shape
        if (h, w) != (28, 28):
            raise ValueError(f"LeNet expects 28x28 inputs (Linear(256, 120) in App. B), got {h}x{w}")
        self.features = nn.Sequential(
            nn.Conv2d(c, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet(in_shape=(1, 28, 28), num_classes: int = 10) -> LeNet:
    """``LeNet`` factory for the registry."""
    return LeNet(tuple(in_shape), num_classes)
