"""gas: submit VCF files to GAS, wait for their annotation, download the results.

Exit codes: 0 done; 1 a job failed (or is not in a state for this: results in cold
storage, still running, already finished when cancelled); 6 a job was CANCELLED (`wait`,
`submit --wait`, `status`; 1 wins when another job FAILED); 2 usage (bad option, missing file, file refused, a file on
another assembly than --assembly); 3 auth (no
token, token invalid, expired, revoked, or lacking a scope); 4 not found; 5 server or
network; 130 interrupted (Ctrl-C: jobs keep running on the server).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from gas.cli import __version__, config
from gas.cli.client import ApiError, Client, fetch, send_file

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
EXIT_JOB_CANCELLED = 6  # not a failure of the job, and no results either: a pipeline stops
FINISHED = ("COMPLETED", "FAILED", "CANCELLED")
POLL_FIRST, POLL_MAX = 0.5, 5.0  # seconds between looks at one job, growing


def outcome_code(statuses: list[str]) -> int:
    """The exit code of finished jobs: any FAILED 1, else any CANCELLED 6, else 0."""
    if "FAILED" in statuses:
        return EXIT_JOB_FAILED
    return EXIT_JOB_CANCELLED if "CANCELLED" in statuses else EXIT_OK


def exit_code(error: ApiError) -> int:
    if error.slug == "assembly-mismatch":
        return EXIT_USAGE  # the file was refused as submitted: a choice for the user
    if error.status in (401, 403):
        return EXIT_AUTH
    if error.status == 404:
        return EXIT_NOT_FOUND
    if error.status == 409:
        return EXIT_JOB_FAILED
    if error.status in (400, 413, 422):
        return EXIT_USAGE
    return EXIT_SERVER


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"gas: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    try:
        yield
    except ApiError as error:
        hint = ""
        if error.status == 401:
            hint = " (run `gas login` with a new token)"
        elif error.slug == "assembly-mismatch":
            hint = " (use --assembly, or --confirm-assembly to annotate it as chosen anyway)"
        fail(f"{error}{hint}", exit_code(error))


def client() -> Client:
    cfg = config.load()
    if not cfg.url or not cfg.token:
        fail(f"not logged in: run `gas login` (or set {config.URL_VARIABLE} and {config.TOKEN_VARIABLE})", EXIT_AUTH)
    return Client(cfg.url, cfg.token)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def show(value: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """`value` as JSON (--json), else as `text` writes it for people."""
    click.echo(json.dumps(value, indent=2) if as_json else text(value))


def progress(length: int, label: str, show_pos: bool = False) -> Any:
    """A progress bar on stderr when it is a terminal; nothing in pipelines."""
    return click.progressbar(
        length=length, label=label, file=sys.stderr, hidden=not sys.stderr.isatty(), show_pos=show_pos
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")


def job_command(command: Callable[..., None]) -> click.Command:
    """A command on one job: its JOB_ID argument (first) and --json."""
    return cli.command()(click.argument("job_id")(json_option(command)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=__doc__.split("\n\n")[1])
@click.version_option(__version__, prog_name="gas")
def cli() -> None:
    """Annotate VCF files with GAS from the command line."""


# -- login -----------------------------------------------------------------------------------
@cli.command()
@click.option("--url", help="The GAS site, e.g. https://gas.example.org (default: the one stored).")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input instead of prompting.")
def login(url: str | None, token_stdin: bool) -> None:
    """Store a personal access token (Profile → API tokens) for this user."""
    url = (url or config.load().url or "").rstrip("/")
    if not url:
        url = click.prompt("GAS site URL").rstrip("/")
    if not url.startswith(("http://", "https://")):
        fail("--url must start with http:// or https://", EXIT_USAGE)
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt("Token", hide_input=True).strip()
    if not token:
        fail("no token given", EXIT_USAGE)
    with api_errors():
        me = Client(url, token).me()
    path = config.save(url, token)
    scopes = ", ".join(me["token"]["scopes"])
    click.echo(f"Logged in to {url} as {me['name'] or me['user_id']} ({scopes}; expires {me['token']['expires_at']}).")
    click.echo(f"Token stored in {path} (readable by you only).")


@cli.command()
def logout() -> None:
    """Forget the stored token (revoke it on the profile page to end it everywhere)."""
    click.echo("Token removed." if config.forget() else "No token was stored.")


@cli.command()
@json_option
def whoami(as_json: bool) -> None:
    """Show who the token speaks for and what it may do."""
    with api_errors():
        me = client().me()
    show(me, as_json, _whoami_text)


def _whoami_text(me: dict[str, Any]) -> str:
    token = me["token"]
    return (
        f"{me['name']} <{me['email']}> ({me['user_id']}), {me['tier']} account\n"
        f"token: {token['kind']}, scopes {', '.join(token['scopes'])}, expires {token['expires_at']}"
    )


# -- jobs --------------------------------------------------------------------------------------
def _line(job: dict[str, Any]) -> str:
    label = job["name"] or job["input_file_name"]
    return f"{job['job_id']}  {job['status']:<9}  {job['submitted_at'][:19].replace('T', ' ')}  {label}"


def _progress_line(job: dict[str, Any]) -> str | None:
    """A running job's progress in words (None before the annotator first reports)."""
    p = job.get("progress")
    if not p:
        return None
    text = f"{p['percent']}% of the file read, {p['records']:,} records written"
    eta = p["eta_seconds"]
    if eta is not None:
        text += ", under a minute left" if eta < 60 else f", about {round(eta / 60)} min left"
    return text


@cli.command()
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="Jobs per page.")
@click.option("--all", "every", is_flag=True, help="Every job, not only the newest page.")
@json_option
def jobs(limit: int, every: bool, as_json: bool) -> None:
    """List your jobs, newest first."""
    found: list[dict[str, Any]] = []
    with api_errors():
        api, cursor = client(), None
        while True:
            page = api.jobs(limit, cursor)
            found += page["jobs"]
            cursor = page["next_cursor"]
            if not every or not cursor:
                break
    if as_json:
        emit_json(found)
    else:
        for job in found:
            click.echo(_line(job))


_DETAILS = (
    "assembly",
    "database_kind",
    "database_sources",
    "input_size",
    "started_at",
    "completed_at",
    "cancelled_at",
    "storage",
    "error",
)


def _status_text(job: dict[str, Any]) -> str:
    lines = [_line(job), *(f"  {key}: {job[key]}" for key in _DETAILS if job.get(key))]
    if _progress_line(job):
        lines.append(f"  progress: {_progress_line(job)}")
    lines += [f"  {key}: {value}" for key, value in (job.get("summary") or {}).items()]
    return "\n".join(lines)


@job_command
def status(job_id: str, as_json: bool) -> None:
    """Show one job. Exits 1 if it FAILED, 6 if it was CANCELLED."""
    with api_errors():
        job = client().job(job_id)
    show(job, as_json, _status_text)
    sys.exit(outcome_code([job["status"]]))


@job_command
def log(job_id: str, as_json: bool) -> None:
    """Print a finished job's count log."""
    with api_errors():
        text = client().log(job_id)
    if as_json:
        emit_json(text)
    else:
        click.echo(text["text"], nl=False)


def _download(api: Client, job_id: str, directory: Path) -> Path:
    """The job's annotated VCF into `directory` (written whole, then renamed into place)."""
    link = api.result(job_id)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / link["file_name"]
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{link['file_name']}.")
    try:
        with os.fdopen(fd, "wb") as out:
            fetch(link["url"], out, lambda size: progress(size, f"downloading {link['file_name']}"))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is for the partial file only
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


@cli.command()
@click.argument("job_id")
@click.option("-o", "--output", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@json_option
def download(job_id: str, directory: Path, as_json: bool) -> None:
    """Download a job's annotated VCF (into -o DIR, default here)."""
    with api_errors():
        path = _download(client(), job_id, directory)
    if as_json:
        emit_json({"job_id": job_id, "path": str(path)})
    else:
        click.echo(str(path))


VARIANT_PAGE = 500  # the API's largest page


@cli.command()
@click.argument("job_id")
@click.option("--gene", multiple=True, help="A gene name (trailing * for a prefix). Repeatable.")
@click.option("--region", multiple=True, help="CDS, UTR, exon, intron, upstream, intergenic, ... Repeatable.")
@click.option("--class", "classes", multiple=True, help="SNV, MNV, INS, DEL, DELINS. Repeatable.")
@click.option(
    "--known", type=click.Choice(["known", "novel", "all"]), help="known: an rsID; novel: annotated, no rsID."
)
@click.option("--flag", multiple=True, help="CPG, REPEAT, BLACKLIST. Repeatable.")
@click.option("--consequence", multiple=True, help="Most severe consequence (SO term). Repeatable.")
@click.option("--chrom", help="A chromosome (1-22, X, Y, MT).")
@click.option("--start", type=int, help="First position (needs --chrom).")
@click.option("--end", type=int, help="Last position (needs --chrom).")
@click.option("--impact", multiple=True, help="IMPACT of the picked transcript consequence (bundles). Repeatable.")
@click.option("--phenotype", help="An HPO term (HP:0001250, with the terms below it) or an OMIM/Orphanet disease.")
@click.option("--disease-genes", is_flag=True, help="Only rows in a gene with an OMIM/Orphanet disease.")
@click.option("--sample", help="Rows where this sample of the file has the --genotype.")
@click.option(
    "--genotype",
    type=click.Choice(["carrier", "het", "hom_alt", "no_call"]),
    help="With --sample (default carrier: a copy of the row's ALT).",
)
@click.option(
    "--where",
    "conditions",
    multiple=True,
    help="A condition on any column, e.g. 'af<0.01', 'clnsig=Pathogenic', 'impact in HIGH,MODERATE'. Repeatable (AND).",
)
@click.option(
    "--sort",
    default="position",
    show_default=True,
    help="position, gene, consequence, or a numeric column: qual, af (ascending), -af (descending); nulls last.",
)
@click.option(
    "--filter",
    "saved",
    metavar="NAME",
    help="A saved filter (`gas filters`); the options above add to it (--where ANDed, others replace its value).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows (default: every match).")
@click.option("--tsv", "as_tsv", is_flag=True, help="Every column, tab-separated, with a header line.")
@json_option
def variants(
    job_id: str,
    gene: tuple[str, ...],
    region: tuple[str, ...],
    classes: tuple[str, ...],
    known: str | None,
    flag: tuple[str, ...],
    consequence: tuple[str, ...],
    chrom: str | None,
    start: int | None,
    end: int | None,
    impact: tuple[str, ...],
    phenotype: str | None,
    disease_genes: bool,
    sample: str | None,
    genotype: str | None,
    conditions: tuple[str, ...],
    sort: str,
    saved: str | None,
    limit: int | None,
    as_tsv: bool,
    as_json: bool,
) -> None:
    """Print a finished job's variants (one row per ALT), filtered as on its web table.

    Filters combine with AND, the values of one filter with OR. Exits 1 when the job has
    no table to read now (not finished, failed, results in cold storage)."""
    if as_tsv and as_json:
        fail("--tsv and --json exclude each other", EXIT_USAGE)
    if genotype and not sample:
        fail("--genotype needs --sample", EXIT_USAGE)
    params: dict[str, Any] = {
        "gene": list(gene) or None,
        "region": list(region) or None,
        "class": list(classes) or None,
        "known": known,
        "flag": list(flag) or None,
        "consequence": list(consequence) or None,
        "chrom": chrom,
        "start": start,
        "end": end,
        "impact": list(impact) or None,
        "phenotype": phenotype,
        "disease_genes": "1" if disease_genes else None,
        "sample": sample,
        "gt": genotype if sample else None,
        "where": list(conditions) or None,  # sent whole: the API splits an `in` list itself
        "sort": sort,
    }
    rows: list[dict[str, Any]] = []
    printed = 0
    with api_errors():
        api, cursor = client(), None
        if saved is not None:
            params = _with_saved_filter(params, _find_filter(api, saved)["query"])
        while True:
            size = VARIANT_PAGE if limit is None else min(VARIANT_PAGE, limit - printed)
            page = api.variants(job_id, {**params, "size": size, "cursor": cursor})
            batch = page["variants"][:size]
            if as_json:
                rows += batch
            else:
                _print_variants(
                    batch, header=printed == 0, every_column=as_tsv, sources=page.get("source_columns") or []
                )
            printed += len(batch)
            cursor = page["next_cursor"]
            if not cursor or (limit is not None and printed >= limit):
                break
    if as_json:
        emit_json({k: page[k] for k in ("job_id", "total", "matched", "filters")} | {"variants": rows})
    elif sys.stderr.isatty():
        click.echo(f"{printed} of {page['matched']} matching variants ({page['total']} in the job)", err=True)


def _filter_key(name: str) -> str:
    return " ".join(name.split()).casefold()  # as the server compares names (spaces collapsed, any case)


def _find_filter(api: Client, name: str) -> dict[str, Any]:
    for saved in api.filters():
        if _filter_key(saved["name"]) == _filter_key(name):
            return saved
    fail(f"no saved filter named '{name}' (`gas filters` lists them)", EXIT_NOT_FOUND)


def _with_saved_filter(params: dict[str, Any], query: str) -> dict[str, Any]:
    """The saved filter's arguments under the command line's: its where= conditions and
    the command line's are ANDed; any other parameter given on the command line replaces it."""
    out = dict(params)
    conditions: list[str] = []
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key == "where":
            conditions.append(value)
        elif out.get(key) is None:
            out[key] = value
    if conditions:
        out["where"] = conditions + list(params.get("where") or [])
    return out


SHORT_COLUMNS = ("chrom", "pos", "ref", "alt", "rsid", "genes", "region", "consequence")


def _print_variants(
    rows: list[dict[str, Any]], header: bool, every_column: bool, sources: list[dict[str, Any]]
) -> None:
    """Tab-separated lines: lists joined with ",", nulls empty; with every column, the
    sources' columns last, each headed SOURCE.column (as the web's exports)."""
    if not rows:
        return
    # the table's columns; `genotypes` (an object per sample the API was asked to show) is --json's
    skip = ("record", "genotypes", "sources")
    columns = [c for c in rows[0] if c not in skip] if every_column else list(SHORT_COLUMNS)
    extra = [s["column"] for s in sources] if every_column else []
    if header:
        click.echo("\t".join([*columns, *(f"{s['source']}.{s['column']}" for s in sources if every_column)]))
    for row in rows:
        cells = [*(row.get(c) for c in columns), *((row.get("sources") or {}).get(c) for c in extra)]
        click.echo("\t".join(",".join(v) if isinstance(v, list) else "" if v is None else str(v) for v in cells))


@cli.command()
@click.argument("job_id")
@click.option("--yes", is_flag=True, help="Do not ask.")
def delete(job_id: str, yes: bool) -> None:
    """Delete a job, its input and all its results (not while it runs)."""
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to delete without --yes when not on a terminal", EXIT_USAGE)
        if not click.confirm(f"Delete job {job_id} and all its results?"):
            click.echo("Not deleted.")
            return
    with api_errors():
        client().delete(job_id)
    click.echo(f"Deleted {job_id}.")


@job_command
@click.argument("name")
def rename(job_id: str, name: str, as_json: bool) -> None:
    """Rename a job (one line, at most 200 characters; "" removes the name)."""
    with api_errors():
        job = client().rename(job_id, name or None)
    show(job, as_json, _line)


@job_command
def cancel(job_id: str, as_json: bool) -> None:
    """Cancel a PENDING or RUNNING job: it stops within seconds and becomes CANCELLED
    (exit 1 if it had already finished)."""
    with api_errors():
        job = client().cancel(job_id)
    show(job, as_json, _line)


# -- saved filters (the web table's "Saved filters"; /api/v1/filters) -----------------------------
def _filter_line(saved: dict[str, Any]) -> str:
    return f"{saved['id']}\t{saved['name']}\t{saved['query']}"


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def filters(ctx: click.Context, as_json: bool) -> None:
    """List your saved filters (id, name, query), by name; `gas variants --filter NAME` applies one."""
    if ctx.invoked_subcommand is not None:
        return
    with api_errors():
        saved = client().filters()
    if as_json:
        emit_json(saved)
    else:
        for one in saved:
            click.echo(_filter_line(one))


@filters.command("save")
@click.argument("name")
@click.argument("query", required=False, default="")
@click.option("--where", "conditions", multiple=True, help="A condition, e.g. 'af<0.01'. Repeatable (AND).")
@json_option
def save_filter(name: str, query: str, conditions: tuple[str, ...], as_json: bool) -> None:
    """Save a filter as NAME: a query string as the table's address has it ('gene=TP53&region=CDS'),
    --where conditions, or both. A name already used (any case) is replaced; at most 50 filters."""
    whole = "&".join(
        part for part in (query.lstrip("?"), urllib.parse.urlencode([("where", c) for c in conditions])) if part
    )
    if not whole:
        fail("give a query string or --where conditions to save", EXIT_USAGE)
    with api_errors():
        saved = client().save_filter(name, whole)
    show(saved, as_json, _filter_line)


@filters.command("delete")
@click.argument("filter_id")
def delete_filter(filter_id: str) -> None:
    """Delete a saved filter by its id (`gas filters` lists them)."""
    with api_errors():
        client().delete_filter(filter_id)
    click.echo(f"Deleted filter {filter_id}.")


# -- submit and wait --------------------------------------------------------------------------
def _wait(api: Client, job_ids: list[str], timeout: float | None) -> dict[str, dict[str, Any]]:
    """Poll until every job has finished; their last states. Ctrl-C leaves them running.
    A running job's progress is shown in the bar's label on a terminal (one job), else as a line on
    stderr each time it changes (at most one per poll)."""
    done: dict[str, dict[str, Any]] = {}
    shown: dict[str, str] = {}
    interval = dict.fromkeys(job_ids, POLL_FIRST)
    status: dict[str, str] = {}  # each job's status at the last look
    due = dict.fromkeys(job_ids, 0.0)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with progress(len(job_ids), "waiting", show_pos=True) as bar:
            while len(done) < len(job_ids):
                now = time.monotonic()
                for job_id in job_ids:
                    if job_id in done or due[job_id] > now:
                        continue
                    job = api.job(job_id)
                    if job["status"] in FINISHED:
                        done[job_id] = job
                        bar.update(1)
                    else:
                        line = _progress_line(job)
                        moved = status.get(job_id, job["status"]) != job["status"] or (
                            bool(line) and shown.get(job_id) != line
                        )
                        if line and shown.get(job_id) != line:
                            shown[job_id] = line
                            if sys.stderr.isatty():
                                bar.label = f"waiting: {line}" if len(job_ids) == 1 else "waiting"
                                bar.render_progress()
                            else:
                                click.echo(f"gas: job {job_id}: {line}", err=True)
                        # Slower while nothing changes; a job that starts running or whose
                        # progress moves is looked at often again, so a short run still shows
                        # its progress moving (the server writes progress every few seconds).
                        if moved:
                            interval[job_id] = POLL_FIRST
                        else:
                            interval[job_id] = min(interval[job_id] * 1.5, POLL_MAX)
                        status[job_id] = job["status"]
                        due[job_id] = time.monotonic() + interval[job_id]
                if len(done) < len(job_ids):
                    if deadline is not None and time.monotonic() > deadline:
                        waiting = [j for j in job_ids if j not in done]
                        fail(f"timed out waiting for {' '.join(waiting)}", EXIT_SERVER)
                    time.sleep(max(0.05, min(due[j] for j in job_ids if j not in done) - time.monotonic()))
    except KeyboardInterrupt:
        waiting = [j for j in job_ids if j not in done]
        click.echo("", err=True)
        click.echo("Stopped waiting. The job(s) keep running on the server; follow them with:", err=True)
        click.echo(f"  gas wait {' '.join(waiting)}", err=True)
        click.echo(f"  gas status {waiting[0]}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    return done


def _report(jobs: list[dict[str, Any]], directory: Path | None, api: Client, as_json: bool) -> None:
    """After waiting: download what completed (with -o), print the outcome, exit 0 or 1."""
    results: list[dict[str, Any]] = []
    for job in jobs:
        entry = dict(job)
        if directory is not None and job["status"] == "COMPLETED":
            entry["path"] = str(_download(api, job["job_id"], directory))
        elif job["status"] == "FAILED":
            click.echo(f"gas: job {job['job_id']} ({job['input_file_name']}) FAILED: {job['error']}", err=True)
        elif job["status"] == "CANCELLED":
            click.echo(f"gas: job {job['job_id']} ({job['input_file_name']}) was CANCELLED", err=True)
        results.append(entry)
    if as_json:
        emit_json(results)
    else:
        for entry in results:
            click.echo(entry.get("path") or f"{entry['job_id']} {entry['status']}")
    sys.exit(outcome_code([j["status"] for j in jobs]))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assembly", default="GRCh37", show_default=True, help="Reference genome (the server lists them).")
@click.option(
    "--database",
    help="Annotation database: an assembly's name (genes only) or a bundle's (`gas databases` lists them); "
    "an unknown name is refused before anything is uploaded (exit 2).",
)
@click.option("--name", help="A label for the job(s).")
@click.option(
    "--confirm-assembly",
    is_flag=True,
    help="Annotate as --assembly even if a file looks like another assembly (otherwise refused, exit 2).",
)
@click.option("--wait", "wait_", is_flag=True, help="Wait until every job has finished.")
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Download the results into DIR (implies --wait).",
)
@click.option("--timeout", type=float, help="Give up waiting after this many seconds (exit 5).")
@json_option
def submit(
    files: tuple[Path, ...],
    assembly: str,
    database: str | None,
    name: str | None,
    confirm_assembly: bool,
    wait_: bool,
    directory: Path | None,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Submit VCF files; print one job id per line.

    Each file is uploaded straight to storage, then becomes a job. With --wait (or -o),
    exits 0 when every job COMPLETED, 1 if any FAILED, 6 if any was CANCELLED."""
    submitted: list[dict[str, Any]] = []
    with api_errors():
        api = client()
        if database:
            names = [d["name"] for d in api.databases()]
            if database not in names:
                fail(f"unknown database {database!r}; this server has: {', '.join(names)}", EXIT_USAGE)
        for path in files:
            size = path.stat().st_size
            upload = api.create_upload(path.name, size)
            with progress(size, f"uploading {path.name}") as bar:
                send_file(upload, str(path), size, bar.update)
            job = api.create_job(upload["upload_id"], name, assembly, confirm_assembly, database)
            submitted.append(job)
            if not (wait_ or directory) and not as_json:
                click.echo(job["job_id"])
        if not (wait_ or directory):
            if as_json:
                emit_json(submitted)
            return
        finished = _wait(api, [j["job_id"] for j in submitted], timeout)
        _report([finished[j["job_id"]] for j in submitted], directory, api, as_json)


@cli.command()
@json_option
def databases(as_json: bool) -> None:
    """List the annotation databases the server has (what `submit --database` takes)."""
    with api_errors():
        found = client().databases()
    if as_json:
        emit_json(found)
        return
    for database in found:
        click.echo(f"{database['name']}\t{database['label']}\t{database['sources']}")


@cli.command()
@click.argument("job_ids", nargs=-1, required=True)
@click.option(
    "-o", "--output", "directory", type=click.Path(file_okay=False, path_type=Path), help="Download into DIR."
)
@click.option("--timeout", type=float, help="Give up after this many seconds (exit 5).")
@json_option
def wait(job_ids: tuple[str, ...], directory: Path | None, timeout: float | None, as_json: bool) -> None:
    """Wait until jobs finish; exit 0 if all COMPLETED, 1 if any FAILED, 6 if any was CANCELLED."""
    with api_errors():
        api = client()
        finished = _wait(api, list(job_ids), timeout)
        _report([finished[j] for j in job_ids], directory, api, as_json)


def main(argv: list[str] | None = None) -> int:
    """The `gas` command: click's parsing, our exit codes (a usage error is 2, Ctrl-C 130)."""
    try:
        cli.main(args=argv, prog_name="gas", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE if isinstance(error, click.UsageError) else error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("\ninterrupted", err=True)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_USAGE)
    return EXIT_OK
