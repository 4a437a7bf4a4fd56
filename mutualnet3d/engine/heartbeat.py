"""Which process stopped answering: a heartbeat per rank in the rendezvous store.

A collective that runs past DIST_TIMEOUT says only that it timed out. Each process adds
one to its counter in the process group's store every ``period`` seconds from a daemon
thread, so the process whose wait timed out can name the ranks whose counter stands
still: a process stopped (SIGSTOP, a frozen VM, a debugger) stops beating; one that is
busy in a long step or deadlocked does not. Counters, not clocks, so nodes need not
agree on the time.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Optional

import torch.distributed as dist

__all__ = ["Heartbeat", "StalledRankError", "is_timeout"]


class StalledRankError(RuntimeError):
    """A collective timed out; the message names the ranks that stopped answering."""


def is_timeout(error: BaseException) -> bool:
    """Whether ``error`` is a distributed wait that ran out of time (gloo, NCCL, store)."""
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("timed out" in text or "timeout" in text)


class Heartbeat:
    """Beats for ``rank`` of ``world_size`` in ``store`` while entered (a daemon thread).

    Args:
        store: the rendezvous store the process group was made from.
        rank, world_size: this process's place in the job.
        timeout: DIST_TIMEOUT in seconds; a beat every tenth of it (0.5 to 5 s).
    """

    def __init__(self, store: dist.Store, rank: int, world_size: int, timeout: float) -> None:
        self.store = dist.PrefixStore("mutualnet3d/heartbeat/", store)
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self.period = min(5.0, max(0.5, timeout / 10))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self.store.add(str(self.rank), 1)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.period)

    def _beat(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.store.add(str(self.rank), 1)
            except Exception:  # noqa: BLE001 - the store's host has gone: nothing to tell
                return

    def _counts(self) -> list[int]:
        return [self.store.add(str(r), 0) for r in range(self.world_size)]

    def silent_ranks(self) -> Optional[list[int]]:
        """The other ranks whose counter stands still over three beats; None when the
        store itself does not answer (then its host is the silent one)."""
        self.store.set_timeout(timedelta(seconds=3 * self.period + 5))
        try:
            before = self._counts()
            threading.Event().wait(3 * self.period)
            after = self._counts()
        except Exception:  # noqa: BLE001 - any failure to reach the store
            return None
        return [r for r in range(self.world_size) if r != self.rank and after[r] == before[r]]

    def stalled_error(self, error: BaseException) -> StalledRankError:
        """The error to raise for timeout ``error``: which ranks went silent, if any."""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        silent = self.silent_ranks()
        waited = f"rank {self.rank} waited DIST_TIMEOUT {self.timeout:g} s ({first_line})"
        if silent is None:
            return StalledRankError(
                f"the rendezvous store does not answer: its host (rank 0 under "
                f"--init_method tcp://) stopped answering; {waited}"
            )
        if not silent:
            return StalledRankError(
                f"every rank still beats, so one is busy or deadlocked, not stopped; {waited}"
            )
        names = ", ".join(str(r) for r in silent)
        plural = "s" if len(silent) > 1 else ""
        return StalledRankError(
            f"rank{plural} {names} stopped answering (heartbeat still for "
            f"{3 * self.period:g} s); {waited}"
        )
