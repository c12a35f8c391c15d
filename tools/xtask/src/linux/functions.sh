# /lib/bulkhead/functions.sh: shell functions the init scripts of every
# Bulkhead guest image share (sourced with `. /lib/bulkhead/functions.sh`).
# Each reports with lines that start "bulkhead-guest: ", the prefix the
# tests and the demo look for.

say() { echo "bulkhead-guest: $*"; }

# What the cell was given, seen from inside: its RAM, the top-level nodes
# of its device tree, and one line per /proc/interrupts row, counts left
# out ("  11:  1234  5678  GICv3  27 Level  arch_timer" becomes
# "interrupt: 11 GICv3 27 Level arch_timer").
report_view() {
    say "MemTotal: $(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) kB"
    nodes=""
    for node in /proc/device-tree/*; do
        [ -d "$node" ] && nodes="$nodes ${node##*/}"
    done
    say "device tree:$nodes"
    awk 'NR > 1 {
        irq = $1; sub(":", "", irq)
        i = 2
        while (i <= NF && $i ~ /^[0-9]+$/) i++
        line = irq
        for (; i <= NF; i++) line = line " " $i
        print line
    }' /proc/interrupts | while read -r line; do
        say "interrupt: $line"
    done
}

# Channels to other cells appear as ivshmem PCI functions (110a:4106);
# uio_pci_generic (loaded from /etc/modules) hands them to user space as
# /dev/uioN, where bulkhead-ipc finds them. Prints "ipc: bulkhead-ipc
# <version>" and "channel: /dev/uioN is PCI <address>" per channel.
bind_channels() {
    say "ipc: $(bulkhead-ipc --version 2>&1)"
    [ -d /sys/bus/pci/drivers/uio_pci_generic ] || return 0
    echo "110a 4106" > /sys/bus/pci/drivers/uio_pci_generic/new_id 2> /dev/null
    for uio in /sys/class/uio/uio*; do
        [ -e "$uio" ] || continue
        say "channel: /dev/${uio##*/} is PCI $(basename "$(readlink -f "$uio/device")")"
    done
}

# A root shell on the cell's console for the operator, who types into it
# through `cargo xtask demo` or `bulkhead console` (the partitioner hands
# each cell what is typed for it). As busybox init's "askfirst": nothing
# runs until Enter is pressed, then a login shell with the console as its
# controlling terminal (cttyhack finds it), started again when it exits.
# Run it in the background.
console_shell() {
    say "console: press Enter for a shell"
    while true; do
        setsid cttyhack sh -c 'read -r _ && exec sh -l'
        sleep 1
    done
}
