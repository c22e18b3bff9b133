"""gas-annotator: consumes the annotate queue and runs the annotation engine per job.

A delivery takes the job (PENDING -> RUNNING under a lease held by its SQS message, see
gas.core.job_record), fetches exactly the submitted upload into scratch, runs the engine
in a child process against the job's database (the genes-only one of its assembly, or the
bundle it names: every annotator serves every database deployed in its database
directory, see gas.core.databases; they are cached on its volume), stores the result set in S3,
finishes the job COMPLETED or FAILED and publishes job.completed. A message for a job the
user deleted is dropped.

The engine runs in a child process so that nothing a file does to it (memory, a crash) can
take the worker down with it, and so that a shutdown can stop it at once: on SIGTERM the
job is handed back (RUNNING -> PENDING, attempt not counted) and the message made visible
for another replica. A user's cancel (RUNNING -> CANCELLED, written by the web) is seen
by a poll of the job's status every `cancel_poll_seconds`: the engine child is killed,
scratch removed and the message deleted; nothing is published, so no email goes out.
"""

from __future__ import annotations

import multiprocessing
import re
import resource
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import structlog
from botocore.exceptions import ClientError
from prometheus_client import Counter, Histogram
from pydantic import Field

from gas.annotator.engine import EngineLimits, VcfFormatError, annotate_vcf, ensure_database
from gas.annotator.engine.allocator import tune_allocator
from gas.annotator.engine.database import load_bundle
from gas.annotator.engine.sources import load_sources
from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.databases import deployed, unknown_message
from gas.core.deletion_cost import worker_hooks
from gas.core.errors import Defer, HandBack, PermanentError, TransientError
from gas.core.events import JobCompleted, JobRequested, parse_event
from gas.core.job_record import Job, JobStatus
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.timeutil import parse_iso
from gas.core.users import Tier
from gas.core.worker import JobHandler, Message, QueueWorker

log = structlog.get_logger()

JOBS_FINISHED = Counter("gas_annotator_jobs_total", "Jobs finished, by status", ["status"])
VARIANTS_ANNOTATED = Counter("gas_annotator_variants_annotated_total", "Variants written annotated")
JOBS_HANDED_BACK = Counter("gas_annotator_jobs_handed_back_total", "Running jobs handed back on shutdown")
JOBS_CANCELLED = Counter("gas_annotator_jobs_cancelled_total", "Running jobs stopped because their user cancelled them")
JOB_SECONDS = Histogram(
    "gas_annotator_job_duration_seconds",
    "Wall time of one job: download, annotate, upload",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
# The job-latency SLO (docs/runbook.md): its threshold (metrics.prometheusRule.slo) must be
# one of these buckets, which the values schema enforces.
JOB_LATENCY = Histogram(
    "gas_annotator_job_latency_seconds",
    "From a job's submission to its final state (COMPLETED or FAILED)",
    buckets=(60, 120, 300, 600, 900, 1800, 3600, 7200, 21600),
)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
CONTENT_TYPES = {".json": "application/json", ".parquet": "application/vnd.apache.parquet"}
MIB = 1024 * 1024
Assembly = Literal["GRCh37", "GRCh38"]  # = gas.core.job_record.ASSEMBLIES


class AnnotatorSettings(WorkerSettings):
    scratch_dir: Path = Path("/tmp/gas-scratch")
    annotation_db_dir: Path = Path.home() / ".cache" / "gas" / "annotation-db"
    # GAS_ANNOTATION_SOURCES: the deployment's annotation sources (YAML/JSON, docs/annotation-
    # engine.md "Custom annotation sources"), checked at start and added to every job.
    annotation_sources: Path | None = None
    # The databases built (or verified) at start; a job's assembly picks one per job.
    assemblies: tuple[Assembly, ...] = ("GRCh37", "GRCh38")
    # Jobs whose engine run fails this often are marked FAILED instead of retried forever.
    max_attempts: int = Field(3, ge=1)
    # The engine child is stopped when its resident memory passes this (0 = no cap). Under
    # the pod's limit, so a file that needs more fails its own job, not the worker. (Not
    # an rlimit: the engine's allocators reserve far more address space than they use.)
    engine_memory_limit_mib: int = Field(768, ge=0)
    # How often a running job's status is read to see a user's cancel (one consistent
    # read of one attribute each time): a cancelled job frees its worker within this.
    cancel_poll_seconds: float = Field(1.0, gt=0)
    # How often, at most, a running job's progress is written to its record (one
    # conditional write each time) for the job page, the API and `gas status`.
    progress_seconds: float = Field(3.0, gt=0)
    # How much the annotated output may exceed the (decompressed) input, for the scratch
    # space check: the annotated VCF plus the Parquet table.
    scratch_output_factor: float = Field(3.0, ge=1.0)
    # The scratch volume's configured size (the chart passes the emptyDir's sizeLimit or
    # the ephemeral volume's size): the kubelet evicts a pod past its sizeLimit whatever
    # the node's disk has free, so the check counts against it. 0: the disk's free space.
    scratch_limit_bytes: int = Field(0, ge=0)
    # What one input may hold, by the user's tier: a line, and the whole file once
    # decompressed (a small .vcf.gz can inflate a thousandfold). Over either, the job
    # fails with the line number; the engine never buffers more than a line.
    free_max_line_bytes: int = Field(1 << 20, ge=1024)
    free_max_decompressed_bytes: int = Field(256 << 20, ge=1024)
    premium_max_line_bytes: int = Field(16 << 20, ge=1024)
    premium_max_decompressed_bytes: int = Field(8 << 30, ge=1024)

    def limits(self, tier: Tier) -> EngineLimits:
        if tier is Tier.PREMIUM:
            return EngineLimits(self.premium_max_line_bytes, self.premium_max_decompressed_bytes)
        return EngineLimits(self.free_max_line_bytes, self.free_max_decompressed_bytes)


# How much a .vcf.gz is assumed to inflate, for the scratch check (the chart's
# gas.scratchFits uses the same estimate to refuse a premium upload cap scratch cannot hold).
GZ_EXPANSION = 10


def scratch_needed(input_size: int, input_file_name: str, output_factor: float) -> int:
    """Bytes of scratch a job needs: the input, plus its decompressed size times the output factor."""
    expanded = input_size * (GZ_EXPANSION if input_file_name.endswith(".gz") else 1)
    return input_size + int(expanded * output_factor)


def _used_bytes(root: Path) -> int:
    """What the scratch volume already holds (a handed-back job's leftovers count too)."""
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            pass  # removed meanwhile
    return total


def local_name(input_file_name: str) -> str:
    """A scratch-safe file name that keeps the .vcf / .vcf.gz suffix the engine reads."""
    name = _SAFE_NAME.sub("_", Path(input_file_name).name).lstrip(".") or "input.vcf"
    return name


def record_summary(summary: dict[str, Any]) -> dict[str, int]:
    """The few counts the job page shows (name -> count); the full summary JSON stays in S3."""
    flat = {
        "variants": summary["variants"]["written"],
        "annotated by position only": summary["variants"]["position_only"],
        # Written with variant class and ts/tv only: contig not in the assembly, or POS past its end.
        "outside the assembly": summary["variants"]["outside_assembly"],
        "past a chromosome end": sum(summary.get("past_contig_end", {}).values()),
        "known alleles": summary["known"],
        "novel alleles": summary["novel"],
    }
    flat.update({f"region: {name}": n for name, n in summary["regions"].items() if n})
    flat.update({f"class: {name}": n for name, n in summary["variant_classes"].items() if n})
    return flat


# -- the engine child process ---------------------------------------------------------
@dataclass(frozen=True)
class EngineRun:
    input_path: Path
    out_dir: Path
    assembly: str
    db_dir: Path
    memory_limit_mib: int
    limits: EngineLimits
    # The user confirmed the assembly although the file looked like another one.
    allow_assembly_mismatch: bool = False
    sources: Path | None = None  # the annotation sources' declaration (checked at start)
    bundle: str | None = None  # the job's bundle; None: the genes-only database of `assembly`


@dataclass(frozen=True)
class EngineOutcome:
    # "interrupted": stopped for a hand-back (shutdown, lease lost), retried elsewhere;
    # "cancelled_by_user": stopped for good, the job is CANCELLED.
    kind: Literal["ok", "refused", "no_space", "no_memory", "crashed", "interrupted", "cancelled_by_user"]
    detail: str = ""
    files: dict[str, Path] | None = None
    summary: dict[str, Any] | None = None
    variants_written: int = 0


# How often the engine child sends its progress to the worker (the worker writes it to the
# job record less often, every progress_seconds).
CHILD_PROGRESS_SECONDS = 0.5


def _engine_child(conn: Connection, run: EngineRun) -> None:
    """Runs in the child: annotate, sending ("progress", records, bytes read) now and then,
    and finally one outcome tuple."""
    tune_allocator()  # the child is the engine's process; the worker's own keeps its settings
    last = 0.0

    def progress(records: int, bytes_read: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= CHILD_PROGRESS_SECONDS:
            last = now
            conn.send(("progress", records, bytes_read))

    try:
        db = load_bundle(run.bundle, run.db_dir) if run.bundle else ensure_database(run.assembly, run.db_dir)
        result = annotate_vcf(
            run.input_path,
            run.out_dir,
            db,
            limits=run.limits,
            allow_assembly_mismatch=run.allow_assembly_mismatch,
            sources=load_sources(run.sources) if run.sources else None,
            progress=progress,
        )
        files = {
            "result_key": result.annotated_vcf,
            "log_key": result.count_log,
            "summary_key": result.summary_json,
        }
        if result.variants_parquet is not None:
            files["variants_key"] = result.variants_parquet
        if result.genotypes_parquet is not None:
            files["genotypes_key"] = result.genotypes_parquet
        conn.send(("ok", "", files, result.summary, result.variants_written))
    except VcfFormatError as exc:
        conn.send(("refused", str(exc), None, None, 0))
    except MemoryError:
        conn.send(("no_memory", "", None, None, 0))
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            conn.send(("no_space", "", None, None, 0))
        else:
            raise
    finally:
        conn.close()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0  # gone already


def run_engine(
    run: EngineRun,
    stop: threading.Event,
    cancelled: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EngineOutcome:
    """Run the engine in a fresh child process; kill it if `stop` (a hand-back) or
    `cancelled` (the user's cancel) is set or its resident memory passes the run's limit.
    Both are checked every 0.1 s: killing the child stops the engine wherever it is.
    `progress(records, bytes read)` gets the child's progress reports as they come."""
    ctx = multiprocessing.get_context("forkserver")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_engine_child, args=(child, run), name="gas-engine", daemon=True)
    proc.start()
    child.close()
    try:
        while True:
            if parent.poll(0.1):
                try:
                    message = parent.recv()
                except EOFError:  # the child died while sending
                    break
                if message[0] == "progress":
                    if progress is not None:
                        progress(message[1], message[2])
                    continue
                kind, detail, files, summary, written = message
                return EngineOutcome(kind, detail, files, summary, written)
            if cancelled is not None and cancelled.is_set():
                proc.kill()
                return EngineOutcome("cancelled_by_user")
            if stop.is_set():
                proc.kill()
                return EngineOutcome("interrupted")
            if run.memory_limit_mib and proc.pid and _rss_bytes(proc.pid) > run.memory_limit_mib * MIB:
                proc.kill()
                return EngineOutcome("no_memory")
            if not proc.is_alive():
                break
        proc.join(5)
        return EngineOutcome("crashed", f"exit code {proc.exitcode}")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()


class _Watch:
    """Runs `check` every `every` seconds on a thread while the attempt runs; `fired` is set
    (and the watch ends) the first time it returns True. An AWS or network error is logged as
    `event` and the next round tries again."""

    def __init__(self, check: Callable[[], bool], every: float, name: str, event: str):
        self._check, self._every, self._event = check, every, event
        self._done = threading.Event()
        self.fired = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            try:
                if self._check():
                    self.fired.set()
                    return
            except (ClientError, OSError) as exc:
                log.warning(self._event, error=str(exc))


def _lease_keeper(jobs: JobStore, job_id: str, attempt: int, owner: str, seconds: float) -> _Watch:
    """Renews the job's lease while the attempt runs (the message's own visibility is kept by
    the worker loop's heartbeat); fires if another delivery took the job over."""
    return _Watch(
        lambda: not jobs.renew_lease(job_id, attempt, owner, seconds),
        seconds / 3,
        "job-lease",
        "annotator.lease_renew_failed",
    )


def _cancel_watch(jobs: JobStore, job_id: str, every: float) -> _Watch:
    """Fires once the user has cancelled the job (the lease renews far too rarely to carry
    that within seconds)."""
    return _Watch(lambda: jobs.is_cancelled(job_id), every, "job-cancel-watch", "annotator.cancel_watch_failed")


class _ProgressReporter:
    """Writes the engine's progress to the job record, at most every `every` seconds. A
    failed or fenced-off write is not retried: the next report carries newer figures."""

    def __init__(self, jobs: JobStore, job: Job, owner: str, every: float):
        self._report = lambda records, read: jobs.report_progress(job.job_id, job.attempt, owner, records, read)
        self._every = every
        self._last = time.monotonic()  # the first report after `every`: a short job writes none

    def __call__(self, records: int, bytes_read: int) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        try:
            self._report(records, bytes_read)
        except (ClientError, OSError) as exc:
            log.warning("annotator.progress_report_failed", error=str(exc))


class Annotator(JobHandler[AnnotatorSettings]):
    def __call__(self, message: Message) -> None:
        event = parse_event(message.body, JobRequested)
        structlog.contextvars.bind_contextvars(job_id=event.job_id, user_id=event.user_id)
        try:
            self.handle(event.job_id, event.user_id, message.message_id, message.cancel)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "user_id")

    def handle(self, job_id: str, user_id: str, owner: str, cancel: threading.Event | None = None) -> None:
        """Take the job for delivery `owner` (an SQS message id) and run one attempt."""
        job = self.jobs.get(job_id)
        if job is None or job.deleting:
            log.info("annotator.job_deleted")  # the user deleted it: nothing to annotate
            return
        if job.user_id != user_id:
            raise PermanentError(f"job {job_id} does not exist for this user")
        lease = float(self.settings.visibility_timeout)
        started = self.jobs.start(job_id, owner, lease)
        if started.gone:
            log.info("annotator.job_deleted")
            return
        if started.finished is not None:
            # Already finished: a redelivery. Publishing again repairs a crash between
            # the final write and the publish; the notifier sends one email per job.
            log.info("annotator.duplicate_delivery", status=str(started.finished.status))
            self._publish_completed(started.finished)
            return
        if started.attempt is None:
            if started.held_by == owner:
                # This very message came back while its lease still runs (its holder died
                # moments ago, or missed a visibility renewal): look again when it ends.
                raise Defer(started.lease_left + 1, "the job's lease has not expired yet")
            # Another delivery of the same job holds a live lease: this copy is surplus.
            # If that holder dies, its own message comes back and takes over.
            log.info("annotator.duplicate_while_running")
            return
        attempt = started.attempt
        job = job.replace(status=JobStatus.RUNNING, attempt=attempt)
        if attempt > self.settings.max_attempts:
            self._finish(job, JobStatus.FAILED, error="the annotation kept crashing; please contact support")
            return
        log.info("annotator.job_started", attempt=attempt, assembly=job.assembly, database=job.database_kind)
        scratch = self.settings.scratch_dir / f"{job_id}-{attempt}"
        began = time.monotonic()
        try:
            with (
                _lease_keeper(self.jobs, job_id, attempt, owner, lease) as keeper,
                _cancel_watch(self.jobs, job_id, self.settings.cancel_poll_seconds) as watch,
            ):
                finished = self._run(job, owner, scratch, _AnyEvent(cancel, keeper.fired), watch.fired)
            if not finished:
                if watch.fired.is_set() or self.jobs.is_cancelled(job_id):
                    # Cancelled while stopping for another reason (the renewal failed first):
                    # done all the same, nothing to hand back.
                    self._cancelled(job)
                    return
                if keeper.fired.is_set():
                    raise TransientError("another delivery took the job over")
                self._hand_back(job, owner)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            JOB_SECONDS.observe(time.monotonic() - began)

    def _cancelled(self, job: Job) -> None:
        JOBS_CANCELLED.inc()
        log.info("annotator.job_cancelled", attempt=job.attempt)

    def _hand_back(self, job: Job, owner: str) -> None:
        if self.jobs.release(job.job_id, job.attempt, owner):
            JOBS_HANDED_BACK.inc()
            log.info("annotator.handed_back", attempt=job.attempt)
        raise HandBack("shutting down")

    def _tier(self, job: Job) -> Tier:
        """The user's tier now (an upgrade since the submission counts)."""
        user = self.users.get(job.user_id)
        return user.tier if user is not None else Tier.FREE

    def _download_input(self, job: Job, path: Path) -> None:
        extra = {"IfMatch": job.input_etag} if job.input_etag else {}
        body = self.s3.get_object(Bucket=job.input_bucket, Key=job.input_key, **extra)["Body"]
        with open(path, "wb") as out:
            for chunk in body.iter_chunks(1 << 20):
                out.write(chunk)

    def _scratch_problem(self, job: Job) -> str | None:
        """Refuse before downloading when scratch cannot hold the input and its results."""
        need = scratch_needed(job.input_size, job.input_file_name, self.settings.scratch_output_factor)
        self.settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.settings.scratch_dir).free
        if self.settings.scratch_limit_bytes:
            free = min(free, max(0, self.settings.scratch_limit_bytes - _used_bytes(self.settings.scratch_dir)))
        if need <= free:
            return None
        return (
            f"the file is too large to annotate here: it needs about {need // MIB:,} MiB of working space "
            f"and {free // MIB:,} MiB is free; please contact support"
        )

    def _run(self, job: Job, owner: str, scratch: Path, stop: _AnyEvent, cancelled: threading.Event) -> bool:
        """One attempt; False when it was stopped before the job could finish (to be
        handed back), True when it finished or the user cancelled it."""
        problem = self._scratch_problem(job)
        if job.database and job.database not in {d.name for d in deployed(self.settings.annotation_db_dir)}:
            # Removed since the submission (the web refuses an unknown name before upload).
            problem = unknown_message(job.database, self.settings.annotation_db_dir)
        if problem:
            self._finish(job, JobStatus.FAILED, error=problem)
            return True
        (scratch / "out").mkdir(parents=True, exist_ok=True)
        input_path = scratch / local_name(job.input_file_name)
        try:
            self._download_input(job, input_path)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("404", "NoSuchKey"):
                self._finish(job, JobStatus.FAILED, error="the uploaded file is gone; please upload it again")
                return True
            if code in ("412", "PreconditionFailed"):
                error = "the uploaded file was replaced after the job was submitted; please start a new upload"
                self._finish(job, JobStatus.FAILED, error=error)
                return True
            raise
        if cancelled.is_set():
            self._cancelled(job)
            return True
        run = EngineRun(
            input_path=input_path,
            out_dir=scratch / "out",
            assembly=job.assembly,
            db_dir=self.settings.annotation_db_dir,
            memory_limit_mib=self.settings.engine_memory_limit_mib,
            limits=self.settings.limits(self._tier(job)),
            allow_assembly_mismatch=job.assembly_confirmed,
            sources=self.settings.annotation_sources,
            bundle=job.database,
        )
        outcome = run_engine(
            run, stop, cancelled, _ProgressReporter(self.jobs, job, owner, self.settings.progress_seconds)
        )
        bucket = self.aws.names.results_bucket
        if outcome.kind == "cancelled_by_user":
            self._cancelled(job)
            return True
        if outcome.kind == "interrupted":
            return False
        if outcome.kind == "crashed":
            # Counted as an attempt: after max_attempts the job fails as "kept crashing".
            # The lease ends now, so the retry need not wait for it to run out.
            self.jobs.renew_lease(job.job_id, job.attempt, owner, 0)
            raise TransientError(f"the engine process died ({outcome.detail})")
        if outcome.kind != "ok":
            error = {
                "refused": outcome.detail,
                "no_space": "the annotated results did not fit in the working space; please contact support",
                "no_memory": "the file needs more memory than the service allows per job; please contact support",
            }[outcome.kind]
            # Keep the user's explanation where the log page looks for it.
            log_key = job.results_prefix + "annotation.count.log"
            self.s3.put_object(Bucket=bucket, Key=log_key, Body=f"FAILED: {error}\n".encode(), ContentType="text/plain")
            self._finish(job, JobStatus.FAILED, error=error, result_bucket=bucket, log_key=log_key)
            return True
        assert outcome.files is not None and outcome.summary is not None
        if cancelled.is_set() or self.jobs.is_cancelled(job.job_id):
            self._cancelled(job)  # cancelled as the engine finished: nothing to upload
            return True
        keys: dict[str, str] = {}
        for field, path in outcome.files.items():
            keys[field] = job.results_prefix + path.name
            ctype = CONTENT_TYPES.get(path.suffix, "text/plain")
            self.s3.upload_file(str(path), bucket, keys[field], ExtraArgs={"ContentType": ctype})
        summary = record_summary(outcome.summary)
        database = outcome.summary.get("database", {})
        if self._finish(
            job,
            JobStatus.COMPLETED,
            result_bucket=bucket,
            summary=summary,
            database_version=database.get("version"),
            database_sources=database.get("sources"),
            **keys,
        ):
            VARIANTS_ANNOTATED.inc(outcome.variants_written)
        elif self.jobs.is_cancelled(job.job_id):
            # Cancelled while the results went up. The annotator may not delete results
            # (least privilege): they stay under the job's prefix, which deleting the
            # job removes whole.
            self._cancelled(job)
        return True

    def _finish(self, job: Job, status: JobStatus, **fields: Any) -> bool:
        finished = self.jobs.finish(job.job_id, job.attempt, status, **fields)
        if finished is None:
            log.warning("annotator.fenced_off", attempt=job.attempt)
            return False
        JOBS_FINISHED.labels(str(status)).inc()
        if finished.completed_at:
            JOB_LATENCY.observe((parse_iso(finished.completed_at) - parse_iso(finished.submitted_at)).total_seconds())
        log.info("annotator.job_finished", status=str(status), error=fields.get("error"))
        self._publish_completed(finished)
        return True

    def _publish_completed(self, job: Job) -> None:
        # A CANCELLED job has no completed_at: the user ended it, no one is told.
        if not job.finished or not job.completed_at:
            return
        self.events.publish(JobCompleted(job.job_id, job.user_id, str(job.status), job.completed_at))


class _AnyEvent(threading.Event):
    """Set when any of the given events is (polled by run_engine)."""

    def __init__(self, *events: threading.Event | None):
        super().__init__()
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return super().is_set() or any(e.is_set() for e in self._events)


def main() -> int:
    settings = load_settings(AnnotatorSettings)
    configure_logging("annotator", settings.log_level)
    hooks = worker_hooks(settings, "annotate")  # a half-configured pod stops here, before the databases
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    # Build (or fetch and verify) every genes-only database once here, and check every
    # bundle deployed in the directory (size against its manifest); each engine child maps
    # only its job's one. A bundle built into the directory later is served too: the
    # job's database is looked up in the directory per job.
    for assembly in settings.assemblies:
        ensure_database(assembly, settings.annotation_db_dir)
    # A missing, unindexed or stale source stops the pod here, naming it (SourceError), not each job.
    load_sources(settings.annotation_sources)
    for database in deployed(settings.annotation_db_dir):
        if database.kind == "bundle":
            load_bundle(database.name, settings.annotation_db_dir)
            log.info("annotator.bundle_ready", database=database.name)
    # The engine package imports lazily (so its assembly module needs no numpy): preload the
    # module that imports numpy and pyarrow, so each engine child starts with them loaded.
    multiprocessing.set_forkserver_preload(["gas.annotator.engine.annotate"])
    aws = Aws(settings)
    return QueueWorker("annotate", Annotator(settings, aws), settings, aws, hooks=hooks).run()


if __name__ == "__main__":
    raise SystemExit(main())
