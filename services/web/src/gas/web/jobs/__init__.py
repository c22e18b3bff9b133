"""A user's jobs, one blueprint `jobs` (gas.web.jobs.blueprint) whose routes live in:

- `submit`: `/annotate` (the upload form), `/annotations/new` (job creation from the S3
  redirect, the assembly question);
- `pages`: `/annotations` (the list), `/annotations/<id>` with its `/log` and `/download`,
  `/api/annotations/<id>` (the job page's status poll);
- `results`: `/annotations/<id>/variants` (the table), `/variants/<record>`,
  `/variants.tsv` / `.csv` / `.vcf`;
- `manage`: `/annotations/<id>/delete`, `/rename`, `/cancel`, `/input`, `/rerun`;
- `phenotypes`: `/annotations/<id>/phenotypes?q=` (the phenotype filter's autocomplete);
- `charts`: `/annotations/<id>/charts/<key>` (every term of a chart, behind its "other" bar).

What they and the REST API share is `common`'s; a view module imports no other view module.
Templates: `templates/jobs/`.
"""

from gas.web.jobs import charts, manage, pages, phenotypes, results, submit
from gas.web.jobs.blueprint import bp

__all__ = ["bp", "charts", "manage", "pages", "phenotypes", "results", "submit"]
