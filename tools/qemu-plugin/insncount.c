/*
 * insncount: a QEMU TCG plugin that counts every guest instruction executed
 * and reports the running count at firmware markers.
 *
 * One source for both plugin APIs QEMU has had (QEMU 7.2 to 10.x), declared
 * and chosen at load in qemu-plugin-api.h:
 *   - API v2 (QEMU 9.0 and later, what Debian 12's bookworm-backports ships:
 *     10.0.2): a per-vCPU scoreboard counter, incremented by an inline op
 *     (`qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu`);
 *   - API v1 (QEMU 7.2, Debian 12's own): an inline add on a plain counter
 *     (`qemu_plugin_register_vcpu_insn_exec_inline`, removed in API v2).
 * Both count the same way: one 64-bit add before every instruction.
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
#include "qemu-plugin-api.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- State ---- */

static uint64_t insn_count_v1;    /* API v1 counter */
static qemu_plugin_u64 insn_count; /* API v2 counter, one per vCPU */
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

/* marker= and ids=: every marker the firmware passes is reported. */
static struct marker_reader markers = {.on_marker = report_marker};

/* Marker entry, used when no ids table was given: report the hit ordinal. */
static void on_marker_entry(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    report_marker(marker_hits++);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        count_insn(insn, insn_count, &insn_count_v1);
        if (markers.marker_addr == 0) {
            continue;
        }
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        if (markers.ids_addr != 0) {
            watch_marker(insn, vaddr, &markers);
        } else if (vaddr == markers.marker_addr) {
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

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                      const qemu_info_t *info, int argc,
                                      char **argv)
{
    (void)info;
    out = stderr;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int taken = shared_arg("insncount", arg, &markers, &out);
        if (taken < 0) {
            return -1;
        }
        if (taken == 0) {
            fprintf(stderr, "insncount: unknown argument: %s\n", arg);
            return -1;
        }
    }
    struct qemu_plugin_scoreboard *score = NULL;
    if (!plugin_counters("insncount", sizeof(uint64_t), &score)) {
        return -1;
    }
    insn_count = (qemu_plugin_u64){score, 0};
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
