/*
 * funcprof: a QEMU TCG plugin that says where the instructions of each
 * measured handshake go, function by function.
 *
 * Plugin API v1 (QEMU 7.2) or v2 (QEMU 9.0 and later), chosen when QEMU loads
 * it, declared in tools/qemu-plugin/qemu-plugin-api.h, which it shares with
 * tools/qemu-plugin/insncount.c (build with -I tools/qemu-plugin): with v2
 * the per-function counters are one scoreboard entry per vCPU, incremented by
 * inline per-vCPU ops.
 *
 * Arguments (-plugin ./libfuncprof.so,syms=FILE,marker=0x..,ids=0x..,out=FILE,top=N):
 *   syms=FILE    function ranges, one per line: "<start hex> <size hex> <name>"
 *                (`nm -C -S --defined-only` filtered to text symbols)
 *   marker=ADDR  address of the firmware's `encore_marker`
 *   ids=ADDR     address of its `ENCORE_MARKER_IDS` table
 *   out=FILE     report file (default: standard error)
 *   top=N        functions listed per window (default 25)
 *
 * Every instruction adds 1 to the counter of the function that contains it
 * (an inline add chosen at translation time). The markers of
 * bench/mps2-an386/src/lib.rs delimit what is reported: a window opens at
 * marker 1 (handshake) or 20 (primitive) and closes at 2 or 21; markers 10/11
 * (UART link) and 12/13 (deferred interrupts) pause it, as the xtask's
 * instruction counts do. At each window's end the plugin prints
 *   window <k> <total>
 *   <instructions> <share %> <function>
 * for the top functions of that window.
 */
#include "qemu-plugin-api.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct func {
    uint64_t start;
    uint64_t end;
    char *name;
};

/* Functions sorted by start; index nfuncs is "(no symbol)". */
static struct func *funcs;
static size_t nfuncs;
/* Running counts per function (API v1: this array; v2: vCPU 0's scoreboard
 * entry, see live_counts), their value when the window last resumed, and what
 * the current window has accumulated. */
static uint64_t *counts;
static struct qemu_plugin_scoreboard *score;
static uint64_t *resumed_at;
static uint64_t *acc;
static bool open_window;
static bool paused;
static unsigned window_index;
static size_t top = 25;

static FILE *out;

static int by_start(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static bool load_symbols(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t cap = 1024;
    funcs = malloc(cap * sizeof *funcs);
    char line[4096];
    while (funcs != NULL && fgets(line, sizeof line, f) != NULL) {
        char *end = NULL;
        uint64_t start = strtoull(line, &end, 16);
        if (end == line) {
            continue;
        }
        char *rest = end;
        uint64_t size = strtoull(rest, &end, 16);
        if (end == rest || size == 0) {
            continue;
        }
        while (*end == ' ') {
            end++;
        }
        end[strcspn(end, "\n")] = '\0';
        if (nfuncs == cap) {
            cap *= 2;
            struct func *grown = realloc(funcs, cap * sizeof *funcs);
            if (grown == NULL) {
                break;
            }
            funcs = grown;
        }
        start &= ~(uint64_t)1; /* Thumb bit */
        funcs[nfuncs].start = start;
        funcs[nfuncs].end = start + size;
        funcs[nfuncs].name = strdup(end);
        nfuncs++;
    }
    fclose(f);
    if (funcs == NULL) {
        return false;
    }
    qsort(funcs, nfuncs, sizeof *funcs, by_start);
    counts = calloc(nfuncs + 1, sizeof *counts);
    resumed_at = calloc(nfuncs + 1, sizeof *resumed_at);
    acc = calloc(nfuncs + 1, sizeof *acc);
    return counts != NULL && resumed_at != NULL && acc != NULL;
}

/* Index of the function containing vaddr, or nfuncs. */
static size_t func_of(uint64_t vaddr)
{
    size_t lo = 0, hi = nfuncs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (funcs[mid].start <= vaddr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo > 0 && vaddr < funcs[lo - 1].end) {
        return lo - 1;
    }
    return nfuncs;
}

/* The counters as they stand (one vCPU: the MPS2 boards have one core). */
static uint64_t *live_counts(void)
{
    return api_v2 ? qemu_plugin_scoreboard_find(score, 0) : counts;
}

static void resume(void)
{
    memcpy(resumed_at, live_counts(), (nfuncs + 1) * sizeof *counts);
    paused = false;
}

static void pause_window(void)
{
    if (!paused) {
        const uint64_t *now = live_counts();
        for (size_t i = 0; i <= nfuncs; i++) {
            acc[i] += now[i] - resumed_at[i];
        }
    }
    paused = true;
}

static int by_acc_desc(const void *a, const void *b)
{
    uint64_t x = acc[*(const size_t *)a], y = acc[*(const size_t *)b];
    return (x < y) - (x > y);
}

static void report_window(void)
{
    uint64_t total = 0;
    size_t *order = malloc((nfuncs + 1) * sizeof *order);
    if (order == NULL) {
        return;
    }
    for (size_t i = 0; i <= nfuncs; i++) {
        order[i] = i;
        total += acc[i];
    }
    qsort(order, nfuncs + 1, sizeof *order, by_acc_desc);
    fprintf(out, "window %u %" PRIu64 "\n", window_index, total);
    for (size_t k = 0; k < top && k <= nfuncs && acc[order[k]] > 0; k++) {
        size_t i = order[k];
        fprintf(out, "%12" PRIu64 " %5.1f%% %s\n", acc[i],
                total ? 100.0 * (double)acc[i] / (double)total : 0.0,
                i == nfuncs ? "(no symbol)" : funcs[i].name);
    }
    fflush(out);
    free(order);
    memset(acc, 0, (nfuncs + 1) * sizeof *acc);
    window_index++;
}

static void on_marker(uint64_t id)
{
    switch (id) {
    case 1:
    case 20:
        memset(acc, 0, (nfuncs + 1) * sizeof *acc);
        open_window = true;
        resume();
        break;
    case 2:
    case 21:
        if (open_window) {
            pause_window();
            report_window();
            open_window = false;
        }
        break;
    case 10:
    case 12:
        if (open_window) {
            pause_window();
        }
        break;
    case 11:
    case 13:
        if (open_window) {
            resume();
        }
        break;
    default:
        break;
    }
}

/* marker= and ids=: the markers open, pause and close the windows. */
static struct marker_reader markers = {.on_marker = on_marker};

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        size_t f = func_of(vaddr);
        qemu_plugin_u64 entry = {score, f * sizeof(uint64_t)};
        count_insn(insn, entry, &counts[f]);
        watch_marker(insn, vaddr, &markers);
    }
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fflush(out);
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                      const qemu_info_t *info, int argc,
                                      char **argv)
{
    (void)info;
    out = stderr;
    const char *syms = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int taken = shared_arg("funcprof", arg, &markers, &out);
        if (taken < 0) {
            return -1;
        }
        if (taken > 0) {
            continue;
        }
        if (strncmp(arg, "syms=", 5) == 0) {
            syms = arg + 5;
        } else if (strncmp(arg, "top=", 4) == 0) {
            top = (size_t)strtoull(arg + 4, NULL, 0);
        } else {
            fprintf(stderr, "funcprof: unknown argument: %s\n", arg);
            return -1;
        }
    }
    if (syms == NULL || markers.marker_addr == 0 || markers.ids_addr == 0 ||
        !load_symbols(syms)) {
        fprintf(stderr, "funcprof: needs syms=, marker= and ids=\n");
        return -1;
    }
    size_t size = (nfuncs + 1) * sizeof(uint64_t);
    if (!plugin_counters("funcprof", size, &score)) {
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
