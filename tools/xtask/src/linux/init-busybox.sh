#!/bin/busybox sh
# /init of initramfs-busybox.cpio.gz: mount the usual file systems, report
# what the cell sees of the machine, then switch the cell off (PSCI
# SYSTEM_OFF, which stops this cell only).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "bulkhead-guest: userspace up"
echo "bulkhead-guest: uname: $(uname -srm)"
echo "bulkhead-guest: kernel: $(uname -v)"
echo "bulkhead-guest: nproc: $(nproc)"
echo "bulkhead-guest: $(grep MemTotal /proc/meminfo)"
echo "bulkhead-guest: device-tree cpus: $(ls /proc/device-tree/cpus | grep -c '^cpu@')"
echo "bulkhead-guest: interrupts:"
cat /proc/interrupts
echo "bulkhead-guest: powering off"
poweroff -f
