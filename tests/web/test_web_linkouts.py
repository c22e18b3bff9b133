"""Link-outs (gas.web.linkouts): every URL parsed back for both assemblies, its host and
path the site's documented ones, the identifier escaped and recovered intact."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from gas.web.linkouts import gene_links, position_links, row_links, rsid_links

ASSEMBLY = {  # UCSC database, gnomAD dataset, Ensembl host
    "GRCh37": ("hg19", "gnomad_r2_1", "grch37.ensembl.org"),
    "GRCh38": ("hg38", "gnomad_r4", "www.ensembl.org"),
}


def _parts(url: str) -> tuple[str, str, dict[str, str]]:
    u = urlsplit(url)
    assert u.scheme == "https" and not u.fragment and u.netloc
    query = {k: v[0] for k, v in parse_qs(u.query, strict_parsing=False).items()}
    return u.netloc, u.path, query


@pytest.mark.parametrize("assembly", ["GRCh37", "GRCh38"])
def test_gene_links_are_well_formed(assembly):
    ucsc, gnomad, ensembl = ASSEMBLY[assembly]
    symbol = "HLA-A&B/C?x"  # not a real symbol: everything that could break a URL
    links = {link.site: _parts(link.url) for link in gene_links(symbol, assembly)}
    assert set(links) == {"NCBI Gene", "Ensembl", "OMIM", "gnomAD", "ClinVar", "UCSC"}
    assert links["NCBI Gene"] == ("www.ncbi.nlm.nih.gov", "/gene/", {"term": f"{symbol}[sym] AND human[orgn]"})
    assert links["Ensembl"] == (ensembl, "/Homo_sapiens/Gene/Summary", {"g": symbol})
    assert links["OMIM"] == ("www.omim.org", "/search", {"index": "entry", "search": symbol})
    host, path, query = links["gnomAD"]
    assert host == "gnomad.broadinstitute.org" and query == {"dataset": gnomad}
    assert path.startswith("/gene/") and unquote(path.removeprefix("/gene/")) == symbol and path.count("/") == 2
    assert links["ClinVar"] == ("www.ncbi.nlm.nih.gov", "/clinvar/", {"term": f"{symbol}[gene]"})
    assert links["UCSC"] == ("genome.ucsc.edu", "/cgi-bin/hgTracks", {"db": ucsc, "position": symbol})


@pytest.mark.parametrize("assembly", ["GRCh37", "GRCh38"])
def test_rsid_links_are_well_formed_and_only_for_rsids(assembly):
    _, gnomad, ensembl = ASSEMBLY[assembly]
    links = {link.site: _parts(link.url) for link in rsid_links("rs121913529", assembly)}
    assert links == {
        "dbSNP": ("www.ncbi.nlm.nih.gov", "/snp/rs121913529", {}),
        "Ensembl": (ensembl, "/Homo_sapiens/Variation/Explore", {"v": "rs121913529"}),
        "gnomAD": ("gnomad.broadinstitute.org", "/variant/rs121913529", {"dataset": gnomad}),
        "ClinVar": ("www.ncbi.nlm.nih.gov", "/clinvar/", {"term": "rs121913529"}),
    }
    for not_rsid in ("rs", "rs12a", "COSM476", "rs1/../x", "rs1;rs2"):
        assert rsid_links(not_rsid, assembly) == []


@pytest.mark.parametrize("assembly", ["GRCh37", "GRCh38"])
@pytest.mark.parametrize(
    ("chrom", "bare", "ucsc_chrom"), [("chr17", "17", "chr17"), ("X", "X", "chrX"), ("chrM", "MT", "chrM")]
)
def test_position_links_are_well_formed(assembly, chrom, bare, ucsc_chrom):
    ucsc, gnomad, ensembl = ASSEMBLY[assembly]
    links = {link.site: _parts(link.url) for link in position_links(chrom, 7_577_120, "G", "GA", assembly)}
    assert links["UCSC"] == (
        "genome.ucsc.edu",
        "/cgi-bin/hgTracks",
        {"db": ucsc, "position": f"{ucsc_chrom}:7577095-7577145"},
    )
    assert links["Ensembl"] == (ensembl, "/Homo_sapiens/Location/View", {"r": f"{bare}:7577095-7577145"})
    assert links["gnomAD"] == ("gnomad.broadinstitute.org", f"/variant/{bare}-7577120-G-GA", {"dataset": gnomad})
    assert links["ClinVar"] == ("www.ncbi.nlm.nih.gov", "/clinvar/", {"term": f"{bare}:7577120:G:GA({assembly})"})
    # A symbolic or huge allele has no allele page: only the region links.
    assert [link.site for link in position_links(chrom, 5, "A", "<DEL>", assembly)] == ["UCSC", "Ensembl"]
    assert _parts(position_links(chrom, 5, "A", "T", assembly)[0].url)[2]["position"] == f"{ucsc_chrom}:1-30"


def test_row_links_cover_every_gene_the_rsid_and_the_position():
    row = {"chrom": "1", "pos": 100, "ref": "A", "alt": "T", "rsid": "rs5", "genes": ["TP53", "BRCA1"]}
    links = row_links(row, "GRCh38")
    assert list(links["genes"]) == ["TP53", "BRCA1"] and all(len(v) == 6 for v in links["genes"].values())
    assert [link.site for link in links["rsid"]] == ["dbSNP", "Ensembl", "gnomAD", "ClinVar"]
    assert [link.site for link in links["position"]] == ["UCSC", "Ensembl", "gnomAD", "ClinVar"]
    assert row_links({**row, "rsid": None, "genes": []}, "GRCh37")["rsid"] == []
