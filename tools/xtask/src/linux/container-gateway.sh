#!/bin/sh
# /bin/gateway, the program of the OCI container "gateway" on the container
# host's disk (/containers/gateway): the IT side of the gateway demo. It
# runs bulkhead-ipc (bind-mounted from the cell at /bin/bulkhead-ipc) on
# the channel to the control cell, /dev/uio0 (bind-mounted too): it answers
# every sample of the control loop with a setpoint and prints its rates,
# "bulkhead-ipc: gateway: <n> samples/s in, <n> setpoints/s out".
#
# What the container may touch: /dev/uio0 (the only device node in its
# /dev; no CAP_MKNOD to make others) and a writable /sys, because
# uio_pci_generic's user space maps the BARs through
# /sys/class/uio/uio0/device/resource* and re-enables the interrupt through
# its config file. Reading the PCI config space past its first 64 bytes
# (the ivshmem capability with the channel's layout) needs CAP_SYS_ADMIN,
# which the container therefore has.
exec /bin/bulkhead-ipc gateway --report-every 5
