#!/bin/busybox sh
# /init of initramfs-containers.cpio.gz and initramfs-containers-ram.cpio.gz,
# for the container host (Debian's generic kernel): load the kernel modules
# listed in /etc/modules (for the disk: virtio over MMIO, the virtio disk,
# ext4, the virtio network card; for RAM: the i.MX FEC; modprobe adds
# their dependencies from the modules.dep made at build time), then switch
# to the root file system's /sbin/init. Every module the cell needs is
# loaded here; the root carries none.
#
# The root is the kernel parameter root= (default /dev/vda, the virtio-blk
# disk): a block device holding ext4, which is mounted, or `ram`: the tree
# this initramfs carries in /rootfs, copied to a tmpfs (the cell's RAM).
#
# Output lines, each prefixed with "bulkhead-guest: ":
#   initramfs: modules loaded: <name> <name> ...     (the list of /etc/modules)
#   initramfs: modprobe <name> failed                (then goes on)
#   initramfs: root <device> ext4, switching to /sbin/init
#   initramfs: root in RAM (tmpfs, <n> MiB), switching to /sbin/init
#   initramfs: root=ram, but no /rootfs in this initramfs
#   initramfs: no <device> after 10 s; is a disk attached to the cell?
#   initramfs: cannot mount <device> (ext4)
# After either of the last two the cell idles (an exiting /init would panic
# the kernel and, with panic=1, restart the cell over and over).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "bulkhead-guest: $*"; }
idle() { while true; do sleep 3600; done; }

loaded=""
while read -r module; do
    [ -n "$module" ] || continue
    if modprobe "$module"; then
        loaded="$loaded $module"
    else
        say "initramfs: modprobe $module failed"
    fi
done < /etc/modules
say "initramfs: modules loaded:$loaded"

root=/dev/vda
for parameter in $(cat /proc/cmdline); do
    case "$parameter" in
        root=*) root="${parameter#root=}" ;;
    esac
done

mkdir -p /newroot
if [ "$root" = ram ]; then
    if [ ! -x /rootfs/sbin/init ]; then
        say "initramfs: root=ram, but no /rootfs in this initramfs"
        idle
    fi
    mount -t tmpfs -o mode=0755 tmpfs /newroot
    # switch_root empties this initramfs, /rootfs with it.
    cp -a /rootfs/. /newroot/
    say "initramfs: root in RAM (tmpfs, $(du -sm /newroot | cut -f1) MiB), switching to /sbin/init"
else
    tries=0
    while [ ! -b "$root" ]; do
        if [ "$tries" -ge 100 ]; then
            say "initramfs: no $root after 10 s; is a disk attached to the cell?"
            idle
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    if ! mount -t ext4 -o rw "$root" /newroot; then
        say "initramfs: cannot mount $root (ext4)"
        idle
    fi
    say "initramfs: root $root ext4, switching to /sbin/init"
fi
# /dev moves to the new root (its nodes, /dev/vda among them, stay);
# /sbin/init mounts /proc and /sys again.
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
