"""The ``Barcode`` result object shared by every barcode computation in ``toolkit.topology``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Cell = tuple[int, ...]
Kind = Literal["simplices", "grid", "points"]


def _as_cells(cells: Any, n: int, name: str) -> list[Cell | None]:
    if cells is None:
        return [None] * n
    out = [None if c is None else tuple(int(v) for v in c) for c in cells]
    if len(out) != n:
        raise ValueError(f"Barcode.{name} has {len(out)} entries, expected one per bar ({n})")
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Barcode:
    """A barcode: ``n`` bars ``[births[k], deaths[k])`` of one homological index.

    Attributes:
        births: ``(n,)`` float, the loss at which each bar is born.
        deaths: ``(n,)`` float, the loss at which it dies; ``np.inf`` for an infinite bar.
        minimum: ``(n,)`` int. Index 0: the minimum (vertex id, or flat C-order grid cell for
            ``kind="grid"``) whose component the bar is; for the minima barcode bar ``k`` is
            minimum ``k``. ``-1`` where a bar belongs to no minimum (index >= 1).
        killer: length-``n`` list: the simplex (sorted vertex ids; for index 0 the path ``(i, j)``,
            ``i < j``) or grid cell (multi-index) whose entry kills the bar; ``None`` if infinite.
        flagged: ``(f,)`` int, the minima whose bar is infinite although they are not the global
            minimum, i.e. no path to a lower minimum was given (index 0 only; else empty).
        index: homological degree (0: minima, 1: loops closed by triangles, ...).
        creator: length-``n`` list: the simplex or grid cell whose entry creates the bar.
        kind: what ``creator``/``killer`` refer to: ``"simplices"`` (vertex ids), ``"grid"``
            (multi-indices into the sampled array) or ``"points"`` (nothing, a bare diagram).

    Two barcodes compare equal (``==``) when every field is exactly equal, bar order included.
    """

    births: np.ndarray
    deaths: np.ndarray
    minimum: np.ndarray
    killer: list[Cell | None]
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    index: int = 0
    creator: list[Cell | None] | None = None
    kind: Kind = "simplices"

    def __post_init__(self) -> None:
        births = np.asarray(self.births, dtype=np.float64).reshape(-1)
        deaths = np.asarray(self.deaths, dtype=np.float64).reshape(-1)
        n = births.size
        if deaths.size != n:
            raise ValueError(f"Barcode has {n} births but {deaths.size} deaths")
        if np.isnan(births).any() or np.isinf(births).any() or np.isnan(deaths).any():
            raise ValueError("Barcode births must be finite and deaths must not be NaN")
        if (deaths < births).any():
            k = int(np.argmax(deaths < births))
            raise ValueError(f"Barcode bar {k} dies before it is born: [{births[k]}, {deaths[k]}]")
        minimum = np.asarray(self.minimum, dtype=np.int64).reshape(-1)
        if minimum.size != n:
            raise ValueError(f"Barcode.minimum has {minimum.size} entries, expected {n}")
        object.__setattr__(self, "births", births)
        object.__setattr__(self, "deaths", deaths)
        object.__setattr__(self, "minimum", minimum)
        object.__setattr__(self, "killer", _as_cells(self.killer, n, "killer"))
        object.__setattr__(self, "creator", _as_cells(self.creator, n, "creator"))
        object.__setattr__(self, "flagged", np.asarray(self.flagged, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "index", int(self.index))

    # ---- views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.births.size)

    @property
    def lengths(self) -> np.ndarray:
        """``(n,)`` float, ``deaths - births`` (``inf`` for infinite bars)."""
        return self.deaths - self.births

    @property
    def infinite(self) -> np.ndarray:
        """``(n,)`` bool mask of the infinite bars."""
        return np.isinf(self.deaths)

    def finite(self) -> Barcode:
        """The sub-barcode of finite bars (same order; ``flagged`` kept, it names minima)."""
        return self.subset(~self.infinite)

    def subset(self, mask: np.ndarray) -> Barcode:
        """The bars selected by a boolean mask or an index array, in that order."""
        sel = np.arange(len(self))[np.asarray(mask)]
        return Barcode(
            births=self.births[sel], deaths=self.deaths[sel], minimum=self.minimum[sel],
            killer=[self.killer[k] for k in sel], flagged=self.flagged, index=self.index,
            creator=[self.creator[k] for k in sel], kind=self.kind,
        )

    def as_diagram(self) -> np.ndarray:
        """``(n, 2)`` float array of ``(birth, death)`` points, ``inf`` deaths kept."""
        return np.stack([self.births, self.deaths], axis=1)

    @classmethod
    def from_diagram(cls, diagram: np.ndarray, index: int = 0) -> Barcode:
        """A bare barcode (``kind="points"``) from an ``(n, 2)`` array of ``(birth, death)``."""
        d = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
        return cls(births=d[:, 0], deaths=d[:, 1], minimum=np.full(len(d), -1), killer=None,
                   index=index, kind="points")

    # ---- comparison and display --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Barcode):
            return NotImplemented
        return (
            np.array_equal(self.births, other.births) and np.array_equal(self.deaths, other.deaths)
            and np.array_equal(self.minimum, other.minimum) and self.killer == other.killer
            and np.array_equal(self.flagged, other.flagged) and self.index == other.index
            and self.creator == other.creator and self.kind == other.kind
        )

    __hash__ = None  # mutable arrays inside

    def __repr__(self) -> str:
        n_inf = int(self.infinite.sum())
        head = f"Barcode(index={self.index}, {len(self)} bars: {len(self) - n_inf} finite, {n_inf} infinite"
        if self.flagged.size:
            head += f", flagged minima {self.flagged.tolist()}"
        head += ")"
        order = np.lexsort((self.births, -self.lengths))  # longest first, infinite on top
        lines = []
        for k in order[:8]:
            who = f" min {self.minimum[k]}" if self.minimum[k] >= 0 else ""
            by = f" killed by {self.killer[k]}" if self.killer[k] is not None else ""
            lines.append(f"  [{self.births[k]:.6g}, {self.deaths[k]:.6g}){who}{by}")
        if len(self) > 8:
            lines.append(f"  ... {len(self) - 8} more")
        return "\n".join([head, *lines])

    # ---- serialisation -----------------------------------------------------------------------
    def to_json(self) -> str:
        """Strict JSON for other tools (infinite deaths written as ``null``); floats round-trip
        exactly. (The toolkit's cache stores barcodes through its generic codec.)"""
        return json.dumps({
            "births": self.births.tolist(),
            "deaths": [None if np.isinf(d) else float(d) for d in self.deaths],
            "minimum": self.minimum.tolist(),
            "killer": [None if c is None else list(c) for c in self.killer],
            "creator": [None if c is None else list(c) for c in self.creator],
            "flagged": self.flagged.tolist(), "index": self.index, "kind": self.kind,
        })

    @classmethod
    def from_json(cls, text: str) -> Barcode:
        state = json.loads(text)
        return cls(**{**state, "deaths": [np.inf if d is None else d for d in state["deaths"]]})
