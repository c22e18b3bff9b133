"""The compiled kernels (engine/native.c) against slow, obvious Python written here.

``split_lines`` cuts a block into lines and columns and parses CHROM keys and POS;
``gather_columns`` copies every output line's pieces; ``lookup`` is np.searchsorted started
from the previous answer. They are checked on random inputs made of awkward parts (CRLF,
blank lines, missing columns, long fields, odd POS; keys out of order, repeated values), and
on the bounds check that keeps the C code inside its sources whatever the arrays hold.
"""

from __future__ import annotations

import ctypes
import gzip
import random
import re
from collections.abc import Iterator

import numpy as np
import pytest
from engine_support import changes_batch, minimal_change, vep_allele

from gas.annotator.engine import textops
from gas.annotator.engine.textops import (
    Indexed,
    first_occurrences,
    format_uint,
    gather,
    gather_columns,
    key_of,
    lookup,
    split_lines,
)


def _reference_lines(block: bytes) -> list[tuple[int, int, int, list[int], int, int] | tuple[str, int, int]]:
    """(start, end, line number, bounds, chrom key, pos) of each data line; stops at a line with
    fewer than 8 columns with ('short', line number, tabs)."""
    out: list = []
    at = 0
    for number, raw in enumerate(block.split(b"\n")[:-1]):
        start = at
        at += len(raw) + 1
        text = raw[:-1] if raw.endswith(b"\r") else raw
        if not text:
            continue
        tabs = [start + i for i, ch in enumerate(text) if ch == 9]
        if len(tabs) < 7:
            out.append(("short", number, len(tabs)))
            break
        bounds = [start - 1, *tabs[:7], tabs[7] if len(tabs) > 7 else start + len(text)]
        chrom = text[: tabs[0] - start]
        key = key_of(chrom.decode("latin-1")) if 1 <= len(chrom) <= 8 else 0
        pos_text = text[tabs[0] - start + 1 : tabs[1] - start]
        pos = int(pos_text) if 1 <= len(pos_text) <= 10 and pos_text.isdigit() else -1
        out.append((start, start + len(text), number, bounds, key, pos))
    return out


def _random_line(rng: random.Random) -> bytes:
    chrom = rng.choice([b"1", b"chr22", b"GL000192.1", b"MT", b"", b"chrUn_gl000220"])
    pos = rng.choice([b"1", b"123456", b"4294967296", b"99999999999", b"12a", b"", b"0", b"0001"])
    cols = [chrom, pos, b".", b"A", b"C,G", b"50", b"PASS", rng.choice([b".", b"DP=3", b"X" * 40])]
    cols += rng.choice([[], [b"GT"], [b"GT:DP", b"0/1:3", b"1/1:" + b"9" * 300]])
    line = b"\t".join(cols[: rng.choice([8, 8, 8, 9, 11, 7, 3])])
    return rng.choice([b"", b"\r", b"\t"]) * (rng.random() < 0.05) + line + rng.choice([b"\n", b"\n", b"\r\n"])


@pytest.mark.parametrize("seed", range(40))
def test_split_lines_matches_a_line_by_line_reading(seed):
    rng = random.Random(seed)
    block = b"".join(_random_line(rng) if rng.random() > 0.05 else b"\n" for _ in range(rng.randint(1, 60)))
    split = split_lines(np.frombuffer(block, dtype=np.uint8))
    want = _reference_lines(block)
    short = [w for w in want if w[0] == "short"]
    data = [w for w in want if w[0] != "short"]
    if short:
        assert (split.short_line, split.short_tabs) == short[0][1:]
    else:
        assert split.short_line == -1
        assert split.blank == sum(1 for raw in block.split(b"\n")[:-1] if raw in (b"", b"\r"))
    assert split.nul_at == -1 and not split.high
    n = len(data)
    assert split.start[:n].tolist() == [d[0] for d in data]
    assert split.end[:n].tolist() == [d[1] for d in data]
    assert split.index[:n].tolist() == [d[2] for d in data]
    assert split.bound[:, :n].T.tolist() == [d[3] for d in data]
    assert split.chrom_key[:n].tolist() == [d[4] for d in data]
    assert split.pos[:n].tolist() == [d[5] for d in data]


# The CSQ stage's INFO check as a regular expression: the lines where a match starts.
_ODD_INFO = re.compile(rb"CSQ|PICK_|;;|;\.(?=[;\t\r\n])|\t\.;|\t;|;[\t\r\n]")


@pytest.mark.parametrize("seed", range(20))
def test_odd_info_finds_the_lines_the_pattern_matches(seed):
    """gas_odd_info flags a line exactly when the regular expression matches in it, on lines
    made of the patterns' pieces (parts of them, at a line's ends, at the block's end)."""
    rng = random.Random(seed)
    parts = [b"CSQ", b"CS", b"SQ", b"PICK_", b"PICK", b";", b".", b"\t", b"\r", b"=", b"A", b"C", b"P", b"K_"]
    lines = [b"".join(rng.choice(parts) for _ in range(rng.randint(0, 12))) + b"\n" for _ in range(rng.randint(1, 80))]
    block = b"".join(lines)
    starts = np.cumsum([0] + [len(x) for x in lines[:-1]])
    want = sorted({int(np.searchsorted(starts, m.start(), side="right")) - 1 for m in _ODD_INFO.finditer(block)})
    hits = textops.odd_info(np.frombuffer(block, dtype=np.uint8), len(lines))
    assert (np.searchsorted(starts, hits, side="right") - 1).tolist() == want


def test_split_lines_reports_binary_bytes():
    good = b"1\t10\t.\tA\tC\t.\t.\t.\n"
    nul = split_lines(np.frombuffer(good + b"1\t1\x00\n", dtype=np.uint8))
    assert nul.nul_at == len(good) + 3 and nul.start.size == 0
    high = split_lines(np.frombuffer(good + "1\t10\t.\tA\tC\t.\t.\tNOTE=é\n".encode(), dtype=np.uint8))
    assert high.high and high.nul_at == -1 and high.start.size == 2
    assert not split_lines(np.frombuffer(good, dtype=np.uint8)).high


def test_gather_columns_matches_slicing():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 256, 500, dtype=np.uint8), bytes(rng.integers(0, 256, 90, dtype=np.uint8))
    n = 300
    sa, la = rng.integers(0, 400, n), rng.integers(-3, 100, n)
    sb, lb = rng.integers(0, 60, n), rng.integers(0, 30, n)
    out = gather_columns([(a, sa, la), None, (b, sb, lb), (b";", np.zeros(n, int), np.ones(n, int))])
    want = b"".join(a[sa[i] : sa[i] + max(la[i], 0)].tobytes() + b[sb[i] : sb[i] + lb[i]] + b";" for i in range(n))
    assert out.tobytes() == want
    pieces = [a[s : s + k].tobytes() for s, k in zip(sa, la, strict=True) if k > 0]
    assert gather(a, sa[la > 0], la[la > 0]).tobytes() == b"".join(pieces)


def test_gather_columns_takes_strings_of_a_table_by_index_and_gives_row_ends():
    """An ``Indexed`` column copies string index[i] of an Arrow-style table (int32 offsets);
    a negative index is no piece; ``row_ends`` is where each row ends in the output."""
    rng = np.random.default_rng(5)
    words = [bytes(rng.integers(97, 123, int(k), dtype=np.uint8)) for k in rng.integers(0, 9, 40)]
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int32)
    data = b"".join(words)
    n = 500
    index = rng.integers(-2, len(words), n)
    sa, la = rng.integers(0, 3, n), rng.integers(-1, 2, n)
    ends = np.empty(n, dtype=np.int64)
    out = gather_columns([Indexed(data, offsets, index), (b"xyz", sa, la)], ends)
    rows = [
        (words[k] if k >= 0 else b"") + b"xyz"[s : s + max(length, 0)]
        for k, s, length in zip(index, sa, la, strict=True)
    ]
    assert out.tobytes() == b"".join(rows)
    assert ends.tolist() == np.cumsum([len(r) for r in rows]).tolist()
    with pytest.raises(ValueError, match="row ends"):
        gather_columns([Indexed(data, offsets, index)], np.empty(n - 1, dtype=np.int64))


@pytest.mark.parametrize(
    "offsets, index",
    [([0, 2, 5], [2]), ([0, 2, 5], [9]), ([0, 2, 12], [1]), ([0, 4, 2], [1]), ([-1, 2, 5], [0])],
    ids=["past the last string", "far past it", "offsets past the data", "offsets going back", "offset before 0"],
)
def test_gather_refuses_an_index_outside_its_table(offsets, index):
    with pytest.raises(IndexError, match="column 0 lies outside its source or table"):
        gather_columns([Indexed(b"hello", np.array(offsets, dtype=np.int32), np.array(index))])


@pytest.mark.parametrize(
    "start, length",
    [([0, 8], [5, 5]), ([-1], [2]), ([11], [1]), ([2**62], [2**62])],
    ids=["past the end", "before the start", "starts at the end", "overflowing"],
)
def test_gather_refuses_a_piece_outside_its_source(start, length):
    src = np.frombuffer(b"hello world", dtype=np.uint8)
    with pytest.raises(IndexError, match="column 1 lies outside its source"):
        gather_columns([(src, [0] * len(start), [1] * len(start)), (src, start, length)])


def test_gather_takes_empty_and_negative_pieces_as_nothing():
    src = np.frombuffer(b"abc", dtype=np.uint8)
    assert gather_columns([(src, [99, -5, 1], [0, -1, 2])]).tobytes() == b"bc"
    assert gather(src, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).size == 0
    with pytest.raises(ValueError, match="one piece per row"):
        gather_columns([(src, [0, 1], [1, 1]), (src, [0], [1])])


@pytest.mark.parametrize("order", ["sorted", "any"])
def test_lookup_matches_searchsorted(order):
    """gas_lookup starts each search from the previous answer: keys in order and in any order,
    tables with runs of equal values, keys outside the table and an empty table."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        table = np.sort(rng.integers(0, 40, int(rng.integers(0, 50)))).astype(np.int64)
        keys = rng.integers(-5, 45, int(rng.integers(0, 60)))
        if order == "sorted":
            keys = np.sort(keys)
        for side in ("left", "right"):
            assert lookup(table, keys, side).tolist() == np.searchsorted(table, keys, side=side).tolist()


def test_lookup_refuses_what_it_cannot_search():
    with pytest.raises(ValueError, match="int64"):
        lookup(np.arange(5, dtype=np.int32), np.arange(3))
    with pytest.raises(ValueError, match="side"):
        lookup(np.arange(5), np.arange(3), "middle")


def test_first_occurrences_groups_equal_keys_in_order_of_appearance():
    rng = np.random.default_rng(3)
    for _ in range(200):
        keys = rng.integers(-3, int(rng.integers(1, 40)), int(rng.integers(0, 80))) * (1 << 40)  # hash collisions
        reps, group = first_occurrences(keys)
        first: dict[int, int] = {}
        for i, k in enumerate(keys.tolist()):
            first.setdefault(k, i)
        assert reps.tolist() == sorted(first.values())
        assert keys[reps[group]].tolist() == keys.tolist()


def test_format_uint_writes_decimal_text():
    values = np.array([0, 7, 10, 999, 123456789, 2**63 - 1], dtype=np.int64)
    text, start, length = format_uint(values)
    assert [text[s : s + k].tobytes().decode() for s, k in zip(start, length, strict=True)] == [str(v) for v in values]
    with pytest.raises(ValueError, match="non-negative"):
        format_uint(np.array([3, -1]))


def test_string_column_takes_values_nulls_and_slices():
    import pyarrow as pa

    from gas.annotator.engine.output import string_column

    values = pa.array(["x", "alpha", None, "be", None, "gamma", "d", None, "last"], pa.string())[1:]  # offset 1
    index = np.array([0, 1, 2, 3, 7, 6, 4, 0, 2])
    valid = np.array([True] * 8 + [False])
    text = gather_columns([string_column(values, index, valid), (b"|", np.zeros(9, int), np.ones(9, int))])
    want = [values[int(i)].as_py() or "" if ok else "" for i, ok in zip(index, valid, strict=True)]
    assert text.tobytes().decode() == "".join(w + "|" for w in want)


def test_the_c_boundary_refuses_arrays_of_another_type_shape_or_layout():
    """Each array argument is declared with its dtype, dimensions and layout (ndpointer), and
    the arrays of pointers are built by a wrapper that checks each array and its length: a
    wrong array is a TypeError or ValueError in Python, never a read through a bad pointer."""
    lib = textops._native()
    values = np.arange(4, dtype=np.int64)
    text, starts, lengths = np.empty(80, dtype=np.uint8), np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64)
    lib.gas_format_uint(values, 4, text, starts, lengths)  # as declared: runs
    assert bytes(text[starts[3] : starts[3] + lengths[3]]) == b"3"
    wrong = {
        "dtype": (values.astype(np.int32), text, starts, lengths),
        "dimensions": (values, text, starts.reshape(2, 2), lengths),
        "layout": (np.arange(8, dtype=np.int64)[::2], text, starts, lengths),
        "read-only output": (values, np.frombuffer(bytes(80), dtype=np.uint8), starts, lengths),
        "raw pointer": (values, text, starts.ctypes.data, lengths),
    }
    for why, arguments in wrong.items():
        with pytest.raises(ctypes.ArgumentError):
            lib.gas_format_uint(arguments[0], 4, *arguments[1:])
            pytest.fail(why)
    sizes = np.array([80], dtype=np.int64)
    raw = (ctypes.c_void_p * 1)(starts.ctypes.data)
    no_tables = textops._Int32Arrays([None])
    with pytest.raises(ctypes.ArgumentError):  # an untyped array of pointers
        lib.gas_gather_size(4, 1, sizes, sizes, raw, raw, no_tables)
    with pytest.raises(TypeError):
        textops._Int64Arrays([starts.astype(np.int32)], 4)
    with pytest.raises(ValueError, match="3 entries where 4 are read"):
        textops._Int64Arrays([starts[:3]], 4)
    with pytest.raises(ctypes.ArgumentError):  # byte sources where offsets go
        lib.gas_gather_size(
            4, 1, sizes, sizes, textops._ByteArrays([text]), textops._Int64Arrays([lengths], 4), no_tables
        )
    with pytest.raises(ctypes.ArgumentError):  # int64 where a table's int32 offsets go
        lib.gas_gather_size(4, 1, sizes, sizes, *[textops._Int64Arrays([lengths], 4)] * 3)
    with pytest.raises(ctypes.ArgumentError):  # row ends of another type
        lib.gas_gather(
            4, 1, textops._ByteArrays([text]), *[textops._Int64Arrays([lengths], 4)] * 2, no_tables, text, text
        )


# ---------------------------------------------------------------- transcript effects


@pytest.fixture(scope="module")
def effects(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, list[tuple[int, str, list[str | None]]]]:
    """An Effects engine over a generated bundle (the differential test's generator, a smaller
    draw) and its boundary-dense variants as (global position, REF, ALTs)."""
    from bundle_gen import write_bundle

    from gas.annotator.engine.bundle import build_bundle
    from gas.annotator.engine.database import load_bundle
    from gas.annotator.engine.effects import Effects

    tmp = tmp_path_factory.mktemp("effects")
    written = write_bundle(tmp / "in", seed=3, n_variants=4000)
    build_bundle("kernels", fasta=written.fasta, gff3=written.gff3, db_dir=tmp / "db")
    db = load_bundle("kernels", tmp / "db")
    records = []
    for line in written.vcf.read_text().splitlines():
        if not line.startswith("#"):
            chrom, pos, _, ref, alt = line.split("\t")[:5]
            records.append(((db.alias[chrom] << 32) | (int(pos) - 1), ref, [alt]))
    return Effects(db), records


@pytest.mark.parametrize("seed", range(40))
def test_changes_of_are_the_python_ruleschanges_batch(seed):
    """changes_of (gas_source_alleles, leading bases first) against VEP's trim and allele
    string ALT by ALT: multi-allelic records, padded indels, lower case, ALT equal to REF,
    symbolic, '*', '.' and empty ALTs, POS 0 (global position -1); and Changes.settled."""
    rng = random.Random(seed)
    alleles = ["A", "C", "G", "T", "a", "AC", "ACGT", "CAT", "CATT", "cT", "N", "<DEL>", "*", ".", "", "GAC", "TTG"]
    records = []
    for i in range(rng.randint(0, 30)):
        ref = rng.choice(["A", "CAT", "ACG", "acgT", "N", "GG", "TTGA", "CATCAT"])
        alts = ",".join(rng.choice([*alleles, ref]) for _ in range(rng.randint(1, 4)))
        records.append(((rng.randint(0, 2) << 32) + 10 + 7 * i if i else -1, ref, alts))
    got = changes_batch(records)
    want, rec_change, rec_alts = [], [0], []
    for g, ref, alts in records:
        for k, alt in enumerate(alts.split(",")):
            if alt and set(alt.upper()) <= set("ACGTN"):
                p, r, a = minimal_change(ref.upper(), alt.upper())
                if r or a:
                    want.append(((g + p, r, a), vep_allele(ref.upper(), alt.upper()).encode(), k))
        rec_change.append(len(want))
        rec_alts.append(len(alts.split(",")))
    changes, allele, alt_index = got.settled(np.arange(len(want)))
    assert [(changes[q], allele[q], alt_index[q]) for q in range(len(want))] == want
    assert [got.alleles[q].encode() for q in range(len(want))] == [w[1] for w in want]
    assert got.rec_change.tolist() == rec_change and got.rec_alts.tolist() == rec_alts
    assert got.snv.tolist() == [len(r) == 1 and len(a) == 1 for (_, r, a), _, _ in want]
    assert got.ref_b.tolist() == [ord(r[0]) if r else 0 for (_, r, _), _, _ in want]
    assert got.alt_b.tolist() == [ord(a[0]) if a else 0 for (_, _, a), _, _ in want]


def test_ref_matches_is_the_genome_slice(effects) -> None:  # type: ignore[no-untyped-def]
    """Effects.ref_matches against the genome's bases sliced in Python: REFs that match, that
    differ in one base, that run past their contig's end, and at POS 0 (global position -1)."""
    fx, _ = effects
    off = fx.seq_offsets.tolist()
    genome = fx.seq_arr.tobytes()
    rng = random.Random(5)
    cases = []
    for _ in range(400):
        cid = rng.randrange(len(off) - 1)
        length = off[cid + 1] - off[cid]
        p, n = rng.choice([rng.randrange(length), length - rng.randint(1, 3)]), rng.randint(1, 6)
        bases = genome[off[cid] + p : off[cid] + min(length, p + n)].decode()
        ref = bases if rng.random() < 0.6 else rng.choice(["A", "C", "G", "T"]) + bases[1:]
        if rng.random() < 0.1:
            ref += "A"  # past the contig's end, or one more base than it holds there
        inside = p + len(ref) <= length
        cases.append(((cid << 32) | p, ref, inside and genome[off[cid] + p : off[cid] + p + len(ref)] == ref.encode()))
    cases.append((-1, "A", False))
    text = "".join(r for _, r, _ in cases).encode()
    u = np.frombuffer(text, dtype=np.uint8)
    lengths = np.array([len(r) for _, r, _ in cases], dtype=np.int64)
    got = fx.ref_matches(np.array([g for g, _, _ in cases], dtype=np.int64), u, textops.offsets_of(lengths), lengths)
    assert got.tolist() == [w for _, _, w in cases]
    assert 50 < sum(got.tolist()) < len(cases) - 50


def _reference_entries(fx, gpos: int, ref: str, alt: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    """A record's entries by the Python rules alone: every transcript within FLANK (a scan of
    them all), each by Effects.one, the intergenic entry and the pick."""
    from gas.annotator.engine.database import FLANK
    from gas.annotator.engine.effects import Csq

    p, r, a = minimal_change(ref, alt)
    if not r and not a:
        return []
    s, allele = gpos + p, vep_allele(ref, alt)
    t = fx.tables
    near = np.flatnonzero(
        (t.end + FLANK > s) & (t.start - FLANK < max(s + len(r), s + 1)) & ((t.start >> 32) == (s >> 32))
    )
    entries = [c for c in (fx.one(fx._tx(int(i)), 0, allele, s, r, a) for i in near) if c is not None]
    if not entries:
        entries = [Csq(0, ["intergenic_variant"], [allele, "intergenic_variant", "MODIFIER"] + [""] * 21, -1, ())]
    min(entries, key=lambda c: c.pick_key).fields[21] = "1"
    return [(c.allele_index, c.terms, c.fields, c.tx, c.pick_key) for c in entries]


def _reference_info(entries: list[tuple], n_alts: int) -> str:
    """A record's INFO text as CsqStage wrote it from Csq objects: the entries joined and
    escaped, then each PICK_* field per ALT (the old per-entry Python path, kept as the oracle)."""
    from gas.annotator.engine.effects import PICK_FIELDS, escape

    joined = ["|".join(fields) for _, _, fields, _, _ in entries]
    csq = ",".join(joined)
    csq = escape(csq, comma=False) if csq.count(",") == len(joined) - 1 else ",".join(escape(j) for j in joined)
    keys = ["CSQ=" + csq]
    picks = [next((f for k, _, f, _, _ in entries if k == alt and f[21] == "1"), None) for alt in range(n_alts)]
    for name, index, _ in PICK_FIELDS:
        keys.append(f"{name}=" + ",".join(escape(p[index]) or "." if p is not None else "." for p in picks))
    return ";".join(keys)


def _check_entries(fx, records) -> set[int]:  # type: ignore[no-untyped-def]
    """Effects.entries of the records against the Python rules' entries, pick and INFO text;
    the kinds of gas_tx_entries entry it wrote."""
    from gas.annotator.engine.effects import _PICK_CSQ, term_mask

    got = fx.entries(changes_batch([(g, r, a[0]) for g, r, a in records]))
    raw = got.text.raw.tobytes()
    off = got.text.entry_off.tolist()
    kinds = 0
    for n, (gpos, ref, alts) in enumerate(records):
        want = _reference_entries(fx, gpos, ref.upper(), alts[0].upper())
        lo, hi = got.rec_change[n], got.rec_change[n + 1]
        assert hi - lo == (1 if want else 0)
        assert got.info(n).decode() == (_reference_info(want, 1) if want else ""), (gpos, ref, alts)
        if not want:
            continue
        e0, e1 = got.text.change_entry[lo : lo + 2].tolist()
        assert [raw[off[e] : off[e + 1]].decode() for e in range(e0, e1)] == ["|".join(f) for _, _, f, _, _ in want]
        picked = next(f for _, _, f, _, _ in want if f[21] == "1")
        starts, lengths = got.text.pick_start[lo].tolist(), got.text.pick_len[lo].tolist()
        assert [raw[a : a + b].decode() for a, b in zip(starts, lengths, strict=True)] == [picked[i] for i in _PICK_CSQ]
        assert got.terms[lo] == term_mask(t for _, terms, _, _, _ in want for t in terms)
        kinds |= int(got.text.change_mask[lo])
    return {k for k in range(7) if kinds >> k & 1}


def test_tx_entries_are_the_python_rules_entries(effects) -> None:  # type: ignore[no-untyped-def]
    """Every record's entries written by gas_tx_entries (upstream/downstream, inside an intron's
    body, with the HGVSc of an intronic substitution; the others' fields from Python), its pick,
    terms and escaped INFO text are those the Python rules give, no transcript missed or added."""
    fx, records = effects
    # each kind written from the tables: up, down, intron of coding (NMD or not) and non-coding
    # transcripts, intergenic (the generator's NMD transcripts are all coding: no kind 5)
    assert _check_entries(fx, records) == {0, 1, 2, 3, 4, 6}
    starts = np.array([g for g, _, _ in records], dtype=np.int64)
    lengths = np.array([len(r) for _, r, _ in records], dtype=np.int64)
    kinds = set(textops.tx_classify(fx.tables, 5000, starts, lengths)[2].tolist())
    assert kinds == {0, 1, 2, 3}


def test_snv_entries_are_the_python_rules_entries(effects, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The entry gas_tx_entries writes through gas_change_effect for a one-base substitution is the
    Python rules' (Effects.one) field for field, its pick and terms theirs: at every base of every
    transcript's exons and the 10 bases around each (UTRs, each codon position, start and stop
    codons, splice sites and regions, intron edges), by each other base; with the bundle's base as
    REF and, every 5th base, a REF that disagrees with it (HGVSc names the file's). Every term the
    kernel sets is met, and a buffer too small for an entry's text is retried with room for it."""
    from engine_support import change_disagreements

    from gas.annotator.engine import effects as module

    fx = effects[0]

    def pairs(rows: range) -> Iterator[tuple[int, int, str, str]]:
        for i in rows:
            tx = fx._tx(i)
            bases = sorted({g for xs, xe in tx.exons for g in range(max(tx.start, xs - 10), min(tx.end, xe + 10))})
            for g in bases:
                ref = fx.seq(g, g + 1)
                yield from ((i, g, ref, alt) for alt in "ACGT" if alt != ref)
                if g % 5 == 0:
                    yield i, g, "N", ref

    n, differ, terms = change_disagreements(fx, pairs(range(fx.tables.start.size)))
    assert not differ, f"{len(differ)} of {n} entries differ, e.g. {differ[:3]}"
    snv_terms = set(module.CHANGE_TERMS) - set(_LENGTH_TERMS)
    assert set(terms) == snv_terms, snv_terms - set(terms)
    assert n > 100_000
    monkeypatch.setattr(textops, "CHANGE_CAP", 16)  # shorter than any entry's text
    n, differ, _ = change_disagreements(fx, pairs(range(40)))
    assert n > 1000 and not differ, differ[:3]


_LENGTH_TERMS = ("frameshift_variant", "inframe_insertion", "inframe_deletion", "start_retained_variant")


def test_indel_and_mnv_entries_are_the_python_rules_entries(effects, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The entry gas_tx_entries writes through gas_change_effect for an MNV, deletion, insertion or
    delins inside a transcript is the Python rules' (Effects.one) field for field, its pick and
    terms theirs: at and across every exon, intron, CDS and UTR edge of every transcript of a
    generated bundle (both strands), changes starting 12 bases before to 3 after it: deletions of
    1-30 bases, insertions of 1-30 (random bases, and the bases before them: HGVSc's dup, shifted
    3'), MNVs and delins. Every term the kernel sets is met (but incomplete_terminal_codon, which
    the SNV test meets), and a buffer too small for an entry's text is retried with room for it."""
    import random

    from engine_support import change_disagreements

    from gas.annotator.engine import effects as module

    fx = effects[0]
    rng = random.Random(24)

    def bases(n: int) -> str:
        return "".join(rng.choice("ACGT") for _ in range(n))

    dels, inss, subs = (1, 2, 3, 4, 5, 7, 12, 30), (1, 2, 3, 4, 6, 30), ((2, 2), (3, 3), (2, 4), (4, 1), (7, 2))

    def pairs(rows: range) -> Iterator[tuple[int, int, str, str]]:
        # the lengths taken in turn along the 16 positions around each edge (all would be ~1M pairs)
        for i in rows:
            tx = fx._tx(i)
            edges = {x for row in (*tx.exons, *tx.cds) for x in row}
            for g in sorted({g for edge in edges for g in range(edge - 12, edge + 4)}):
                for n in (dels[g % 8], dels[(g + 3) % 8]):
                    if g + n > tx.start:
                        yield i, g, fx.seq(g, g + n), ""
                if tx.start < g < tx.end:
                    n = inss[g % 6]
                    yield from ((i, g, "", bases(n)), (i, g, "", fx.seq(g - n, g)))
                n, m = subs[g % 5]
                ref, alt = fx.seq(g, g + n), bases(m)
                if g + n > tx.start and len(ref) == n and alt[0] != ref[0] and alt[-1] != ref[-1]:
                    yield i, g, ref, alt

    n, differ, terms = change_disagreements(fx, pairs(range(fx.tables.start.size)))
    assert not differ, f"{len(differ)} of {n} entries differ, e.g. {differ[:3]}"
    met = set(module.CHANGE_TERMS) - {"incomplete_terminal_codon_variant"}
    assert set(terms) >= met, met - set(terms)
    assert n > 100_000
    monkeypatch.setattr(textops, "CHANGE_CAP", 16)  # shorter than any entry's text
    n, differ, _ = change_disagreements(fx, pairs(range(40)))
    assert n > 1000 and not differ, differ[:3]


def test_changes_the_kernel_declines_take_the_python_rules(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change gas_change_effect declines (a REF running past its contig's end, inside a
    transcript that reaches it) gets its entry, pick and terms from the Python rules through
    the pieces, beside the kernel's entries of the other transcripts."""
    from bundle_support import GFF3, genome, write_inputs

    from gas.annotator.engine import effects as module
    from gas.annotator.engine.bundle import build_bundle
    from gas.annotator.engine.database import load_bundle

    paths = write_inputs(tmp_path / "in")  # type: ignore[operator]
    end = "".join(
        f"chr1\tensembl\t{kind}\t{lo}\t{hi}\t.\t+\t{phase}\t{attrs}\n"
        for kind, lo, hi, phase, attrs in (
            ("gene", 901, 1000, ".", "ID=gene:ENSG4;Name=GENED;biotype=protein_coding"),
            ("mRNA", 901, 1000, ".", "ID=transcript:ENST4;Parent=gene:ENSG4;biotype=protein_coding"),
            ("exon", 901, 940, ".", "Parent=transcript:ENST4"),
            ("CDS", 911, 940, "0", "Parent=transcript:ENST4;protein_id=ENSP4"),
            ("exon", 961, 1000, ".", "Parent=transcript:ENST4"),
            ("CDS", 961, 990, "0", "Parent=transcript:ENST4;protein_id=ENSP4"),
        )
    )
    paths["gff3"].write_text(GFF3 + end)
    build_bundle("declined", fasta=paths["fasta"], gff3=paths["gff3"], db_dir=tmp_path / "db")  # type: ignore[operator]
    fx = module.Effects(load_bundle("declined", tmp_path / "db"))  # type: ignore[operator]
    seq, base = genome(), fx.db.alias["chr1"] << 32
    records: list[tuple[int, str, list[str | None]]] = []
    for pos in range(960, 1000, 3):  # past the end: a deletion, a delins
        records += [(base + pos, seq[pos:] + "ACG", [seq[pos]]), (base + pos, seq[pos:] + "A", ["TT"])]
    # (a non-ASCII ALT, which the kernel declines too, never reaches it: changes_of gives
    # changes of A/C/G/T/N alleles only)
    declined: list[int] = []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        got = write(*args, **kwargs)
        declined.extend(got.tolist() if isinstance(got, np.ndarray) else [])
        return got

    write = module.tx_entries
    monkeypatch.setattr(module, "tx_entries", counted)
    _check_entries(fx, records)
    assert len(declined) == 14  # each deletion past the end (a delins does not shift)


def test_tx_entries_escape_what_the_names_hold(effects) -> None:  # type: ignore[no-untyped-def]
    """Gene names, ids and MANE ids holding the characters VEP escapes (% = ; , and space)
    and non-ASCII text: the INFO text is escaped as the Python path escaped it, the entries'
    own text (the table's) is not."""
    from gas.annotator.engine import effects as module
    from gas.annotator.engine.database import Packed

    fx = module.Effects(effects[0].db)
    odd = ["a b", "x=1;y", "p%q", "c,d", "é ü", "=", ";;", ",", "%25"]
    tables = [fx.tx_strings.tables[k] for k in range(len(fx.tx_strings.tables))]
    n = len(tables[0])
    for k in (1, 2, 5):  # gene_id, gene_name, mane (_TxStrings' order)
        names = tables[k].tolist()
        tables[k] = Packed.of([f"{v}{odd[(i + k) % len(odd)]}" if i % 3 else v for i, v in enumerate(names)])
    fx.tx_strings = module._TxStrings(tables)
    strings = dict(
        zip(("tx_id", "tx_gene_id", "tx_gene_name", "tx_biotype", "tx_protein_id", "tx_mane"), tables, strict=True)
    )
    fx.text_tables.strings = [(strings[k].data, strings[k].offsets.astype(np.int32)) for k in module._TEXT_STRINGS]
    assert n == fx.tables.start.size
    _check_entries(fx, effects[1][:1500])


def test_tx_scalars_coding_span_is_the_cdna_position_of_the_first_and_last_coding_bases(  # type: ignore[no-untyped-def]
    effects, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tx_scalars' array-wise cDNA positions of each transcript's first and last coding bases
    (in transcription order) are those a walk of its own exon list gives, on both strands,
    with the transcripts made in pages of 7 (rows on each side of a page's edge)."""
    from gas.annotator.engine import effects as module

    monkeypatch.setattr(module._Pages, "PAGE", 7)
    fx = module.Effects(effects[0].db)
    checked = {1: 0, -1: 0}
    for i in range(fx.tables.start.size):
        tx = fx._tx(i)

        def walk(g: int, tx=tx) -> int:  # type: ignore[no-untyped-def]
            """cDNA position of exonic base g: exonic bases before it in transcription order + 1."""
            ahead = [min(g, t) - s for s, t in tx.exons] if tx.strand > 0 else [t - max(g + 1, s) for s, t in tx.exons]
            assert any(s <= g < t for s, t in tx.exons)
            return sum(max(0, n) for n in ahead) + 1

        if not tx.cds:
            assert (tx.coding, tx.cds_c0, tx.cds_c1) == (False, 0, 0)
            continue
        first, last = (tx.cds[0][0], tx.cds[-1][1] - 1) if tx.strand > 0 else (tx.cds[-1][1] - 1, tx.cds[0][0])
        assert (tx.cds_c0, tx.cds_c1) == (walk(first), walk(last)), tx.tx_id
        checked[tx.strand] += 1
    assert min(checked.values()) > 50, checked


def test_tx_entries_refuse_rows_outside_their_tables(effects) -> None:  # type: ignore[no-untyped-def]
    fx, records = effects
    got = fx.entries(changes_batch([(g, r, a[0]) for g, r, a in records[:50]]))
    assert got.text.info_off.size == 51
    t, x = fx.tables, fx.text_tables
    one = [np.zeros(1, dtype=np.int64) for _ in range(6)]
    args = dict(
        alleles=(np.frombuffer(b"A", dtype=np.uint8), np.array([0, 1])), ref=np.array([65], dtype=np.uint8),
        alt=np.array([67], dtype=np.uint8), snv=np.ones(1, dtype=bool), starts=np.zeros(1, dtype=np.int64),
        bases=(np.frombuffer(b"AC", dtype=np.uint8), np.array([0, 2])), ref_len=np.ones(1),
        pick_field=[1], rec_change=np.array([0, 1]), rec_alts=np.array([1]),
        change_alt=np.zeros(1, dtype=np.int64), names=[b"P"], name_pick=[0],
    )  # fmt: skip
    ok = textops.tx_entries(t, x, rows=one, row_piece=np.full(1, -1), row_rank=np.zeros(1), pieces=[], **args)
    assert ok.change_entry.tolist() == [0, 1]
    for k, bad in ((1, t.start.size), (0, 1)):  # a transcript past the table, a change past the changes
        rows = [r.copy() for r in one]
        rows[k][0] = bad
        with pytest.raises(ValueError, match="out of range"):
            textops.tx_entries(t, x, rows=rows, row_piece=np.full(1, -1), row_rank=np.zeros(1), pieces=[], **args)
    other = [r.copy() for r in one]
    other[2][0] = 3  # OTHER, its 24 fields past the pieces
    with pytest.raises(ValueError, match="out of range"):
        textops.tx_entries(t, x, rows=other, row_piece=np.zeros(1), row_rank=np.zeros(1), pieces=[b"x"], **args)
    with pytest.raises(ValueError, match="INFO name"):
        textops.tx_entries(
            t, x, rows=one, row_piece=np.full(1, -1), row_rank=np.zeros(1), pieces=[], **{**args, "name_pick": [3]}
        )


def test_tx_classify_output_past_its_capacity_and_bad_tables(effects) -> None:  # type: ignore[no-untyped-def]
    fx, records = effects
    t = fx.tables
    starts = np.array([g for g, _, _ in records[:200]], dtype=np.int64)
    lengths = np.ones(starts.size, dtype=np.int64)
    # a flank that reaches every transcript of the contig: more rows than the first guess holds
    wide = textops.tx_classify(t, 1 << 31, starts, lengths)
    same_contig = (t.start[None, :] >> 32) == (starts[:, None] >> 32)
    assert wide[0].size == int(same_contig.sum()) > 16 * starts.size
    full = textops.tx_classify(t, 5000, starts, lengths)
    out = [np.zeros(3, dtype=np.int64) for _ in range(6)]
    lib = textops._native()
    rows = lib.gas_tx_classify(
        t.start.size, t.start, t.end, t.strand, t.exon_offsets, t.exon_start.size, t.exon_start, t.exon_end,
        t.max_span, 5000, starts.size, starts, lengths, 3, *out,
    )  # fmt: skip
    assert rows == full[0].size and [o.tolist() for o in out] == [f[:3].tolist() for f in full]
    bad = textops.TxTables(t.start, t.end, t.strand, t.exon_offsets.copy(), t.exon_start, t.exon_end, t.max_span)
    bad.exon_offsets[1:] = t.exon_start.size + 1  # offsets past the exon table
    with pytest.raises(ValueError, match="outside the exon table"):
        textops.tx_classify(bad, 5000, starts, lengths)
    with pytest.raises(ValueError, match="one more exon offset"):
        textops.TxTables(t.start, t.end, t.strand, t.exon_offsets[:-1], t.exon_start, t.exon_end, t.max_span)
    with pytest.raises(ctypes.ArgumentError):  # an int32 table where int64 is declared
        lib.gas_tx_classify(
            t.start.size, t.start.astype(np.int32), t.end, t.strand, t.exon_offsets, t.exon_start.size,
            t.exon_start, t.exon_end, t.max_span, 5000, starts.size, starts, lengths, 3, *out,
        )  # fmt: skip


def _minimal(pos: int, ref: bytes, alt: bytes) -> tuple[int, bytes]:
    r, a = ref.upper(), alt.upper()
    while r and a and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    k = 0
    while k < min(len(r), len(a)) and r[k] == a[k]:
        k += 1
    return pos + k, r[k:] + b">" + a[k:]


def _reference_scan(text: bytes, contig: bytes, end: int, runs: list[tuple[int, int]], keys: list, seen: bool):
    """(done, {key: (INFO start, INFO length, ALT index)}, seen): the first row of each allele among
    the rows meeting ``runs``, line by line (what a compiled source's lookup finds)."""
    found: dict[int, tuple[int, int, int]] = {}
    bases = set(b"ACGTNacgtn")
    at = 0
    for raw in text.split(b"\n"):
        start, at = at, at + len(raw) + 1
        cols = raw.split(b"\t")
        if raw.startswith(b"#") or len(cols) < 2:
            continue
        if cols[0] != contig:
            if seen:
                return True, found, seen
            continue
        seen = True
        if len(cols) < 5 or not (1 <= len(cols[1]) <= 18 and cols[1].isdigit()):
            continue
        pos, ref = int(cols[1]), cols[3]
        if pos - 1 >= end:
            return True, found, seen
        if not any(s < pos - 1 + max(1, len(ref)) and e > pos - 1 for s, e in runs):
            continue
        if len(cols) < 8 or not ref or not set(ref) <= bases:
            continue
        info_at = start + sum(len(c) + 1 for c in cols[:7])
        for k, alt in enumerate(cols[4].split(b",")):
            if alt and set(alt) <= bases:
                for q, key in enumerate(keys):
                    if key == _minimal(pos, ref, alt) and q not in found:
                        found[q] = (info_at, len(cols[7]), k)
    return False, found, seen


def _random_source_text(rng: random.Random) -> bytes:
    lines = [b"##fileformat=VCFv4.2", b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"] * (rng.random() < 0.3)
    pos = rng.randint(1, 50)
    for chrom in sorted(rng.sample([b"1", b"2", b"22", b"chr2"], rng.randint(1, 3))):
        for _ in range(rng.randint(0, 40)):
            pos += rng.choice([0, 0, 1, 2, 5])
            ref = "".join(rng.choice("ACGTacgN") for _ in range(rng.choice([1, 1, 2, 3]))).encode()
            alts = [
                rng.choice([ref[:1] + b"T", b"A", b"C", b"G", ref + b"CA", b"<DEL>", b"*", b"", b"acg", ref[:1]])
                for _ in range(rng.choice([1, 1, 2, 3]))
            ]
            info = rng.choice([b"AF=0.1", b"AF=0.2,0.3;X", b".", b""])
            p = rng.choice([str(pos).encode()] * 16 + [b"12a", b"", b"0" * 19])
            cols = [chrom, p, b".", ref, b",".join(alts), b".", b"PASS", info, b"GT", b"0/1"]
            lines.append(b"\t".join(cols[: rng.choice([8] * 8 + [10, 9, 7, 4, 1])]))
    return b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n"])


def _last_item(info: bytes, name: bytes) -> bytes | None:
    """The INFO item ``name`` as the compiled form keeps it ("NAME=VALUE"; a flag: "NAME="),
    the last of its name, as gas_info_values reads them."""
    items = [x for x in info.split(b";") if x.split(b"=", 1)[0] == name]
    return name + b"=" + items[-1].partition(b"=")[2] if items else None


@pytest.mark.parametrize("seed", range(60))
def test_compiled_source_lookup_matches_a_row_by_row_reading(seed, tmp_path):
    """A source compiled (sources.compile_source, read back memory-mapped) and looked up
    (gas_source_lookup) against the rules written out above, over each whole contig: header
    lines, several contigs, bad POS, symbolic, '*' and empty ALTs, lower case, repeated
    alleles (the first row wins, decision 87), keys no row has; the INFO item kept per row."""
    from gas.annotator.engine.sources import CompiledSource, Source, SourceField, compile_source

    rng = random.Random(seed)
    text = b"\n".join(x for x in _random_source_text(rng).replace(b"\r", b"").split(b"\n")
                      if x.startswith(b"#") or x.count(b"\t") >= 7) + b"\n"  # fmt: skip
    path = tmp_path / "s.vcf.gz"
    path.write_bytes(gzip.compress(text))
    source = Source("s", "vcf", path, "1", (SourceField("AF", "AF", "A", "Float", "", "A"),))
    compile_source(source)
    compiled = CompiledSource(source)
    rows = [x.split(b"\t") for x in text.split(b"\n") if x and not x.startswith(b"#")]
    for contig in sorted({r[0] for r in rows}):
        alleles = [_minimal(int(r[1]), r[3], a) for r in rows if r[0] == contig and r[1].isdigit()
                   and len(r[1]) < 19 for a in r[4].split(b",")]  # fmt: skip
        keys = sorted(set(alleles) | {(7, b"A>G"), (9, b">C"), (1, b"")})
        _, want, _ = _reference_scan(text, contig, 10**9, [(0, 10**9)], keys, False)
        found = compiled.lookup(
            contig.decode(),
            np.array([k[0] for k in keys], dtype=np.int64),
            np.frombuffer(b"".join(k[1] for k in keys) or b"-", dtype=np.uint8),
            textops.offsets_of(np.array([len(k[1]) for k in keys], dtype=np.int64)),
            np.array([len(k[1]) for k in keys], dtype=np.int64),
        )
        x = compiled.arrays
        got = {}
        for q, e in enumerate(found.tolist()):
            if e >= 0:
                row = int(x["row"][e])
                info = bytes(x["info"][int(x["info_off"][row]) : int(x["info_off"][row + 1])])
                got[q] = (info or None, int(x["alt"][e]))
        assert got == {q: (_last_item(text[a : a + n], b"AF"), k) for q, (a, n, k) in want.items()}


def test_source_lookup_refuses_what_it_cannot_read(tmp_path):
    from gas.annotator.engine.sources import Source, SourceError, SourceField, compile_source

    pos, text, off = np.array([5], dtype=np.int64), np.frombuffer(b"A>G", dtype=np.uint8), np.array([0, 3])
    q = (np.array([5]), text, np.array([1]), np.array([3]))
    with pytest.raises(ValueError, match="outside the query text"):
        textops.source_lookup(pos, text, off, *q)
    with pytest.raises(ValueError, match="one offset per entry"):
        textops.source_lookup(pos, text, off[:1], *q[:2], np.array([0]), np.array([3]))
    with pytest.raises(ctypes.ArgumentError, match="uint8"):  # the text: bytes only
        textops.source_lookup(pos, np.zeros(3, dtype=np.int32), off, *q[:2], np.array([0]), np.array([3]))
    # an entry whose offsets point outside the text (a corrupt file) is never equal
    bad = textops.source_lookup(pos, text, np.array([0, 99]), *q[:2], np.array([0]), np.array([3]))
    assert bad.tolist() == [-1]
    assert textops.source_lookup(pos, text, off, *q[:2], np.array([0]), np.array([3])).tolist() == [0]
    path = tmp_path / "short.vcf.gz"
    path.write_bytes(gzip.compress(b"#CHROM\n1\t5\t.\tA\tG\t.\n"))
    with pytest.raises(SourceError, match="source s: sources: line 1 of the block has fewer than 8 columns"):
        compile_source(Source("s", "vcf", path, "1", (SourceField("AF", "AF", "A", "Float", "", "A"),)))
    path.write_bytes(gzip.compress(b"#CHROM\n1\t5\t.\tA\tG\t.\t.\tAF=0.1\n1\t6\t.\tA\tG\t.\t.\tAF=\x00\n"))
    with pytest.raises(SourceError, match="source s: sources: a NUL byte at offset 38 of the block .after 0 rows"):
        compile_source(Source("s", "vcf", path, "1", (SourceField("AF", "AF", "A", "Float", "", "A"),)))


@pytest.mark.parametrize("seed", range(40))
def test_source_alleles_split_each_alt_to_its_minimal_form(seed):
    """gas_source_alleles against sources.minimal, ALT by ALT: multi-allelic records, padded
    indels, lower case, symbolic, '*', '.' and empty ALTs, a REF that is not sequence."""
    from gas.annotator.engine.sources import _sequence, minimal

    rng = random.Random(seed)
    alleles = ["A", "C", "G", "T", "a", "AC", "ACGT", "CAT", "CT", "N", "<DEL>", "*", ".", "", "A]1:5]", "TTG"]
    records = []
    for i in range(rng.randint(0, 30)):
        ref = rng.choice(["A", "CAT", "ACG", "acgT", "N", "R", "GG", "TTGA"])
        alts = ",".join(rng.choice(alleles) for _ in range(rng.randint(1, 4)))
        records.append((10 + 7 * i, ref, alts))
    text = "".join(f"{r}\t{a}\t" for _, r, a in records).encode()
    b = np.frombuffer(text, dtype=np.uint8) if text else np.zeros(0, dtype=np.uint8)
    starts, at = [], 0
    for _, r, a in records:
        starts.append((at, len(r), at + len(r) + 1, len(a)))
        at += len(r) + len(a) + 2
    cols = [np.array([s[k] for s in starts], dtype=np.int64) for k in range(4)]
    pos = np.array([p for p, _, _ in records], dtype=np.int64)
    got = textops.source_alleles(b, pos, cols[0], cols[1], cols[2], cols[3])
    want = []
    for i, (p, r, a) in enumerate(records):
        for k, alt in enumerate(a.split(",")):
            ok = _sequence(r) and _sequence(alt)
            want.append((i, k, alt, *(minimal(p, r, alt) if ok else (-1, None, None))))
    rows = []
    for j in range(got.rec.size):
        m = int(got.mpos[j])
        ref = bytes(b[got.mref[j] : got.mref[j] + got.mref_len[j]]).decode().upper() if m >= 0 else None
        alt = bytes(b[got.malt[j] : got.malt[j] + got.malt_len[j]]).decode().upper() if m >= 0 else None
        raw = bytes(b[got.araw[j] : got.araw[j] + got.araw_len[j]]).decode()
        rows.append((int(got.rec[j]), int(got.alt[j]), raw, m, ref, alt))
    assert rows == want
    if records:
        with pytest.raises(ValueError, match="outside the block"):
            textops.source_alleles(b, pos[:1], cols[0][:1], cols[1][:1] + b.size + 1, cols[2][:1], cols[3][:1])


@pytest.mark.parametrize("seed", range(40))
def test_info_values_read_an_item_as_the_regex_does(seed):
    """gas_info_values against a Python reading: the last item of the id (a flag: empty), ids
    that are prefixes of others, '=' inside values, the part-th comma piece or none."""
    rng = random.Random(seed)
    ids = ["AF", "AF_x", "A", "DP", "F"]
    infos = []
    for _ in range(rng.randint(0, 20)):
        items = []
        for _ in range(rng.randint(0, 5)):
            key = rng.choice(ids)
            value = ",".join(rng.choice(["0.1", ".", "", "a=b", "7"]) for _ in range(rng.randint(1, 3)))
            items.append(key if rng.random() < 0.2 else f"{key}={value}")
        infos.append(";".join(items) if items else rng.choice(["", "."]))
    text = "\x00".join(infos).encode()
    buf = np.frombuffer(text, dtype=np.uint8) if text else np.zeros(0, dtype=np.uint8)
    lengths = np.array([len(x) for x in infos], dtype=np.int64)
    starts = textops.offsets_of(lengths + 1)
    starts[::3] = -1 if rng.random() < 0.5 else starts[::3]  # rows with no INFO at all
    for info_id in ids:
        pattern = re.compile(rf"(?:^|;)({re.escape(info_id)})(?:=([^;]*))?(?=;|$)")
        part = np.array([rng.randint(-1, 3) for _ in infos], dtype=np.int64)
        got_at, got_len = textops.info_values(buf, starts, lengths, info_id.encode(), part)
        for i, info in enumerate(infos):
            found = dict(pattern.findall(info)) if starts[i] >= 0 else {}
            want = found.get(info_id)
            if want is not None and part[i] >= 0:
                pieces = want.split(",")
                want = pieces[part[i]] if part[i] < len(pieces) else None
            got = None if got_at[i] < 0 else text[got_at[i] : got_at[i] + got_len[i]].decode()
            assert got == want, (info, info_id, int(part[i]))


@pytest.mark.parametrize("seed", range(40))
def test_bed_scan_reads_the_rows_a_python_reading_does(seed):
    """gas_bed_scan against a line-by-line reading: header and comment lines, other contigs
    before and after, rows with 3 to 5 columns, bad numbers, the stop at ``end``, CRLF."""
    rng = random.Random(seed)
    lines = ["#header"] if rng.random() < 0.5 else []
    for contig in rng.sample(["1", "2", "chr3"], rng.randint(1, 3)):
        at = 0
        for _ in range(rng.randint(0, 12)):
            at += rng.randint(0, 50)
            cols = [contig, str(at), str(at + rng.randint(1, 80))]
            cols += [rng.choice(["r1", "", "a b", "n\r"]) for _ in range(rng.randint(0, 2))]
            if rng.random() < 0.1:
                cols[rng.randint(1, 2)] = rng.choice(["x", "", "1" * 19])
            lines.append("\t".join(cols))
        lines.append("# a comment") if rng.random() < 0.2 else None
    text = ("\n".join(lines) + rng.choice(["\n", ""])).encode()
    contig = rng.choice(["1", "2", "chr3", "X"])
    end = rng.choice([10**9, rng.randint(0, 400)])
    want, seen, done = [], False, False
    for line in text.decode().split("\n"):
        cols = line.split("\t", 4)
        if not line or line.startswith("#") or len(cols) < 3:
            continue
        if cols[0] != contig:
            if seen:
                done = True
                break
            continue
        seen = True
        if not all(c.isdigit() and 1 <= len(c) <= 18 for c in cols[1:3]):
            continue
        if int(cols[1]) >= end:
            done = True
            break
        want.append((int(cols[1]), int(cols[2]), cols[3] if len(cols) > 3 else ""))
    state = np.zeros(2, dtype=np.int64)
    start, stop, name, name_len = textops.bed_scan(np.frombuffer(text, dtype=np.uint8), contig.encode(), end, state)
    got = [(int(s), int(e), text[a : a + k].decode()) for s, e, a, k in zip(start, stop, name, name_len, strict=True)]
    assert got == want
    assert bool(state[1]) == done and bool(state[0]) == seen
