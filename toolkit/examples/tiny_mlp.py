"""The Toolkit chapter's example network (``notebooks/toolkit_your_model.ipynb`` prints this
class as its code): the kind of small model a reader brings to ``tk.landscape``."""

from __future__ import annotations

import math

import torch
from torch import nn


class TinyMLP(nn.Module):
    """One hidden layer of `width` ReLU units: [B, *in_shape] -> logits [B, num_classes]."""

    def __init__(self, in_shape=(1, 8, 8), num_classes=10, width=16):
        super().__init__()
        self.hidden = nn.Linear(math.prod(in_shape), width)
        self.out = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x.flatten(1))))
