#!/bin/busybox sh
# /init of initramfs-general.cpio.gz, for the general-purpose cell
# (Debian's generic kernel): report the kernel, then print a status line
# every few seconds so that the cell is visibly alive.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "bulkhead-guest: $*"; }
say "userspace up"
say "uname: $(uname -a)"
say "nproc: $(nproc)"
say "$(grep MemTotal /proc/meminfo)"

status=1
while true; do
    read -r up _ < /proc/uptime
    read -r load1 load5 load15 _ < /proc/loadavg
    available=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    say "status $status: up ${up} s, load ${load1} ${load5} ${load15}, ${available} kB available"
    status=$((status + 1))
    sleep 5
done
