#!/bin/sh
# /bin/hello, the program of the OCI container "hello" on the container
# host's disk (/containers/hello). Its output reaches the cell console
# (crun passes its standard output on). Lines, all starting "container: ":
#   container: hostname: <name>                 (its own UTS namespace: hello)
#   container: cpu.max: <quota> <period>        (its own cgroup, as it sees it
#   container: memory.max: <bytes>               at /sys/fs/cgroup)
#   container: busy <n>: cpu.max <quota> <period>, memory.max <bytes>
# The last one comes every 3 s, from a loop that keeps one CPU busy (as
# far as the cgroup's CPU quota lets it); it shows the limits as they are
# then, so a change made from outside (crun update) shows up there.
say() { echo "container: $*"; }
limits() {
    read -r cpu_max < /sys/fs/cgroup/cpu.max
    read -r memory_max < /sys/fs/cgroup/memory.max
}
say "hostname: $(hostname)"
limits
say "cpu.max: $cpu_max"
say "memory.max: $memory_max"
busy=1
read -r up _ < /proc/uptime
next=$((${up%%.*} + 3))
while true; do
    # Busy: nothing but reading the clock until the next line is due.
    read -r up _ < /proc/uptime
    if [ "${up%%.*}" -ge "$next" ]; then
        limits
        say "busy $busy: cpu.max $cpu_max, memory.max $memory_max"
        busy=$((busy + 1))
        next=$((next + 3))
    fi
done
