"""Keeping the hidden cases' output apart when visible and hidden cases share one process.

The sandbox runs all of a submission's cases in one child, visible ones first. Its stdout and
stderr go to a memfd the runner reads back (the *visible* capture); before the first hidden
case the harness seals that memfd against every further write and points stdout and stderr at a
second memfd that nobody reads (the *hidden* capture). From then on nothing learner code does
reaches what the learner is shown: a descriptor it duplicated earlier can no longer write
(``EPERM``), ``lseek`` or ``pwrite`` change nothing, and a writable mapping of the capture
makes the seal fail, which ends the run as tampering.

The seal is a fact the runner checks itself, on its own descriptor of the visible capture,
when the ``hidden`` frame arrives; the harness also checks that the descriptors it seals and
switches to are still the memfds it was given (learner code may have closed those numbers or
put other files there).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

# Nothing can write to, grow, shrink or unseal the visible capture once these are set.
SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE

# Captured at import, before learner code exists: replacing them later changes nothing here.
_fstat = os.fstat
_dup2 = os.dup2
_fcntl = fcntl.fcntl


class CaptureError(Exception):
    """The visible capture could not be closed to further writes."""


def sealed(fd: int) -> bool:
    """Whether the memfd ``fd`` refers to can no longer be written to (runner side)."""
    try:
        return _fcntl(fd, fcntl.F_GET_SEALS) & SEALS == SEALS
    except OSError:
        return False


@dataclass(frozen=True)
class Capture:
    """The child's two output memfds and who they are (device and inode, taken before learner
    code loads)."""

    visible: int
    hidden: int
    visible_id: tuple[int, int]
    hidden_id: tuple[int, int]

    @classmethod
    def of(cls, visible: int, hidden: int) -> Capture:
        """The capture of descriptors ``visible`` and ``hidden``, identified now."""
        return cls(visible, hidden, _identity(visible), _identity(hidden))

    def switch_to_hidden(self) -> None:
        """Seal the visible capture and send stdout and stderr to the hidden one. Raises
        :class:`CaptureError` when either descriptor is no longer its memfd, or the seal fails
        (learner code holds a writable mapping of the capture)."""
        for fd, identity in ((self.visible, self.visible_id), (self.hidden, self.hidden_id)):
            if _identity(fd) != identity:
                raise CaptureError("the output capture's descriptors were replaced")
        try:
            _fcntl(self.visible, fcntl.F_ADD_SEALS, SEALS)
        except OSError as exc:
            raise CaptureError(f"the visible output could not be sealed ({exc.strerror})") from exc
        _dup2(self.hidden, 1)
        _dup2(self.hidden, 2)


def _identity(fd: int) -> tuple[int, int]:
    try:
        info = _fstat(fd)
    except OSError:
        return (-1, -1)
    return (info.st_dev, info.st_ino)
