"""Model zoo: parameter counts against the papers (or the arithmetic where a paper gives none),
output shapes, the registry and the input-normalisation wrapper."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import toolkit as tk
from toolkit.models.lp import PolyReLU, relu_poly_coefficients


def _count(arch: str, **kw) -> int:
    return tk.models.param_count(tk.models.build(arch, **kw))


@pytest.mark.parametrize("h", [2, 3, 4, 6, 8])
def test_fc_count_is_the_arithmetic(h):
    # 784*32+32, (h-1) x (32*32+32), 32*10+10 (the paper states no count)
    assert _count("fc", hidden_layers=h) == 25_120 + (h - 1) * 1_056 + 330


@pytest.mark.parametrize(("layers", "channels", "expected"), [
    (1, 32, 7_562),      # paper: "7K (Conv1-32)"
    (2, 64, 117_578),    # paper: "117K (Conv2-64)"
    (1, 64, 76 * 64 + 160 * 64 + 10),
    (2, 32, 76 * 32 + (25 * 32 + 1) * 32 + 160 * 32 + 10),
    (3, 32, 58_826),
])
def test_cnn_counts(layers, channels, expected):
    assert _count("cnn", layers=layers, channels=channels) == expected
    # Fig. 8 variants: BatchNorm before each ReLU adds 2 C affine parameters per convolution
    assert _count("cnn", layers=layers, channels=channels, bn=True) == expected + 2 * channels * layers


def test_paper_cnn_range():
    counts = [_count("cnn", layers=1, channels=c) for c in (32, 64, 128)]
    counts += [_count("cnn", layers=2, channels=c) for c in (32, 64)] + [_count("cnn", layers=3)]
    assert 7_000 <= min(counts) < 8_000 and 117_000 <= max(counts) < 118_000


def test_resnet_like_count_matches_195k():
    # paper §3: "195k"; Table 11 read literally (with a 4th-stage conv) would give 232,138
    assert _count("resnet_like") == 195_210


def test_wrn16x10_count():
    # paper §4: "about 17.1M" = the 10-class count; the CIFAR-100 head adds 640*90 + 90
    assert _count("wrn16x10", num_classes=10) == 17_122_250
    assert _count("wrn16x10") == 17_122_250 + 640 * 90 + 90


def test_lenet_count_is_the_arithmetic():
    assert _count("lenet") == 156 + 2_416 + 30_840 + 10_164 + 850 == 44_426


def test_lp_dcnn_count_documented_discrepancy():
    # paper: 188,810; equal widths w give 27 w^2 + 121 w + 10, never 188,810; w = 81 is closest
    def formula(w):
        return 27 * w * w + 121 * w + 10
    assert _count("lp_dcnn") == formula(81) == 186_958
    assert formula(81) < 188_810 < formula(82)
    assert abs(_count("lp_dcnn") - 188_810) / 188_810 < 0.011
    assert _count("lp_dcnn", activation="poly") == 186_958
    # BatchNorm without affine parameters: only buffers
    net = tk.models.build("lp_dcnn")
    assert all(not m.affine for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_poly_activation_is_the_gaussian_least_squares_fit():
    c0, c1, c2 = relu_poly_coefficients(2)
    inv = 1 / (8 * torch.pi) ** 0.5
    assert c0 == pytest.approx(inv, abs=1e-12) and c2 == pytest.approx(inv, abs=1e-12)
    assert c1 == pytest.approx(0.5, abs=1e-12)
    # closer to ReLU in L2(N(0,1)) than a perturbed polynomial (it is the minimiser)
    z = torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    act = PolyReLU(2).double()

    def err(f):
        return ((f(z) - z.clamp_min(0)) ** 2).mean()

    assert err(act) < err(lambda t: act(t) + 0.05 * t * t) and err(act) < err(lambda t: act(t) - 0.05)


@pytest.mark.parametrize(("arch", "kw", "shape", "classes"), [
    ("fc", {}, (1, 28, 28), 10),
    ("cnn", {"layers": 2, "channels": 8, "bn": True}, (3, 32, 32), 10),
    ("resnet_like", {}, (3, 32, 32), 10),
    ("wrn16x10", {"widen_factor": 1}, (3, 32, 32), 100),
    ("lenet", {}, (1, 28, 28), 10),
    ("lp_dcnn", {"activation": "poly", "width": 8}, (3, 32, 32), 10),
])
def test_forward_shapes(arch, kw, shape, classes):
    net = tk.models.build(arch, **kw).eval()
    assert net(torch.rand(3, *shape)).shape == (3, classes)


def test_register_user_module():
    def tiny(in_shape=(1, 4, 4), num_classes=3):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes))

    tk.models.register("test_tiny_model", tiny, overwrite=True)
    net = tk.models.build("test_tiny_model", in_shape=(1, 2, 2), num_classes=3)
    assert tk.models.param_count(net) == 4 * 3 + 3
    assert tk.models.accepts("test_tiny_model", "num_classes")
    with pytest.raises(ValueError, match="built-in"):
        tk.models.register("fc", tiny)
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        tk.models.build("nope")


def test_input_norm_standardises_and_adds_no_parameters():
    inner = nn.Identity()
    net = tk.models.with_input_norm(nn.Sequential(nn.Flatten(), nn.Linear(2, 1)), [0.5, 1.0], [2.0, 4.0])
    x = torch.tensor([[[[1.5]], [[5.0]]]])  # [1, 2, 1, 1]
    assert torch.allclose(tk.models.InputNorm(inner, [0.5, 1.0], [2.0, 4.0])(x).flatten(),
                          torch.tensor([0.5, 1.0]))
    assert tk.models.param_count(net) == 3
    assert set(dict(net.named_buffers())) == {"mean", "std"}
    with pytest.raises(ValueError, match="positive"):
        tk.models.with_input_norm(inner, [0.0], [0.0])
