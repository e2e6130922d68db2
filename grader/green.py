"""CPU-heavy work off gevent's event loop.

Under gunicorn's gevent workers (:mod:`grader.processes`) one process serves every request on
one thread, switching between them only where they wait; a computation that takes 100 ms (an
Argon2id hash) would hold up every other request of the process, ``/healthz`` and a thousand
long polls included, for that long. :func:`off_loop` runs such a call on gevent's pool of
native threads instead (Argon2 releases the GIL), and calls it directly anywhere else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def _green() -> bool:
    """Whether this process runs under gevent's monkey-patching."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def off_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)``, on a native thread when under gevent (the calling
    request waits for it, the others go on)."""
    if not _green():
        return function(*args, **kwargs)
    import gevent

    result: R = gevent.get_hub().threadpool.apply(function, args, kwargs)
    return result
