"""SIGINT/SIGTERM/SIGHUP: the handler only records the signal; the training loop polls it at step boundaries.

SIGHUP (the terminal was closed) is treated like SIGTERM: a checkpoint is written and the run ends with exit
code 129 (128 + 1), resumable like any interrupted run.

Because the handler never raises, a second Ctrl-C while a checkpoint is being written cannot interrupt the
write: it is recorded and reported, nothing more. SIGKILL cannot be caught; periodic checkpoints bound what it
loses.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopFlag:
    """Context manager installing flag-setting handlers for SIGINT, SIGTERM and SIGHUP (restored on exit)."""

    def __init__(self, enabled: bool = True, log=None) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signal_name: str | None = None
        self.count = 0
        self._previous: dict[int, object] = {}
        self._log = log

    @property
    def raised(self) -> bool:
        return self.signal_name is not None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
        elif self._log is not None:
            try:
                self._log(f"{signal.Signals(signum).name} received again: still finishing the checkpoint, please wait.")
            except Exception:
                pass

    def __enter__(self) -> StopFlag:
        if self.enabled:
            for sig in HANDLED:
                if sig == getattr(signal, "SIGHUP", None) and signal.getsignal(sig) == signal.SIG_IGN:
                    continue  # nohup: the user asked to survive the terminal closing
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


def exit_code_for(signal_name: str | None) -> int:
    """Shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP)."""
    if signal_name is None:
        return 0
    return 128 + int(getattr(signal, signal_name))


if sys.platform == "win32":  # pragma: no cover
    HANDLED = (signal.SIGINT,)
