#!/bin/sh
# Cargo runner: boots a firmware ELF on QEMU's MPS2 AN386.
#
#   ENCORE_SERVER_PORT  host port (127.0.0.1) that guest 10.0.2.100:443 reaches (default 4433)
#   ENCORE_QEMU_PLUGIN  path to libinsncount.so: count instructions, print markers
#   ENCORE_PLUGIN_OUT   file for the plugin's lines (default: QEMU's standard error)
#   ENCORE_UART_PORT    if set, UART 0 connects to 127.0.0.1:$ENCORE_UART_PORT
#   ENCORE_TIMEOUT      seconds before QEMU is killed (default 120; exit status 124)
#
# Exit status: the firmware's semihosting exit status (0 success, 1 failure,
# 2 panic, 3 hard fault, 4 board init), or 124 on timeout.
set -eu

elf="$1"
shift
port="${ENCORE_SERVER_PORT:-4433}"
timeout_s="${ENCORE_TIMEOUT:-120}"

# The guestfwd command's standard error is the guest's connection too: socat logs
# to /dev/null (-lf), so that with no server the firmware sees the connection
# close, not socat's error text as if the server had sent it.
set -- -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    -nic "user,model=lan9118,restrict=on,guestfwd=tcp:10.0.2.100:443-cmd:socat -lf /dev/null - TCP:127.0.0.1:${port}" \
    -kernel "$elf" "$@"

if [ -n "${ENCORE_UART_PORT:-}" ]; then
    set -- "$@" -chardev "socket,id=c0,host=127.0.0.1,port=${ENCORE_UART_PORT}" -serial chardev:c0
else
    set -- "$@" -serial null
fi

if [ -n "${ENCORE_QEMU_PLUGIN:-}" ]; then
    marker=$(nm "$elf" | awk '$3 == "encore_marker" { print "0x" $1 }')
    ids=$(nm "$elf" | awk '$3 == "ENCORE_MARKER_IDS" { print "0x" $1 }')
    arg="${ENCORE_QEMU_PLUGIN}"
    [ -n "$marker" ] && arg="${arg},marker=${marker}"
    [ -n "$ids" ] && arg="${arg},ids=${ids}"
    [ -n "${ENCORE_PLUGIN_OUT:-}" ] && arg="${arg},out=${ENCORE_PLUGIN_OUT}"
    set -- "$@" -plugin "$arg"
fi

exec timeout "$timeout_s" qemu-system-arm "$@"
