"""The INFO keys the engine writes. A re-annotated file's old values of them are dropped
(output.py) and their old header lines replaced (vcf.py). Standard library only: importing
it does not import pyarrow, which the engine loads off its start-up path."""

OUR_INFO_IDS = (
    "GENE",
    "GENE_TYPE",
    "REGION",
    "NEAREST",
    "RSID",
    "CPG",
    "REPEAT",
    "BLACKLIST",
    "VC",
    "TSTV",
    "CONSEQUENCE",
    "MOST_SEVERE",
    "KNOWN_SOURCE",
)
