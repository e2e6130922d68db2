"""PID 1 of a warm child's PID namespace: the *reaper*.

Its whole job: exist as the namespace's init (so that the learner process is PID 2, and killing
PID 1 kills everything in the namespace), ignore SIGCHLD (so that the kernel reaps the orphans
it inherits), run as the slot's uid chrooted into the staged root, and exit, taking the
namespace with it, when the pipe on its standard input reaches end of file (the zygote closed
it, or died).

On x86-64 the zygote runs it as a tiny static program (:func:`program`, 389 bytes and the
root's path), executed from a sealed memfd: one exec of nothing, where ``chroot``, ``sh`` and
``cat`` were three dynamically linked ones (8% of the machine's CPU in ``perf`` while grading
one submission after another, against 0.5% for the program). Elsewhere,
or where the kernel refuses to execute a memfd, it is ``chroot --userspec=U:U ROOT sh -c "trap ''
CHLD; exec cat"`` (:func:`shell_command`).
"""

from __future__ import annotations

import fcntl
import os
import platform
import struct

# The code, assembled from this listing (GNU as, Intel syntax; every address RIP-relative,
# so the program runs wherever it is loaded). Each syscall's result is checked: a failure
# exits with status 70 rather than carrying on as root or outside the root.
#
#   _start: lea rdi, [rip+root]; mov eax, 80; syscall      chdir(root)
#           test eax, eax; jnz fail
#           lea rdi, [rip+dot]; mov eax, 161; syscall      chroot(".")
#           test eax, eax; jnz fail
#           xor edi, edi; xor esi, esi; mov eax, 116; syscall   setgroups(0, NULL)
#           test eax, eax; jnz fail
#           mov edi, [rip+uid]; mov esi, edi; mov edx, edi
#           mov eax, 119; syscall                          setresgid(uid, uid, uid)
#           test eax, eax; jnz fail
#           mov edi, [rip+uid]; mov esi, edi; mov edx, edi
#           mov eax, 117; syscall                          setresuid(uid, uid, uid)
#           test eax, eax; jnz fail
#           mov edi, 17; lea rsi, [rip+ignore]; xor edx, edx; mov r10d, 8
#           mov eax, 13; syscall                           rt_sigaction(SIGCHLD, SIG_IGN)
#           test eax, eax; jnz fail
#           sub rsp, 256
#   wait:   xor edi, edi; mov rsi, rsp; mov edx, 256; xor eax, eax; syscall   read(0, ...)
#           test rax, rax; jg wait                          until end of file (or an error)
#           xor edi, edi; mov eax, 231; syscall             exit_group(0)
#   fail:   mov edi, 70; mov eax, 231; syscall             exit_group(70)
#   ignore: .quad 1, 0, 0, 0       struct sigaction: SIG_IGN, no flags, restorer, mask
#   dot:    .asciz "."
#   uid:    .long UID              (patched in by program())
#   root:   .asciz ROOT            (appended by program())
_CODE = bytes.fromhex(
    "488d3dce000000b8500000000f0585c00f858d000000488d3db2000000b8a10000000f0585c0757b"
    "31ff31f6b8740000000f0585c0756c8b3d9400000089fe89fab8770000000f0585c075578b3d7f00"
    "000089fe89fab8750000000f0585c07542bf11000000488d354200000031d241ba08000000b80d00"
    "00000f0585c075234881ec0001000031ff4889e6ba0001000031c00f054885c07fed31ffb8e70000"
    "000f05bf46000000b8e70000000f05010000000000000000000000000000000000000000000000000"
    "00000000000002e0000000000"
)
_UID_AT = 0xD1  # offset of `uid` in _CODE; `root` follows it at 0xD5 (the code's end)
_BASE = 0x400000  # where the one loadable segment goes
_HEADERS = 64 + 2 * 56  # ELF header, then two program headers
EXIT_SETUP_FAILED = 70


def program(root: str, uid: int) -> bytes | None:
    """The reaper as a static x86-64 ELF executable that chroots into ``root`` and becomes
    ``uid`` (it must be started as root); None on other machines."""
    if platform.machine() not in ("x86_64", "AMD64") or "\0" in root:
        return None
    code = bytearray(_CODE)
    code[_UID_AT:_UID_AT + 4] = struct.pack("<I", uid)
    body = bytes(code) + root.encode() + b"\0"
    size = _HEADERS + len(body)
    elf = struct.pack(
        "<4sBBBB8xHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0,  # 64-bit, little-endian, version 1, System V
        2, 0x3E, 1,  # an executable, for x86-64, version 1
        _BASE + _HEADERS, 64, 0,  # entry point, program headers' offset, no section headers
        0, 64, 56, 2, 64, 0, 0,
    )
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, r-x
    stack = struct.pack("<IIQQQQQQ", 0x6474E551, 6, 0, 0, 0, 0, 0, 16)  # PT_GNU_STACK, rw-
    return elf + load + stack + body


def load(code: bytes) -> int:
    """A sealed memfd holding ``code`` (closed on exec; ``/proc/self/fd/N`` runs it)."""
    fd = os.memfd_create("reaper", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, code)
    os.fchmod(fd, 0o500)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK
                | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    return fd


def shell_command(programs: tuple[str, str, str], root: str, uid: int | None) -> list[str]:
    """The reaper from system programs: ``cat`` on the pipe under ``sh`` (which ignores
    SIGCHLD for it), as ``uid`` chrooted into ``root`` when ``uid`` is set and ``chroot`` is
    installed. ``programs``: the paths of cat, sh and chroot ("" if missing)."""
    cat, sh, chroot = programs
    command = [sh, "-c", f"trap '' CHLD; exec {cat}"]
    if chroot and uid is not None:
        command = [chroot, f"--userspec={uid}:{uid}", root, *command]
    return command
