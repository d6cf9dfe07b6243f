"""Private: where a path's points lie -- the resampling that keeps them ordered and evenly
spaced (the string method; folds removed), and the choice of new points by Alg. 4.

A resampling re-cuts every active path into its number of points, equally spaced in arc length
(or denser where the loss is high); points out of order -- one of their two segments runs
backwards along their tangent -- are dropped first. A sharp turn whose arms are of similar length
is a kink and stays. The common case (no fold, same number of points, small moves) slides each
point along one of its own segments in place (:func:`_respace`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from toolkit.paths._engine import _TINY, Layout, PathState
from toolkit.paths._kernels import _rowdot


def _chain(st: PathState, lay: Layout, rows: Tensor) -> Tensor:
    """``rows: Tensor[M, ...]`` per-row values with the ends' values inserted around each path's
    block: ``Tensor[M + 2 Pa, ...]`` (ends get the values of ``ends`` for positions, zeros for
    any other per-row quantity of the same shape)."""
    parts = []
    is_pos = rows is st.X
    for i, p in enumerate(lay.active):
        o, s = lay.offsets[i], lay.sizes[i]
        e = st.ends[p] if is_pos else rows.new_zeros(2, *rows.shape[1:])
        parts += [e[:1], rows[o:o + s], e[1:]]
    return torch.cat(parts)


def _respace(st: PathState, lay: Layout) -> bool:
    """The common case of :func:`resample`, in place: no fold, the same number of points, and
    every point within one segment of its equally spaced target. Each point then slides along one
    of its two segments (two ``addcmul`` passes over ``X``, no gather), and the optimiser buffers
    stay (a slide along the path leaves the normal-space momentum as it is). Returns False when
    the general resampling is needed."""
    X = st.X
    M = len(X)
    if M == 0 or not len(lay.first):
        return True
    seg_in = torch.empty_like(X)  # X[r] - X[r-1], the first row of a block from its start A
    torch.sub(X[1:], X[:-1], out=seg_in[1:])
    seg_in.index_copy_(0, lay.first, X.index_select(0, lay.first) - lay.A)
    seg_last = lay.B - X.index_select(0, lay.last)  # [Pa, D]
    len_in = torch.linalg.vector_norm(seg_in, dim=1)
    len_last = torch.linalg.vector_norm(seg_last, dim=1)
    len_out = torch.cat([len_in[1:], len_in.new_zeros(1)]).index_copy(0, lay.last, len_last)
    dot_out = torch.cat([_rowdot(seg_in[:-1], seg_in[1:]), len_in.new_zeros(1)])
    dot_out = dot_out.index_copy(0, lay.last, _rowdot(seg_in.index_select(0, lay.last), seg_last))
    if bool((dot_out < -torch.minimum(len_in, len_out) ** 2).any()):
        return False  # a fold: the general path drops it
    block = torch.repeat_interleave(torch.arange(len(lay.first), device=X.device),
                                    lay.last - lay.first + 1)
    csum = torch.cumsum(len_in, 0)
    start = (csum - len_in).index_select(0, lay.first)  # cumulative length before each block
    pos = csum - start.index_select(0, block)  # arc length of every row within its path
    total = pos.index_select(0, lay.last) + len_last
    k = torch.arange(M, device=X.device) - lay.first.index_select(0, block) + 1  # slot 1..n-2
    n = (lay.last - lay.first + 2).index_select(0, block)  # segments per path
    target = total.index_select(0, block) * k.to(X.dtype) / n.to(X.dtype)
    move = target - pos
    if bool(((move > len_out) | (-move > len_in)).any()):
        return False
    fwd = (move.clamp(min=0) / len_out.clamp_min(_TINY))[:, None]
    back = (move.clamp(max=0) / len_in.clamp_min(_TINY))[:, None]  # <= 0
    X.addcmul_(back, seg_in)  # slide back along the incoming segment
    X[:-1].addcmul_(fwd[:-1], seg_in[1:])  # ... or forward along the outgoing one
    # a path's last row slid along the next path's first segment above: its own outgoing segment
    # runs to the path's end B
    last_fwd = fwd.index_select(0, lay.last)
    nxt = (lay.last + 1).clamp(max=M - 1)
    inner = (lay.last < M - 1)[:, None].to(X.dtype)
    X.index_add_(0, lay.last, last_fwd * (seg_last - inner * seg_in.index_select(0, nxt)))
    return True


def resample(st: PathState, new_n: list[int] | None = None, *, density: float = 0.0,
             end_loss: Tensor | None = None) -> int:
    """Re-cut every active path into ``new_n[p]`` points (default: its current number), equally
    spaced in arc length -- or, with ``density > 0``, in arc length weighted by
    ``1 + density · (segment loss − path minimum) / (path range)`` so that points gather where
    the loss is high. Points out of order (a segment running backwards along the point's tangent)
    are dropped first. Optimiser buffers are interpolated with the points (the common case of
    small slides is done in place by :func:`_respace`). Returns the number of folds removed."""
    if not st.active:
        return 0
    lay = Layout(st)
    if new_n is None and density == 0 and _respace(st, lay):
        return 0
    new_n = list(st.n) if new_n is None else new_n
    C = _chain(st, lay, st.X)  # [S, D]
    sizes = [s + 2 for s in lay.sizes]
    path_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes)).to(C.device)
    keep = torch.ones(len(C), dtype=torch.bool, device=C.device)
    seg = C[1:] - C[:-1]
    # row k+1 is out of order when one of its two segments runs backwards along its tangent
    # (d = seg_in + seg_out): <seg_in, seg_out> < -min(|seg_in|², |seg_out|²). A sharp turn with
    # arms of similar length is a kink, not a fold, and stays.
    sq = torch.linalg.vector_norm(seg, dim=1) ** 2
    back = _rowdot(seg[:-1], seg[1:]) < -torch.minimum(sq[:-1], sq[1:])
    same = (path_of[:-2] == path_of[2:])  # rows k, k+1, k+2 on one path: k+1 is interior
    folds = back & same
    n_folds = int(folds.sum())
    if n_folds:
        keep[1:-1] &= ~folds
    idx = keep.nonzero().flatten()
    Ck, pk = C[idx], path_of[idx]
    length = torch.linalg.vector_norm(Ck[1:] - Ck[:-1], dim=1)
    length = torch.where(pk[1:] == pk[:-1], length, torch.zeros_like(length))
    if density > 0:
        loss_rows = _chain(st, lay, st.last_loss)[idx]
        if end_loss is not None:
            pos = torch.cumsum(torch.tensor([0, *sizes[:-1]]), 0).tolist()
            for i, p in enumerate(lay.active):  # ends: the minima's losses
                loss_rows[int((idx == pos[i]).nonzero())] = end_loss[p, 0]
                loss_rows[int((idx == pos[i] + sizes[i] - 1).nonzero())] = end_loss[p, 1]
        seg_loss = 0.5 * (loss_rows[1:] + loss_rows[:-1])
        w = torch.ones_like(seg_loss)
        for i in range(len(sizes)):
            m = (pk[1:] == i) & (pk[:-1] == i)
            sl = seg_loss[m]
            if len(sl):
                w[m] = 1 + density * (sl - sl.min()) / (sl.max() - sl.min()).clamp_min(_TINY)
        length = length * w
    cum = torch.cat([length.new_zeros(1), torch.cumsum(length, 0)])  # [S_k]
    starts = torch.searchsorted(pk, torch.arange(len(sizes), device=pk.device))
    ends = torch.cat([starts[1:], starts.new_tensor([len(pk)])]) - 1
    s0, total = cum[starts], cum[ends] - cum[starts]
    targets, rows_of = [], []
    for i, p in enumerate(lay.active):
        k = new_n[p]
        frac = torch.arange(1, k - 1, device=C.device, dtype=C.dtype) / (k - 1)
        targets.append(s0[i] + frac * total[i])
        rows_of.append(torch.full((k - 2,), i, device=C.device, dtype=torch.long))
    tgt = torch.cat(targets)
    blk = torch.cat(rows_of)
    # segment of each target within its own path: search the path's slice of `cum`
    j = torch.searchsorted(cum, tgt, right=True) - 1
    j = torch.minimum(torch.maximum(j, starts[blk]), ends[blk] - 1)
    span = (cum[j + 1] - cum[j]).clamp_min(_TINY)
    f = ((tgt - cum[j]) / span).clamp(0, 1)[:, None]
    lo, hi = idx[j], idx[j + 1]

    def lerp(rows: Tensor) -> Tensor:
        ch = C if rows is st.X else _chain(st, lay, rows)
        a, b = ch[lo], ch[hi]
        if rows.dim() == 1:
            return torch.maximum(a, b)  # step counts: the more advanced neighbour
        return a + f.to(a.dtype) * (b - a)

    opt = {k: lerp(v) for k, v in st.opt.items()}
    st.X = lerp(st.X)
    st.opt = opt
    resized = any(st.n[p] != new_n[p] for p in lay.active)
    for p in lay.active:
        st.n[p] = new_n[p]
    M = len(st.X)
    if resized:  # new rows: the epoch's per-point diagnostics and flags start over
        st.acc = {k: (v.new_zeros(M) if v.dim() else v) for k, v in st.acc.items()}
        st.bad = st.X.new_zeros(M) + (st.bad > 0).any().to(st.X.dtype)
    st.last_loss = st.X.new_zeros(M)
    return n_folds


# ---------------------------------------------------------------------------- insertion (Alg. 4)


def choose_insertions(st: PathState, criterion: str, *, h0: Tensor, distance_ratio: float,
                      loss_tol: float, max_insert: int, max_points: int,
                      seg_loss: dict[int, Tensor] | None = None,
                      node_loss: dict[int, Tensor] | None = None) -> dict[int, int]:
    """Points to add per active path (Alg. 4), as ``{path: count}``.

    ``distance``: one point per segment longer than ``distance_ratio`` × the path's initial
    spacing ``h0[p]`` (with equal spacing kept by resampling, a long segment means the path has
    grown longer than its points resolve). ``loss``: one point per segment whose midpoint loss
    exceeds the larger loss of its two ends by more than ``loss_tol`` × the path's loss range
    (a bump between optimised points). At most ``max_insert`` per path per round and never
    beyond ``max_points`` points per path.
    """
    out: dict[int, int] = {}
    for p in st.active:
        room = min(max_insert, max_points - st.n[p])
        if room <= 0:
            continue
        if criterion == "distance":
            pts = st.path(p)
            lengths = torch.linalg.vector_norm(pts[1:] - pts[:-1], dim=1)
            k = int((lengths > distance_ratio * h0[p]).sum())
        else:
            mids, nodes = seg_loss[p], node_loss[p]
            lo = torch.minimum(mids.min(), nodes.min())
            hi = torch.maximum(mids.max(), nodes.max())
            bump = mids - torch.maximum(nodes[:-1], nodes[1:])
            k = int(((bump > loss_tol * (hi - lo)) & (bump > 0)).sum())
        if k:
            out[p] = min(k, room)
    return out


@torch.no_grad()
def node_and_midpoint_losses(st: PathState, objective: Any, evaluate: Any
                             ) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
    """Loss at every point and every segment midpoint of every active path, by ``evaluate``
    (``Tensor[B, D] -> Tensor[B]``): ``({p: [n_p]}, {p: [n_p - 1]})``."""
    pts, mids, sizes = [], [], []
    for p in st.active:
        q = st.path(p)
        pts.append(q)
        mids.append(0.5 * (q[1:] + q[:-1]))
        sizes.append(len(q))
    if not pts:
        return {}, {}
    values = evaluate(torch.cat(pts + mids))
    nodes = values[:sum(sizes)].split(sizes)
    segs = values[sum(sizes):].split([s - 1 for s in sizes])
    return dict(zip(st.active, nodes)), dict(zip(st.active, segs))
