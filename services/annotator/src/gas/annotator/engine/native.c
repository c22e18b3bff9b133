/* The engine's compiled kernels, loaded with ctypes by textops.py: plain arrays in and out,
 * no Python headers or objects, called without the GIL.
 *
 * Built into _native.so with the package (services/annotator/hatch_build.py).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Pieces in columns: piece (i, p) is sources[p][starts[p][i] .. + lengths[p][i]]; a piece of
 * length <= 0 is empty. A column with table offsets (offsets[p] != NULL, int32 as Arrow's
 * strings have them, rows[p] strings) is indexed instead: starts[p][i] is a string's index
 * (< 0: no piece) and its piece sources[p][offsets[p][k] .. offsets[p][k + 1]], so a table's
 * strings are copied by index without per-row start and length arrays. The output is every
 * row's pieces in column order, rows in order. */

static inline int64_t gather_piece(const int64_t *const *starts, const int64_t *const *lengths,
                                   const int32_t *const *offsets, int64_t p, int64_t i, int64_t *start)
{
    if (offsets[p] == NULL) {
        *start = starts[p][i];
        return lengths[p][i];
    }
    int64_t k = starts[p][i];
    if (k < 0)
        return 0;
    *start = offsets[p][k];
    return (int64_t)offsets[p][k + 1] - offsets[p][k];
}

/* The output size, or -(1 + p) when a piece of column p lies outside its source (of
 * sizes[p] bytes) or an index outside its table: the caller checks before gas_gather copies,
 * which trusts its input. */
int64_t gas_gather_size(int64_t n, int64_t columns, const int64_t *sizes, const int64_t *rows,
                        const int64_t *const *starts, const int64_t *const *lengths, const int32_t *const *offsets)
{
    int64_t total = 0;
    for (int64_t p = 0; p < columns; p++) {
        for (int64_t i = 0; i < n; i++) {
            if (offsets[p] != NULL && starts[p][i] >= rows[p])
                return -(1 + p);
            int64_t s = 0, l = gather_piece(starts, lengths, offsets, p, i, &s);
            if (l == 0 || (l < 0 && offsets[p] == NULL))
                continue;
            if (l < 0 || s < 0 || s > sizes[p] - l)
                return -(1 + p);
            total += l;
        }
    }
    return total;
}

/* row_ends (when not NULL): where each row's pieces end in out. */
void gas_gather(int64_t n, int64_t columns, const uint8_t *const *sources, const int64_t *const *starts,
                const int64_t *const *lengths, const int32_t *const *offsets, uint8_t *out, int64_t *row_ends)
{
    const uint8_t *first = out;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t p = 0; p < columns; p++) {
            int64_t s = 0, len = gather_piece(starts, lengths, offsets, p, i, &s);
            if (len > 0) {
                memcpy(out, sources[p] + s, (size_t)len);
                out += len;
            }
        }
        if (row_ends != NULL)
            row_ends[i] = out - first;
    }
}

/* Where a block's first NUL byte is (-1: none), and whether it holds a byte >= 0x80 (the
 * caller then checks that it is UTF-8). */
void gas_scan_bytes(const uint8_t *b, int64_t size, int64_t *nul_at, int64_t *high)
{
    const uint8_t *nul = memchr(b, 0, (size_t)size);
    *nul_at = nul ? (int64_t)(nul - b) : -1;
    uint8_t any = 0;
    for (int64_t i = 0; i < size; i++)
        any |= b[i];
    *high = (any & 0x80) != 0;
}

/* The lines of a block of whole lines (each ending in '\n'), in one pass. For data line i
 * (blank lines are skipped and counted in status[0]): start[i], end[i] (exclusive, a final
 * '\r' dropped), index[i] (its line number in the block, blank lines included), the column
 * boundaries bound[k * cap + i] (k = 0: start - 1; k = 1..7: the tab ending column k;
 * k = 8: the tab ending INFO, or the end), chrom_key[i] (CHROM's bytes as a little-endian
 * uint64 when it has 1 to 8, else 0) and pos[i] (POS, 1 to 10 digits, else -1).
 * Stops at the first line with fewer than 8 columns: status[1] = its line number in the block
 * and status[2] its tab count (status[1] = -1: none). Returns the number of data lines; cap
 * (the number of '\n') bounds it. */
int64_t gas_split_lines(const uint8_t *b, int64_t size, int64_t cap, int64_t *start, int64_t *end, int64_t *index,
                        int64_t *bound, uint64_t *chrom_key, int64_t *pos, int64_t *status)
{
    int64_t n = 0, line = 0, blank = 0, at = 0;
    status[1] = -1;
    status[2] = 0;
    while (at < size && n < cap) {
        /* The first 8 columns are short: a byte loop finds their tabs; memchr then skips
         * the rest (FORMAT and the samples) to the line's end. */
        int64_t tabs = 0, cur = at;
        while (cur < size && b[cur] != '\n' && tabs < 8) {
            if (b[cur] == '\t') {
                tabs++;
                bound[tabs * cap + n] = cur;
            }
            cur++;
        }
        const uint8_t *nl = cur < size && b[cur] != '\n' ? memchr(b + cur, '\n', (size_t)(size - cur)) : b + cur;
        int64_t stop = nl && nl < b + size ? (int64_t)(nl - b) : size;
        int64_t e = stop;
        if (e > at && b[e - 1] == '\r')
            e--;
        if (tabs == 8 && bound[8 * cap + n] >= e) /* a tab just before the dropped '\r' */
            tabs = 7;
        if (e == at) {
            blank++;
        } else {
            bound[n] = at - 1;
            if (tabs < 7) {
                status[1] = line;
                status[2] = tabs;
                break;
            }
            if (tabs == 7)
                bound[8 * cap + n] = e;
            start[n] = at;
            end[n] = e;
            index[n] = line;
            /* CHROM as a key */
            int64_t c_len = bound[cap + n] - at;
            uint64_t key = 0;
            if (c_len >= 1 && c_len <= 8)
                for (int64_t j = 0; j < c_len; j++)
                    key |= (uint64_t)b[at + j] << (8 * j);
            chrom_key[n] = key;
            /* POS */
            int64_t p0 = bound[cap + n] + 1, p_len = bound[2 * cap + n] - p0, value = 0;
            if (p_len < 1 || p_len > 10) {
                value = -1;
            } else {
                for (int64_t j = 0; j < p_len; j++) {
                    uint8_t d = (uint8_t)(b[p0 + j] - '0');
                    if (d > 9) {
                        value = -1;
                        break;
                    }
                    value = value * 10 + d;
                }
            }
            pos[n] = value;
            n++;
        }
        line++;
        at = stop + 1;
    }
    status[0] = blank;
    return n;
}

/* How many times byte c occurs in b. */
int64_t gas_count_byte(const uint8_t *b, int64_t size, int c)
{
    int64_t count = 0;
    for (int64_t i = 0; i < size; i++)
        count += b[i] == (uint8_t)c;
    return count;
}

/* Whether a table value goes before key: np.searchsorted's side="right" counts the values
 * <= key, side="left" those < key. */
static inline int before(int64_t value, int64_t key, int right)
{
    return right ? value <= key : value < key;
}

/* out[i] = np.searchsorted(table, keys[i], side) for an ascending table of m values. Each
 * search starts from the previous key's answer and gallops (1, 2, 4, ... values) toward its
 * own before a binary search: the keys of a sorted VCF, close to each other and in order,
 * cost a few steps each instead of log2(m) cache misses; keys in any order are still found. */
void gas_lookup(const int64_t *table, int64_t m, const int64_t *keys, int64_t n, int right, int64_t *out)
{
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t key = keys[i], lo, hi, step = 1;
        if (r < m && before(table[r], key, right)) { /* the answer is after r */
            lo = r + 1;
            for (;;) {
                int64_t probe = lo + step - 1;
                if (probe >= m) {
                    hi = m;
                    break;
                }
                if (!before(table[probe], key, right)) {
                    hi = probe;
                    break;
                }
                lo = probe + 1;
                step <<= 1;
            }
        } else { /* the answer is r or before */
            hi = r;
            for (;;) {
                int64_t probe = hi - step;
                if (probe < 0) {
                    lo = 0;
                    break;
                }
                if (before(table[probe], key, right)) {
                    lo = probe + 1;
                    break;
                }
                hi = probe;
                step <<= 1;
            }
        }
        while (lo < hi) { /* values before lo go before key, those from hi on do not */
            int64_t mid = lo + (hi - lo) / 2;
            if (before(table[mid], key, right))
                lo = mid + 1;
            else
                hi = mid;
        }
        out[i] = r = lo;
    }
}

/* Groups rows with equal keys, in the order groups first appear: reps[g] is the first row of
 * group g (so reps ascend), group[i] the group of row i. slots is scratch for an open-
 * addressing hash table: `capacity` entries (a power of two, at least 2n), all -1. Returns
 * the number of groups. One pass, where sorting the keys took most of the time. */
int64_t gas_first_occurrences(const int64_t *keys, int64_t n, int64_t *slots, int64_t capacity, int64_t *reps,
                              int64_t *group)
{
    int64_t groups = 0;
    uint64_t mask = (uint64_t)capacity - 1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = (uint64_t)keys[i] * 0x9E3779B97F4A7C15ull;
        uint64_t s = (h ^ (h >> 32)) & mask;
        for (;;) {
            int64_t g = slots[s];
            if (g < 0) {
                slots[s] = groups;
                reps[groups] = i;
                group[i] = groups++;
                break;
            }
            if (keys[reps[g]] == keys[i]) {
                group[i] = g;
                break;
            }
            s = (s + 1) & mask;
        }
    }
    return groups;
}

/* Decimal text of non-negative values: value i right-aligned in out[20 i .. 20 i + 20), its
 * first digit at start[i], its length[i] digits. */
void gas_format_uint(const int64_t *values, int64_t n, uint8_t *out, int64_t *start, int64_t *length)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)values[i];
        int64_t end = 20 * i + 20, at = end;
        do {
            out[--at] = (uint8_t)('0' + v % 10);
            v /= 10;
        } while (v);
        start[i] = at;
        length[i] = end - at;
    }
}

/* ------------------------------------------------------------------------------------------
 * Transcript effects (effects.py): where each change lies relative to the transcripts near it.
 * The per variant x transcript geometry of the common entries (upstream/downstream, a change
 * inside an intron's body) is settled here; every other pair is left to effects.py.
 * ------------------------------------------------------------------------------------------ */

enum { GAS_TX_UPSTREAM = 0, GAS_TX_DOWNSTREAM = 1, GAS_TX_INTRON = 2, GAS_TX_OTHER = 3 };

/* The first index in [lo, hi) whose value is > key (right) or >= key (!right). */
static int64_t tx_bisect(const int64_t *v, int64_t lo, int64_t hi, int64_t key, int right)
{
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (right ? v[mid] <= key : v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The change [s, e) (an insertion: e == s, between bases s-1 and s) touches [a0, a1). */
static inline int tx_overlaps(int64_t s, int64_t e, int ins, int64_t a0, int64_t a1)
{
    return ins ? (a0 < s && s < a1) : (s < a1 && e > a0);
}

/* cDNA position (1-based) of exonic base g of the transcript with exons x0[0..n), or 0. */
static int64_t tx_cdna_pos(const int64_t *x0, const int64_t *x1, int64_t n, int plus, int64_t g)
{
    int64_t j = tx_bisect(x0, 0, n, g, 1) - 1;
    if (j < 0 || g >= x1[j])
        return 0;
    int64_t c = 1;
    if (plus) {
        for (int64_t k = 0; k < j; k++)
            c += x1[k] - x0[k];
        return c + g - x0[j];
    }
    for (int64_t k = n - 1; k > j; k--)
        c += x1[k] - x0[k];
    return c + x1[j] - 1 - g;
}

/* Intron classification, effects.py's Effects._inside: GAS_TX_INTRON when the change lies in
 * one intron's body only (no exon, splice site or splice region touched), with that intron's
 * number in transcription order in *number; else GAS_TX_OTHER. */
static int tx_in_intron(const int64_t *x0, const int64_t *x1, int64_t n, int plus, int64_t s, int64_t e, int ins,
                        int64_t *number, int64_t *intron)
{
    /* splice region: intron bases 3..8 from an exon edge, exon bases 1..3 (SPLICE_INTRON, SPLICE_EXON) */
    const int64_t lo_r = 3, hi_r = 8, ex = 3;
    int64_t near_lo = tx_bisect(x1, 0, n, s - hi_r - 1, 0) - 1;
    int64_t near_hi = tx_bisect(x0, 0, n, e + hi_r + 1, 1) + 1;
    if (near_lo < 0)
        near_lo = 0;
    if (near_hi > n)
        near_hi = n;
    for (int64_t j = near_lo; j < near_hi; j++)
        if (tx_overlaps(s, e, ins, x0[j], x1[j]))
            return GAS_TX_OTHER;
    int64_t hits = 0;
    for (int64_t j = near_lo; j < (near_hi < n - 1 ? near_hi : n - 1); j++) {
        int64_t i0 = x1[j], i1 = x0[j + 1];
        int region = tx_overlaps(s, e, ins, i0 - ex, i0) || tx_overlaps(s, e, ins, i1, i1 + ex) ||
                     tx_overlaps(s, e, ins, i0 + lo_r - 1, i0 + hi_r) ||
                     tx_overlaps(s, e, ins, i1 - hi_r, i1 - lo_r + 1) ||
                     (ins && (s == i0 || s == i1 || s == i0 + lo_r - 1 || s == i1 - lo_r + 1));
        int in_intron = ins ? (i0 <= s && s <= i1) : (s < i1 && e > i0);
        if (region)
            return GAS_TX_OTHER;
        if (!in_intron)
            continue;
        int body = ins ? (i0 + 2 <= s && s <= i1 - 2) : (s < i1 - 2 && e > i0 + 2);
        if (tx_overlaps(s, e, ins, i0, i0 + 2) || tx_overlaps(s, e, ins, i1 - 2, i1) || !body)
            return GAS_TX_OTHER;
        /* wholly inside the intron (a change reaching past it has touched an exon above,
         * unless the transcript's span is not its exons': then effects.py decides) */
        if (ins ? !(i0 < s && s < i1) : !(s >= i0 && e <= i1))
            return GAS_TX_OTHER;
        hits++;
        *number = plus ? j + 1 : n - 1 - j;
        *intron = j;
    }
    return hits == 1 ? GAS_TX_INTRON : GAS_TX_OTHER;
}

/* For each change q (genomic [s[q], s[q] + len[q]), len 0: an insertion before s[q]) and each
 * transcript whose span +- flank reaches it (effects.py's Effects.transcripts_near: starts
 * ascending, max_span the longest span), in query then row order, one row of output:
 * out_q, out_tx, out_kind (GAS_TX_*), and
 *   UPSTREAM/DOWNSTREAM: out_a = the distance (pairs farther than flank are left out);
 *   INTRON: out_a = the intron's number; for a one-base change, out_b = the cDNA position of
 *     the exon edge nearest to s (ties: the 5' one) and out_c = s's offset from it in the
 *     transcript's direction (HGVS c.N+/-offset), else out_b = out_c = 0;
 *   OTHER: nothing (gas_tx_entries works it out).
 * Rows past cap are counted, not written; returns the number of rows, or -1 when the
 * transcript tables are inconsistent (offsets outside the exon table). */
int64_t gas_tx_classify(int64_t n_tx, const int64_t *tx_start, const int64_t *tx_end, const int8_t *tx_strand,
                        const int64_t *exon_off, int64_t n_exons, const int64_t *exon_start, const int64_t *exon_end,
                        int64_t max_span, int64_t flank, int64_t n_q, const int64_t *q_s, const int64_t *q_len,
                        int64_t cap, int64_t *out_q, int64_t *out_tx, int64_t *out_kind, int64_t *out_a,
                        int64_t *out_b, int64_t *out_c)
{
    int64_t rows = 0;
    for (int64_t q = 0; q < n_q; q++) {
        int64_t s = q_s[q], e = s + (q_len[q] > 0 ? q_len[q] : 0);
        int ins = q_len[q] <= 0;
        int64_t stop = e > s + 1 ? e : s + 1, contig = s >> 32;
        int64_t lo = tx_bisect(tx_start, 0, n_tx, s - max_span - flank, 0);
        int64_t hi = tx_bisect(tx_start, lo, n_tx, e + flank, 1);
        for (int64_t i = lo; i < hi; i++) {
            int64_t ts = tx_start[i], te = tx_end[i];
            if (!(te + flank > s && ts - flank < stop && (ts >> 32) == contig))
                continue;
            int plus = tx_strand[i] > 0;
            int64_t kind, a = 0, b = 0, c = 0;
            int64_t lo_t = ins ? s - 1 : s, hi_t = ins ? s + 1 : e;
            if (hi_t <= ts || lo_t >= te || (ins && (s <= ts || s >= te))) {
                int before = e <= ts || (ins && s <= ts);
                a = before ? ts - s + 1 - (ins ? 0 : e - s) : s - te + 1;
                if (a > flank)
                    continue;
                kind = before == plus ? GAS_TX_UPSTREAM : GAS_TX_DOWNSTREAM;
            } else {
                int64_t x = exon_off[i], y = exon_off[i + 1], intron = 0;
                if (x < 0 || y < x || y > n_exons)
                    return -1;
                const int64_t *x0 = exon_start + x, *x1 = exon_end + x;
                kind = tx_in_intron(x0, x1, y - x, plus, s, e, ins, &a, &intron);
                if (kind == GAS_TX_INTRON && !ins && e - s == 1) {
                    /* the nearest exon edge: the intron's 5' end (i0 - 1) or 3' end (i1) */
                    int64_t i0 = x1[intron], i1 = x0[intron + 1];
                    int64_t d0 = s - (i0 - 1), d1 = i1 - s, edge;
                    edge = d0 < d1 || (d0 == d1 && plus) ? i0 - 1 : i1;
                    b = tx_cdna_pos(x0, x1, y - x, plus, edge);
                    c = plus ? s - edge : edge - s;
                }
            }
            if (rows < cap) {
                out_q[rows] = q;
                out_tx[rows] = i;
                out_kind[rows] = kind;
                out_a[rows] = a;
                out_b[rows] = b;
                out_c[rows] = c;
            }
            rows++;
        }
    }
    return rows;
}

/* The CSQ text of a batch of changes (effects.py's Effects.entries), written from
 * gas_tx_classify's rows: upstream/downstream and intron-body entries from the transcript
 * tables, every other entry by gas_change_effect (or, where it declines, from the 24 fields
 * effects.py worked out); the pick of each change; and each record's escaped INFO text. */

/* The text pieces written (effects.py's _WORDS, in this order). */
enum {
    W_TERMS = 0,  /* 6: the consequence terms of each entry kind K_* */
    W_IMPACT = 6, /* 6: their IMPACT */
    W_INTERGENIC = 12,
    W_MODIFIER,
    W_TRANSCRIPT,
    W_YES,
    W_NF,             /* 4: FLAGS by its cds_start_NF (1) and cds_end_NF (2) bits */
    W_CODING = 20,    /* "c." */
    W_NONCODING,      /* "n." */
    W_PROTEIN_CODING, /* the biotypes the pick order and the terms depend on */
    W_NMD,
    W_CHANGE = 24,        /* 21: each gas_change_effect term bit's name */
    W_CHANGE_IMPACT = 45, /* 21: its IMPACT */
    W_COUNT = 66
};
/* Entry kinds: upstream, downstream, intron body (+ 1: NMD transcript, + 2: non-coding), intergenic. */
enum { K_UP = 0, K_DOWN = 1, K_INTRON = 2, K_INTERGENIC = 6 };
enum { TX_FIELDS = 24, TX_PICKED = 21 }; /* CSQ fields; PICK's index */
/* The transcript flags bits (bundle.py's TX_*). */
enum { F_CANONICAL = 1, F_MANE = 2, F_START_NF = 8, F_END_NF = 16 };

typedef struct {
    uint8_t *out;
    int64_t cap, at; /* past cap, bytes are counted, not written */
} tx_text;

static void tx_put(tx_text *t, const uint8_t *p, int64_t n)
{
    if (n <= 0)
        return;
    if (t->at + n <= t->cap)
        memcpy(t->out + t->at, p, (size_t)n);
    t->at += n;
}

static void tx_put_byte(tx_text *t, uint8_t c)
{
    tx_put(t, &c, 1);
}

static void tx_put_int(tx_text *t, int64_t v, int sign)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = 1 + (v < 0 || sign);
    for (uint64_t x = u; x >= 10; x /= 10)
        n++;
    if (t->at + n <= t->cap) { /* the digits written in place, last first */
        uint8_t *d = t->out + t->at + n;
        do {
            *--d = (uint8_t)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0 || sign)
            *--d = v < 0 ? '-' : '+';
    }
    t->at += n;
}

/* The bytes escape() changes: '%' '=' ';' ',' ' '. */
static const uint8_t TX_SPECIAL[256] = {['%'] = 1, ['='] = 1, [';'] = 1, [','] = 1, [' '] = 1};

/* Whether one of the 16 bytes at p is one of TX_SPECIAL's (GCC's vector extension: SSE2 on
 * x86-64, NEON on arm64, plain code elsewhere). */
typedef uint8_t tx_v16 __attribute__((vector_size(16)));
typedef uint64_t tx_v2 __attribute__((vector_size(16)));
static inline int tx_special16(const uint8_t *p)
{
    tx_v16 x;
    memcpy(&x, p, 16);
    tx_v2 m = (tx_v2)((x == '%') | (x == '=') | (x == ';') | (x == ',') | (x == ' '));
    return (m[0] | m[1]) != 0;
}

/* VEP's escaping of a CSQ value inside INFO, effects.py's escape(): '%' '=' ';' ',' as %XX,
 * ' ' as '_' (per byte: UTF-8 sequences hold no ASCII bytes). The runs between them (most
 * entries are one) are found 16 bytes at a time and copied whole. */
static void tx_put_escaped(tx_text *t, const uint8_t *p, int64_t n)
{
    int64_t i = 0, run = 0;
    while (i < n) {
        while (i + 16 <= n && !tx_special16(p + i))
            i += 16;
        while (i < n && !TX_SPECIAL[p[i]])
            i++;
        tx_put(t, p + run, i - run);
        if (i < n) {
            uint8_t c = p[i++];
            const char *x = c == '%' ? "%25" : c == '=' ? "%3D" : c == ';' ? "%3B" : c == ',' ? "%2C" : "_";
            tx_put(t, (const uint8_t *)x, c == ' ' ? 1 : 3);
            run = i;
        }
    }
}

typedef struct {
    const uint8_t *const *data; /* the packed string tables: tx_id, gene_id, gene_name, biotype, mane */
    const int32_t *const *off;
} tx_strings;

enum { S_ID = 0, S_GENE_ID, S_GENE_NAME, S_BIOTYPE, S_MANE };

static void tx_put_string(tx_text *t, const tx_strings *s, int table, int64_t i)
{
    tx_put(t, s->data[table] + s->off[table][i], s->off[table][i + 1] - s->off[table][i]);
}

static int tx_string_is(const tx_strings *s, int table, int64_t i, const uint8_t *w, int64_t n)
{
    int64_t a = s->off[table][i], len = s->off[table][i + 1] - a;
    return len == n && memcmp(s->data[table] + a, w, (size_t)n) == 0;
}

/* A word of the table (words + word_off[w] .. word_off[w + 1]). */
#define TX_WORD(w) (words + word_off[w]), (word_off[(w) + 1] - word_off[w])

/* Whether row x's entry (pick rank rx) goes before row y's (rank ry) in the pick order
 * (effects.py's Tx.pick_head, the rank, Tx.pick_tail): MANE Select, canonical, protein_coding
 * (head), rank, longer CDS, longer transcript, transcript id (its UTF-8 bytes' order is
 * Python's str order). head and cds_len are per row, of the row's transcript. */
static int tx_pick_before(const int64_t *head, const int64_t *cds_len, const int64_t *row_tx, const int64_t *tx_start,
                          const int64_t *tx_end, const tx_strings *s, int64_t x, int64_t rx, int64_t y, int64_t ry)
{
    if (head[x] != head[y])
        return head[x] < head[y];
    if (rx != ry)
        return rx < ry;
    if (cds_len[x] != cds_len[y])
        return cds_len[x] > cds_len[y];
    int64_t i = row_tx[x], j = row_tx[y];
    int64_t si = tx_end[i] - tx_start[i], sj = tx_end[j] - tx_start[j];
    if (si != sj)
        return si > sj;
    int64_t a = s->off[S_ID][i], na = s->off[S_ID][i + 1] - a, b = s->off[S_ID][j], nb = s->off[S_ID][j + 1] - b;
    int c = memcmp(s->data[S_ID] + a, s->data[S_ID] + b, (size_t)(na < nb ? na : nb));
    return c < 0 || (c == 0 && na < nb);
}

/* A base on the transcript's strand (effects.py's _COMP: ACGTN complemented, others kept). */
static uint8_t tx_base(uint8_t c, int plus)
{
    if (plus)
        return c;
    switch (c) {
    case 'A': return 'T';
    case 'C': return 'G';
    case 'G': return 'C';
    case 'T': return 'A';
    case 'a': return 't';
    case 'c': return 'g';
    case 'g': return 'c';
    case 't': return 'a';
    default: return c;
    }
}

/* gas_change_effect (its section below) over one bundle's tables, called here per row, with a
 * cache of the last transcripts' sequences that lives for one gas_tx_entries call. */
typedef struct gas_snv_tables gas_snv_tables;
typedef struct snv_cache snv_cache;
static snv_cache *snv_cache_new(void);
static void snv_cache_free(snv_cache *c);
static int64_t gas_change_effect(const gas_snv_tables *t, snv_cache *cache, int64_t i, int64_t s, const uint8_t *r,
                                 int64_t lr, const uint8_t *a, int64_t la, int64_t nmd, char *out, int64_t cap);
enum { N_CHANGE_TERMS = 21 }; /* gas_change_effect's term bits (effects.py's CHANGE_TERMS) */

/* The terms of gas_change_effect's bits most severe first (rank ascending): their bits in order;
 * returns how many. */
static int tx_bits_order(int64_t bits, const int64_t *rank, int *order)
{
    int n = 0;
    for (int b = 0; b < N_CHANGE_TERMS; b++)
        if (bits >> b & 1) {
            int j = n++;
            for (; j > 0 && rank[order[j - 1]] > rank[b]; j--)
                order[j] = order[j - 1];
            order[j] = b;
        }
    return n;
}

/* Room for need bytes in *buf (grown by doubling); 0 when out of memory. */
static int tx_reserve(char **buf, int64_t *size, int64_t need)
{
    if (need <= *size)
        return 1;
    int64_t size2 = *size * 2 > need ? *size * 2 : need;
    char *p = realloc(*buf, (size_t)size2);
    if (!p)
        return 0;
    *buf = p;
    *size = size2;
    return 1;
}

/* A transcript's constant fields, written once per gas_tx_entries call into its arena and
 * copied whole into each of its entries (decision 129): "SYMBOL|Gene|Feature_type|Feature|
 * BIOTYPE", then "STRAND|FLAGS", then "CANONICAL|MANE_SELECT"; len: each field's bytes (fields
 * 3-7, 19, 20, 22, 23). */
typedef struct {
    int64_t at; /* in the arena; -1: not written yet */
    int64_t len[9];
} tx_const;

static int tx_const_write(tx_const *c, char **arena, int64_t *size, int64_t *used, const tx_strings *s, int64_t i,
                          const uint8_t *words, const int64_t *word_off, int8_t strand, uint8_t flags)
{
    int64_t need = 32 + word_off[W_COUNT] - word_off[0];
    for (int k = S_ID; k <= S_MANE; k++)
        need += s->off[k][i + 1] - s->off[k][i];
    if (!tx_reserve(arena, size, *used + need))
        return 0;
    tx_text w = {(uint8_t *)*arena, *size, *used};
    int64_t mark = w.at;
    int f = 0;
#define TX_CONST_FIELD(sep, put) (mark = w.at, put, c->len[f++] = w.at - mark, (sep) ? tx_put_byte(&w, '|') : (void)0)
    TX_CONST_FIELD(1, tx_put_string(&w, s, S_GENE_NAME, i));
    TX_CONST_FIELD(1, tx_put_string(&w, s, S_GENE_ID, i));
    TX_CONST_FIELD(1, tx_put(&w, TX_WORD(W_TRANSCRIPT)));
    TX_CONST_FIELD(1, tx_put_string(&w, s, S_ID, i));
    TX_CONST_FIELD(0, tx_put_string(&w, s, S_BIOTYPE, i));
    TX_CONST_FIELD(1, tx_put_int(&w, strand, 0));
    TX_CONST_FIELD(0, tx_put(&w, TX_WORD(W_NF + (flags & F_START_NF ? 1 : 0) + (flags & F_END_NF ? 2 : 0))));
    TX_CONST_FIELD(1, (flags & F_CANONICAL) ? tx_put(&w, TX_WORD(W_YES)) : (void)0);
    TX_CONST_FIELD(0, !(flags & F_MANE)                        ? (void)0
                      : s->off[S_MANE][i + 1] > s->off[S_MANE][i] ? tx_put_string(&w, s, S_MANE, i)
                                                                  : tx_put(&w, TX_WORD(W_YES)));
#undef TX_CONST_FIELD
    c->at = *used;
    *used = w.at;
    return 1;
}

/* For the n_q changes of gas_tx_classify's n rows (row_q, row_tx, row_kind, row_a, row_b,
 * row_c; rows of a change together, changes ascending), writes into raw each change's entries
 * (unescaped, one after another, entry e at raw[entry_off[e] .. entry_off[e + 1]), those of
 * change q from entry change_entry[q]; change_entry[n_q] = the total), in row order:
 *   UP/DOWN and INTRON rows: from the tables; an INTRON row's HGVSc is the substitution
 *     written from row_b and row_c when the change is a one-base substitution (q_ref, q_alt:
 *     its bases, upper case), else gas_change_effect's (nmd 0), or the piece the row names;
 *   OTHER rows: gas_change_effect's terms and fields 8-16 (ct: its tables; change q: global
 *     start q_s[q], REF q_bases + q_base_off[q] of q_lr[q] bytes, then its ALT of q_la[q]),
 *     or, when row_piece[r] >= 0, its 24 fields from the pieces (pieces p: text + p_start[p],
 *     p_len[p]) and row_rank[r] its pick rank;
 *   a change without entries: the intergenic one.
 * A row without a piece whose change the kernel declines (gas_change_effect's -1, or a byte
 * past ASCII) is listed in declined, sizes[2] of them, and nothing is written (returns 0):
 * the caller gives their pieces and calls again. ce_cap: the room first offered to each
 * gas_change_effect call (more when it asks). Per transcript: strand, flags, phase, exon and
 * CDS offsets, and c01 (cDNA positions of its first and last coding bases, read for the rows'
 * transcripts only). The pick (first entry least in the pick order) gets PICK 1, and its fields
 * pick_field[0 .. n_pick) at pick_start[q * n_pick + k], pick_len (-1 for none).
 * change_mask[q]: bit K of each kind K of entry written from the tables; change_bits[q]: the
 * OR of its OTHER rows' gas_change_effect bits. kind_rank: the pick rank of each kind K_UP ..
 * K_INTRON + 3, then of each term bit. Then per record (changes [rec_change[r],
 * rec_change[r + 1]), change q its record's ALT change_alt[q] of rec_alts[r]), the escaped INFO
 * text "CSQ=e1,e2,...;NAME=v1,v2..." for the n_names names (name_text + name_off[k] ..
 * name_off[k + 1], each pick field name_pick[k]; "." for an ALT without pick or an empty field)
 * at info + info_off[r] .. info_off[r + 1] (empty: no change). raw and info are written up to
 * raw_cap and info_cap bytes: sizes[0], sizes[1] are what they need (the caller calls again
 * with more room when either is larger). Returns the number of entries, or -1 when a row's
 * transcript, piece or change is out of range (or memory runs out). */
int64_t gas_tx_entries(int64_t n_tx, const int64_t *tx_start, const int64_t *tx_end, const int8_t *tx_strand,
                       const uint8_t *tx_flags, const int8_t *tx_phase, const int64_t *exon_off,
                       const int64_t *cds_off, const int64_t *c01, const uint8_t *const *s_data,
                       const int32_t *const *s_off, const uint8_t *words, const int64_t *word_off,
                       const int64_t *kind_rank, const gas_snv_tables *ct, int64_t ce_cap, int64_t n_q,
                       const uint8_t *q_text, const int64_t *q_allele, const int64_t *q_allele_len,
                       const uint8_t *q_ref, const uint8_t *q_alt, const int64_t *q_snv, const int64_t *q_s,
                       const uint8_t *q_bases, const int64_t *q_base_off, const int64_t *q_lr, const int64_t *q_la,
                       int64_t n, const int64_t *row_q, const int64_t *row_tx, const int64_t *row_kind,
                       const int64_t *row_a, const int64_t *row_b, const int64_t *row_c, const int64_t *row_piece,
                       const int64_t *row_rank, int64_t n_pieces, const uint8_t *p_text, const int64_t *p_start,
                       const int64_t *p_len, int64_t n_pick, const int64_t *pick_field, int64_t n_rec,
                       const int64_t *rec_change, const int64_t *rec_alts, const int64_t *change_alt, int64_t n_names,
                       const uint8_t *name_text, const int64_t *name_off, const int64_t *name_pick, uint8_t *raw,
                       int64_t raw_cap, int64_t *entry_off, int64_t *change_entry, int64_t *change_mask,
                       int64_t *change_bits, int64_t *pick_start, int64_t *pick_len, uint8_t *info, int64_t info_cap,
                       int64_t *info_off, int64_t *head, int64_t *cds_len, int64_t *row_entry_kind, int64_t *ce_at,
                       int64_t *ce_len, int64_t *ce_bits, int64_t *ce_rank, int64_t *declined, int64_t *sizes)
{
    tx_strings s = {s_data, s_off};
    tx_text t = {raw, raw_cap, 0};
    /* gas_change_effect's texts, row r's (fields 8-16, or an INTRON row's HGVSc) at
     * ce + ce_at[r], ce_len[r] bytes */
    char *ce = NULL;
    snv_cache *cache = snv_cache_new();
    if (!cache)
        return -1;
    int64_t ce_size = 0, ce_used = 0, n_declined = 0, tx_lo = n_tx, tx_hi = -1;
    sizes[2] = 0;
    /* Per row: its transcript's pick head and CDS length (scratch head[r], cds_len[r] hold the
     * row's, indexed by row) and its kind of entry (K_*, -1: none, 7: OTHER's fields from the
     * pieces, 8: from gas_change_effect). */
    for (int64_t r = 0; r < n; r++) {
        int64_t i = row_tx[r], q = row_q[r];
        if (i < 0 || i >= n_tx || q < 0 || q >= n_q || (r && q < row_q[r - 1]) ||
            (row_piece[r] >= 0 && row_piece[r] + (row_kind[r] == GAS_TX_OTHER ? TX_FIELDS : 1) > n_pieces)) {
            free(ce);
            snv_cache_free(cache);
            return -1;
        }
        tx_lo = i < tx_lo ? i : tx_lo;
        tx_hi = i > tx_hi ? i : tx_hi;
        int coding = cds_off[i + 1] > cds_off[i];
        int nmd = tx_string_is(&s, S_BIOTYPE, i, TX_WORD(W_NMD));
        head[r] = (tx_flags[i] & F_MANE ? 0 : 4) + (tx_flags[i] & F_CANONICAL ? 0 : 2) +
                  (tx_string_is(&s, S_BIOTYPE, i, TX_WORD(W_PROTEIN_CODING)) ? 0 : 1);
        cds_len[r] = coding ? c01[2 * i + 1] - c01[2 * i] + 1 : 0;
        int64_t k = row_kind[r];
        if (k == GAS_TX_UPSTREAM || k == GAS_TX_DOWNSTREAM)
            row_entry_kind[r] = k == GAS_TX_UPSTREAM ? K_UP : K_DOWN;
        else if (k == GAS_TX_INTRON)
            row_entry_kind[r] = K_INTRON + (nmd ? 1 : 0) + (coding ? 0 : 2);
        else
            row_entry_kind[r] = row_piece[r] >= 0 ? 7 : 8;
        if (row_piece[r] >= 0 || (k == GAS_TX_INTRON && q_snv[q]) || k == GAS_TX_UPSTREAM || k == GAS_TX_DOWNSTREAM)
            continue;
        /* effects.py's Effects.one inside the transcript (an INTRON row: _native_hgvsc) */
        const uint8_t *b = q_bases + q_base_off[q];
        int64_t lr = q_lr[q], la = q_la[q], got = -1;
        int ascii = 1;
        for (int64_t j = 0; j < lr + la; j++)
            ascii &= b[j] < 0x80;
        for (int tries = 0; ascii && tries < 2; tries++) {
            if (!tx_reserve(&ce, &ce_size, ce_used + (tries ? -2 - got : ce_cap))) {
                free(ce);
                snv_cache_free(cache);
                return -1;
            }
            got = gas_change_effect(ct, cache, i, q_s[q], b, lr, b + lr, la, k == GAS_TX_OTHER && nmd,
                                    ce + ce_used, ce_size - ce_used);
            if (got >= -1)
                break;
        }
        if (got < 0) {
            declined[n_declined++] = r;
            continue;
        }
        /* "BITS|EXON|INTRON|HGVSc|...": the bits, then the fields (OTHER) or HGVSc alone */
        const char *p = ce + ce_used, *end = p + got;
        int64_t bits = 0;
        for (; p < end && *p != '|'; p++)
            bits = bits * 10 + (*p - '0');
        p++;
        if (k == GAS_TX_INTRON) {
            for (int bar = 0; bar < 2; bar++)
                p = (const char *)memchr(p, '|', (size_t)(end - p)) + 1;
            const char *bar = memchr(p, '|', (size_t)(end - p));
            end = bar ? bar : end;
        }
        int order[N_CHANGE_TERMS];
        ce_at[r] = p - ce;
        ce_len[r] = end - p;
        ce_bits[r] = bits;
        ce_rank[r] = tx_bits_order(bits, kind_rank + 6, order) ? kind_rank[6 + order[0]] : 0;
        ce_used += got;
    }
    snv_cache_free(cache);
    if (n_declined) {
        sizes[2] = n_declined;
        free(ce);
        return 0;
    }
    /* the rows' transcripts' constant fields, each written on first use */
    tx_const *consts = tx_hi >= tx_lo ? malloc(sizeof(tx_const) * (size_t)(tx_hi - tx_lo + 1)) : NULL;
    char *pre = NULL;
    int64_t pre_size = 0, pre_used = 0;
    if (tx_hi >= tx_lo && !consts) {
        free(ce);
        return -1;
    }
    for (int64_t i = tx_lo; i <= tx_hi; i++)
        consts[i - tx_lo].at = -1;
    int64_t entries = 0, r0 = 0;
    for (int64_t q = 0; q < n_q; q++) {
        int64_t r1 = r0;
        while (r1 < n && row_q[r1] == q)
            r1++;
        /* the pick */
        int64_t best = -1, best_rank = 0;
        for (int64_t r = r0; r < r1; r++) {
            int64_t ek = row_entry_kind[r];
            if (ek < 0)
                continue;
            int64_t rank = ek == 7 ? row_rank[r] : ek == 8 ? ce_rank[r] : kind_rank[ek];
            if (best < 0 || tx_pick_before(head, cds_len, row_tx, tx_start, tx_end, &s, r, rank, best, best_rank)) {
                best = r;
                best_rank = rank;
            }
        }
        change_entry[q] = entries;
        change_mask[q] = 0;
        for (int64_t k = 0; k < n_pick; k++)
            pick_len[q * n_pick + k] = -1;
        for (int64_t r = r0; r < r1 || (r == r1 && best < 0); r++) {
            int64_t ek = r < r1 ? row_entry_kind[r] : K_INTERGENIC;
            if (ek < 0)
                continue;
            int64_t i = r < r1 ? row_tx[r] : 0, fs[TX_FIELDS + 1];
            int picked = r == best || r == r1;
            const int64_t *piece = ek == 7 ? &row_piece[r] : NULL;
            entry_off[entries++] = t.at;
            if (ek < 7)
                change_mask[q] |= (int64_t)1 << ek;
            /* an OTHER row's terms (bits) and the cursor in its fields 8-16 */
            int order[N_CHANGE_TERMS], n_terms = 0;
            const char *cp = NULL, *cend = NULL;
            if (ek == 8) {
                change_bits[q] |= ce_bits[r];
                n_terms = tx_bits_order(ce_bits[r], kind_rank + 6, order);
                cp = ce + ce_at[r];
                cend = cp + ce_len[r];
            }
            int plus = ek < K_INTERGENIC && tx_strand[i] > 0, coding = ek < K_INTERGENIC && cds_off[i + 1] > cds_off[i];
            /* the fields in order, each kind's written straight through (no branch per field) */
#define TX_FIELD(k) (tx_put_byte(&t, '|'), fs[k] = t.at)
            fs[0] = t.at;
            if (piece) {
                for (int k = 0; k < TX_FIELDS; k++) {
                    if (k)
                        TX_FIELD(k);
                    if (k == TX_PICKED) {
                        if (picked)
                            tx_put_byte(&t, '1');
                        continue;
                    }
                    int64_t p = *piece + k;
                    tx_put(&t, p_text + p_start[p], p_len[p]);
                }
            } else if (ek == K_INTERGENIC) {
                tx_put(&t, q_text + q_allele[q], q_allele_len[q]);
                TX_FIELD(1);
                tx_put(&t, TX_WORD(W_INTERGENIC));
                TX_FIELD(2);
                tx_put(&t, TX_WORD(W_MODIFIER));
                for (int k = 3; k < TX_FIELDS; k++) {
                    TX_FIELD(k);
                    if (k == TX_PICKED && picked)
                        tx_put_byte(&t, '1');
                }
            } else {
                tx_put(&t, q_text + q_allele[q], q_allele_len[q]);
                TX_FIELD(1);
                if (ek == 8) {
                    for (int j = 0; j < n_terms; j++) {
                        if (j)
                            tx_put_byte(&t, '&');
                        tx_put(&t, TX_WORD(W_CHANGE + order[j]));
                    }
                    TX_FIELD(2);
                    if (n_terms)
                        tx_put(&t, TX_WORD(W_CHANGE_IMPACT + order[0]));
                } else {
                    tx_put(&t, TX_WORD(W_TERMS + ek));
                    TX_FIELD(2);
                    tx_put(&t, TX_WORD(W_IMPACT + ek));
                }
                tx_const *c = &consts[i - tx_lo];
                if (c->at < 0 && !tx_const_write(c, &pre, &pre_size, &pre_used, &s, i, words, word_off, tx_strand[i],
                                                 tx_flags[i])) {
                    free(ce);
                    free(consts);
                    free(pre);
                    return -1;
                }
                const uint8_t *cc = (const uint8_t *)pre + c->at;
                const int64_t *cl = c->len;
                int64_t n37 = cl[0] + cl[1] + cl[2] + cl[3] + cl[4] + 4, n1920 = cl[5] + cl[6] + 1;
                TX_FIELD(3); /* SYMBOL, Gene, Feature_type, Feature, BIOTYPE */
                tx_put(&t, cc, n37);
                for (int k = 4; k <= 7; k++)
                    fs[k] = fs[k - 1] + cl[k - 4] + 1;
                if (ek == 8) { /* fields 8-16: gas_change_effect's */
                    for (int k = 8; k <= 16; k++) {
                        TX_FIELD(k);
                        const char *bar = memchr(cp, '|', (size_t)(cend - cp));
                        const char *stop = bar ? bar : cend;
                        tx_put(&t, (const uint8_t *)cp, stop - cp);
                        cp = bar ? bar + 1 : cend;
                    }
                } else {
                    TX_FIELD(8);
                    TX_FIELD(9);
                    if (ek >= K_INTRON) {
                        tx_put_int(&t, row_a[r], 0);
                        tx_put_byte(&t, '/');
                        tx_put_int(&t, exon_off[i + 1] - exon_off[i] - 1, 0);
                    }
                    TX_FIELD(10);
                    if (ek >= K_INTRON && q_snv[q]) {
                        /* tx_id:c.N+offset REF>ALT (Tx._exonic's N), the bases in the transcript's direction */
                        tx_put_string(&t, &s, S_ID, i);
                        tx_put_byte(&t, ':');
                        tx_put(&t, TX_WORD(coding ? W_CODING : W_NONCODING));
                        int64_t c = row_b[r], c0 = c01[2 * i], c1 = c01[2 * i + 1];
                        int phase = tx_phase[i], pad = coding && phase ? (3 - phase) % 3 : 0;
                        if (!coding)
                            tx_put_int(&t, c, 0);
                        else if (c < c0) {
                            tx_put_byte(&t, '-');
                            tx_put_int(&t, c0 - c, 0);
                        } else if (c > c1) {
                            tx_put_byte(&t, '*');
                            tx_put_int(&t, c - c1, 0);
                        } else
                            tx_put_int(&t, c - c0 + 1 + pad, 0);
                        tx_put_int(&t, row_c[r], 1);
                        tx_put_byte(&t, tx_base(q_ref[q], plus));
                        tx_put_byte(&t, '>');
                        tx_put_byte(&t, tx_base(q_alt[q], plus));
                    } else if (ek >= K_INTRON && row_piece[r] >= 0) {
                        tx_put(&t, p_text + p_start[row_piece[r]], p_len[row_piece[r]]);
                    } else if (ek >= K_INTRON) {
                        tx_put(&t, (const uint8_t *)ce + ce_at[r], ce_len[r]);
                    }
                    for (int k = 11; k <= 16; k++)
                        TX_FIELD(k);
                }
                TX_FIELD(17);
                TX_FIELD(18);
                if (ek <= K_DOWN)
                    tx_put_int(&t, row_a[r], 0);
                TX_FIELD(19); /* STRAND, FLAGS */
                tx_put(&t, cc + n37, n1920);
                fs[20] = fs[19] + cl[5] + 1;
                TX_FIELD(TX_PICKED);
                if (picked)
                    tx_put_byte(&t, '1');
                TX_FIELD(22); /* CANONICAL, MANE_SELECT */
                tx_put(&t, cc + n37 + n1920, cl[7] + cl[8] + 1);
                fs[23] = fs[22] + cl[7] + 1;
            }
#undef TX_FIELD
            fs[TX_FIELDS] = t.at + 1;
            if (picked)
                for (int64_t k = 0; k < n_pick; k++) {
                    int64_t f = pick_field[k];
                    pick_start[q * n_pick + k] = fs[f];
                    pick_len[q * n_pick + k] = fs[f + 1] - 1 - fs[f];
                }
        }
        r0 = r1;
    }
    free(ce);
    free(consts);
    free(pre);
    change_entry[n_q] = entries;
    entry_off[entries] = t.at;
    sizes[0] = t.at;
    /* the records' INFO text, escaped, from the entries' (when they were all written) */
    tx_text v = {info, info_cap, 0};
    for (int64_t rec = 0; rec < n_rec; rec++) {
        int64_t c0 = rec_change[rec], c1 = rec_change[rec + 1];
        info_off[rec] = v.at;
        if (c0 < 0 || c1 > n_q || c0 > c1)
            return -1;
        if (c0 == c1 || t.at > raw_cap)
            continue;
        tx_put(&v, (const uint8_t *)"CSQ=", 4);
        for (int64_t e = change_entry[c0]; e < change_entry[c1]; e++) {
            if (e > change_entry[c0])
                tx_put_byte(&v, ',');
            tx_put_escaped(&v, raw + entry_off[e], entry_off[e + 1] - entry_off[e]);
        }
        for (int64_t k = 0; k < n_names; k++) {
            tx_put_byte(&v, ';');
            tx_put(&v, name_text + name_off[k], name_off[k + 1] - name_off[k]);
            tx_put_byte(&v, '=');
            for (int64_t alt = 0; alt < rec_alts[rec]; alt++) {
                if (alt)
                    tx_put_byte(&v, ',');
                int64_t q = c0;
                while (q < c1 && change_alt[q] != alt)
                    q++;
                int64_t len = q < c1 ? pick_len[q * n_pick + name_pick[k]] : -1;
                if (len > 0)
                    tx_put_escaped(&v, raw + pick_start[q * n_pick + name_pick[k]], len);
                else
                    tx_put_byte(&v, '.');
            }
        }
    }
    info_off[n_rec] = v.at;
    sizes[1] = v.at;
    return entries;
}

/* ------------------------------------------------------------------------------------------
 * Effects of a change inside a transcript (effects.py's Effects.one for an SNV, MNV, deletion,
 * insertion or delins there; first written for SNVs, hence the snv_ names): the terms,
 * EXON/INTRON numbers, positions, codons, amino acids, HGVSc (3' shifted) and HGVSp of an entry,
 * from the bundle's arrays and the mapped genome, byte for byte what the Python rules give
 * (they are the specification; tests compare the two on every pair).
 * ------------------------------------------------------------------------------------------ */

/* The bundle's tables gas_change_effect reads (textops.py's SnvTables, checked there once). */
struct gas_snv_tables {
    int64_t n_tx;
    const int64_t *tx_start, *tx_end;
    const int8_t *tx_strand;
    const uint8_t *tx_flags;
    const int8_t *tx_phase;
    const int64_t *exon_off; /* n_tx + 1 */
    int64_t n_exons;
    const int64_t *exon_start, *exon_end;
    const int64_t *cds_off; /* n_tx + 1 */
    int64_t n_cds;
    const int64_t *cds_start, *cds_end;
    const uint8_t *seq;
    int64_t n_contigs;
    const int64_t *seq_off; /* n_contigs + 1, the last = the bases in seq */
    const uint8_t *id_data, *pid_data;
    const int32_t *id_off, *pid_off; /* n_tx + 1 each, within their data */
};

/* The terms, one bit each, in effects.py's CHANGE_TERMS order. */
enum {
    SNV_ACCEPTOR = 1 << 0, SNV_DONOR = 1 << 1, SNV_REGION = 1 << 2, SNV_INTRON = 1 << 3, SNV_NC_EXON = 1 << 4,
    SNV_NC = 1 << 5, SNV_UTR5 = 1 << 6, SNV_UTR3 = 1 << 7, SNV_CODING = 1 << 8, SNV_INCOMPLETE = 1 << 9,
    SNV_START_LOST = 1 << 10, SNV_STOP_GAINED = 1 << 11, SNV_STOP_LOST = 1 << 12, SNV_STOP_RETAINED = 1 << 13,
    SNV_SYNONYMOUS = 1 << 14, SNV_MISSENSE = 1 << 15, SNV_NMD = 1 << 16, SNV_FRAMESHIFT = 1 << 17,
    SNV_INFRAME_INS = 1 << 18, SNV_INFRAME_DEL = 1 << 19, SNV_START_RETAINED = 1 << 20
};
enum { TX_START_NF_BIT = 8 }; /* bundle.py's TX_START_NF */

/* Output text: bytes past cap are counted, not written. */
typedef struct {
    char *p;
    int64_t n, cap;
} snv_text;

static void snv_put(snv_text *o, const void *s, int64_t n)
{
    if (n > 0 && o->n + n <= o->cap)
        memcpy(o->p + o->n, s, (size_t)n);
    o->n += n > 0 ? n : 0;
}

static void snv_str(snv_text *o, const char *s)
{
    snv_put(o, s, (int64_t)strlen(s));
}

static void snv_int(snv_text *o, int64_t v)
{
    char b[24];
    int n = 0, neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        b[23 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        b[23 - n++] = '-';
    snv_put(o, b + 24 - n, n);
}

static const char SNV_CODONS[] = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";

/* A base's index in SNV_CODONS' order plus one (T, C, A, G: 1..4), 0 for any other byte. */
static const uint8_t SNV_INDEX[256] = {['T'] = 1, ['C'] = 2, ['A'] = 3, ['G'] = 4};
/* The complement of A, C, G, T in either case (effects.py's _COMP_BYTES; 0: the byte itself). */
static const uint8_t SNV_COMPLEMENT[256] = {['A'] = 'T', ['C'] = 'G', ['G'] = 'C', ['T'] = 'A',
                                            ['a'] = 't', ['c'] = 'g', ['g'] = 'c', ['t'] = 'a'};

/* effects.py's CODON_TABLE.get(codon, "X") */
static char snv_aa(const uint8_t *c)
{
    int a = SNV_INDEX[c[0]], b = SNV_INDEX[c[1]], d = SNV_INDEX[c[2]];
    return a && b && d ? SNV_CODONS[(a - 1) * 16 + (b - 1) * 4 + d - 1] : 'X';
}

static uint8_t snv_comp(uint8_t c)
{
    return SNV_COMPLEMENT[c] ? SNV_COMPLEMENT[c] : c;
}

/* effects.py's three() of one residue, written (a table: every name is 3 bytes) */
static void snv_three(snv_text *o, char aa)
{
    static const char *const names[256] = {
        ['A'] = "Ala", ['R'] = "Arg", ['N'] = "Asn", ['D'] = "Asp", ['C'] = "Cys", ['Q'] = "Gln", ['E'] = "Glu",
        ['G'] = "Gly", ['H'] = "His", ['I'] = "Ile", ['L'] = "Leu", ['K'] = "Lys", ['M'] = "Met", ['F'] = "Phe",
        ['P'] = "Pro", ['S'] = "Ser", ['T'] = "Thr", ['W'] = "Trp", ['Y'] = "Tyr", ['V'] = "Val", ['*'] = "Ter",
        ['U'] = "Sec"};
    const char *name = names[(uint8_t)aa];
    snv_put(o, name ? name : "Xaa", 3);
}

static void snv_threes(snv_text *o, const char *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        snv_three(o, p[i]);
}

/* "lo/total" or "lo-hi/total" (effects.py's _range_of); nothing when lo > hi (no hit). */
static void snv_range(snv_text *o, int64_t lo, int64_t hi, int64_t total)
{
    if (lo > hi)
        return;
    snv_int(o, lo);
    if (hi != lo) {
        snv_put(o, "-", 1);
        snv_int(o, hi);
    }
    snv_put(o, "/", 1);
    snv_int(o, total);
}

/* One transcript's figures the entry needs. */
typedef struct {
    const int64_t *x0, *x1; /* exons, ascending */
    int64_t n;
    int plus, coding;
    int64_t c0, c1, pad; /* cDNA positions of the first and last coding bases; N padding of the CDS */
} snv_tx;

/* effects.py's Tx._exonic: the c./n. position of cDNA position c. */
static void snv_exonic(snv_text *o, const snv_tx *t, int64_t c)
{
    if (!t->coding) {
        snv_int(o, c);
    } else if (c < t->c0) {
        snv_put(o, "-", 1);
        snv_int(o, t->c0 - c);
    } else if (c > t->c1) {
        snv_put(o, "*", 1);
        snv_int(o, c - t->c1);
    } else {
        snv_int(o, c - t->c0 + 1 + t->pad);
    }
}

/* effects.py's Tx.hgvs_pos: exonic, or the nearest exon edge's position and the offset. */
static void snv_hgvs_pos(snv_text *o, const snv_tx *t, int64_t g)
{
    int64_t c = tx_cdna_pos(t->x0, t->x1, t->n, t->plus, g);
    if (c) {
        snv_exonic(o, t, c);
        return;
    }
    int64_t j = tx_bisect(t->x0, 0, t->n, g, 1), best_d = -1, best_edge = 0, best_off = 0;
    for (int64_t x = j > 0 ? j - 1 : 0; x < j + 1 && x < t->n; x++) {
        int64_t edges[2] = {t->x1[x] - 1, t->x0[x]};
        for (int k = 0; k < 2; k++) {
            int64_t dist = g - edges[k], d = dist < 0 ? -dist : dist;
            int upstream = t->plus ? edges[k] < g : edges[k] > g;
            if (best_d < 0 || d < best_d || (d == best_d && upstream)) {
                best_d = d;
                best_edge = edges[k];
                best_off = t->plus ? dist : -dist;
            }
        }
    }
    snv_exonic(o, t, tx_cdna_pos(t->x0, t->x1, t->n, t->plus, best_edge));
    snv_put(o, best_off < 0 ? "-" : "+", 1);
    snv_int(o, best_off < 0 ? -best_off : best_off);
}

/* Translation of seq[0..n) codon by codon up to and including the first stop (effects.py's
 * translate_to_stop); returns the residues written to out. */
static int64_t snv_translate_to_stop(const uint8_t *seq, int64_t n, char *out)
{
    int64_t m = 0;
    for (int64_t i = 0; i + 3 <= n; i += 3) {
        out[m] = snv_aa(seq + i);
        if (out[m++] == '*')
            break;
    }
    return m;
}

/* effects.py's Effects._hgvsp_inframe_text after the pid: shift codons inserted (+) or deleted
 * (-); codon_aa the changed codon's residue (0: none). */
static void snv_hgvsp(snv_text *o, const char *ref, int64_t lr, const char *alt, int64_t la, int64_t codon,
                      char codon_aa, int64_t shift)
{
    if (lr == la && memcmp(ref, alt, (size_t)lr) == 0) {
        if (!codon_aa) {
            o->n = -1;
            return;
        }
        snv_three(o, codon_aa);
        snv_int(o, codon + 1);
        snv_put(o, "=", 1);
        return;
    }
    int64_t p = 0;
    while (p < lr && p < la && ref[p] == alt[p])
        p++;
    if (p >= lr) {
        o->n = -1; /* no text */
        return;
    }
    int stop_ref = ref[lr - 1] == '*';
    const char *star = memchr(alt, '*', (size_t)la);
    int64_t new_stop = star ? star - alt : -1, old_stop = (stop_ref ? lr - 1 : lr) + shift;
    if (new_stop >= p && new_stop < old_stop) {
        snv_three(o, ref[p]);
        snv_int(o, p + 1);
        if (new_stop == p) {
            snv_str(o, "Ter");
            return;
        }
        int64_t end = new_stop < lr - 1 ? new_stop : lr - 1;
        if (end != p) {
            snv_put(o, "_", 1);
            snv_three(o, ref[end]);
            snv_int(o, end + 1);
        }
        snv_str(o, "delins");
        snv_threes(o, alt + p, new_stop + 1 - p);
        return;
    }
    if (stop_ref && p == lr - 1) {
        if (p >= la) {
            o->n = -1;
            return;
        }
        snv_str(o, "Ter");
        snv_int(o, p + 1);
        snv_three(o, alt[p]);
        snv_str(o, "extTer");
        if (new_stop >= 0)
            snv_int(o, new_stop - p);
        else
            snv_put(o, "?", 1);
        return;
    }
    int64_t limit = (lr < la ? lr : la) - p, q = 0;
    while (q < limit && ref[lr - 1 - q] == alt[la - 1 - q])
        q++;
    int64_t n_del = lr - q - p, n_ins = la - q - p;
    if (n_del == 1 && n_ins == 1) {
        snv_three(o, ref[p]);
        snv_int(o, p + 1);
        snv_three(o, alt[p]);
        return;
    }
    if (n_del == 0) {
        int64_t k = n_ins;
        if (p >= k && memcmp(ref + p - k, alt + p, (size_t)k) == 0) {
            if (k > 1) {
                snv_three(o, ref[p - k]);
                snv_int(o, p - k + 1);
                snv_put(o, "_", 1);
            }
            snv_three(o, ref[p - 1]);
            snv_int(o, p);
            snv_str(o, "dup");
            return;
        }
        if (p == 0) {
            o->n = -1;
            return;
        }
        snv_three(o, ref[p - 1]);
        snv_int(o, p);
        snv_put(o, "_", 1);
        snv_three(o, ref[p]); /* p < lr here */
        snv_int(o, p + 1);
        snv_str(o, "ins");
        snv_threes(o, alt + p, n_ins);
        return;
    }
    snv_three(o, ref[p]);
    snv_int(o, p + 1);
    if (n_del > 1) {
        snv_put(o, "_", 1);
        snv_three(o, ref[p + n_del - 1]);
        snv_int(o, p + n_del);
    }
    snv_str(o, n_ins ? "delins" : "del");
    snv_threes(o, alt + p, n_ins);
}

/* The genome's bases [g, g + n) (global coordinates), or NULL when outside their contig. */
static const uint8_t *snv_bases(const gas_snv_tables *t, int64_t g, int64_t n)
{
    int64_t cid = g >> 32, at = g & 0xffffffffLL;
    if (cid < 0 || cid >= t->n_contigs || n < 0)
        return NULL;
    int64_t base = t->seq_off[cid], len = t->seq_off[cid + 1] - base;
    return at + n <= len ? t->seq + base + at : NULL;
}

/* effects.py's _mark: codons c[0..n) with [lo, hi) in upper case, the others in lower; "-" when none. */
static void snv_mark(snv_text *o, const uint8_t *c, int64_t n, int64_t lo, int64_t hi)
{
    if (n <= 0) {
        snv_put(o, "-", 1);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        uint8_t b = c[j];
        if (j >= lo && j < hi)
            b = (uint8_t)(b >= 'a' && b <= 'z' ? b - 32 : b);
        else
            b = (uint8_t)(b >= 'A' && b <= 'Z' ? b + 32 : b);
        snv_put(o, &b, 1);
    }
}

/* effects.py's translate: the whole codons of seq[0..n); returns the residues written. */
static int64_t snv_translate(const uint8_t *seq, int64_t n, char *out)
{
    int64_t m = 0;
    for (int64_t i = 0; i + 3 <= n; i += 3)
        out[m++] = snv_aa(seq + i);
    return m;
}

static int snv_has(const char *p, int64_t n, char c)
{
    return n > 0 && memchr(p, c, (size_t)n) != NULL;
}

/* p[0..n) starts or ends with q[0..m) */
static int snv_beside(const char *p, int64_t n, const char *q, int64_t m)
{
    return m <= n && (memcmp(p, q, (size_t)m) == 0 || memcmp(p + n - m, q, (size_t)m) == 0);
}

/* effects.py's _inframe_beside (VEP's inframe_insertion / inframe_deletion tests). */
static int snv_inframe_beside(const uint8_t *rc, int64_t nr, const uint8_t *ac, int64_t na, const char *ref_aa,
                              int64_t lra, const char *alt_aa, int64_t laa)
{
    if (na > nr) {
        const char *star = laa > 0 ? memchr(alt_aa, '*', (size_t)laa) : NULL;
        return snv_beside(alt_aa, star ? star - alt_aa + 1 : laa, ref_aa, lra);
    }
    if (snv_beside((const char *)rc, nr, (const char *)ac, na))
        return 1;
    int64_t p = 0, q = 0;
    while (p < nr && p < na && rc[p] == ac[p])
        p++;
    while (q < na - p && rc[nr - 1 - q] == ac[na - 1 - q])
        q++;
    return q == na - p && (nr - p - q) % 3 == 0;
}

/* effects.py's Tx.cds_pos: the CDS position of genomic base g (the padding counted), 0: none. */
static int64_t snv_cds_pos(const snv_tx *t, int64_t g)
{
    int64_t c = t->coding ? tx_cdna_pos(t->x0, t->x1, t->n, t->plus, g) : 0;
    return c && t->c0 <= c && c <= t->c1 ? c - t->c0 + 1 + t->pad : 0;
}

/* Whether a base of effects.py's Tx._cds_bases (the first (head) or last three coding bases)
 * lies in [s, e); none when it finds fewer than need bases. */
static int snv_cds_bases_in(const gas_snv_tables *t, int64_t y0, int64_t y1, int plus, int head, int64_t need,
                            int64_t s, int64_t e)
{
    int64_t g[3], n = 0;
    int forward = plus == head;
    for (int64_t k = 0; k < y1 - y0 && n < 3; k++) {
        int64_t row = forward ? y0 + k : y1 - 1 - k, cs = t->cds_start[row], ce = t->cds_end[row];
        if (forward)
            for (int64_t x = cs; x < ce && x < cs + 3 && n < 3; x++)
                g[n++] = x;
        else
            for (int64_t x = ce - 1; x >= cs && x > ce - 4 && n < 3; x--)
                g[n++] = x;
    }
    if (n < need)
        return 0;
    for (int64_t k = 0; k < n; k++)
        if (s <= g[k] && g[k] < e)
            return 1;
    return 0;
}

/* c./n. positions of [s, e)'s first and last bases in transcription order (effects.py's _span). */
static void snv_span(snv_text *o, const snv_tx *t, int64_t s, int64_t e)
{
    int64_t first = t->plus ? s : e - 1, last = t->plus ? e - 1 : s;
    snv_hgvs_pos(o, t, first);
    if (first != last) {
        snv_put(o, "_", 1);
        snv_hgvs_pos(o, t, last);
    }
}

/* b[0..n) in the transcript's direction: as is on +, reverse complemented on -. */
static void snv_oriented(snv_text *o, const uint8_t *b, int64_t n, int plus)
{
    for (int64_t j = 0; j < n; j++) {
        uint8_t c = plus ? b[j] : snv_comp(b[n - 1 - j]);
        snv_put(o, &c, 1);
    }
}

/* A coding transcript's spliced sequence and reference protein, the same for every change
 * gas_change_effect meets in it: buf holds the padding (tx.pad bytes), then the cDNA, with
 * the padding's 'N's over the cDNA's bases before the first coding one (read only when there
 * is no padding), so the CDS starts at buf + c0 - 1; ref_p its translation up to and
 * including the first stop (lp residues). */
typedef struct {
    int64_t tx; /* the transcript, -1: empty */
    int64_t lp, use;
    uint8_t *buf;
    char *ref_p;
} snv_slot;

/* The last SNV_SLOTS transcripts' (the least recently used replaced): a gas_tx_entries call
 * meets a locus's transcripts change after change (decision 129). */
enum { SNV_SLOTS = 16 };
struct snv_cache {
    snv_slot slot[SNV_SLOTS];
    int64_t tick;
};

static snv_cache *snv_cache_new(void)
{
    snv_cache *c = calloc(1, sizeof *c);
    if (c)
        for (int k = 0; k < SNV_SLOTS; k++)
            c->slot[k].tx = -1;
    return c;
}

static void snv_cache_free(snv_cache *c)
{
    if (!c)
        return;
    for (int k = 0; k < SNV_SLOTS; k++) {
        free(c->slot[k].buf);
        free(c->slot[k].ref_p);
    }
    free(c);
}

/* Transcript i's slot (tx its figures, cdna_len its exonic bases, len its CDS's with the
 * padding), filled when it is not cached; NULL when an exon leaves its contig or memory runs
 * out. */
static const snv_slot *snv_cached(snv_cache *c, const gas_snv_tables *t, int64_t i, const snv_tx *tx,
                                  int64_t cdna_len, int64_t len)
{
    snv_slot *v = &c->slot[0];
    for (int k = 0; k < SNV_SLOTS; k++) {
        if (c->slot[k].tx == i) {
            c->slot[k].use = ++c->tick;
            return &c->slot[k];
        }
        if (c->slot[k].use < v->use)
            v = &c->slot[k];
    }
    free(v->buf);
    free(v->ref_p);
    v->tx = -1;
    v->buf = malloc((size_t)(tx->pad + cdna_len + 3));
    v->ref_p = malloc((size_t)(len / 3 + 1));
    if (!v->buf || !v->ref_p)
        return NULL;
    uint8_t *cd = v->buf + tx->pad;
    for (int64_t j = 0, at = 0; j < tx->n; j++) {
        int64_t len_j = tx->x1[j] - tx->x0[j];
        const uint8_t *g = snv_bases(t, tx->x0[j], len_j);
        if (!g)
            return NULL;
        if (tx->plus) {
            memcpy(cd + at, g, (size_t)len_j);
        } else {
            uint8_t *d = cd + cdna_len - 1 - at;
            for (int64_t m = 0; m < len_j; m++)
                d[-m] = snv_comp(g[m]);
        }
        at += len_j;
    }
    uint8_t *seq = v->buf + tx->c0 - 1;
    memset(seq, 'N', (size_t)tx->pad);
    v->lp = snv_translate_to_stop(seq, len, v->ref_p);
    v->tx = i;
    v->use = ++c->tick;
    return v;
}

/* The entry of the change of genome bases [s, s + lr) (global; an insertion when lr is 0,
 * between s - 1 and s) to a[0..la) in transcript i, ref the VCF's REF bases (minimal, as
 * effects.py's Effects.one gets them): out gets "TERMS|EXON|INTRON|HGVSc|HGVSp|cDNA|CDS|Protein|
 * Amino_acids|Codons" (TERMS: the SNV_* bits in decimal; the rest CSQ fields 8 to 16). Returns
 * the text's length, or -1 when the tables are inconsistent, the change does not touch the
 * transcript's inside, the transcript's sequence (or HGVSc's shifting window) leaves its contig
 * or its coding bases are not within its exons (gas_tx_entries' caller then works the entry
 * out), or -2 - n when out holds fewer than the n bytes of the text. cache: the calling
 * gas_tx_entries' transcript sequences (snv_cached). */
static int64_t gas_change_effect(const gas_snv_tables *t, snv_cache *cache, int64_t i, int64_t s, const uint8_t *r,
                                 int64_t lr, const uint8_t *a, int64_t la, int64_t nmd, char *out, int64_t cap)
{
    if (i < 0 || i >= t->n_tx || lr < 0 || la < 0 || (!lr && !la))
        return -1;
    int ins = lr == 0;
    int64_t e = s + lr, ts = t->tx_start[i], te = t->tx_end[i];
    if (ins ? !(ts < s && s < te) : !(s < te && e > ts))
        return -1; /* effects.py's Effects.one: outside the transcript */
    int64_t x = t->exon_off[i], y = t->exon_off[i + 1], y0 = t->cds_off[i], y1 = t->cds_off[i + 1];
    if (x < 0 || y < x || y > t->n_exons || y0 < 0 || y1 < y0 || y1 > t->n_cds || y == x)
        return -1;
    snv_tx tx = {t->exon_start + x, t->exon_end + x, y - x, t->tx_strand[i] > 0, y1 > y0, 0, 0, 0};
    const int64_t *x0 = tx.x0, *x1 = tx.x1, n = tx.n;
    int plus = tx.plus;
    int64_t cdna_len = 0;
    for (int64_t j = 0; j < n; j++) {
        if (x1[j] < x0[j])
            return -1;
        cdna_len += x1[j] - x0[j];
    }
    if (tx.coding) { /* effects.py's tx_scalars: exonic bases before the first coding base and the last's end */
        int64_t first = t->cds_start[y0], last1 = t->cds_end[y1 - 1], before_first = 0, before_end = 0;
        for (int64_t j = 0; j < n; j++) {
            int64_t p = (first < x1[j] ? first : x1[j]) - x0[j], q = (last1 < x1[j] ? last1 : x1[j]) - x0[j];
            before_first += p > 0 ? p : 0;
            before_end += q > 0 ? q : 0;
        }
        tx.c0 = plus ? before_first + 1 : cdna_len - before_end + 1;
        tx.c1 = plus ? before_end : cdna_len - before_first;
        int64_t phase = t->tx_phase[i];
        tx.pad = phase ? ((3 - phase) % 3 + 3) % 3 : 0; /* Python's (3 - phase) % 3 */
    }
    int64_t terms = 0, exon_lo = INT64_MAX, exon_hi = -1, intron_lo = INT64_MAX, intron_hi = -1, exonic = 0;
    /* Effects._inside */
    int64_t near_lo = tx_bisect(x1, 0, n, s - 9, 0) - 1, near_hi = tx_bisect(x0, 0, n, e + 9, 1) + 1;
    near_lo = near_lo < 0 ? 0 : near_lo;
    near_hi = near_hi > n ? n : near_hi;
    for (int64_t j = near_lo; j < near_hi; j++) {
        if (tx_overlaps(s, e, ins, x0[j], x1[j])) {
            int64_t number = plus ? j + 1 : n - j;
            exon_lo = number < exon_lo ? number : exon_lo;
            exon_hi = number > exon_hi ? number : exon_hi;
            exonic += ins ? 1 : (e < x1[j] ? e : x1[j]) - (s > x0[j] ? s : x0[j]);
        }
    }
    for (int64_t j = near_lo; j < (near_hi < n - 1 ? near_hi : n - 1); j++) {
        int64_t i0 = x1[j], i1 = x0[j + 1];
        int region = tx_overlaps(s, e, ins, i0 - 3, i0) || tx_overlaps(s, e, ins, i1, i1 + 3) ||
                     tx_overlaps(s, e, ins, i0 + 2, i0 + 8) || tx_overlaps(s, e, ins, i1 - 8, i1 - 2) ||
                     (ins && (s == i0 || s == i1 || s == i0 + 2 || s == i1 - 2));
        if (!(ins ? i0 <= s && s <= i1 : s < i1 && e > i0)) {
            terms |= region ? SNV_REGION : 0;
            continue;
        }
        int64_t number = plus ? j + 1 : n - 1 - j;
        intron_lo = number < intron_lo ? number : intron_lo;
        intron_hi = number > intron_hi ? number : intron_hi;
        int low = tx_overlaps(s, e, ins, i0, i0 + 2), high = tx_overlaps(s, e, ins, i1 - 2, i1);
        terms |= (plus ? low : high) ? SNV_DONOR : 0;
        terms |= (plus ? high : low) ? SNV_ACCEPTOR : 0;
        terms |= (ins ? i0 + 2 <= s && s <= i1 - 2 : s < i1 - 2 && e > i0 + 2) ? SNV_INTRON : 0;
        terms |= region ? SNV_REGION : 0;
    }
    /* Effects._cdna_range: kind 1 one position, 2 a range (0: "?") */
    int64_t cd_a = 0, cd_b = 0, cd_kind = 0;
    if (exonic) {
        int64_t first = ins ? s - 1 : plus ? s : e - 1, last = ins ? s : plus ? e - 1 : s;
        cd_a = tx_cdna_pos(x0, x1, n, plus, first);
        cd_b = tx_cdna_pos(x0, x1, n, plus, last);
        if (ins) {
            int64_t lo = cd_a < cd_b ? cd_a : cd_b, hi = cd_a < cd_b ? cd_b : cd_a;
            cd_kind = lo ? 2 : 0;
            cd_a = lo;
            cd_b = hi;
        } else {
            cd_kind = cd_a && cd_a == cd_b && first == last ? 1 : 2;
        }
    }
    /* Effects._coding: cds_kind 1 partly coding (p0, p1; 0: "?"), 2 the CDS bases [i0, i1) */
    int64_t cds_kind = 0, p0 = 0, p1 = 0, i0 = 0, i1 = 0, delta = 0, len = 0, nrc = 0, nac = 0, lra = 0, laa = 0;
    int64_t lp = 0, lap = 0, total = 0, w0 = 0;
    int complete = 0, codons = 0, hgvsp = 0; /* hgvsp: 0 none, 1 Met1?, 2 in frame, 3 frameshift */
    const uint8_t *seq = NULL;
    uint8_t *altbuf = NULL, *alt = NULL;
    const snv_slot *slot = NULL;
    const char *ref_p = NULL;
    char *ref_aa = NULL, *alt_aa = NULL, *alt_p = NULL, *pep = NULL;
    int64_t status = 0;
    if (!tx.coding) {
        terms |= exonic ? SNV_NC_EXON : SNV_NC;
    } else if (exonic || (ins && (tx_cdna_pos(x0, x1, n, plus, s - 1) || tx_cdna_pos(x0, x1, n, plus, s)))) {
        int64_t cs0 = t->cds_start[y0], ce1 = t->cds_end[y1 - 1];
        if (ins) {
            int64_t left = snv_cds_pos(&tx, s - 1), right = snv_cds_pos(&tx, s);
            if (left && right) {
                i0 = i1 = (plus ? right : left) - 1;
            } else if ((left && !tx_cdna_pos(x0, x1, n, plus, s)) || (right && !tx_cdna_pos(x0, x1, n, plus, s - 1))) {
                /* between a coding base and the intron: the inserted bases join the exon */
                int64_t first = plus ? right : left, after = plus ? left : right;
                i0 = i1 = first ? first - 1 : after;
            } else {
                terms |= (s <= cs0) == plus ? SNV_UTR5 : SNV_UTR3;
                goto done;
            }
        } else {
            if ((e < cs0 ? e : cs0) > (s > ts ? s : ts))
                terms |= plus ? SNV_UTR5 : SNV_UTR3;
            if ((e < te ? e : te) > (s > ce1 ? s : ce1))
                terms |= plus ? SNV_UTR3 : SNV_UTR5;
            int64_t coding = 0;
            for (int64_t row = y0; row < y1 && t->cds_start[row] < e; row++) {
                int64_t lo = s > t->cds_start[row] ? s : t->cds_start[row], hi = e < t->cds_end[row] ? e : t->cds_end[row];
                coding += hi > lo ? hi - lo : 0;
            }
            if (!coding)
                goto done;
            p0 = snv_cds_pos(&tx, plus ? s : e - 1);
            p1 = snv_cds_pos(&tx, plus ? e - 1 : s);
            i0 = p0 - 1;
            i1 = p1;
            cds_kind = coding < e - s || !p0 || !p1 || p1 - p0 + 1 != e - s ? 1 : 2;
        }
        if (tx.c0 < 1 || tx.c1 < tx.c0) {
            status = -1; /* coding bases outside the exons */
            goto done;
        }
        /* the cDNA, and cds_seq (the padding, then the coding bases) with the 3' UTR after it at
         * seq: the padding takes the place of the 5' UTR's last bases, read only when there is none */
        len = tx.pad + tx.c1 - tx.c0 + 1;
        total = tx.pad + cdna_len - tx.c0 + 1;
        slot = snv_cached(cache, t, i, &tx, cdna_len, len);
        if (!slot) {
            status = -1;
            goto done;
        }
        const uint8_t *cd = slot->buf + tx.pad;
        seq = slot->buf + tx.c0 - 1;
        int starts = !tx.pad && !(t->tx_flags[i] & TX_START_NF_BIT) && len >= 3 && snv_aa(seq) == 'M';
        if (cds_kind == 1) { /* partly coding: no codon change to describe */
            int in_cdna = tx_cdna_pos(x0, x1, n, plus, s) && tx_cdna_pos(x0, x1, n, plus, e - 1);
            int stops = len % 3 == 0 && len >= 3 && snv_aa(seq + len - 3) == '*';
            if (in_cdna && starts && snv_cds_bases_in(t, y0, y1, plus, 1, 1, s, e))
                terms |= SNV_START_LOST;
            if (in_cdna && stops && snv_cds_bases_in(t, y0, y1, plus, 0, 3, s, e))
                terms |= SNV_STOP_LOST;
            if (!(terms & (SNV_START_LOST | SNV_STOP_LOST)))
                terms |= SNV_CODING;
            goto done;
        }
        cds_kind = 2;
        /* the alternate CDS and 3' UTR at alt, after the 5' UTR (read only when there is no padding) */
        delta = la - (i1 - i0);
        altbuf = malloc((size_t)(tx.c0 - 1 + total + la + 3));
        if (!altbuf) {
            status = -1;
            goto done;
        }
        alt = altbuf + tx.c0 - 1;
        if (!tx.pad)
            memcpy(altbuf, cd, (size_t)(tx.c0 - 1));
        memcpy(alt, seq, (size_t)i0);
        for (int64_t j = 0; j < la; j++)
            alt[i0 + j] = plus ? a[j] : snv_comp(a[la - 1 - j]);
        memcpy(alt + i0 + la, seq + i1, (size_t)(total - i1));
        int64_t alt_len = len + delta, full = len - len % 3, k = i0 / 3;
        w0 = k * 3;
        int64_t w1 = ins ? (i0 % 3 == 0 ? w0 : w0 + 3) : (i1 + 2) / 3 * 3;
        nrc = (w1 < len ? w1 : len) - w0;
        nac = (w1 + delta < alt_len ? w1 + delta : alt_len) - w0;
        nrc = nrc > 0 ? nrc : 0;
        nac = nac > 0 ? nac : 0;
        codons = 1;
        int frameshift = delta % 3 != 0;
        if (i1 > full || (ins && i0 >= full)) {
            terms |= SNV_INCOMPLETE | SNV_CODING;
            goto done;
        }
        ref_aa = malloc((size_t)(nrc / 3 + 1));
        alt_aa = malloc((size_t)(nac / 3 + 2));
        pep = malloc((size_t)(nac / 3 + 2));
        alt_p = malloc((size_t)((total + la) / 3 + len / 3 + nac / 3 + 3));
        if (!ref_aa || !alt_aa || !pep || !alt_p) {
            status = -1;
            goto done;
        }
        const uint8_t *rc = seq + w0, *ac = alt + w0;
        lra = snv_translate(rc, nrc, ref_aa);
        if (frameshift) {
            alt_aa[0] = 'X';
            laa = 1;
        } else {
            laa = snv_translate(ac, nac, alt_aa);
        }
        complete = 1;
        if (w0 == 0 && starts && (!ins || i0 > 0)) {
            /* VEP's start_lost (effects.py's _coding says which test is which) */
            int64_t joined = tx.c0 - 1 + alt_len;
            int altered = delta && !(joined >= len && memcmp(altbuf + joined - len, seq, (size_t)len) == 0);
            int inframe = !frameshift && snv_inframe_beside(rc, nrc, ac, nac, ref_aa, lra, alt_aa, laa);
            int64_t cut = nac - nac % 3, lpep = snv_translate(ac, cut, pep);
            if (cut < nac)
                pep[lpep++] = 'X';
            int lost = (altered && !inframe) || (tx.c0 > 1 && !(alt_len >= 3 && memcmp(alt, "ATG", 3) == 0)) ||
                       !snv_beside(pep, lpep, ref_aa, lra);
            terms |= delta && !altered ? SNV_START_RETAINED : 0;
            if (lost) {
                terms |= SNV_START_LOST | (frameshift ? SNV_FRAMESHIFT : 0);
                hgvsp = 1;
                goto done;
            }
        }
        ref_p = slot->ref_p;
        lp = slot->lp;
        if (delta == 0 && lp && ref_p[lp - 1] == '*' && w1 / 3 < lp) {
            /* a substitution before the stop codon: the codons after the changed ones are the reference's */
            memcpy(alt_p, ref_p, (size_t)k);
            const char *star = memchr(alt_aa, '*', (size_t)laa);
            int64_t m = star ? star - alt_aa + 1 : laa;
            memcpy(alt_p + k, alt_aa, (size_t)m);
            lap = k + m;
            if (!star) {
                memcpy(alt_p + lap, ref_p + w1 / 3, (size_t)(lp - w1 / 3));
                lap += lp - w1 / 3;
            }
        } else {
            int64_t from = k < lp ? k : 0;
            memcpy(alt_p, ref_p, (size_t)from);
            lap = from + snv_translate_to_stop(alt + 3 * from, total + delta - 3 * from, alt_p + from);
        }
        int sr = snv_has(ref_aa, lra, '*');
        if (frameshift) {
            int64_t law = snv_translate(ac, nac, pep); /* the alternate's whole codons */
            int sw = snv_has(pep, law, '*');
            terms |= SNV_FRAMESHIFT;
            terms |= sw && !sr ? SNV_STOP_GAINED : 0;
            terms |= sr && !sw ? SNV_STOP_LOST : 0;
            terms |= lra && ref_aa[0] == '*' && law && pep[0] == '*' ? SNV_STOP_RETAINED : 0;
            hgvsp = 3;
            goto done;
        }
        int sa = snv_has(alt_aa, laa, '*'), same = lra == laa && memcmp(ref_aa, alt_aa, (size_t)lra) == 0;
        terms |= sa && !sr ? SNV_STOP_GAINED : 0;
        terms |= sr && !sa ? SNV_STOP_LOST : 0;
        if (sr && sa && (same || (char *)memchr(ref_aa, '*', (size_t)lra) - ref_aa ==
                                     (char *)memchr(alt_aa, '*', (size_t)laa) - alt_aa))
            terms |= SNV_STOP_RETAINED;
        if (delta == 0) {
            if (same)
                terms |= !sr && !(terms & SNV_START_RETAINED) ? SNV_SYNONYMOUS : 0;
            else if (!(terms & (SNV_STOP_GAINED | SNV_STOP_LOST | SNV_START_LOST)))
                terms |= SNV_MISSENSE;
        } else {
            terms |= delta > 0 ? SNV_INFRAME_INS : SNV_INFRAME_DEL;
        }
        hgvsp = 2;
    }
done:;
    /* HGVSc: a deletion or insertion shifted 3' in the transcript's direction within it
     * (effects.py's _shift_del, _shift_ins), an insertion of the bases before it a dup */
    int64_t hs = s, he = e, rot = 0, dup = 0;
    if (status == 0 && !(lr && la)) {
        int64_t lo = s < ts ? s : ts, hi = e > te ? e : te;
        const uint8_t *w = snv_bases(t, lo, hi - lo);
        if (!w) {
            status = -1;
        } else if (!la) {
            if (plus)
                while (he < hi && w[he - lo] == w[hs - lo])
                    hs++, he++;
            else
                while (hs > lo && w[hs - 1 - lo] == w[he - 1 - lo])
                    hs--, he--;
        } else {
            if (plus)
                while (hs < hi && w[hs - lo] == a[rot % la])
                    hs++, rot++;
            else
                while (hs > lo && w[hs - 1 - lo] == a[((rot - 1) % la + la) % la])
                    hs--, rot--;
            rot = (rot % la + la) % la;
        }
    }
    uint8_t *ins_seq = NULL; /* the inserted bases, rotated */
    if (status == 0 && !lr) {
        ins_seq = malloc((size_t)la);
        if (!ins_seq) {
            status = -1;
        } else {
            for (int64_t j = 0; j < la; j++)
                ins_seq[j] = a[(rot + j) % la];
            int64_t at = hs & 0xffffffffLL;
            const uint8_t *g = plus ? (at >= la ? snv_bases(t, hs - la, la) : NULL) : snv_bases(t, hs, la);
            dup = g && memcmp(g, ins_seq, (size_t)la) == 0;
        }
    }
    snv_text o = {out, 0, cap};
    if (status < 0)
        goto end;
    if ((terms & SNV_REGION) && (terms & (SNV_DONOR | SNV_ACCEPTOR)))
        terms &= ~(int64_t)SNV_REGION; /* the site says more */
    terms |= nmd ? SNV_NMD : 0;
    if (!terms)
        terms = intron_hi >= 0 ? SNV_INTRON : SNV_CODING;
    snv_int(&o, terms);
    snv_put(&o, "|", 1);
    snv_range(&o, exon_lo, exon_hi, n);
    snv_put(&o, "|", 1);
    snv_range(&o, intron_lo, intron_hi, n - 1);
    snv_put(&o, "|", 1);
    const uint8_t *id = t->id_data + t->id_off[i], *pid = t->pid_data + t->pid_off[i];
    int64_t id_len = t->id_off[i + 1] - t->id_off[i], pid_len = t->pid_off[i + 1] - t->pid_off[i];
    if (!pid_len) {
        pid = id;
        pid_len = id_len;
    }
    snv_put(&o, id, id_len);
    snv_str(&o, tx.coding ? ":c." : ":n.");
    if (lr == 1 && la == 1) {
        snv_hgvs_pos(&o, &tx, s);
        snv_oriented(&o, r, 1, plus);
        snv_put(&o, ">", 1);
        snv_oriented(&o, a, 1, plus);
    } else if (lr && la) {
        snv_span(&o, &tx, s, e);
        snv_str(&o, "delins");
        snv_oriented(&o, a, la, plus);
    } else if (!la) {
        snv_span(&o, &tx, hs, he);
        snv_str(&o, "del");
    } else if (dup) {
        snv_span(&o, &tx, plus ? hs - la : hs, plus ? hs : hs + la);
        snv_str(&o, "dup");
    } else {
        snv_hgvs_pos(&o, &tx, plus ? hs - 1 : hs);
        snv_put(&o, "_", 1);
        snv_hgvs_pos(&o, &tx, plus ? hs : hs - 1);
        snv_str(&o, "ins");
        snv_oriented(&o, ins_seq, la, plus);
    }
    snv_put(&o, "|", 1);
    if (hgvsp) {
        int64_t at = o.n;
        snv_put(&o, pid, pid_len);
        snv_str(&o, ":p.");
        if (hgvsp == 1) {
            snv_str(&o, "Met1?");
        } else if (hgvsp == 3) { /* effects.py's _hgvsp_fs */
            int64_t p = 0;
            while (p < lp && p < lap && ref_p[p] == alt_p[p])
                p++;
            if (p >= lp || ref_p[p] == 'X') {
                o.n = at;
            } else {
                snv_three(&o, ref_p[p]);
                snv_int(&o, p + 1);
                if (p >= lap) {
                    snv_str(&o, "fsTer?");
                } else if (alt_p[p] == '*') {
                    snv_str(&o, "Ter");
                } else {
                    const char *star = memchr(alt_p, '*', (size_t)lap);
                    snv_three(&o, alt_p[p]);
                    snv_str(&o, "fsTer");
                    if (star)
                        snv_int(&o, star - alt_p - p + 1);
                    else
                        snv_put(&o, "?", 1);
                }
            }
        } else {
            int64_t codon = i0 / 3;
            snv_text p = {o.n <= o.cap ? o.p + o.n : NULL, 0, o.n <= o.cap ? o.cap - o.n : 0};
            snv_hgvsp(&p, ref_p, lp, alt_p, lap, codon, snv_aa(seq + codon * 3), delta / 3);
            if (p.n < 0) {
                o.n = at; /* no HGVSp */
            } else {
                o.n += p.n;
                /* effects.py's _hgvsp_inframe: no HGVSp names an unknown residue (nor holds "Xaa") */
                for (int64_t c = at; c + 3 <= o.n && c + 3 <= o.cap; c++)
                    if (memcmp(o.p + c, "Xaa", 3) == 0) {
                        o.n = at;
                        break;
                    }
            }
        }
    }
    snv_put(&o, "|", 1);
    if (cd_kind == 1) {
        snv_int(&o, cd_a);
    } else if (cd_kind == 2) {
        if (cd_a)
            snv_int(&o, cd_a);
        else
            snv_put(&o, "?", 1);
        snv_put(&o, "-", 1);
        if (cd_b)
            snv_int(&o, cd_b);
        else
            snv_put(&o, "?", 1);
    }
    snv_put(&o, "|", 1);
    if (cds_kind == 1) { /* "p0-p1|aa0-aa1", "?" where a base is not coding */
        int64_t v[4] = {p0, p1, p0 ? (p0 - 1) / 3 + 1 : 0, p1 ? (p1 - 1) / 3 + 1 : 0};
        for (int k = 0; k < 4; k++) {
            if (v[k])
                snv_int(&o, v[k]);
            else
                snv_put(&o, "?", 1);
            if (k < 3)
                snv_put(&o, k == 1 ? "|" : "-", 1);
        }
    } else if (cds_kind == 2 && ins) {
        snv_int(&o, i0);
        snv_put(&o, "-", 1);
        snv_int(&o, i0 + 1);
        snv_put(&o, "|", 1);
        if (i0 % 3 == 0) {
            snv_int(&o, i0 ? (i0 - 1) / 3 + 1 : 0); /* Python's (i0 - 1) // 3 + 1 */
            snv_put(&o, "-", 1);
        }
        snv_int(&o, i0 / 3 + 1);
    } else if (cds_kind == 2) {
        if (i1 - i0 != 1) {
            snv_int(&o, i0 + 1);
            snv_put(&o, "-", 1);
        }
        snv_int(&o, i1);
        snv_put(&o, "|", 1);
        int64_t q0 = i0 / 3 + 1, q1 = (i1 - 1) / 3 + 1;
        snv_int(&o, q0);
        if (q1 != q0) {
            snv_put(&o, "-", 1);
            snv_int(&o, q1);
        }
    } else {
        snv_put(&o, "|", 1);
    }
    snv_put(&o, "|", 1);
    if (complete) {
        if (lra == laa && memcmp(ref_aa, alt_aa, (size_t)lra) == 0) {
            snv_put(&o, ref_aa, lra);
        } else {
            snv_put(&o, lra ? ref_aa : "-", lra ? lra : 1);
            snv_put(&o, "/", 1);
            snv_put(&o, laa ? alt_aa : "-", laa ? laa : 1);
        }
    }
    snv_put(&o, "|", 1);
    if (codons) {
        snv_mark(&o, seq + w0, nrc, i0 - w0, i1 - w0);
        snv_put(&o, "/", 1);
        snv_mark(&o, alt + w0, nac, i0 - w0, i0 - w0 + la);
    }
end:
    free(altbuf);
    free(ref_aa);
    free(alt_aa);
    free(pep);
    free(alt_p);
    free(ins_seq);
    return status < 0 ? status : o.n <= cap ? o.n : -2 - o.n;
}

/* ------------------------------------------------------------------------------------------
 * Annotation sources (sources.py): a block's alleles in their minimal forms, looked up in a
 * source's compiled form; INFO values and BED rows found without a Python string per row.
 * ------------------------------------------------------------------------------------------ */

static inline uint8_t src_upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

/* A REF or ALT made of A, C, G, T, N only (either case), and not empty. */
static int src_sequence(const uint8_t *s, int64_t n)
{
    if (n <= 0)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c = src_upper(s[i]);
        if (c != 'A' && c != 'C' && c != 'G' && c != 'T' && c != 'N')
            return 0;
    }
    return 1;
}

/* A compiled source's alleles (sources.compile_source) looked up: for each of n_queries keys
 * (position qpos[i], text "REF>ALT" upper case at qtext + qoff[i], qlen[i] bytes), the first of
 * the n entries (positions pos ascending; entry e's text at text + off[e] .. off[e + 1]) with
 * that position and text, in entry order, which is the source's row order: the first row with
 * the allele wins (decision 87). out[i] = the entry, or -1 when none. An entry whose
 * text is not inside text[0 .. text_size) is never equal (the file is not trusted). */
void gas_source_lookup(int64_t n, const int64_t *pos, const uint8_t *text, int64_t text_size, const int64_t *off,
                       int64_t n_queries,
                       const int64_t *qpos, const uint8_t *qtext, const int64_t *qoff, const int64_t *qlen,
                       int64_t *out)
{
    for (int64_t i = 0; i < n_queries; i++) {
        out[i] = -1;
        for (int64_t e = tx_bisect(pos, 0, n, qpos[i], 0); e < n && pos[e] == qpos[i]; e++) {
            if (off[e] >= 0 && off[e + 1] <= text_size && off[e + 1] - off[e] == qlen[i] && memcmp(text + off[e], qtext + qoff[i], (size_t)qlen[i]) == 0) {
                out[i] = e;
                break;
            }
        }
    }
}

/* A block's records (or a source's rows, compiled) as lookup keys, and effects.py's changes:
 * each ALT of record i (ALT column alts[i] .. + alts_len[i], split on commas) becomes row r
 * with rec[r] = i, alt[r] = its index and its text at b[araw[r] .. + araw_len[r]]; when REF
 * (ref[i] .. + ref_len[i]) and the ALT are sequence (src_sequence), its minimal form
 * (sources.minimal: shared trailing, then leading bases removed; lead_first: leading, then
 * trailing, as VEP and effects.py trim) is at mpos[r] (pos[i] plus the leading bases), REF
 * b[mref[r] .. + mref_len[r]], ALT b[malt[r] .. + malt_len[r]]; otherwise mpos[r] = -1.
 * Returns the number of rows, or -1 when they would exceed cap. */
int64_t gas_source_alleles(const uint8_t *b, int64_t n, const int64_t *pos, const int64_t *ref,
                           const int64_t *ref_len, const int64_t *alts, const int64_t *alts_len, int64_t cap,
                           int lead_first, int64_t *rec, int64_t *alt, int64_t *mpos, int64_t *mref,
                           int64_t *mref_len, int64_t *malt, int64_t *malt_len, int64_t *araw, int64_t *araw_len)
{
    int64_t rows = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *r = b + ref[i], *alts_i = b + alts[i];
        int64_t rl = ref_len[i], len = alts_len[i], a0 = 0;
        int ref_ok = src_sequence(r, rl);
        for (int64_t k = 0; a0 <= len; k++) {
            const uint8_t *comma = memchr(alts_i + a0, ',', (size_t)(len - a0));
            int64_t a1 = comma ? (int64_t)(comma - alts_i) : len;
            const uint8_t *a = alts_i + a0;
            int64_t al = a1 - a0, r_len = rl;
            a0 = a1 + 1;
            if (rows >= cap)
                return -1;
            rec[rows] = i;
            alt[rows] = k;
            araw[rows] = (int64_t)(a - b);
            araw_len[rows] = al;
            mpos[rows] = -1;
            mref[rows] = malt[rows] = 0;
            mref_len[rows] = malt_len[rows] = 0;
            if (ref_ok && src_sequence(a, al)) {
                int64_t lead = 0;
                if (lead_first)
                    while (lead < r_len && lead < al && src_upper(r[lead]) == src_upper(a[lead]))
                        lead++;
                while (r_len > lead && al > lead && src_upper(r[r_len - 1]) == src_upper(a[al - 1]))
                    r_len--, al--;
                if (!lead_first)
                    while (lead < r_len && lead < al && src_upper(r[lead]) == src_upper(a[lead]))
                        lead++;
                mpos[rows] = pos[i] + lead;
                mref[rows] = ref[i] + lead;
                mref_len[rows] = r_len - lead;
                malt[rows] = (int64_t)(a - b) + lead;
                malt_len[rows] = al - lead;
            }
            rows++;
        }
    }
    return rows;
}

/* The value of INFO item id in each of n INFO texts (text + start[i] .. + len[i]; start[i] < 0:
 * none): the last item named id, "id=VALUE" or a flag "id" (value empty). With part[i] >= 0
 * only the part[i]-th comma-separated piece of the value is taken. out_start[i] = -1 when the
 * item (or that piece) is absent, else the value's start in text and out_len[i] its length. */
void gas_info_values(const uint8_t *text, int64_t n, const int64_t *start, const int64_t *len, const uint8_t *id,
                     int64_t id_len, const int64_t *part, int64_t *out_start, int64_t *out_len)
{
    for (int64_t i = 0; i < n; i++) {
        out_start[i] = -1;
        out_len[i] = 0;
        if (start[i] < 0)
            continue;
        const uint8_t *info = text + start[i];
        int64_t size = len[i], at = 0, v0 = -1, v1 = -1;
        while (at <= size) {
            const uint8_t *semi = memchr(info + at, ';', (size_t)(size - at));
            int64_t end = semi ? (int64_t)(semi - info) : size;
            int64_t item = end - at;
            if (item >= id_len && memcmp(info + at, id, (size_t)id_len) == 0) {
                if (item == id_len)
                    v0 = v1 = end;
                else if (info[at + id_len] == '=')
                    v0 = at + id_len + 1, v1 = end;
            }
            at = end + 1;
        }
        if (v0 < 0)
            continue;
        if (part[i] >= 0) { /* the part[i]-th piece between commas */
            int64_t p0 = v0;
            for (int64_t k = 0; k < part[i]; k++) {
                const uint8_t *comma = memchr(info + p0, ',', (size_t)(v1 - p0));
                if (!comma) {
                    p0 = -1;
                    break;
                }
                p0 = (int64_t)(comma - info) + 1;
            }
            if (p0 < 0)
                continue;
            const uint8_t *comma = memchr(info + p0, ',', (size_t)(v1 - p0));
            v0 = p0;
            v1 = comma ? (int64_t)(comma - info) : v1;
        }
        out_start[i] = start[i] + v0;
        out_len[i] = v1 - v0;
    }
}

/* The rows of one contig of a BED source, whole lines of text (as inflated from a tabix
 * offset on): for each row of the contig with start < end (0-based), in file order, its start,
 * end and name (column 4: text + name[r] .. + name_len[r]; length 0 when absent). Header,
 * comment and short lines, rows of other contigs before this one's and rows whose start or
 * end is not 1 to 18 digits are skipped. state[0] = 1 once a row of the contig was seen (kept
 * between calls); state[1] = 1 at the first row with start >= end or of another contig after
 * this one's (nothing further is needed). Returns the number of rows, at most cap. */
int64_t gas_bed_scan(const uint8_t *text, int64_t size, const uint8_t *contig, int64_t contig_len, int64_t end,
                     int64_t cap, int64_t *start, int64_t *stop, int64_t *name, int64_t *name_len, int64_t *state)
{
    int64_t at = 0, rows = 0;
    state[1] = 0;
    while (at < size && rows < cap) {
        const uint8_t *line = text + at;
        const uint8_t *nl = memchr(line, '\n', (size_t)(size - at));
        int64_t len = nl ? (int64_t)(nl - line) : size - at, base = at;
        at += len + 1;
        int64_t col[5], ncol = 0;
        col[0] = 0;
        for (int64_t i = 0; i < len && ncol < 4; i++)
            if (line[i] == '\t')
                col[++ncol] = i + 1;
        if (len == 0 || line[0] == '#' || ncol < 2)
            continue;
        if (col[1] - 1 != contig_len || memcmp(line, contig, (size_t)contig_len) != 0) {
            if (state[0]) {
                state[1] = 1;
                return rows;
            }
            continue;
        }
        state[0] = 1;
        int64_t value[2];
        int ok = 1;
        for (int c = 0; c < 2 && ok; c++) {
            int64_t p0 = col[1 + c], p1 = (ncol > 1 + c ? col[2 + c] - 1 : len), v = 0;
            ok = p1 - p0 >= 1 && p1 - p0 <= 18;
            for (int64_t i = p0; ok && i < p1; i++) {
                ok = line[i] >= '0' && line[i] <= '9';
                v = v * 10 + (line[i] - '0');
            }
            value[c] = v;
        }
        if (!ok)
            continue;
        if (value[0] >= end) {
            state[1] = 1;
            return rows;
        }
        start[rows] = value[0];
        stop[rows] = value[1];
        name[rows] = base + (ncol >= 3 ? col[3] : len);
        name_len[rows] = ncol >= 3 ? (ncol >= 4 ? col[4] - 1 : len) - col[3] : 0;
        rows++;
    }
    return rows;
}

/* ------------------------------------------------------------------------------------------
 * The CSQ stage's INFO check (effects.CsqStage._kept_keys).
 * ------------------------------------------------------------------------------------------ */

static inline int odd_end(uint8_t c)
{
    return c == ';' || c == '\t' || c == '\r' || c == '\n';
}

/* The start of the first match in each line (a line ends with '\n') of any of "CSQ", "PICK_",
 * ";;", ";." before ';', '\t', '\r' or '\n', "\t.;", "\t;", or ';' before '\t', '\r' or '\n':
 * where an INFO may hold a key to drop or rename, an empty key or ".". At most one per line,
 * so cap = the lines is room enough; returns how many were written. */
int64_t gas_odd_info(const uint8_t *b, int64_t size, int64_t cap, int64_t *hits)
{
    int64_t n = 0;
    for (int64_t i = 0; i < size && n < cap; i++) {
        uint8_t c = b[i], d = i + 1 < size ? b[i + 1] : 0, e = i + 2 < size ? b[i + 2] : 0; /* 0: past the end */
        int hit = 0;
        if (c == 'C')
            hit = d == 'S' && e == 'Q';
        else if (c == 'P')
            hit = i + 5 <= size && memcmp(b + i, "PICK_", 5) == 0;
        else if (c == ';')
            hit = odd_end(d) || (d == '.' && odd_end(e));
        else if (c == '\t')
            hit = d == ';' || (d == '.' && e == ';');
        if (hit) {
            hits[n++] = i;
            while (i < size && b[i] != '\n')
                i++;
        }
    }
    return n;
}

/* ---- The variants table's Parquet pages (pqwrite.py, decision 135) ----
 *
 * One column chunk of an Arrow array as the body of one Parquet v1 data page: repetition
 * levels (lists), definition levels (nullable columns, lists) each as a 4-byte length and the
 * RLE/bit-packed hybrid, then the non-null values: PLAIN (8-byte numbers, BOOLEAN bits,
 * BYTE_ARRAY strings) or dictionary indices (a bit width byte and the hybrid). The array's
 * buffers come as pointers and sizes in bytes, each index checked against them. */

typedef struct {
    const uint8_t *list_valid; /* the list array (list_offsets != NULL): validity, NULL: all valid */
    const int32_t *list_offsets;
    int64_t list_valid_size, list_offsets_size, list_offset; /* sizes in bytes; the array's offset */
    const uint8_t *valid;                                    /* the leaf array */
    const uint8_t *data;
    const int32_t *offsets; /* strings' offsets */
    int64_t valid_size, data_size, offsets_size, offset;
    int64_t kind;      /* PQ_NUMBER, PQ_BOOL, PQ_STRING or PQ_INDEX */
    int64_t dict_size; /* PQ_INDEX: how many entries the dictionary has */
    int64_t max_def;   /* the leaf's definition level when present (0: required and flat) */
} gas_pq_column;

enum { PQ_NUMBER = 0, PQ_BOOL = 1, PQ_STRING = 2, PQ_INDEX = 3, PQ_DELTA = 4 }; /* PQ_DELTA: int64 as DELTA_BINARY_PACKED */

static inline int pq_bit(const uint8_t *bits, int64_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1;
}

static uint8_t *pq_uleb(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static inline int pq_run8(const uint32_t *v, int64_t i, int64_t n)
{
    if (n - i < 8)
        return 0;
    for (int k = 1; k < 8; k++)
        if (v[i + k] != v[i])
            return 0;
    return 1;
}

/* width (<= 64) low bits of x appended to the bit stream (acc holds bits < 8 of them). */
static inline uint8_t *pq_put_bits(uint8_t *o, uint64_t *acc, int *bits, uint64_t x, int width)
{
    while (width > 0) {
        int take = width > 32 ? 32 : width;
        *acc |= (x & ((1ULL << take) - 1)) << *bits;
        x >>= take;
        width -= take;
        for (*bits += take; *bits >= 8; *bits -= 8) {
            *o++ = (uint8_t)*acc;
            *acc >>= 8;
        }
    }
    return o;
}

/* The RLE/bit-packed hybrid of n values of width bits: runs of 8 or more equal values as RLE
 * runs, the rest bit-packed in groups of 8 (the last group padded with zeros). */
static uint8_t *pq_hybrid(const uint32_t *v, int64_t n, int width, uint8_t *o)
{
    int64_t i = 0;
    while (i < n) {
        int64_t j = i + 1;
        while (j < n && v[j] == v[i])
            j++;
        if (j - i >= 8) {
            o = pq_uleb(o, (uint64_t)(j - i) << 1);
            for (int b = 0; b < (width + 7) / 8; b++)
                *o++ = (uint8_t)(v[i] >> (8 * b));
            i = j;
            continue;
        }
        int64_t s = i; /* groups of 8 until a run of 8 starts at a group's start */
        do
            i += 8;
        while (i < n && !pq_run8(v, i, n));
        o = pq_uleb(o, (uint64_t)((i - s) / 8) << 1 | 1);
        uint64_t acc = 0;
        int bits = 0;
        for (int64_t k = s; k < i; k++)
            o = pq_put_bits(o, &acc, &bits, k < n ? v[k] : 0, width);
        if (i > n)
            i = n;
    }
    return o;
}

static uint8_t *pq_levels(const uint32_t *v, int64_t n, int width, uint8_t *o)
{
    uint8_t *body = pq_hybrid(v, n, width, o + 4);
    uint32_t size = (uint32_t)(body - o - 4);
    memcpy(o, &size, 4); /* little-endian x86-64 */
    return body;
}

static int pq_width(uint64_t max)
{
    int w = 1;
    while (w < 32 && (max >> w) != 0)
        w++;
    return w;
}

/* n int64 values as DELTA_BINARY_PACKED: blocks of 128 deltas in 4 miniblocks of 32, each
 * miniblock bit-packed at the width of its largest delta above the block's least (wrapping
 * arithmetic, as the format's). At most 30 + n * 8 + (n / 128 + 1) * 14 bytes. */
static uint8_t *pq_delta(const int64_t *x, int64_t n, uint8_t *o)
{
    o = pq_uleb(o, 128);
    o = pq_uleb(o, 4);
    o = pq_uleb(o, (uint64_t)n);
    int64_t first = n ? x[0] : 0;
    o = pq_uleb(o, ((uint64_t)first << 1) ^ (uint64_t)(first >> 63));
    for (int64_t b = 1; b < n; b += 128) {
        int64_t count = n - b < 128 ? n - b : 128;
        uint64_t d[128];
        int64_t least = INT64_MAX;
        for (int64_t k = 0; k < count; k++) {
            d[k] = (uint64_t)x[b + k] - (uint64_t)x[b + k - 1];
            if ((int64_t)d[k] < least)
                least = (int64_t)d[k];
        }
        o = pq_uleb(o, ((uint64_t)least << 1) ^ (uint64_t)(least >> 63));
        uint8_t *widths = o;
        o += 4;
        for (int mb = 0; mb < 4; mb++) {
            int64_t s = mb * 32, e = s + 32 < count ? s + 32 : count;
            uint64_t top = 0;
            for (int64_t k = s; k < e; k++)
                top |= d[k] - (uint64_t)least;
            int width = 0;
            while (width < 64 && (top >> width) != 0)
                width++;
            widths[mb] = s < count ? (uint8_t)width : 0;
            if (s >= count)
                continue;
            uint64_t acc = 0;
            int bits = 0;
            for (int64_t k = s; k < s + 32; k++) /* padded to 32 values */
                o = pq_put_bits(o, &acc, &bits, k < e ? d[k] - (uint64_t)least : 0, width);
        }
    }
    return o;
}

/* The leaf's values that exist (in bounds of its buffers): how many from c->offset. */
static int64_t pq_leaf_count(const gas_pq_column *c)
{
    int64_t n = c->kind == PQ_BOOL ? c->data_size * 8 : c->kind == PQ_STRING ? c->offsets_size / 4 - 1
                                                     : c->kind == PQ_INDEX  ? c->data_size / 4
                                                                            : c->data_size / 8;
    if (c->valid != NULL && c->valid_size * 8 < n)
        n = c->valid_size * 8;
    return n - c->offset;
}

/* Levels that are all `value`: one RLE run (width <= 8), with the 4-byte length. */
static uint8_t *pq_run(uint8_t *o, uint32_t value, int64_t n)
{
    uint8_t *body = n ? pq_uleb(o + 4, (uint64_t)n << 1) : o + 4;
    if (n)
        *body++ = (uint8_t)value;
    uint32_t size = (uint32_t)(body - o - 4);
    memcpy(o, &size, 4);
    return body;
}

/* Whether bits [from, from + n) are all 0. */
static int pq_none(const uint8_t *bits, int64_t from, int64_t n)
{
    int64_t i = from, end = from + n;
    for (; i < end && (i & 7); i++)
        if (pq_bit(bits, i))
            return 0;
    for (; i + 8 <= end; i += 8)
        if (bits[i >> 3])
            return 0;
    for (; i < end; i++)
        if (pq_bit(bits, i))
            return 0;
    return 1;
}

/* Writes the page body of `rows` rows into out (cap bytes) and the number of levels (the
 * page's num_values) into *levels. Returns its size; -1 when the column is malformed (a
 * buffer too short for an offset or index, offsets decreasing, an index outside the
 * dictionary, a string outside its data, a null in a required column, an unknown kind);
 * -(room needed) when cap is short. */
int64_t gas_pq_page(const gas_pq_column *c, int64_t rows, uint8_t *out, int64_t cap, int64_t *levels)
{
    int list = c->list_offsets != NULL;
    int64_t leaves = pq_leaf_count(c);
    if (rows < 0 || c->offset < 0 || c->list_offset < 0 || c->kind < 0 || c->kind > PQ_DELTA || c->max_def < 0 ||
        c->max_def > 3 || (list && c->max_def < 2) || (!list && c->max_def > 1) ||
        (c->kind == PQ_INDEX && (c->dict_size < 0 || c->dict_size > INT32_MAX)) ||
        (c->kind == PQ_STRING && c->offsets == NULL) || (c->data == NULL && c->data_size != 0) || leaves < 0 ||
        c->offset + leaves > UINT32_MAX)
        return -1;
    if (list && (c->list_offsets_size / 4 - 1 - c->list_offset < rows ||
                 (c->list_valid != NULL && c->list_valid_size * 8 - c->list_offset < rows)))
        return -1;
    /* The rows' leaves are [lo, hi): a list's rows are its offsets apart (each checked below
     * before its levels are written), so there are at most n levels. */
    int64_t lo = list ? c->list_offsets[c->list_offset] : 0, hi = list ? c->list_offsets[c->list_offset + rows] : rows;
    if (lo < 0 || hi < lo || hi > leaves)
        return -1;
    int64_t n = list ? rows + hi - lo : rows;
    int64_t text = c->kind == PQ_STRING ? (int64_t)c->offsets[c->offset + hi] - c->offsets[c->offset + lo] : 0;
    if (c->kind == PQ_STRING && (c->offsets[c->offset + lo] < 0 || c->offsets[c->offset + hi] > c->data_size))
        return -1; /* so text <= data_size: no room asked for past the data */
    int64_t need = 8 + 2 * (n / 2 + 16) + 5 + n * (c->kind == PQ_STRING ? 4 : c->kind == PQ_INDEX ? 5 : 8) + 32;
    need += c->kind == PQ_DELTA ? 30 + (n / 128 + 1) * 14 : 0;
    need += text > 0 ? text : 0;
    if (cap < need)
        return -need;
    /* Every row null (a genes-only table's bundle columns), or none in a flat column: the
     * levels are runs. Otherwise they are built, with the present values' leaves unless
     * those are [lo, hi) (no null lists or items). */
    int all_null = list ? c->list_valid != NULL && pq_none(c->list_valid, c->list_offset, rows)
                        : c->valid != NULL && pq_none(c->valid, c->offset, rows);
    int dense = !all_null && c->valid == NULL && c->list_valid == NULL;
    int64_t m = 0, v = 0, bad = all_null && c->max_def != (list ? 3 : 1);
    uint8_t *o = out;
    uint32_t *rep = NULL, *def = NULL, *idx = NULL;
    if (all_null || (dense && !list)) {
        m = rows, v = all_null ? 0 : rows;
        if (list)
            o = pq_run(o, 0, m);
        if (c->max_def > 0)
            o = pq_run(o, all_null ? 0 : 1, m);
    } else {
        rep = malloc((size_t)(n ? n : 1) * sizeof(uint32_t) * 3);
        if (rep == NULL)
            return -1;
        def = rep + n, idx = dense ? NULL : def + n;
        for (int64_t r = 0; r < rows && !bad; r++) {
            int64_t a = r, b = r + 1;
            if (list) {
                a = c->list_offsets[c->list_offset + r], b = c->list_offsets[c->list_offset + r + 1];
                if (b < a) {
                    bad = 1;
                    break;
                }
                if (c->list_valid != NULL && !pq_bit(c->list_valid, c->list_offset + r)) {
                    bad |= c->max_def < 3; /* a null list in a required column */
                    rep[m] = 0, def[m++] = 0;
                    continue;
                }
                if (a == b) {
                    rep[m] = 0, def[m++] = (uint32_t)c->max_def - 2; /* empty */
                    continue;
                }
                if (c->valid == NULL) { /* no null items */
                    for (int64_t k = a; k < b; k++, m++) {
                        rep[m] = k > a, def[m] = (uint32_t)c->max_def;
                        if (idx)
                            idx[v++] = (uint32_t)(c->offset + k);
                    }
                    continue;
                }
            }
            for (int64_t k = a; k < b; k++) {
                int64_t leaf = c->offset + k;
                if (list)
                    rep[m] = k > a;
                if (!pq_bit(c->valid, leaf)) {
                    bad |= c->max_def == 0; /* a null in a required column */
                    def[m++] = (uint32_t)c->max_def - 1;
                    continue;
                }
                def[m++] = (uint32_t)c->max_def;
                idx[v++] = (uint32_t)leaf;
            }
        }
        if (dense)
            v = hi - lo;
        if (list && !bad)
            o = pq_levels(rep, m, 1, o);
        if (c->max_def > 0 && !bad)
            o = pq_levels(def, m, pq_width((uint64_t)c->max_def), o);
    }
#define PQ_LEAF(k) (dense ? c->offset + lo + (k) : (int64_t)idx[k])
    if (bad) {
        v = 0; /* no values: the page is refused */
    } else if (c->kind == PQ_NUMBER && dense) {
        memcpy(o, c->data + 8 * (c->offset + lo), (size_t)(8 * v));
        o += 8 * v;
    } else if (c->kind == PQ_DELTA && dense) {
        o = pq_delta((const int64_t *)c->data + c->offset + lo, v, o);
    } else if (c->kind == PQ_DELTA) {
        int64_t *x = malloc((size_t)(v ? v : 1) * sizeof(int64_t));
        if (x == NULL) {
            free(rep);
            return -1;
        }
        for (int64_t k = 0; k < v; k++)
            x[k] = ((const int64_t *)c->data)[idx[k]];
        o = pq_delta(x, v, o);
        free(x);
    } else if (c->kind == PQ_NUMBER) {
        for (int64_t k = 0; k < v; k++, o += 8)
            memcpy(o, c->data + 8 * (int64_t)idx[k], 8);
    } else if (c->kind == PQ_BOOL) {
        memset(o, 0, (size_t)(v + 7) / 8);
        for (int64_t k = 0; k < v; k++)
            o[k >> 3] |= (uint8_t)(pq_bit(c->data, PQ_LEAF(k)) << (k & 7));
        o += (v + 7) / 8;
    } else if (c->kind == PQ_STRING) {
        for (int64_t k = 0; k < v; k++) {
            int64_t leaf = PQ_LEAF(k), s = c->offsets[leaf], len = (int64_t)c->offsets[leaf + 1] - s;
            if (s < 0 || len < 0 || s + len > c->data_size || (o - out) + 4 + len + 16 > cap) {
                bad = 1; /* outside its data, or (offsets out of order) more than the room */
                break;
            }
            uint32_t len32 = (uint32_t)len;
            memcpy(o, &len32, 4);
            if (len <= 16 && s + 16 <= c->data_size)
                memcpy(o + 4, c->data + s, 16); /* a fixed size: two moves, no call */
            else
                memcpy(o + 4, c->data + s, (size_t)len);
            o += 4 + len;
        }
    } else {
        const uint32_t *codes = (const uint32_t *)c->data + (dense ? c->offset + lo : 0);
        if (!dense)
            for (int64_t k = 0; k < v; k++)
                idx[k] = codes[idx[k]];
        const uint32_t *values = dense ? codes : idx;
        for (int64_t k = 0; k < v; k++)
            bad |= values[k] >= (uint64_t)c->dict_size; /* negative codes too */
        int width = pq_width(c->dict_size > 1 ? (uint64_t)c->dict_size - 1 : 0);
        *o++ = (uint8_t)width;
        o = pq_hybrid(values, v, width, o);
    }
#undef PQ_LEAF
    free(rep);
    *levels = m;
    return bad ? -1 : o - out;
}

/* zstd from the system's libzstd.so.1 (Debian's libzstd1; there is no zstd.h to build
 * against), one compression context per writer reused for every page. */
static struct {
    void *(*create)(void);
    size_t (*free)(void *);
    size_t (*compress)(void *, void *, size_t, const void *, size_t, int);
    size_t (*bound)(size_t);
    unsigned (*is_error)(size_t);
} pq_zstd;

static void pq_zstd_load(void)
{
    void *lib = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return;
    *(void **)&pq_zstd.create = dlsym(lib, "ZSTD_createCCtx");
    *(void **)&pq_zstd.free = dlsym(lib, "ZSTD_freeCCtx");
    *(void **)&pq_zstd.bound = dlsym(lib, "ZSTD_compressBound");
    *(void **)&pq_zstd.is_error = dlsym(lib, "ZSTD_isError");
    void *compress = dlsym(lib, "ZSTD_compressCCtx");
    if (pq_zstd.create && pq_zstd.free && pq_zstd.bound && pq_zstd.is_error)
        *(void **)&pq_zstd.compress = compress; /* NULL unless all are there */
}

/* A compression context, NULL when libzstd.so.1 cannot be loaded. */
void *gas_zstd_new(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT; /* writers may start on several threads */
    pthread_once(&once, pq_zstd_load);
    return pq_zstd.compress != NULL ? pq_zstd.create() : NULL;
}

void gas_zstd_free(void *ctx)
{
    if (ctx != NULL)
        pq_zstd.free(ctx);
}

/* src compressed at level into out; returns its size, or -(room needed) when cap is short,
 * or -1 on zstd's error. */
int64_t gas_zstd(void *ctx, const uint8_t *src, int64_t size, int level, uint8_t *out, int64_t cap)
{
    if (ctx == NULL || size < 0 || cap < 0)
        return -1;
    int64_t need = (int64_t)pq_zstd.bound((size_t)size);
    if (cap < need)
        return -need;
    size_t n = pq_zstd.compress(ctx, out, (size_t)cap, src, (size_t)size, level);
    return pq_zstd.is_error(n) ? -1 : (int64_t)n;
}

/* Dictionary codes of n strings (Arrow's int32 offsets from offset, and data; valid NULL: all
 * valid): codes[offset + i] is the code of string i (0 when null), firsts[c] the string that
 * code c was first given. table is a hash table of slots (a power of two > n), every slot -1
 * (empty) on entry and again on return. Equal neighbours (a sorted VCF's chromosome, FILTER,
 * nearest gene) are met without hashing. Returns the number of codes, or -1 when an offset
 * lies outside the buffers. */
static inline uint64_t pq_hash(const uint8_t *p, int64_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int64_t k = 0; k < len; k++)
        h = (h ^ p[k]) * 1099511628211ULL;
    return h;
}

int64_t gas_pq_dict(const int32_t *offsets, int64_t offsets_size, const uint8_t *data, int64_t data_size,
                    const uint8_t *valid, int64_t valid_size, int64_t offset, int64_t n, int32_t *codes,
                    int64_t codes_size, int32_t *firsts, int32_t *table, int64_t slots)
{
    if (n < 0 || offset < 0 || offsets_size / 4 - 1 - offset < n || codes_size / 4 - offset < n ||
        (valid != NULL && valid_size * 8 - offset < n) || slots <= n || (slots & (slots - 1)) != 0 || n > INT32_MAX)
        return -1;
    for (int64_t i = offset; i <= offset + n; i++)
        if (offsets[i] < 0 || offsets[i] > data_size || (i > offset && offsets[i] < offsets[i - 1]))
            return -1;
    int64_t used = 0, last = -1; /* the previous present string */
    for (int64_t i = offset; i < offset + n; i++) {
        if (valid != NULL && !pq_bit(valid, i)) {
            codes[i] = 0;
            continue;
        }
        const uint8_t *p = data + offsets[i];
        int64_t len = offsets[i + 1] - offsets[i];
        if (last >= 0 && offsets[last + 1] - offsets[last] == len && memcmp(data + offsets[last], p, (size_t)len) == 0) {
            codes[i] = codes[last];
            last = i;
            continue;
        }
        for (uint64_t slot = pq_hash(p, len) & (uint64_t)(slots - 1);; slot = (slot + 1) & (uint64_t)(slots - 1)) {
            int32_t code = table[slot];
            if (code < 0) {
                table[slot] = (int32_t)used;
                firsts[used] = (int32_t)(i - offset);
                codes[i] = (int32_t)used++;
                break;
            }
            int64_t f = offset + firsts[code];
            if (offsets[f + 1] - offsets[f] == len && memcmp(data + offsets[f], p, (size_t)len) == 0) {
                codes[i] = code;
                break;
            }
        }
        last = i;
    }
    for (int64_t code = 0; code < used; code++) { /* empty the slots taken, each found as above */
        int64_t f = offset + firsts[code];
        uint64_t slot = pq_hash(data + offsets[f], offsets[f + 1] - offsets[f]) & (uint64_t)(slots - 1);
        while (table[slot] != code)
            slot = (slot + 1) & (uint64_t)(slots - 1);
        table[slot] = -1;
    }
    return used;
}
