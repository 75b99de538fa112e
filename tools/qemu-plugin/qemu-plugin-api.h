/*
 * qemu-plugin-api.h: what the TCG plugins of this repository share
 * (tools/qemu-plugin/insncount.c, bench/mps2-an386/profile/funcprof.c).
 *
 * - The part of QEMU's plugin API they use, for QEMU 7.2 to 10.x:
 *     - API v1: QEMU 7.2, Debian 12's own;
 *     - API v2: QEMU 9.0 and later (bookworm-backports ships 10.0.2).
 *   Debian ships no qemu-plugin.h, so the declarations are written out here
 *   from the ABI of those versions. The calls that exist in only one API are
 *   weak references: the dynamic loader sets the missing ones to NULL instead
 *   of refusing the plugin.
 * - The choice of API: a constructor, which runs before QEMU reads
 *   `qemu_plugin_version`, sets `api_v2` (and that version: QEMU 7.2 accepts
 *   0 and 1, QEMU 9.0 and later 2 and up) from whether the running QEMU
 *   exports the v2 calls.
 * - The instruction counter both use (an inline add of 1 before an
 *   instruction, on a plain counter with v1 or a per-vCPU scoreboard entry
 *   with v2), and the reading of the firmware's markers (struct
 *   marker_reader, watch_marker): `encore_marker(id)` loads byte `id` of
 *   `ENCORE_MARKER_IDS`, so the id is an address (API v1 cannot read
 *   registers).
 *
 * Include it from the one source file of a plugin: it defines the exported
 * `qemu_plugin_version` and static state. Needs only the C library.
 */
#ifndef ENCORE_QEMU_PLUGIN_API_H
#define ENCORE_QEMU_PLUGIN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_EXPORT __attribute__((visibility("default")))
#define PLUGIN_WEAK __attribute__((weak))

/* ---- Plugin API declarations (v1: QEMU 7.2; v2: QEMU 9.0 to 10.x) ---- */

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

/* API v1 only (QEMU 9.0 removed it: a plugin that links it strongly fails to
 * load on QEMU 10). */
PLUGIN_WEAK void qemu_plugin_register_vcpu_insn_exec_inline(
    struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
    uint64_t imm);

/* API v2 and later only. */
PLUGIN_WEAK struct qemu_plugin_scoreboard *
qemu_plugin_scoreboard_new(size_t element_size);
PLUGIN_WEAK void *qemu_plugin_scoreboard_find(
    struct qemu_plugin_scoreboard *score, unsigned int vcpu_index);
PLUGIN_WEAK void qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
    struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
    qemu_plugin_u64 entry, uint64_t imm);
PLUGIN_WEAK uint64_t qemu_plugin_u64_sum(qemu_plugin_u64 entry);

/* ---- API choice ---- */

/* Read by QEMU after the constructor below has run. QEMU 7.2 accepts
 * versions 0 and 1; QEMU 9.0 and later accept 2 and up. */
PLUGIN_EXPORT int qemu_plugin_version = 1;

/* Whether the running QEMU has API v2 (set before qemu_plugin_install). */
static bool api_v2;

__attribute__((constructor)) static void choose_api(void)
{
    api_v2 = qemu_plugin_scoreboard_new != NULL &&
             qemu_plugin_scoreboard_find != NULL &&
             qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu != NULL &&
             qemu_plugin_u64_sum != NULL;
    qemu_plugin_version = api_v2 ? 2 : 1;
}

/* For qemu_plugin_install, after the plugin's arguments: checks that this
 * QEMU has one of the two inline counters and, with API v2, makes a
 * scoreboard of `size` bytes per vCPU in *score. Otherwise says why on
 * standard error, prefixed with `plugin`, and returns false. */
static inline bool plugin_counters(const char *plugin, size_t size,
                                   struct qemu_plugin_scoreboard **score)
{
    if (api_v2) {
        *score = qemu_plugin_scoreboard_new(size);
        if (*score == NULL) {
            fprintf(stderr, "%s: no scoreboard\n", plugin);
            return false;
        }
    } else if (qemu_plugin_register_vcpu_insn_exec_inline == NULL) {
        fprintf(stderr, "%s: this QEMU has neither plugin API v1 nor v2 "
                        "inline counters\n", plugin);
        return false;
    }
    return true;
}

/* Adds 1 before every execution of `insn`: to `entry` of each vCPU with API
 * v2, to *v1_counter with API v1. */
static inline void count_insn(struct qemu_plugin_insn *insn,
                              qemu_plugin_u64 entry, uint64_t *v1_counter)
{
    if (api_v2) {
        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            insn, QEMU_PLUGIN_INLINE_ADD_U64, entry, 1);
    } else {
        qemu_plugin_register_vcpu_insn_exec_inline(
            insn, QEMU_PLUGIN_INLINE_ADD_U64, v1_counter, 1);
    }
}

/* The report file of an `out=FILE` argument, or NULL after saying why on
 * standard error, prefixed with `plugin`. */
static inline FILE *open_report(const char *plugin, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open %s\n", plugin, path);
    }
    return f;
}

/* ---- Firmware markers ---- */

/* Bytes of code after the marker's entry in which its table load is looked
 * for: the function is a handful of Thumb instructions. */
#define MARKER_SPAN 32
/* Entries of ENCORE_MARKER_IDS (one byte per possible id). */
#define MARKER_IDS 256

/* Where a plugin's firmware has its markers, and what the plugin does at
 * each: set from the plugin's arguments, then given to watch_marker. */
struct marker_reader {
    uint64_t marker_addr; /* encore_marker, without the Thumb bit */
    uint64_t ids_addr;    /* ENCORE_MARKER_IDS */
    void (*on_marker)(uint64_t id);
};

/* A memory access inside the marker function: the byte loaded from the ids
 * table sits at ids + id. Other accesses (the stack frame) are ignored. */
static inline void marker_load(unsigned int vcpu_index,
                               qemu_plugin_meminfo_t info, uint64_t vaddr,
                               void *userdata)
{
    (void)vcpu_index;
    (void)info;
    const struct marker_reader *r = userdata;
    if (vaddr >= r->ids_addr && vaddr < r->ids_addr + MARKER_IDS) {
        r->on_marker(vaddr - r->ids_addr);
    }
}

/* At translation: when `insn` (at `vaddr`) belongs to the marker function,
 * watches its memory accesses so that its table load calls r->on_marker.
 * Reads and writes: QEMU 7.2 applies the read-only filter to stores instead
 * of loads; the address test in marker_load picks out the table load either
 * way. */
static inline void watch_marker(struct qemu_plugin_insn *insn, uint64_t vaddr,
                                struct marker_reader *r)
{
    if (vaddr >= r->marker_addr && vaddr < r->marker_addr + MARKER_SPAN) {
        qemu_plugin_register_vcpu_mem_cb(insn, marker_load,
                                         QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW, r);
    }
}

/* A whole argument's number (decimal, or hexadecimal with 0x) into *value. */
static inline bool parse_address(const char *text, uint64_t *value)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 0);
    if (end == text || *end != '\0') {
        return false;
    }
    *value = (uint64_t)v;
    return true;
}

/* The arguments every plugin takes: `marker=ADDR` and `ids=ADDR` (the
 * firmware's encore_marker and ENCORE_MARKER_IDS, from its ELF) into `r`,
 * `out=FILE` into *out. Returns 1 for one of them, 0 for any other argument,
 * and -1 after saying on standard error, prefixed with `plugin`, what is
 * wrong with it. */
static inline int shared_arg(const char *plugin, const char *arg,
                             struct marker_reader *r, FILE **out)
{
    uint64_t *addr;
    if (strncmp(arg, "out=", 4) == 0) {
        FILE *f = open_report(plugin, arg + 4);
        if (f == NULL) {
            return -1;
        }
        *out = f;
        return 1;
    } else if (strncmp(arg, "marker=", 7) == 0) {
        addr = &r->marker_addr;
    } else if (strncmp(arg, "ids=", 4) == 0) {
        addr = &r->ids_addr;
    } else {
        return 0;
    }
    if (!parse_address(strchr(arg, '=') + 1, addr)) {
        fprintf(stderr, "%s: bad address: %s\n", plugin, arg);
        return -1;
    }
    /* The function's ELF symbol carries the Thumb bit; code addresses do
     * not. */
    r->marker_addr &= ~(uint64_t)1;
    return 1;
}

#endif /* ENCORE_QEMU_PLUGIN_API_H */
