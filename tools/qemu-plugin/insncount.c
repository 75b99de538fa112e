/*
 * insncount: a QEMU TCG plugin that counts every guest instruction executed
 * and reports the running count at firmware markers.
 *
 * One source for both plugin APIs QEMU has had (QEMU 7.2 to 10.x):
 *   - API v2 (QEMU 9.0 and later, what Debian 12's bookworm-backports ships:
 *     10.0.2): a per-vCPU scoreboard counter, incremented by an inline op
 *     (`qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu`);
 *   - API v1 (QEMU 7.2, Debian 12's own): an inline add on a plain counter
 *     (`qemu_plugin_register_vcpu_insn_exec_inline`, removed in API v2).
 * Debian ships no qemu-plugin.h, so the few declarations used are written out
 * below from the ABI of those versions. The calls that exist in only one API
 * are weak references: the dynamic loader sets the missing ones to NULL
 * instead of refusing the plugin, and a constructor picks the API (and the
 * `qemu_plugin_version` QEMU checks) from which of them the running QEMU
 * exports. Both count the same way: one 64-bit add before every instruction.
 *
 * Arguments (-plugin ./libinsncount.so,marker=0x...,ids=0x...,out=FILE):
 *   marker=ADDR  address of the firmware's `encore_marker` function
 *                (the Thumb bit of an ELF symbol value is ignored)
 *   ids=ADDR     address of the firmware's `ENCORE_MARKER_IDS` table; the
 *                marker loads byte `id` of it, so the load address is the id
 *   out=FILE     write the report to FILE instead of standard error
 *
 * Output, one line per event:
 *   api <1|2>                              (the plugin API in use)
 *   marker <id> <instructions executed so far>
 *   total <instructions executed>          (when QEMU exits)
 * Without ids=, <id> is the ordinal of the marker hit (0, 1, 2, ...).
 *
 * Counting: an inline add of 1 before every instruction, so the count is
 * exact even when an exception leaves a translation block early. Single
 * vCPU (the MPS2 boards have one core); the report is the sum over vCPUs.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Plugin API declarations (v1: QEMU 7.2; v2: QEMU 9.0 to 10.x) ---- */

#define PLUGIN_EXPORT __attribute__((visibility("default")))
#define PLUGIN_WEAK __attribute__((weak))

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_plugin_scoreboard;

/* v2: one uint64_t inside each vCPU's entry of a scoreboard (passed by value). */
typedef struct {
    struct qemu_plugin_scoreboard *score;
    size_t offset;
} qemu_plugin_u64;

enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_mem_rw {
    QEMU_PLUGIN_MEM_R = 1,
    QEMU_PLUGIN_MEM_W,
    QEMU_PLUGIN_MEM_RW,
};

enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index,
                                            void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index,
                                          qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

/* In every API version. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                 size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags,
                                            void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn,
                                      qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags,
                                      enum qemu_plugin_mem_rw rw,
                                      void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    qemu_plugin_udata_cb_t cb, void *userdata);

/* API v1 only. */
PLUGIN_WEAK void qemu_plugin_register_vcpu_insn_exec_inline(
    struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
    uint64_t imm);

/* API v2 and later only. */
PLUGIN_WEAK struct qemu_plugin_scoreboard *
qemu_plugin_scoreboard_new(size_t element_size);
PLUGIN_WEAK void qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
    struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
    qemu_plugin_u64 entry, uint64_t imm);
PLUGIN_WEAK uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 entry);

/* Read by QEMU after the constructor below has run. QEMU 7.2 accepts
 * versions 0 and 1; QEMU 9.0 and later accept 2 and up. */
PLUGIN_EXPORT int qemu_plugin_version = 1;

static bool api_v2;

__attribute__((constructor)) static void choose_api(void)
{
    api_v2 = qemu_plugin_scoreboard_new != NULL &&
             qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu != NULL &&
             qemu_plugin_u64_sum != NULL;
    qemu_plugin_version = api_v2 ? 2 : 1;
}

/* ---- State ---- */

/* Bytes of code after the marker's entry in which its table load is looked
 * for: the function is a handful of Thumb instructions. */
#define MARKER_SPAN 32
#define MARKER_IDS 256

static uint64_t insn_count_v1;    /* API v1 counter */
static qemu_plugin_u64 insn_count; /* API v2 counter, one per vCPU */
static uint64_t marker_addr;
static bool have_marker;
static uint64_t ids_addr;
static bool have_ids;
static uint64_t marker_hits;
static FILE *out;
static bool total_written;

static uint64_t executed(void)
{
    return api_v2 ? qemu_plugin_u64_sum(insn_count) : insn_count_v1;
}

static void report_marker(uint64_t id)
{
    fprintf(out, "marker %" PRIu64 " %" PRIu64 "\n", id, executed());
    fflush(out);
}

/* Marker entry, used when no ids table was given: report the hit ordinal. */
static void on_marker_entry(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    report_marker(marker_hits++);
}

/* A memory access inside the marker function: the byte loaded from the ids
 * table sits at ids + id. Other accesses (the stack frame) are ignored. */
static void on_marker_load(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                           uint64_t vaddr, void *userdata)
{
    (void)vcpu_index;
    (void)info;
    (void)userdata;
    if (vaddr >= ids_addr && vaddr < ids_addr + MARKER_IDS) {
        report_marker(vaddr - ids_addr);
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        if (api_v2) {
            qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                insn, QEMU_PLUGIN_INLINE_ADD_U64, insn_count, 1);
        } else {
            qemu_plugin_register_vcpu_insn_exec_inline(
                insn, QEMU_PLUGIN_INLINE_ADD_U64, &insn_count_v1, 1);
        }
        if (!have_marker) {
            continue;
        }
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        if (have_ids) {
            if (vaddr >= marker_addr && vaddr < marker_addr + MARKER_SPAN) {
                /* Reads and writes: QEMU 7.2 applies the read-only filter
                 * to stores instead of loads. The address test in the
                 * callback picks out the table load either way. */
                qemu_plugin_register_vcpu_mem_cb(insn, on_marker_load,
                                                 QEMU_PLUGIN_CB_NO_REGS,
                                                 QEMU_PLUGIN_MEM_RW, NULL);
            }
        } else if (vaddr == marker_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker_entry,
                                                   QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

static void write_total(void)
{
    if (total_written || out == NULL) {
        return;
    }
    total_written = true;
    fprintf(out, "total %" PRIu64 "\n", executed());
    fflush(out);
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    write_total();
}

static bool parse_address(const char *text, uint64_t *value)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 0);
    if (end == text || *end != '\0') {
        return false;
    }
    *value = (uint64_t)v;
    return true;
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                      const qemu_info_t *info, int argc,
                                      char **argv)
{
    (void)info;
    out = stderr;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "marker=", 7) == 0) {
            if (!parse_address(arg + 7, &marker_addr)) {
                fprintf(stderr, "insncount: bad marker address: %s\n", arg);
                return -1;
            }
            marker_addr &= ~(uint64_t)1; /* Thumb bit of the ELF symbol */
            have_marker = true;
        } else if (strncmp(arg, "ids=", 4) == 0) {
            if (!parse_address(arg + 4, &ids_addr)) {
                fprintf(stderr, "insncount: bad ids address: %s\n", arg);
                return -1;
            }
            have_ids = true;
        } else if (strncmp(arg, "out=", 4) == 0) {
            FILE *f = fopen(arg + 4, "w");
            if (f == NULL) {
                fprintf(stderr, "insncount: cannot open %s\n", arg + 4);
                return -1;
            }
            out = f;
        } else {
            fprintf(stderr, "insncount: unknown argument: %s\n", arg);
            return -1;
        }
    }
    if (api_v2) {
        struct qemu_plugin_scoreboard *score =
            qemu_plugin_scoreboard_new(sizeof(uint64_t));
        if (score == NULL) {
            fprintf(stderr, "insncount: no scoreboard\n");
            return -1;
        }
        insn_count = (qemu_plugin_u64){score, 0};
    } else if (qemu_plugin_register_vcpu_insn_exec_inline == NULL) {
        fprintf(stderr, "insncount: this QEMU has neither plugin API v1 "
                        "nor v2 inline counters\n");
        return -1;
    }
    fprintf(out, "api %d\n", api_v2 ? 2 : 1);
    fflush(out);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    /* A semihosting exit ends QEMU with exit(); make sure the total is
     * written even if the plugin exit callbacks do not run first. This
     * handler is registered after QEMU's own, so it runs before them. */
    atexit(write_total);
    return 0;
}
