#!/bin/busybox sh
# /init of initramfs-rt.cpio.gz, for the real-time cell (Debian's
# PREEMPT_RT kernel): report the kernel and the CPU isolation it was given,
# then measure timer latency with cyclictest in rounds of a few seconds,
# forever. Each round's summary line doubles as the cell's heartbeat.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# cyclictest keeps its shared state in POSIX shared memory.
mkdir -p /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

. /lib/bulkhead/functions.sh
say "userspace up"
say "boot: userspace at counter $(bulkhead-ipc counter)"
say "uname: $(uname -a)"
# (nproc would say 1: isolcpus keeps CPU 1 out of this shell's affinity.)
say "cpus online: $(cat /sys/devices/system/cpu/online)"
say "isolated cpus: $(cat /sys/devices/system/cpu/isolated)"
say "nohz_full cpus: $(cat /sys/devices/system/cpu/nohz_full)"
# With an isolated CPU (isolcpus), keep the kernel's own work off it:
# timers stay on the CPU that armed them (by default one armed on a
# nohz_full CPU moves to a housekeeping one, so the measuring thread's
# wake-up would start on CPU 0 and reach the isolated CPU as an IPI, which
# the partitioner traps: an SGI is always checked against the cell's
# CPUs), and the per-CPU memory statistics are folded every 10 minutes,
# not every second (folding them runs work there, which then re-arms its
# timer by a self-IPI).
if [ -n "$(cat /sys/devices/system/cpu/isolated)" ]; then
    echo 0 > /proc/sys/kernel/timer_migration
    echo 600 > /proc/sys/vm/stat_interval
fi
# The modules of /etc/modules (uio, uio_pci_generic, for channels).
while read -r module; do
    [ -n "$module" ] && ! modprobe "$module" && say "modprobe $module failed"
done < /etc/modules
bind_channels
# The control loop of the gateway demo: 1000 samples/s to the containers
# cell, setpoints back; a report every 5 s. With bulkhead.ipc=pingpong on
# the command line, round trips against the channel's other peer instead
# (a system test).
if [ -e /dev/uio0 ]; then
    if grep -q "bulkhead.ipc=pingpong" /proc/cmdline; then
        bulkhead-ipc pingpong initiator --rounds 500 &
    else
        bulkhead-ipc control --report-every 5 &
    fi
fi
report_view
console_shell &

# One measuring thread on the cell's last CPU (the isolated core of a
# two-CPU cell, else CPU 0), SCHED_FIFO priority 90, woken every 1000 us;
# the main thread stays on CPU 0. -m locks all memory, -q prints only the
# summary at the end ("T: 0 (pid) P:90 I:1000 C:count Min: Act: Avg:
# Max:", in microseconds). Without deterministic time (QEMU's -icount) the
# figures depend on the host and mean little.
#
# With bulkhead.cyclictest=lab on the command line (the latency lab,
# docs/hil.md), rounds are 2 s long, each announced before it starts and
# followed by its histogram: one line "cyclictest round N: hist
# US:COUNT ... over:N" (1 us buckets up to 2000 us; empty ones left out;
# over: samples beyond).
cpu=$(($(grep -c ^processor /proc/cpuinfo) - 1))
# With bulkhead.cyclictest=isolated (the isolated-core lab, docs/hil.md),
# one run that never ends: a round's end and the next one's start make the
# measuring core send IPIs (the thread exits, the main thread wakes), which
# the partitioner must trap. Its main thread, on CPU 0, rewrites the
# figures every 10 ms; every 2 s the last of them are reported.
#
# The kernel traces every IPI the isolated core raises, with the stack
# that raised it (tracefs, event ipi:ipi_raise, option stacktrace, on that
# CPU only). The status loop reads the count of that CPU's trace entries
# (its stats, which wakes nobody) and, when it grew past what the
# bring-up raised, prints the new entries as "ipi trace:" lines: the
# system test shows them when the core exited. Each IPI is one the
# partitioner traps, so none is expected.
if grep -q "bulkhead.cyclictest=isolated" /proc/cmdline; then
    tracing=/sys/kernel/tracing
    if mount -t tracefs tracefs "$tracing" 2>/dev/null && [ -e "$tracing/events/ipi/ipi_raise" ]; then
        printf '%x\n' $((1 << cpu)) > "$tracing/tracing_cpumask"
        echo 1 > "$tracing/options/stacktrace"
        echo 1 > "$tracing/events/ipi/ipi_raise/enable"
    else
        say "ipi trace: not available (no tracefs or no ipi_raise event)"
        tracing=""
    fi
    traced=0
    cyclictest -m -t 1 -a "$cpu" --mainaffinity=0 -p 90 -i 1000 > /tmp/cyclictest.out 2>&1 &
    # Once it runs, fold every CPU's memory statistics: the fold the
    # kernel has pending on the isolated CPU (a deferrable timer, which
    # fires whenever that CPU next ticks) then finds nothing to do and
    # re-arms nothing.
    sleep 2
    echo 1 > /proc/sys/vm/stat_refresh
    # What the bring-up raised (starting the measuring thread) is not shown.
    if [ -n "$tracing" ]; then
        traced=$(sed -n 's/^entries: //p' "$tracing/per_cpu/cpu$cpu/stats")
        say "ipi tracing on CPU $cpu: ${traced:-no} trace entries from the bring-up"
    fi
    say "cyclictest: one run, 1 thread on CPU $cpu, SCHED_FIFO 90, interval 1000 us"
    while sleep 2; do
        figures=$(tail -c 1000 /tmp/cyclictest.out | tr '\033' '\n' | sed '$d' | grep "^T: *0 .*Max:" | tail -n 1)
        [ -n "$figures" ] && say "cyclictest running: $figures"
        [ -n "$tracing" ] || continue
        entries=$(sed -n 's/^entries: //p' "$tracing/per_cpu/cpu$cpu/stats")
        if [ "${entries:-0}" -gt "$traced" ]; then
            # An entry is a line that is not a stack frame (`=> ...`).
            grep -v '^#' "$tracing/per_cpu/cpu$cpu/trace" |
                awk -v seen="$traced" '$1 != "=>" { entry++ } entry > seen' |
                while read -r line; do say "ipi trace: $line"; done
            traced=$entries
        fi
    done
fi
SECONDS_PER_ROUND=5
HISTOGRAM=""
grep -q "bulkhead.cyclictest=lab" /proc/cmdline && SECONDS_PER_ROUND=2 && HISTOGRAM=2000
say "cyclictest: rounds of ${SECONDS_PER_ROUND} s, 1 thread on CPU $cpu, SCHED_FIFO 90, interval 1000 us"
round=1
while true; do
    [ -n "$HISTOGRAM" ] && say "cyclictest round $round: start"
    cyclictest -m -q -t 1 -a "$cpu" --mainaffinity=0 -p 90 -i 1000 -D "$SECONDS_PER_ROUND" \
        ${HISTOGRAM:+-h "$HISTOGRAM"} > /tmp/cyclictest.out 2>&1
    result=$?
    while read -r line; do
        case "$line" in
            "" | "#"* | [0-9]*) ;; # "# /dev/cpu_dma_latency set to 0us", the histogram
            *) say "cyclictest round $round: $line" ;;
        esac
    done < /tmp/cyclictest.out
    if [ -n "$HISTOGRAM" ]; then
        # Leading zeros off first: busybox awk reads 000017 as octal.
        say "cyclictest round $round: hist$(awk '
            function decimal(field) { sub(/^0+/, "", field); return field + 0 }
            /^# Histogram Overflows:/ { over = decimal($4) }
            /^[0-9]/ && decimal($2) > 0 { printf " %d:%d", decimal($1), decimal($2) }
            END { printf " over:%d", over }' /tmp/cyclictest.out)"
    fi
    if [ "$result" -ne 0 ]; then
        say "cyclictest round $round failed (exit status $result)"
        sleep "$SECONDS_PER_ROUND"
    fi
    round=$((round + 1))
done
