"""Private: convergence of path maxima, and pruning of pairs that can no longer change a bar.

Every ``track_every`` epochs each active path's loss is measured on a fixed subset of the
training data (the *tracking subset*) at its points and at the midpoints of its segments; the
largest value is the path's current maximum. The convergence test: a path has converged when
its last ``conv_window`` measurements brought no new low by more than
``tol = conv_rtol × barrier + conv_atol`` (``barrier``: its best maximum above the higher of its
two minima, on the same subset) and lie within ``tol`` of each other, and not before
``min_epochs`` -- a maximum that stopped falling and stopped moving. Every path keeps the
snapshot of its lowest tracked maximum; it stops (or ends) at that snapshot, so a maximum that
oscillates under SGD noise is reported at its best, as an upper bound when it never settled.

Pruning (``prune=True``). Formula (1) depends on the paths' maxima only through the minimax
spanning structure of the graph of minima. A path's maximum is never below its higher minimum
``max(L_i, L_j)``; so once minima ``i`` and ``j`` are joined through *converged* paths at a level
at most ``max(L_i, L_j)`` (plus ``conv_atol``), the path ``i-j`` can no longer lower any bar:
it stops, marked ``"pruned"``; its maximum stays an upper bound and does not enter the barcode's
deaths.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


class Tracker:
    """Measures path maxima on the tracking objective and decides which paths stop."""

    def __init__(self, objective: Any, cfg: Any, pairs: Tensor, n_minima: int) -> None:
        self.obj, self.cfg = objective, cfg
        self.pairs = pairs.cpu()
        self.n_minima = n_minima
        self.epochs: list[int] = []
        self.rows: list[Tensor] = []  # per measurement Tensor[P], NaN for stopped paths
        self.end_loss: Tensor | None = None  # [P, 2]
        self.final: dict[int, float] = {}  # stopped path -> its maximum when it stopped
        self.best_value: dict[int, float] = {}  # path -> lowest tracked maximum so far

    # ------------------------------------------------------------------ measuring

    @torch.no_grad()
    def _evaluate(self, pts: Tensor) -> Tensor:
        return self.obj.evaluate(pts)["loss"].double().cpu()

    def measure(self, st: Any, epoch: int) -> dict[str, list[int]]:
        """Record every active path's maximum after ``epoch`` epochs; return the paths to stop as
        ``{"converged": [...], "pruned": [...]}``. The last measurement is tested the same way
        (a path that passes the test at the last epoch converged; the others ran out of budget)."""
        P = st.P
        if self.end_loss is None:
            D = st.ends.shape[-1]
            self.end_loss = self._evaluate(st.ends.reshape(-1, D)).view(P, 2)
        pts, sizes = [], []
        for p in st.active:
            q = st.path(p)
            pts += [q, 0.5 * (q[1:] + q[:-1])]
            sizes.append(2 * len(q) - 1)
        row = torch.full((P,), math.nan, dtype=torch.float64)
        if pts:
            values = self._evaluate(torch.cat(pts)).split(sizes)
            for p, v in zip(st.active, values):
                row[p] = v.max()
                if p not in self.best_value or row[p] < self.best_value[p]:
                    self.best_value[p] = float(row[p])
                    st.best[p] = st.interior(p).clone()
        self.epochs.append(int(epoch))
        self.rows.append(row)
        out: dict[str, list[int]] = {"converged": [], "pruned": []}
        if not self.cfg.stop_converged:
            return out
        for p in st.active:
            if self._converged(p, epoch):
                out["converged"].append(p)
                self.final[p] = self.best_value[p]
        if self.cfg.prune:
            conv = {p: v for p, v in self.final.items() if st.status[p] == "converged" or p in out["converged"]}
            for p in st.active:
                if p not in out["converged"] and self._joined_below(p, conv):
                    out["pruned"].append(p)
                    self.final[p] = self.best_value[p]
        return out

    def _history(self, p: int) -> Tensor:
        h = torch.stack([r[p] for r in self.rows])
        return h[~torch.isnan(h)]

    def _converged(self, p: int, epoch: int) -> bool:
        cfg = self.cfg
        h = self._history(p)
        w = cfg.conv_window
        if epoch < cfg.min_epochs or len(h) <= w:
            return False
        before, recent = float(h[:-w].min()), h[-w:]
        barrier = max(min(before, float(recent.min())) - float(self.end_loss[p].max()), 0.0)
        tol = cfg.conv_rtol * barrier + cfg.conv_atol
        no_new_low = float(recent.min()) > before - tol
        settled = float(recent.max() - recent.min()) <= tol
        return no_new_low and settled

    def _joined_below(self, p: int, converged: dict[int, float]) -> bool:
        """Whether the minima of path ``p`` are joined, through ``converged`` paths, at a level at
        most their higher minimum (+ ``conv_atol``): the minimax value by union-find over the
        converged paths sorted by maximum."""
        i, j = self.pairs[p].tolist()
        level = max(float(self.end_loss[p, 0]), float(self.end_loss[p, 1])) + self.cfg.conv_atol
        parent = list(range(self.n_minima))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = x = parent[parent[x]]
            return x

        for q, v in sorted(converged.items(), key=lambda kv: kv[1]):
            if v > level:
                break
            a, b = self.pairs[q].tolist()
            parent[find(a)] = find(b)
            if find(i) == find(j):
                return True
        return False

    # ------------------------------------------------------------------ results and checkpoints

    def current_max(self) -> float:
        """The largest current maximum over the paths measured last (NaN before any)."""
        if not self.rows or torch.isnan(self.rows[-1]).all():
            return math.nan
        return float(self.rows[-1][~torch.isnan(self.rows[-1])].max())

    def history(self, P: int) -> Tensor:
        """``Tensor[R, P]`` of the measured maxima (``NaN`` where a path had stopped)."""
        return torch.stack(self.rows) if self.rows else torch.zeros(0, P, dtype=torch.float64)

    def state(self) -> dict:
        return {"epochs": list(self.epochs), "rows": list(self.rows), "end_loss": self.end_loss,
                "final": dict(self.final), "best_value": dict(self.best_value)}

    def load(self, s: dict) -> None:
        self.epochs, self.rows = list(s["epochs"]), list(s["rows"])
        self.end_loss, self.final = s["end_loss"], dict(s["final"])
        self.best_value = dict(s["best_value"])
