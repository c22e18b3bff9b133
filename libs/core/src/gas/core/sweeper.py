"""gas-sweep: announce again the jobs whose message was lost.

A PENDING job whose job.requested never reached the queue (the web app crashed, or SNS
refused, between the job's write and the publish) waits for nothing; so does a RUNNING
job whose message was dead-lettered after its workers kept dying (its lease ran out and
no delivery will come). The sweeper finds both in the sparse index of unfinished jobs
and publishes job.requested again: the annotator's lease decides who runs it, so an
extra announcement is harmless. Each job is announced again at most once per
`stale_seconds` (a conditional write), however many sweepers run.

Run once (the chart's CronJob) or every `--every` seconds (the local stack).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import structlog
from pydantic import Field

from gas.core.aws import Aws
from gas.core.config import CoreSettings, load_settings
from gas.core.events import JobRequested, Publisher
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.timeutil import utc_now

log = structlog.get_logger()


class SweeperSettings(CoreSettings):
    # A job unfinished this long after its last sign of life is announced again. Longer
    # than a normal queue wait, so a busy queue is not flooded with copies.
    stale_seconds: int = Field(900, ge=60)


def _iso(seconds_ago: float) -> str:
    moment = utc_now() - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Sweeper:
    def __init__(self, settings: SweeperSettings, aws: Aws):
        self.settings = settings
        self.jobs = JobStore(aws)
        self.events = Publisher(aws)

    def sweep(self) -> int:
        """One pass; returns how many jobs were announced again."""
        stale = self.settings.stale_seconds
        cutoff = _iso(stale)
        announced = 0
        for status in (JobStatus.PENDING, JobStatus.RUNNING):
            for job_id in self.jobs.active_before(status, cutoff):
                job = self.jobs.get(job_id)
                if job is None or job.status != status:
                    continue
                if status == JobStatus.RUNNING and (job.lease_expires_at or 0) > time.time() - stale:
                    continue  # its holder is alive, or died recently: its message comes back
                if not self.jobs.mark_requeued(job_id, status, cutoff):
                    continue
                self.events.publish(JobRequested(job.job_id, job.user_id))
                log.warning("sweeper.requeued", job_id=job.job_id, user_id=job.user_id, status=str(status))
                announced += 1
        (log.info if announced else log.debug)("sweeper.pass", requeued=announced)
        return announced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gas-sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=0, help="repeat every N seconds (default: once)")
    args = parser.parse_args(argv)
    settings = load_settings(SweeperSettings)
    configure_logging("sweeper", settings.log_level)
    sweeper = Sweeper(settings, Aws(settings))
    while True:
        sweeper.sweep()
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    raise SystemExit(main())
