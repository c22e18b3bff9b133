/* The engine's compiled kernels, loaded with ctypes by textops.py: plain arrays in and out,
 * no Python headers or objects, called without the GIL.
 *
 * Built into _native.so with the package (services/annotator/hatch_build.py).
 */
#include <stdint.h>
#include <string.h>

/* Pieces in columns: piece (i, p) is sources[p][starts[p][i] .. + lengths[p][i]]; a piece of
 * length <= 0 is empty, a column whose starts is NULL is absent. The output is every row's
 * pieces in column order, rows in order. */

/* The output size, or -(1 + p) when a piece of column p lies outside its source (of
 * sizes[p] bytes): the caller checks before gas_gather copies, which trusts its input. */
int64_t gas_gather_size(int64_t n, int64_t columns, const int64_t *sizes, const int64_t *const *starts,
                        const int64_t *const *lengths)
{
    int64_t total = 0;
    for (int64_t p = 0; p < columns; p++) {
        const int64_t *s = starts[p], *l = lengths[p];
        if (s == NULL)
            continue;
        for (int64_t i = 0; i < n; i++) {
            if (l[i] <= 0)
                continue;
            if (s[i] < 0 || s[i] > sizes[p] - l[i])
                return -(1 + p);
            total += l[i];
        }
    }
    return total;
}

void gas_gather(int64_t n, int64_t columns, const uint8_t *const *sources, const int64_t *const *starts,
                const int64_t *const *lengths, uint8_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        for (int64_t p = 0; p < columns; p++) {
            if (starts[p] == NULL)
                continue;
            int64_t len = lengths[p][i];
            if (len > 0) {
                memcpy(out, sources[p] + starts[p][i], (size_t)len);
                out += len;
            }
        }
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
