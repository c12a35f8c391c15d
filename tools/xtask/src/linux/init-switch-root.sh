#!/bin/busybox sh
# /init of initramfs-containers.cpio.gz, for the container host (Debian's
# generic kernel): load the kernel modules listed in /etc/modules (virtio
# over MMIO, the virtio disk, ext4, the virtio network card; modprobe adds
# their dependencies from the modules.dep made at build time), wait for
# the root disk, mount it and switch to its /sbin/init. Every module the
# cell needs is loaded here; the disk carries none.
#
# The root device is the kernel parameter root= (default /dev/vda, the
# virtio-blk disk); it must hold ext4.
#
# Output lines, each prefixed with "bulkhead-guest: ":
#   initramfs: modules loaded: <name> <name> ...     (the list of /etc/modules)
#   initramfs: modprobe <name> failed                (then goes on)
#   initramfs: root <device> ext4, switching to /sbin/init
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

tries=0
while [ ! -b "$root" ]; do
    if [ "$tries" -ge 100 ]; then
        say "initramfs: no $root after 10 s; is a disk attached to the cell?"
        idle
    fi
    sleep 0.1
    tries=$((tries + 1))
done

mkdir -p /newroot
if ! mount -t ext4 -o rw "$root" /newroot; then
    say "initramfs: cannot mount $root (ext4)"
    idle
fi
say "initramfs: root $root ext4, switching to /sbin/init"
# /dev moves to the new root (its nodes, /dev/vda among them, stay);
# /sbin/init mounts /proc and /sys again.
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
