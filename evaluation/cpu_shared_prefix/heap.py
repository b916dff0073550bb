"""Keep freed memory in the process heap during generation, instead of handing it back to the OS.

Why: generation allocates and frees the same few-MB tensors thousands of times (a prefill
layer's 2700 x 1536 MLP activations, a decode step's logits, each batch's KV cache). glibc's
malloc serves blocks above its mmap threshold (128 kB at first, raised on the fly up to 32 MB)
with fresh mmap()s and trims the heap's free top above its trim threshold; either way the
memory goes back to the kernel, and the next tensor of that size takes one page fault per 4 kB
page, zero-filled by the kernel. On the 150-question benchmark (one thread) that was 0.4 to 1.9
million minor faults per run, which of the two depending on how the threshold happened to move,
and 2 to 5 s of system CPU time against ~25 s of user time. Fixed thresholds (mmap 32 MB, trim
and top pad large) make the heap keep what it has: see `keep_freed_memory` for the figures.

The process's peak heap is held until it exits. glibc only: `mallopt` is glibc's (musl and other
platforms have no such knobs), so elsewhere nothing is changed and False is returned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20   # bytes; glibc's upper limit on 64-bit (larger values are refused)
TRIM_THRESHOLD = 2**30        # bytes of free heap top kept before trimming: in effect never
TOP_PAD = 64 * 2**20          # bytes the heap grows by beyond each request (untouched: no faults)


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc malloc's thresholds so that freed blocks up to 32 MB stay in the heap for reuse
    (once per process; forked workers inherit it). True where they were set.

    Measured with `benchmarks/evaluate.py --questions 150` (2 one-thread workers; the same
    settings given as MALLOC_*_ environment variables, 5 alternating pairs): minor page faults
    1.25-1.80 M -> 0.62-0.64 M per run (model loading included), system CPU 4.7-5.3 -> 2.8-3.8 s,
    questions/s 8.2-9.1 (median 8.8) -> 9.0-10.7 (median 9.5), faster in all 5 pairs. Set
    here, in-process (9 alternating pairs on the same code): faults in the timed part 0.35-1.2 M
    -> 0.28-0.30 M, but faster in only 5 of 9 pairs: the wall-clock gain is within this shared
    machine's noise.
    """
    libc = _glibc()
    if libc is None:
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (_M_TOP_PAD, TOP_PAD))
    return all(libc.mallopt(param, value) == 1 for param, value in settings)


def _glibc():
    """This process's C library if it is glibc (it has `gnu_get_libc_version`), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
