"""heap: freed blocks stay in the heap, so reusing them costs no page faults."""

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Ten 4 MB blocks allocated and freed, ten times over: glibc's defaults hand the freed heap top
# back to the kernel each time (it exceeds the trim threshold that follows the 4 MB mmap
# threshold), so every cycle faults its 40 MB in again. Run in a fresh interpreter: the
# settings are process-wide and the defaults must be pristine.
_CYCLES = """
import resource, sys
from evaluation.cpu_shared_prefix.heap import keep_freed_memory
if sys.argv[1] == "keep" and not keep_freed_memory():
    raise SystemExit("not set")
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
first = bytearray(4 << 20); del first
def cycle():
    blocks = [bytearray(4 << 20) for _ in range(10)]
    del blocks
cycle()
start = faults()
for _ in range(10):
    cycle()
print(faults() - start)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CYCLES, mode], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_freed_blocks_are_reused_without_page_faults():
    default, kept = _faults("default"), _faults("keep")
    pages = 10 * 10 * (4 << 20) // 4096   # pages touched by the ten measured cycles
    assert default > pages // 2     # glibc's own thresholds: the memory comes back faulting
    assert kept < pages // 100      # kept in the heap: reused as it is


def test_nothing_is_set_without_glibc(monkeypatch):
    import evaluation.cpu_shared_prefix.heap as heap

    monkeypatch.setattr(heap, "_glibc", lambda: None)
    heap.keep_freed_memory.cache_clear()
    try:
        assert heap.keep_freed_memory() is False
    finally:
        heap.keep_freed_memory.cache_clear()
