"""The engine process's allocator settings.

They are the whole process's (pyarrow's default memory pool, glibc's malloc), so only the
engine's own processes make them, at their start: ``gas-annotate`` (engine/cli.py) and the
annotator's engine child (gas.annotator.worker). ``annotate_vcf`` leaves them alone, so a
process that calls it as a library (a test, a tool) keeps its own.
"""

from __future__ import annotations

import ctypes


def tune_allocator() -> None:
    """Memory settings of the engine's process, made once before its first block.

    pyarrow's default allocator (mimalloc) keeps freed blocks per thread; the engine frees
    the same few MB every block, so glibc's malloc reuses them at least as well and the peak
    memory is ~40 MB lower. glibc, though, hands free memory above 128 KiB back to the kernel
    (trimming each thread's heap, or unmapping), so every block's arrays came back as fresh
    zeroed pages: 913k page faults and 5.2 s of system CPU over 10M records. Keeping up to
    ``_KEEP_FREED`` for reuse (and serving arrays below 32 MiB from the heap) leaves 70k
    faults and 2.9 s; the peak is unchanged, as the freed memory is what the next block
    needs (bench/annotate_vs_bcftools.py, docs/annotation-engine.md). One arena (decision
    133): a block's threads each had their own, whose heaps (64 MiB at most, larger arrays
    mmapped) glibc unmaps when empty whatever the trim threshold, so a bundle job's ~11 MB
    buffers came back as fresh pages; the main arena keeps them (1M: 47-174k faults -> 36-73k)."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:  # first: an arena made by a thread before the limit stays (pyarrow's import starts threads)
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: its allocator keeps its own policy
        mallopt = None
    if mallopt is not None:
        mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED)
        mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest; also stops its adjusting it
        mallopt(_M_ARENA_MAX, 1)
    import pyarrow as pa  # here: the annotator's worker imports this module, and needs no pyarrow

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


_TUNED = False
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # <malloc.h>
_KEEP_FREED = 512 << 20
