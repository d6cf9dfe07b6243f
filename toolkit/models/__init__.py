"""Model zoo of both papers, behind one registry.

``build(arch, **kw)`` returns a freshly initialised ``nn.Module`` (initialised from torch's global
RNG); ``build_seeded(arch, seed, **kw)`` seeds that construction alone (``tk.minima`` uses it). Every model maps a float batch
``[B, C, H, W]`` to logits ``[B, num_classes]``.

=============  ===========================================  =========================  ===========
name           architecture                                 source                     parameters
=============  ===========================================  =========================  ===========
``fc``         ``hidden_layers`` x ``width`` ReLU MLP       Barannikov §2.1, Fig. 2    26,506 (2x32)
``cnn``        CNN-1-C / CNN-2-C / CNN-3-32, optional BN    Barannikov Tables 8-10     7,562 .. 117,578
``resnet_like``ResNet-like ("ResNet9")                      Barannikov Table 11        195,210
``wrn16x10``   WideResNet-16-10, CIFAR-100                  Barannikov §4, Garipov     17.15M
``lenet``      LeNet-like, 28x28 grey inputs                Barannikov App. B          44,426
``lp_dcnn``    6-layer all-conv net, BN w/o affine          Liao & Poggio §4.1         186,958
=============  ===========================================  =========================  ===========

Where a paper's table and its stated count disagree, the model module says how (see
``resnet.py`` and ``lp.py``). ``register(name, factory)`` adds a user's own architecture;
``with_input_norm`` wraps any model with a fixed per-channel standardisation of its inputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from toolkit.models.cnn import CNN, cnn
from toolkit.models.fc import FC, fc
from toolkit.models.lenet import LeNet, lenet
from toolkit.models.lp import LPDCNN, PolyReLU, lp_dcnn
from toolkit.models.resnet import ResNetLike, resnet_like
from toolkit.models.wrn import WideResNet, wrn16x10

__all__ = [
    "CNN",
    "FC",
    "LPDCNN",
    "InputNorm",
    "LeNet",
    "PolyReLU",
    "ResNetLike",
    "WideResNet",
    "accepts",
    "available",
    "build",
    "build_seeded",
    "param_count",
    "register",
    "with_input_norm",
]

# The registry is the one piece of module state: a user's ``register`` call must be visible to
# ``toolkit.minima`` without threading a registry object through every notebook call.
_BUILTIN: dict[str, Callable[..., nn.Module]] = {
    "fc": fc,
    "cnn": cnn,
    "resnet_like": resnet_like,
    "wrn16x10": wrn16x10,
    "lenet": lenet,
    "lp_dcnn": lp_dcnn,
}
_REGISTRY: dict[str, Callable[..., nn.Module]] = dict(_BUILTIN)


def available() -> list[str]:
    """Names accepted by :func:`build`."""
    return sorted(_REGISTRY)


def register(name: str, factory: Callable[..., nn.Module], *, overwrite: bool = False) -> None:
    """Make ``build(name, **kw)`` call ``factory(**kw)``; ``factory`` returns an ``nn.Module``
    mapping ``[B, C, H, W]`` to logits ``[B, num_classes]``.

    If the factory accepts ``in_shape`` and/or ``num_classes`` keywords, :func:`toolkit.minima`
    fills them from the data set. The minima cache keys on ``name`` and the keywords, not on the
    factory's code: after changing a registered factory, pass ``refresh=True`` to ``tk.minima``.
    Built-in names cannot be replaced; a user name can with ``overwrite=True``.
    """
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable, got {type(factory).__name__}")
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in architecture; register yours under another name")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"{name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def build(arch: str, **kw) -> nn.Module:
    """A new, randomly initialised model of architecture ``arch`` (see :func:`available`)."""
    try:
        factory = _REGISTRY[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {available()} "
                         "or add yours with tk.models.register(name, factory)") from None
    model = factory(**kw)
    if not isinstance(model, nn.Module):
        raise TypeError(f"factory for {arch!r} returned {type(model).__name__}, not an nn.Module")
    return model


def build_seeded(arch: str, seed: int, **kw) -> nn.Module:
    """:func:`build` with torch's global generator seeded by ``seed`` for this construction only
    (the caller's global random stream is left untouched): the same seed gives the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build(arch, **kw)


def accepts(arch: str | Callable[..., nn.Module], keyword: str) -> bool:
    """Whether the factory of ``arch`` (a registered name, or a factory itself) takes ``keyword``
    (used to fill ``in_shape``/``num_classes``)."""
    factory = arch if callable(arch) else _REGISTRY.get(arch)
    if factory is None:
        return False
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return keyword in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def param_count(model: nn.Module) -> int:
    """Number of trainable scalars, ``sum(p.numel() for p in model.parameters())`` (buffers such
    as BatchNorm running statistics are not parameters and are not counted)."""
    return sum(p.numel() for p in model.parameters())


class InputNorm(nn.Module):
    """``net((x - mean) / std)`` with fixed per-channel ``mean``/``std`` buffers ``[1, C, 1, 1]``
    (channels are dimension 1 of the input, whatever its rank: ``[B, C, H, W]``, ``[B, F]``...).

    Normalisation lives in the model, not in the data pipeline, so that anything evaluating a
    stored minimum (path optimisation, MDS, a reader's own code) feeds the same raw ``[0, 1]``
    tensors that ``tk.data`` returns. It has no parameters: ``parameters()`` of the wrapper are
    exactly those of ``net``, in the same order.
    """

    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1)
        if (std <= 0).any():
            raise ValueError(f"input std must be positive per channel, got {std.flatten().tolist()}")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            return self.net((x - self.mean) / self.std)
        # other input ranks ([B, F] features, [B, C, L] sequences): channels are dimension 1
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return self.net((x - self.mean.view(shape)) / self.std.view(shape))


def with_input_norm(net: nn.Module, mean, std) -> InputNorm:
    """Wrap ``net`` so that it standardises its ``[B, C, H, W]`` input per channel first."""
    return InputNorm(net, mean, std)
