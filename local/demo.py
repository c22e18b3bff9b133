"""`make demo` (`make run --demo`): demo users whose job lists show every state a job
can be in, reached through the real paths — the upload form and S3, the annotate queue
and the annotator, the retention clock and the archiver, the upgrade and the restore.
Nothing is written to a table directly.

One user cannot show them all at once, by design: an upgrade restores every archived
result, and a premium user's results are never archived. So:

- Demo Researcher (demo@example.org, premium): a completed job, a failed job with its
  reason, and a result being restored (archived while the account was free);
- Demo Free (demo-free@example.org, free): an archived result.

Sign in with the local sign-in under either name and email.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from siteclient import User, job_id_of

ENV = {
    # Free users' results go cold 10 s after their job ends (180 s otherwise), so the
    # archived result arrives within the seed.
    "GAS_RETENTION_SECONDS": "10",
    # A restore is checked every 15 min (60 s otherwise): the restoring job stays on screen.
    "GAS_RESTORE_CHECK_EXPEDITED_SECONDS": "900",
}
PREMIUM = ("Demo Researcher", "demo@example.org")
FREE = ("Demo Free", "demo-free@example.org")
# A VCF whose third line has a position that is not a number: the job fails and says why.
BROKEN_VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tabc\t.\tA\tG\t.\t.\t.\n"


def seed(url: str, samples: Path, say: Callable[..., None]) -> None:
    """Seed the demo users on the stack at `url`; `say(event, **fields)` reports progress.
    A failure is reported, never raised: the stack stays up either way."""
    try:
        _seed(url, samples, say)
    except Exception as exc:  # noqa: BLE001 - reported on the terminal, the stack runs on
        say("demo.failed", level="error", error=f"{type(exc).__name__}: {exc}")


def _seed(url: str, samples: Path, say: Callable[..., None]) -> None:
    researcher = User(url, *PREMIUM).sign_in()
    free = User(url, *FREE).sign_in()
    small = (samples / "test.vcf").read_bytes()
    say("demo.seeding", users=[PREMIUM[1], FREE[1]], note="about 30 s: jobs run, results age, one is restored")
    # Both users are free now: these two results go cold once retention has passed.
    to_restore = job_id_of(researcher.submit("free_1.vcf", (samples / "free_1.vcf").read_bytes()))
    archived = job_id_of(free.submit("test.vcf", small))
    failed = job_id_of(researcher.submit("broken.vcf", BROKEN_VCF))
    jobs: dict[str, Any] = {}
    for user, job_id in ((researcher, to_restore), (free, archived), (researcher, failed)):
        jobs[job_id] = user.wait_finished(job_id, timeout=300)
    assert jobs[failed]["status"] == "FAILED", jobs[failed]
    researcher.wait_storage(to_restore, "ARCHIVED", timeout=120)
    free.wait_storage(archived, "ARCHIVED", timeout=120)
    researcher.upgrade()
    researcher.wait_storage(to_restore, "RESTORING", timeout=60)
    # Premium now: this result stays hot.
    completed = job_id_of(researcher.submit("test.vcf", small))
    assert researcher.wait_finished(completed)["status"] == "COMPLETED"
    say(
        "demo.ready",
        sign_in=f"{PREMIUM[0]} <{PREMIUM[1]}>: completed, failed, restoring; {FREE[0]} <{FREE[1]}>: archived",
        failed_reason=jobs[failed].get("error"),
    )
