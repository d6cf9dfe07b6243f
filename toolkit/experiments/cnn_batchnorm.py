"""Fig. 8 of Barannikov et al. (§2.2): CNN-1/2/3 with BatchNorm before each activation against
the same networks without it; BatchNorm lowers both the minima and the saddles, most clearly
for CNN-3.

The networks without BatchNorm are the same cached units as Fig. 4's
(:mod:`toolkit.experiments.cnn_units`), so running both chapters trains them once. Every point of
a BatchNorm path is evaluated with BatchNorm statistics recomputed for that point over the
training set; the minima store keeps each minimum's buffers, and the paths' ends reproduce the
minima's losses exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit import scales
from toolkit.data import DATASETS
from toolkit.decide import compare, power, status_of
from toolkit.experiments.cnn_units import (
    HEADER,
    CNNUnit,
    cnn_name,
    cnn_plan,
    cnn_units,
    plan_description,
)
from toolkit.join import evidence
from toolkit.params import as_choice, as_int, as_list
from toolkit.report import verdict
from toolkit.topology import Barcode

__all__ = ["CNNBatchNormConfig", "CNNBatchNormResult", "cnn_batchnorm", "cnn_batchnorm_config"]


@dataclass(frozen=True)
class CNNBatchNormConfig:
    """Fig. 8's networks: CNN-L-``channels`` for L in ``depths``, each with and without BatchNorm.
    Build with :func:`cnn_batchnorm_config`."""

    dataset: str
    depths: tuple[int, ...]
    channels: int
    scale: str
    seed: int

    @property
    def archs(self) -> list[tuple[int, int, bool]]:
        return [(d, self.channels, bn) for d in self.depths for bn in (False, True)]

    def describe(self) -> str:
        names = ", ".join(cnn_name(*a) for a in self.archs)
        return f"networks: {names}\n{plan_description(self.scale, self.dataset)}"


def cnn_batchnorm_config(scale: str = "cpu", *, seed: int = 0, dataset: str = "cifar10",
                         depths=None) -> CNNBatchNormConfig:
    """Fig. 8's configuration at ``scale`` (settings: ``tk.scales.EXPERIMENTS["cnn_batchnorm"]``)."""
    s = scales.settings("cnn_batchnorm", scale)
    depths = as_list(s["depths"] if depths is None else depths, "depths", int)
    dataset = as_choice(dataset, "dataset", DATASETS)
    seed = as_int(seed, "seed")
    if any(d not in (1, 2, 3) for d in depths):
        raise ValueError(f"depths must be 1, 2 or 3 (Tables 8-10), got {list(depths)}")
    return CNNBatchNormConfig(dataset=dataset, depths=depths, channels=int(s["channels"]),
                              scale=scale, seed=seed)


@dataclass
class CNNBatchNormResult:
    """``units[name]`` for every network with and without BatchNorm, and the config."""

    config: CNNBatchNormConfig
    units: dict[str, CNNUnit]

    @property
    def compute_s(self) -> float:
        return float(sum(u.minima_s + u.paths_s for u in self.units.values()))

    def pair(self, depth: int) -> tuple[CNNUnit, CNNUnit]:
        """``(without BN, with BN)`` at ``depth``."""
        c = self.config.channels
        return self.units[cnn_name(depth, c)], self.units[cnn_name(depth, c, True)]

    def barcodes(self) -> dict[str, Barcode]:
        """``{name: barcode}``, each depth without then with BatchNorm."""
        return {cnn_name(*a): self.units[cnn_name(*a)].paths.barcode for a in self.config.archs}

    def effects(self) -> dict[int, dict[str, object]]:
        """Per depth: BN's outcome on the minima and on the saddles (``"lower"``: BN lower beyond
        the error bars, see :func:`toolkit.decide.compare`) and the drop of
        the saddle level (without minus with BN)."""
        out = {}
        for d in self.config.depths:
            plain, bn = self.pair(d)
            out[d] = {"minima": compare(bn.minima_level(), plain.minima_level()),
                      "saddles": compare(bn.saddle_level(), plain.saddle_level()),
                      "saddle_drop": plain.saddle_level().mean - bn.saddle_level().mean,
                      "minima_drop": plain.minima_level().mean - bn.minima_level().mean}
        return out

    def summary(self) -> str:
        """Per network the summary row; per depth BN's effect on minima and saddles."""
        first = next(iter(self.units.values()))
        lines = [f"data: {first.data}", HEADER]
        lines += [self.units[cnn_name(*a)].row() for a in self.config.archs]
        for d, e in self.effects().items():
            lines.append(f"CNN-{d}: with BN the minima are {e['minima']} (drop {e['minima_drop']:+.4f}), "
                         f"the saddles are {e['saddles']} (drop {e['saddle_drop']:+.4f})")
        return "\n".join(lines)

    def verdict(self) -> dict:
        """Fig. 8's verdict for ``run.finish``: reproduced when at every depth BN lowers both the
        minima and the saddles beyond the error bars (converged paths) and the saddle drop is
        largest at the deepest network; partly when BN lowers the minima or the saddles at some
        depth (maybe only as upper bounds at equal budget) and raises neither anywhere beyond the
        error bars with converged paths; not reproduced otherwise (all ties included); see
        :func:`~toolkit.decide.status_of`."""
        cfg = self.config
        eff = self.effects()
        outcomes = [e[k] for e in eff.values() for k in ("minima", "saddles")]
        deepest = max(cfg.depths)
        largest_deep = all(eff[deepest]["saddle_drop"] >= e["saddle_drop"] for e in eff.values())
        ok = all(u.paths.sanity()[0] for u in self.units.values())
        status = status_of(outcomes)
        if status == "reproduced" and not largest_deep:
            status = "partly reproduced"
        status = status if ok else "not reproduced"
        first = next(iter(self.units.values()))
        n = len(first.paths.min_losses)
        us = list(self.units.values())
        ev = evidence((u.paths for u in us), [u.minima_converged for u in us])
        conv_note, conv = ev.pop("note"), list(ev["maxima"])
        detect = max(power(*(u.saddle_level() for u in self.pair(d))) for d in cfg.depths)
        effect = min(abs(e["saddle_drop"]) for e in eff.values())
        per = "; ".join(f"CNN-{d}: minima {e['minima']} ({e['minima_drop']:+.3f}), saddles "
                        f"{e['saddles']} ({e['saddle_drop']:+.3f})" for d, e in eff.items())
        return verdict(
            status=status, dataset=first.data, **ev, effect=effect,
            tolerance=cnn_plan(cfg.scale)[1].path.conv_atol,
            power=f"BatchNorm's effect on a saddle level below {detect:.4f} (two combined error "
                  "bars) is a tie",
            runs=f"{len(self.units)} networks x {n} minima, {n * (n - 1) // 2} paths each; BN "
                 f"paths evaluated with per-point recomputed statistics; scale {cfg.scale}",
            finding=(f"effect of BatchNorm (drop = without - with): {per}; largest saddle drop at "
                     f"CNN-{deepest}: {largest_deep}; sanity {'ok' if ok else 'FAILED'}"
                     + conv_note),
            paper="with BN both minima and saddles are lower at every depth, most clearly for CNN-3",
            ours=per,
            numbers={"effects": {f"CNN-{d}": e for d, e in eff.items()},
                     "saddle_mean": {u.name: u.saddle_level().mean for u in self.units.values()},
                     "minima_mean": {u.name: u.minima_level().mean for u in self.units.values()},
                     "largest_drop_deepest": largest_deep, "sanity_ok": ok,
                     "paths_converged": conv},
            compute_s=self.compute_s, stand_in=first.stand_in, scale=cfg.scale,
            compared=len(outcomes))


def cnn_batchnorm(cfg: CNNBatchNormConfig, *, device: str = "auto",
                  progress: bool = True, executor: str | None = None) -> CNNBatchNormResult:
    """Run (or load) every network of ``cfg``; each is a cached ``cnn_unit`` (shared with Fig. 4)."""
    units = cnn_units(cfg.dataset, cfg.archs, cfg.scale, cfg.seed, device=device, progress=progress,
                      executor=executor)
    return CNNBatchNormResult(config=cfg, units=units)
