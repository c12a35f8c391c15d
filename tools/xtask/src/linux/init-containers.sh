#!/bin/busybox sh
# /sbin/init of rootfs-containers.ext4, the container host's root disk
# (Debian's generic kernel; initramfs-containers.cpio.gz has loaded the
# modules and switched to this disk). It reports what the cell sees, brings
# up the network, runs the OCI container "hello" with crun under cgroup
# limits and changes those limits while it runs. Then it plays the scenario
# the kernel parameter bulkhead.scenario= names:
#   demo (the default)  a status line every 5 s, forever;
#   faults              three boots, told apart by marker files in
#                       /var/lib/bulkhead on this disk: (1) CPU, memory and
#                       disk load for 15 s, then a kernel crash (with
#                       panic=1 the kernel resets the cell); (2) a read of
#                       the control cell's RAM through /dev/mem, which the
#                       partitioner must stop; (3) status lines as in demo.
#   lab                 the latency lab (docs/hil.md): no containers (their
#                       CPU use would end the idle phase); the channel's
#                       gateway runs as a plain process; two boots: (1) idle
#                       for 16 s, then CPU, memory and disk load plus an IPC
#                       flood for 8 s, then a kernel crash; (2) status lines.
#   crashloop           a kernel crash in each of the first N lives
#                       (bulkhead.crashes=N, default 20), counted by marker
#                       files on this disk; then status lines.
#
# Output lines; the ones of this script start with "bulkhead-guest: ", the
# container's own with "container: " (see /containers/hello/rootfs/bin/hello):
#   userspace up
#   boot: userspace at counter <N> (<F> Hz)      (CNTVCT_EL0, for boot times)
#   uname: <uname -a>
#   nproc: <n>
#   root: <device> <fstype>                      (from /proc/mounts: /dev/vda ext4)
#   cgroup: controllers <list>                   (the root's cgroup.subtree_control)
#   ipc: bulkhead-ipc <version>                  (our channel program runs here)
#   channel: /dev/uio<n> is PCI <address>        (one per channel to another cell)
#   MemTotal: <n> kB
#   device tree: <node> <node> ...               (top-level nodes, sorted)
#   interrupt: <irq> <chip hwirq trigger name>   (one per /proc/interrupts row,
#                                                 counts left out; IPIs and Err
#                                                 rows: interrupt: IPI0 Rescheduling
#                                                 interrupts, interrupt: Err)
#   network: eth0 <address>/<prefix>             (DHCP from QEMU: 10.0.2.15/24)
#   network: eth0 no DHCP lease | network: no eth0
#   container gateway: started on /dev/uio0      (when the cell has a channel)
#   crun: crun version <version>
#   container hello: running after <s> s, pid <pid>
#   container hello: not running after 10 s
#   limit change: cpu.max <q> <p> -> <q> <p>, usage <n>% -> <n>% of a CPU; memory.max <bytes> -> <bytes>
#   limit change: crun update failed
#   scenario: <name>
#   console: press Enter for a shell             (a root shell on the console)
#   watchdog: /dev/watchdog petted by pid <pid>, timeout 10 s
#                                                (when the cell has a watchdog)
#   status <n>: up <s> s, load <1> <5> <15>, <n> kB available     (every 5 s)
# and in the faults scenario:
#   load: started
#   load: stopped
#   load: wrote <n> x 32 MiB to tmpfs, <n> x 32 MiB to the disk
#   crash: echo c > /proc/sysrq-trigger
#   after crash: back up (boot 2)
#   devmem: reading 0x50000000 (control cell RAM)
#   devmem: read returned <value>                (must never appear)
#   after fault: back up (boot 3)
# and in the crashloop scenario:
#   crashloop: crash <n> of <N>
#   crashloop: back up after <N> crashes
# and in the lab scenario:
#   lab: idle
#   load: started, load: stopped, load: wrote ..., crash: ... (as in faults)
#   after crash: back up (boot 2)
/bin/busybox --install -s /bin 2>/dev/null
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The initramfs moved its /dev here.
grep -q '^devtmpfs /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname -F /etc/hostname

. /lib/bulkhead/functions.sh
# Kernel uptime in hundredths of a second.
centiseconds() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
# Hundredths of a second as seconds with one decimal.
seconds() { awk -v cs="$1" 'BEGIN { printf "%.1f\n", cs / 100 }'; }

say "userspace up"
say "boot: userspace at counter $(bulkhead-ipc counter)"
say "uname: $(uname -a)"
say "nproc: $(nproc)"
say "root: $(awk '$2 == "/" { root = $1 " " $3 } END { print root }' /proc/mounts)"

# Containers get their limits from controllers enabled below the root.
for controller in cpu cpuset memory io pids; do
    echo "+$controller" > /sys/fs/cgroup/cgroup.subtree_control
done
say "cgroup: controllers $(cat /sys/fs/cgroup/cgroup.subtree_control)"

bind_channels

report_view

ip link set lo up
if ip link show eth0 > /dev/null 2>&1; then
    # -q: quit once leased (the script in /etc/udhcpc configures eth0).
    if udhcpc -i eth0 -q -n -t 5 -T 1 > /dev/null 2>&1; then
        say "network: eth0 $(ip -4 -o addr show dev eth0 | awk '{ print $4; exit }')"
    else
        say "network: eth0 no DHCP lease"
    fi
else
    say "network: no eth0"
fi

scenario=demo
for parameter in $(cat /proc/cmdline); do
    case "$parameter" in
        bulkhead.scenario=*) scenario="${parameter#bulkhead.scenario=}" ;;
    esac
done
say "scenario: $scenario"
console_shell &
# The cell's watchdog (an emulated SP805 when the config gives the cell
# `watchdog:`): busybox's daemon pets it every 2 s and sets its timeout to
# 10 s, so a hung or killed daemon gets the cell reset (the config's
# `watchdog.action`). Until the daemon opens it the kernel pets it.
if [ -e /dev/watchdog ]; then
    watchdog -t 2 -T 10 /dev/watchdog
    say "watchdog: /dev/watchdog petted by pid $(pidof watchdog), timeout 10 s"
fi

# The container: crun keeps its state in /run/crun; the container's
# output goes to this console. Its cgroup is /sys/fs/cgroup/hello
# (cgroupsPath in config.json), with cpu.max 50000 100000 and
# memory.max 64 MiB to start with.
say "crun: $(crun --version | head -n 1)"
run_hello() {
    started=$(centiseconds)
    crun run --bundle /containers/hello hello &
    tries=0
    until crun state hello 2> /dev/null | grep -q '"status": "running"'; do
        if [ "$tries" -ge 100 ]; then
            say "container hello: not running after 10 s"
            break
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    if [ "$tries" -lt 100 ]; then
        pid=$(crun state hello | awk -F '[:,]' '$1 ~ /"pid"/ { gsub(/ /, "", $2); print $2 }')
        say "container hello: running after $(seconds $(($(centiseconds) - started))) s, pid $pid"

        cgroup=/sys/fs/cgroup/hello
        # The container's CPU use over 3 s, in percent of one CPU.
        usage() {
            u0=$(awk '$1 == "usage_usec" { print $2 }' "$cgroup/cpu.stat")
            t0=$(centiseconds)
            sleep 3
            u1=$(awk '$1 == "usage_usec" { print $2 }' "$cgroup/cpu.stat")
            t1=$(centiseconds)
            echo $(((u1 - u0 + (t1 - t0) * 50) / ((t1 - t0) * 100)))
        }
        sleep 1
        cpu_before=$(cat "$cgroup/cpu.max")
        memory_before=$(cat "$cgroup/memory.max")
        usage_before=$(usage)
        # crun 1.8 takes plain numbers (no size suffixes): 32 MiB in bytes.
        if crun update --cpu-quota 20000 --cpu-period 100000 hello &&
            crun update --memory 33554432 hello; then
            sleep 1
            usage_after=$(usage)
            say "limit change: cpu.max $cpu_before -> $(cat "$cgroup/cpu.max"), usage ${usage_before}% -> ${usage_after}% of a CPU; memory.max $memory_before -> $(cat "$cgroup/memory.max")"
        else
            say "limit change: crun update failed"
        fi
    fi
}
# Not in the lab (the container's CPU use would end its idle phase) nor in
# the crash loop (each life is short).
case "$scenario" in
    lab|crashloop) ;;
    *) run_hello ;;
esac

# The IT side of the IPC demo, in its own container: answers the control
# cell's samples with setpoints over the channel (/dev/uio0). In the lab,
# the same program as a plain process, which floods the channel while
# /run/flood exists.
if [ -e /dev/uio0 ]; then
    if [ "$scenario" = lab ]; then
        bulkhead-ipc --report-every 5 gateway --flood-while /run/flood &
        say "gateway: started on /dev/uio0"
    else
        crun run --bundle /containers/gateway gateway &
        say "container gateway: started on /dev/uio0"
    fi
fi

status_forever() {
    status=1
    while true; do
        read -r up _ < /proc/uptime
        read -r load1 load5 load15 _ < /proc/loadavg
        available=$(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo)
        say "status $status: up ${up} s, load ${load1} ${load5} ${load15}, ${available} kB available"
        status=$((status + 1))
        sleep 5
    done
}

# CPU (one dd per CPU), memory (32 MiB files on tmpfs) and disk (32 MiB
# files on this disk, fsync'd) load for $1 seconds.
load() {
    counts=/run/load
    mkdir -p "$counts"
    busy=""
    for _ in $(seq "$(nproc)"); do
        dd if=/dev/zero of=/dev/null bs=64k 2> /dev/null &
        busy="$busy $!"
    done
    (
        while [ ! -e "$counts/stop" ]; do
            dd if=/dev/zero of=/dev/shm/load bs=1M count=32 2> /dev/null
            rm -f /dev/shm/load
            echo -n . >> "$counts/tmpfs"
        done
    ) &
    tmpfs=$!
    (
        while [ ! -e "$counts/stop" ]; do
            dd if=/dev/zero of=/var/tmp/load bs=1M count=32 conv=fsync 2> /dev/null
            rm -f /var/tmp/load
            echo -n . >> "$counts/disk"
        done
    ) &
    disk=$!
    sleep "$1"
    touch "$counts/stop"
    kill $busy
    wait $busy "$tmpfs" "$disk" 2> /dev/null
    say "load: stopped"
    say "load: wrote $(wc -c < "$counts/tmpfs") x 32 MiB to tmpfs, $(wc -c < "$counts/disk") x 32 MiB to the disk"
}


case "$scenario" in
    lab)
        markers=/var/lib/bulkhead
        if [ -e "$markers/lab-1" ]; then
            say "after crash: back up (boot 2)"
        else
            say "lab: idle"
            sleep 16
            say "load: started"
            touch /run/flood
            load 8
            rm -f /run/flood
            touch "$markers/lab-1"
            sync
            say "crash: echo c > /proc/sysrq-trigger"
            echo c > /proc/sysrq-trigger
        fi
        ;;
    crashloop)
        # bulkhead.crashes=N (default 20) crashes, one a life, counted by
        # marker files on this disk; then status lines.
        wanted=20
        for parameter in $(cat /proc/cmdline); do
            case "$parameter" in
                bulkhead.crashes=*) wanted="${parameter#bulkhead.crashes=}" ;;
            esac
        done
        markers=/var/lib/bulkhead
        crashes=$(ls "$markers" | grep -c '^crash-')
        if [ "$crashes" -ge "$wanted" ]; then
            say "crashloop: back up after $crashes crashes"
        else
            touch "$markers/crash-$crashes"
            sync
            say "crashloop: crash $((crashes + 1)) of $wanted"
            echo c > /proc/sysrq-trigger
        fi
        ;;
    faults)
        markers=/var/lib/bulkhead
        if [ -e "$markers/faults-2" ]; then
            say "after fault: back up (boot 3)"
        elif [ -e "$markers/faults-1" ]; then
            say "after crash: back up (boot 2)"
            touch "$markers/faults-2"
            sync
            # Outside this cell's memory, so not RAM to this kernel and
            # allowed by STRICT_DEVMEM; stage 2 maps nothing there.
            say "devmem: reading 0x50000000 (control cell RAM)"
            value=$(devmem 0x50000000 32)
            say "devmem: read returned $value"
        else
            say "load: started"
            load 15
            touch "$markers/faults-1"
            sync
            say "crash: echo c > /proc/sysrq-trigger"
            echo c > /proc/sysrq-trigger
        fi
        ;;
esac
status_forever
