"""The tampering tripwire: a PEP 578 audit hook and a profile function on the harness's thread.

Learner code runs in the harness's process, so what keeps it away from the harness is that it
cannot *find* the harness: the harness calls the learner only from fresh threads whose stacks
hold no harness frame, keeps its state in closures, and is out of ``sys.modules``. What is left
is introspection (frames, the garbage collector, tracing, ``ctypes``, raw process memory), and
every such route raises an audit event. The hook judges where each event comes from: torch and
the standard library raise the same events all the time (``sys._getframe`` hundreds of times,
``__code__`` reads by the thousand), so an event counts as tampering only when the nearest
Python frame that is not a *relay* (a library function that hands frames back to its caller,
such as ``inspect.currentframe``) belongs to the learner's code. A tripped wire ends the process
at once, from inside the hook: there is no exception for the learner to catch.

The profile function watches the harness's own (main) thread, which never runs learner code
on purpose: learner code there (a finalizer, a patched function the harness was tricked into
calling) is tampering too.
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

# Events that reach objects the learner was not given. "object.__getattr__/__setattr__" are
# narrowed to ATTRIBUTES below; "open" to process memory; "ctypes.*" is matched by prefix.
WATCHED = frozenset({
    "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
    "object.__getattr__", "object.__setattr__", "sys.addaudithook", "open", "compile", "exec",
    "import", "marshal.loads", "cpython.PyInterpreterState_New",
})
# Attribute reads and writes that hand out frames or code, or change what an object is.
READ = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "__code__", "gi_code",
                  "cr_code", "ag_code"})
WRITTEN = frozenset({"__code__", "__class__"})
# Events that end the run wherever they come from.
ALWAYS = frozenset({"sys.addaudithook", "sys._current_frames"})
# Library functions that return frames to their caller: their caller is who asked.
RELAYS = frozenset({
    ("inspect", "currentframe"), ("inspect", "stack"), ("inspect", "trace"),
    ("inspect", "getouterframes"), ("inspect", "getinnerframes"), ("traceback", "walk_stack"),
    ("traceback", "walk_tb"), ("logging", "currentframe"), ("logging", "<lambda>"),
    ("threading", "settrace"), ("threading", "setprofile"),
})
SIGNAL_MODULES = frozenset({"_signal", "signal"})


def _module_of(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    if name == "__init__.py":
        name = filename.rsplit("/", 2)[-2] + ".py"
    return name.removesuffix(".py")


def install(learner_files: set[str], trip: Callable[[str, str], None]) -> Callable[
        [FrameType, str, Any], None]:
    """Install the audit hook; return the profile function for the harness's thread.

    ``learner_files`` are the file names of learner code (the submission, and whatever file
    names learner code compiles); ``trip(event, where)`` reports and ends the process.
    """
    getframe = sys._getframe
    get_ident = _thread.get_ident
    # Threads inside the hook right now (its own sys._getframe raises an event too). Per
    # thread: one flag for all would let a learner's thread raise cheap events in a loop so
    # that another thread's event arrives while the flag is up, and is skipped.
    busy: set[int] = set()
    enter, leave = busy.add, busy.discard
    watched = WATCHED.__contains__
    read, written, always, relays = READ, WRITTEN, ALWAYS, RELAYS
    module_of = _module_of
    str_type, bytes_type = str, bytes
    add_file = learner_files.add

    def origin(through: str = "\0", imports: bool = True) -> FrameType | None:
        # Frame 0 is this function, 1 judge, 2 the hook; 3 raised the event (or called the C
        # function that did). Frames of files under ``through`` (a package whose wrappers
        # raise the events on the caller's behalf, such as ctypes) are skipped too.
        frame: FrameType | None = getframe(3)
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename
            if (imports and filename.startswith("<frozen importlib")) or through in filename:
                frame = frame.f_back
                continue
            if (module_of(filename), code.co_name) in relays:
                frame = frame.f_back
                continue
            return frame
        return None

    def learners(frame: FrameType | None) -> str | None:
        if frame is not None and frame.f_code.co_filename in learner_files:
            return f"line {frame.f_lineno} of {frame.f_code.co_filename.rsplit('/', 1)[-1]}"
        return None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not watched(event) and not event.startswith("ctypes."):
            return
        ident = get_ident()
        if ident in busy:
            return
        enter(ident)
        try:
            found = judge(event, args)
        finally:
            leave(ident)
        if found is not None:
            trip(*found)

    def judge(event: str, args: tuple[Any, ...]) -> tuple[str, str] | None:
        if event == "open":
            path = args[0] if args else None
            if type(path) is bytes_type:
                path = path.decode(errors="replace")
            if type(path) is str_type and path.startswith("/proc/") and (
                    path.endswith("/mem") or "/mem/" in path or ("/task/" in path
                    and path.endswith("mem"))):
                return f"open({path!r})", learners(origin()) or "your code"
            return None
        if event in always:
            return event, learners(origin()) or "your code"
        if event in ("object.__getattr__", "object.__setattr__"):
            name = args[1] if len(args) > 1 else None
            if name not in (read if event == "object.__getattr__" else written):
                return None
            where = learners(origin())
            return None if where is None else (f"{event}({name})", where)
        if event == "compile" or event == "exec":
            # Only the learner's own compile() and exec(): an import the learner's code
            # triggers compiles library code through importlib's frames, which count here.
            where = learners(origin(imports=False))
            if where is not None:
                # Code the learner compiles counts as the learner's, whatever it is called.
                target = args[1] if event == "compile" and len(args) > 1 else (
                    getattr(args[0], "co_filename", None) if args else None)
                if type(target) is bytes_type:
                    target = target.decode(errors="replace")
                if type(target) is str_type:
                    add_file(target)
            return None
        if event == "import":
            if args and args[0] in SIGNAL_MODULES:
                where = learners(origin())
                return None if where is None else (f"import {args[0]}", where)
            return None
        where = learners(origin("/ctypes/" if event.startswith("ctypes.") else "\0"))
        return None if where is None else (event, where)

    sys.addaudithook(hook)

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename in learner_files:
            trip("learner code ran in the grader's thread",
                 f"line {frame.f_lineno} of {frame.f_code.co_filename.rsplit('/', 1)[-1]}")

    return profile
