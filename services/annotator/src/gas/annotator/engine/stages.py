"""The run order of one block of VCF data lines: every stage, in the order it runs.

On numpy arrays over the block's bytes (``block.BlockAnnotator`` and ``alleles.py``):

1. ``split_lines``: line and column boundaries, CHROM keys, POS (compiled); checks (columns, binary);
2. ``parse_records``: CHROM -> contig, POS, REF, ALT checked; the global coordinate;
3. ``alleles.split_alleles``: one row per ALT: class (VC), ts/tv, known variant (RSID), minimal form;
4. ``genes_and_regions``: GENE, GENE_TYPE, REGION over the REF span (one lookup per record);
5. ``flags`` and ``nearest``: CPG/REPEAT/BLACKLIST, nearest gene for intergenic records;
6. ``consequences``: SO terms per (ALT, gene) from the context painting;
7. ``output.vcf_lines`` and ``output.variants_batch``: the lines (INFO column) and, when
   asked, the Parquet rows;
8. ``count``: the block's share of the summary;

then, on the written lines, the transcript consequences of a bundle (``effects.CsqStage``:
CSQ and PICK_*, and the table's bundle columns) and the annotation sources
(``sources.SourcesStage``).

Importing this module imports pyarrow (``output.py``): ``annotate.py`` builds the stages on a
thread of their own, off the process's start-up path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gas.annotator.engine.alleles import split_alleles
from gas.annotator.engine.block import Annotated, BlockAnnotator, BlockResult, BlockStats
from gas.annotator.engine.database import AnnotationDatabase
from gas.annotator.engine.output import OutputTables, variants_batch, vcf_lines
from gas.annotator.engine.sources import Sources, SourcesStage, with_sources
from gas.core.vocab import REGIONS

if TYPE_CHECKING:
    from gas.annotator.engine.effects import BlockEffects, CsqStage


class BlockStages:
    """Everything that does not change between blocks (the tables of each stage), and ``run``."""

    def __init__(
        self,
        db: AnnotationDatabase,
        sources: Sources,
        strip_ours: bool = False,
        with_table: bool = False,
        samples: int = 0,
        input_meta: tuple[str, ...] = (),
    ):
        self.genes = BlockAnnotator(db, strip_ours=strip_ours, with_table=with_table, samples=samples)
        self.out = OutputTables(self.genes)
        self.csq: CsqStage | None = None
        self.with_effects: Callable[[Any, BlockEffects], Any] | None = None
        if db.has_transcripts:  # effects.py is imported for bundles only: not on a genes-only start
            from gas.annotator.engine.effects import CSQ_HEADER, CsqStage, with_effects

            # The input's CSQ is GAS's own (re-annotation): dropped, not renamed.
            self.csq = CsqStage(db, ours=CSQ_HEADER in input_meta, table=with_table)
            self.with_effects = with_effects
        self.sources = sources
        self.source_stage = SourcesStage(sources, table=with_table) if sources.sources else None
        self.sample_spec: Any = None  # genotypes.SampleSpec: set by the file runner when it writes genotypes

    def run(self, block: bytes, first_line: int) -> BlockResult:
        """Annotate whole data lines; ``first_line`` is the file line number of the first."""
        result = self.gene_level(block, first_line)
        if self.csq is not None and self.with_effects is not None:
            # result.vcf as it is (a numpy array): a bytes() of it would copy the block's text
            fx = self.csq.annotate(result.vcf, first_line)
            result.vcf, result.effects = fx.text, fx
            result.table = self.with_effects(result.table, fx)
        if self.source_stage is not None:
            text, columns = self.source_stage.annotate(result.vcf)
            result.vcf = text
            result.table = with_sources(result.table, columns, self.sources)
        if self.sample_spec is not None and result.table is not None:
            from gas.annotator.engine.genotypes import genotype_block

            # last: one row per table row, so after every stage that shapes the table
            result.genotypes = genotype_block(result.vcf, result.table, self.sample_spec)
        return result

    def gene_level(self, block: bytes, first_line: int) -> BlockResult:
        """Stages 1 to 8."""
        ann = self.genes
        stats = BlockStats(len(REGIONS), len(ann.gene_sets), ann.n_contigs)
        lines = ann.split_lines(block, first_line)
        stats.blank = lines.blank
        if lines.start.size == 0:
            return BlockResult(b"", 0, stats)
        rec = ann.parse_records(lines)
        alleles = split_alleles(lines, rec, ann.known_variants)
        ctx, gene_set, multi_sets, region = ann.genes_and_regions(rec)
        flags = ann.flags(rec)
        nearest_gene, nearest_distance = ann.nearest(rec, region)
        found = Annotated(
            lines, rec, alleles, ctx, gene_set, multi_sets, region, flags, nearest_gene, nearest_distance,
            ann.consequences(rec, alleles),
        )  # fmt: skip
        text, ids = vcf_lines(self.out, found, ann.strip_ours)
        table = variants_batch(self.out, found, ids) if ann.with_table else None
        ann.count(stats, found)
        return BlockResult(text, int(lines.start.size), stats, table)
