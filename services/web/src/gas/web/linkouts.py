"""Link-outs from the variant table and detail to public databases, for the job's assembly.

Every URL is built here, from identifiers of the row (a gene symbol, an rsID, a position
and its alleles), each percent-encoded into a query or path segment; nothing is fetched
from these sites by the server (the browser follows the link in a new tab, with
rel="noopener noreferrer"). The URL patterns are the sites' documented ones:

- NCBI Gene: gene `/gene/?term=SYMBOL[sym] AND human[orgn]`
- Ensembl (grch37.ensembl.org on GRCh37): gene `/Homo_sapiens/Gene/Summary?g=SYMBOL`,
  rsID `/Homo_sapiens/Variation/Explore?v=rsID`, position `/Homo_sapiens/Location/View?r=C:S-E`
- OMIM: gene search `/search?index=entry&search=SYMBOL`
- dbSNP: rsID `/snp/rsID`
- gnomAD (dataset gnomad_r2_1 on GRCh37, gnomad_r4 on GRCh38): gene `/gene/SYMBOL`, rsID
  `/variant/rsID`, allele `/variant/C-P-REF-ALT`, each `?dataset=`
- ClinVar search: `/clinvar/?term=SYMBOL[gene]`, `?term=rsID`, `?term=C:P:REF:ALT(GRCh37)`
- UCSC (hg19 / hg38): `/cgi-bin/hgTracks?db=&position=SYMBOL` or `chrC:S-E`
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

ASSEMBLY_SITES = {
    "GRCh37": {"ucsc": "hg19", "gnomad": "gnomad_r2_1", "ensembl": "https://grch37.ensembl.org"},
    "GRCh38": {"ucsc": "hg38", "gnomad": "gnomad_r4", "ensembl": "https://www.ensembl.org"},
}
_RSID = re.compile(r"^rs[0-9]{1,12}$")
_ALLELE = re.compile(r"^[ACGTN]{1,50}$")  # longer or symbolic alleles get no allele-level link
UCSC_WINDOW = 25  # bases each side of a position in the UCSC view


@dataclass(frozen=True)
class Link:
    site: str  # shown to the user: "NCBI Gene", "gnomAD", ...
    url: str


def _sites(assembly: str) -> dict[str, str]:
    return ASSEMBLY_SITES.get(assembly, ASSEMBLY_SITES["GRCh37"])


def _bare(chrom: str) -> str:
    """'chr7' -> '7', 'chrM' / 'M' -> 'MT' (Ensembl's and gnomAD's spelling)."""
    bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
    return "MT" if bare.upper() in ("M", "MT") else bare


def gene_links(symbol: str, assembly: str) -> list[Link]:
    sites = _sites(assembly)
    s = quote(symbol, safe="")
    return [
        Link(
            "NCBI Gene", "https://www.ncbi.nlm.nih.gov/gene/?" + urlencode({"term": f"{symbol}[sym] AND human[orgn]"})
        ),
        Link("Ensembl", f"{sites['ensembl']}/Homo_sapiens/Gene/Summary?" + urlencode({"g": symbol})),
        Link("OMIM", "https://www.omim.org/search?" + urlencode({"index": "entry", "search": symbol})),
        Link("gnomAD", f"https://gnomad.broadinstitute.org/gene/{s}?" + urlencode({"dataset": sites["gnomad"]})),
        Link("ClinVar", "https://www.ncbi.nlm.nih.gov/clinvar/?" + urlencode({"term": f"{symbol}[gene]"})),
        Link(
            "UCSC", "https://genome.ucsc.edu/cgi-bin/hgTracks?" + urlencode({"db": sites["ucsc"], "position": symbol})
        ),
    ]


def rsid_links(rsid: str, assembly: str) -> list[Link]:
    """dbSNP and friends for an rsID; none for anything that is not one (`rs` and digits)."""
    if not _RSID.match(rsid):
        return []
    sites = _sites(assembly)
    return [
        Link("dbSNP", f"https://www.ncbi.nlm.nih.gov/snp/{rsid}"),
        Link("Ensembl", f"{sites['ensembl']}/Homo_sapiens/Variation/Explore?" + urlencode({"v": rsid})),
        Link("gnomAD", f"https://gnomad.broadinstitute.org/variant/{rsid}?" + urlencode({"dataset": sites["gnomad"]})),
        Link("ClinVar", "https://www.ncbi.nlm.nih.gov/clinvar/?" + urlencode({"term": rsid})),
    ]


def position_links(chrom: str, pos: int, ref: str, alt: str, assembly: str) -> list[Link]:
    """UCSC and Ensembl around the position; gnomAD and ClinVar for the allele when both
    alleles are plain bases (a symbolic ALT has no such page)."""
    sites = _sites(assembly)
    bare = _bare(chrom)
    ucsc_chrom = "chrM" if bare == "MT" else f"chr{bare}"
    lo, hi = max(1, pos - UCSC_WINDOW), pos + UCSC_WINDOW
    links = [
        Link(
            "UCSC",
            "https://genome.ucsc.edu/cgi-bin/hgTracks?"
            + urlencode({"db": sites["ucsc"], "position": f"{ucsc_chrom}:{lo}-{hi}"}),
        ),
        Link("Ensembl", f"{sites['ensembl']}/Homo_sapiens/Location/View?" + urlencode({"r": f"{bare}:{lo}-{hi}"})),
    ]
    if _ALLELE.match(ref) and _ALLELE.match(alt):
        variant = f"{bare}-{pos}-{ref}-{alt}"
        links.append(
            Link(
                "gnomAD",
                f"https://gnomad.broadinstitute.org/variant/{quote(variant, safe='')}?"
                + urlencode({"dataset": sites["gnomad"]}),
            )
        )
        links.append(
            Link(
                "ClinVar",
                "https://www.ncbi.nlm.nih.gov/clinvar/?"
                + urlencode(
                    {"term": f"{bare}:{pos}:{ref}:{alt}({assembly if assembly in ASSEMBLY_SITES else 'GRCh37'})"}
                ),
            )
        )
    return links


def row_links(row: Mapping[str, Any], assembly: str) -> dict[str, Any]:
    """Every link-out of a table row: per gene, for its rsID, for its position."""
    rsid = row.get("rsid") or ""
    return {
        "genes": {g: gene_links(g, assembly) for g in row.get("genes") or []},
        "rsid": rsid_links(rsid, assembly) if rsid else [],
        "position": position_links(row["chrom"], int(row["pos"]), row["ref"], row["alt"], assembly),
    }
