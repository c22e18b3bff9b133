"""The allocator settings (engine/allocator.py: pyarrow on the system allocator, glibc's malloc
keeping freed memory) are the whole process's, so only the engine's own processes make them:
``gas-annotate`` and the annotator's engine child; a process that calls ``annotate_vcf`` as a
library, or imports the engine (as the annotator's worker and its forkserver do), keeps its own.
Each case runs in a fresh interpreter: the settings cannot be undone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from engine_support import HEADER

CASES = {
    "a library call of annotate_vcf": """
        from gas.annotator.engine import annotate_vcf, ensure_database
        annotate_vcf(VCF, OUT, ensure_database("GRCh37", DB))
    """,
    "gas-annotate": """
        from gas.annotator.engine import cli
        assert cli.main([str(VCF), "-o", str(OUT), "--db-dir", str(DB)]) == 0
    """,
    "the annotator's engine child": """
        import multiprocessing
        from gas.annotator.engine import EngineLimits
        from gas.annotator.worker import EngineRun, _engine_child
        receive, send = multiprocessing.Pipe(duplex=False)
        _engine_child(send, EngineRun(VCF, OUT, "GRCh37", DB, 0, EngineLimits()))
        while (message := receive.recv())[0] == "progress":  # ("progress", records, bytes) first
            pass
        assert message[0] == "ok"
    """,
}
TUNED = {"a library call of annotate_vcf": False, "gas-annotate": True, "the annotator's engine child": True}


@pytest.mark.parametrize("case", CASES)
def test_only_the_engines_own_processes_tune_the_allocator(case, tmp_path, db_dir, db):
    vcf = tmp_path / "small.vcf"
    vcf.write_text(HEADER + "1\t69511\t.\tA\tG\t50\tPASS\t.\n")
    out = tmp_path / "out"
    arenas = tmp_path / "arenas.xml"
    # glibc's arenas (malloc_info's <heap>s) before and after the case: tuned, the engine's
    # threads make none of their own (the main arena keeps the memory they free)
    script = textwrap.dedent(
        f"""
        import ctypes, json, pyarrow as pa
        from pathlib import Path
        VCF, OUT, DB = Path({str(vcf)!r}), Path({str(out)!r}), Path({str(db_dir)!r})
        def arenas():
            libc = ctypes.CDLL("libc.so.6")
            libc.fopen.restype, libc.malloc_info.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_void_p]
            libc.fclose.argtypes = [ctypes.c_void_p]
            f = libc.fopen({str(arenas).encode()!r}, b"w")
            libc.malloc_info(0, f)
            libc.fclose(f)
            return Path({str(arenas)!r}).read_text().count("<heap nr=")
        before, arenas_before = pa.default_memory_pool().backend_name, arenas()
        """
    )
    script += textwrap.dedent(CASES[case])
    script += "print(json.dumps([before, pa.default_memory_pool().backend_name, arenas() - arenas_before]))\n"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, after, new_arenas = json.loads(proc.stdout.splitlines()[-1])
    assert before != "system"  # pyarrow's own default (mimalloc or jemalloc)
    assert after == ("system" if TUNED[case] else before)
    assert (new_arenas == 0) == TUNED[case], new_arenas
    assert (out / "small.annot.vcf").is_file()


def test_the_annotators_worker_process_does_not_load_pyarrow():
    """The worker only starts engine children, which load pyarrow: importing it (the allocator
    module included) and the CLI's module leaves pyarrow out of the process until it runs."""
    code = "import sys, gas.annotator.worker, gas.annotator.engine.cli; print('pyarrow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_gas_annotate_starts_no_blas_threads_and_no_filesystem_layer(tmp_path, db_dir, db):
    """Start-up CPU that a job does not need (decision 122): OpenBLAS's threads (the engine
    calls no BLAS routine; they spun ~40 ms at every start) and pyarrow.parquet's filesystem
    layer (pyarrow.fs and ssl, ~25 ms; the table writer is pyarrow._parquet's). Importing the
    CLI loads numpy (not pyarrow): the process is still one thread; a run that writes the
    table never imports pyarrow.fs."""
    vcf = tmp_path / "small.vcf"
    vcf.write_text(HEADER + "1\t69511\t.\tA\tG\t50\tPASS\t.\n")
    out = tmp_path / "out"
    script = textwrap.dedent(
        f"""
        import json, os, sys
        from gas.annotator.engine import cli
        threads = len(os.listdir("/proc/self/task"))
        assert "numpy" in sys.modules
        assert cli.main([{str(vcf)!r}, "-o", {str(out)!r}, "--db-dir", {str(db_dir)!r}]) == 0
        print(json.dumps([threads, "pyarrow.fs" in sys.modules]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == [1, False]
    assert (out / "small.variants.parquet").is_file()
