"""The one optimisation loop skeleton of the toolkit.

Training a minimum (:func:`toolkit.train.train`), optimising paths
(:func:`toolkit.paths.optimize_paths`) and training random-point curves and triangles all run
the same skeleton: ``epochs × steps_per_epoch`` steps, each epoch's randomness drawn from a
generator seeded by ``(seed, epoch)`` (:mod:`toolkit.seeds`), a checkpoint written every
``checkpoint_every`` steps together with a fingerprint of the run (a resumed run continues from
it and ends bit-identical to an uninterrupted one; another run refuses it), a non-finite check
every ``check_every`` steps and at the end of every epoch (each check is one host
synchronisation), and a progress bar. What differs is a :class:`Task`:

- ``start_epoch(epoch, first)``: draw the epoch's batches (from in-epoch step ``first`` on);
- ``step(step)``: one optimisation step;
- ``check(since, step)``: raise ``FloatingPointError`` on non-finite values, or undo the damage
  and return the step to continue from (learning-rate back-off), or return ``None``;
- ``end_epoch(epoch)``: per-epoch bookkeeping; returns the progress bar's postfix;
- ``checked(step)``: the state at ``step`` passed its check (e.g. keep it to back off to);
- ``finished()``: nothing is left to optimise (checked after every epoch; the run ends early);
- ``state()`` / ``load(state, step)``: what the checkpoint holds (anything :func:`toolkit.cache.encode`
  stores, dataclasses included) and the step it was taken at.
"""

from __future__ import annotations

import os
from typing import Any

from toolkit._progress import progress_bar
from toolkit.cache import decode, encode, load_checkpoint, save_checkpoint


class Task:
    """What one optimisation does inside :func:`run`; see the module docstring."""

    def start_epoch(self, epoch: int, first: int) -> None:
        raise NotImplementedError

    def step(self, step: int) -> None:
        raise NotImplementedError

    def check(self, since: int, step: int) -> int | None:
        return None

    def end_epoch(self, epoch: int) -> dict[str, Any] | None:
        return None

    def checked(self, step: int) -> None:
        return None

    def finished(self) -> bool:
        return False

    def state(self) -> Any:
        raise NotImplementedError

    def load(self, state: Any, step: int) -> None:
        raise NotImplementedError


def _epoch_done(epoch: int) -> None:
    """Called after each finished (and checkpointed) epoch; tests patch it to simulate a crash."""


def run(task: Task, *, epochs: int, steps_per_epoch: int, fingerprint: str,
        checkpoint: str | os.PathLike | None = None, resume: bool = True,
        checkpoint_every: int | None = None, check_every: int = 50, progress: bool = True,
        desc: str = "", unit: str = "step") -> int:
    """Run ``task`` for ``epochs × steps_per_epoch`` steps (fewer when ``task.finished()``);
    returns the number of steps done.

    With ``checkpoint`` set, the task's state is saved there every ``checkpoint_every`` steps
    (default: every epoch) and at the end; ``resume=True`` continues from a checkpoint of the same
    ``fingerprint`` (an unreadable one is ignored with a warning, one of another run raises).
    """
    if epochs < 0 or steps_per_epoch < 1:
        raise ValueError(f"need epochs >= 0 and steps_per_epoch >= 1, got {epochs}, {steps_per_epoch}")
    spe = int(steps_per_epoch)
    total = int(epochs) * spe
    every = int(checkpoint_every or spe)
    step = 0
    if checkpoint is not None and resume:
        saved = load_checkpoint(checkpoint, fingerprint)
        if saved is not None:
            step = int(saved["step"])
            task.load(decode(saved["task"]), step)
            if task.finished():
                return step
    bar = progress_bar(total=total, initial=step, enabled=progress, desc=desc, unit=unit,
                       leave=False)
    last_check, epoch_open = step, None
    try:
        while step < total:
            epoch, i = divmod(step, spe)
            if epoch_open != epoch:
                task.start_epoch(epoch, i)
                epoch_open = epoch
            task.step(step)
            step += 1
            bar.update(1)
            end = step % spe == 0
            checked = False
            if end or step - last_check >= check_every:
                back = task.check(last_check, step)
                if back is not None:  # the task went back to an earlier, healthy state
                    step = last_check = int(back)
                    epoch_open = None
                    bar.reset(total)
                    bar.update(step)
                    continue
                last_check, checked = step, True
            if end:
                epoch_open = None
                postfix = task.end_epoch(epoch)
                if postfix:
                    bar.set_postfix(postfix)
            if checked:
                task.checked(step)
            if checkpoint is not None and (step % every == 0 or step == total):
                save_checkpoint(checkpoint, fingerprint, {"step": step, "task": encode(task.state())})
            if end:
                _epoch_done(epoch)
                if task.finished():
                    if checkpoint is not None and step % every != 0:
                        save_checkpoint(checkpoint, fingerprint, {"step": step, "task": encode(task.state())})
                    break
    finally:
        bar.close()
    return step
