//! Ping-pong test cell: two instances exchange messages over a Bulkhead
//! channel with `bulkhead-channel`, woken by doorbell interrupts (never by
//! polling), and a third shows that a cell that is no peer cannot reach
//! the channel's device.
//!
//! The boot argument (`x0`) is `RD_base | role`: the `RD_base` of the
//! cell's redistributor (for its timer PPI; 128 KiB aligned, so the low
//! bits are free) and the role in the low four bits:
//!
//! - **1, initiator.** Finds the device on the virtual PCI bus, rings a
//!   peer the channel does not have (refused by the partitioner), measures
//!   doorbells to itself, opens the channel, waits for the echoer, then
//!   sends [`ROUND_TRIPS`] pings and waits for each echo, timing each round
//!   trip on the virtual counter. Then it watches the echoer go down
//!   (state 0) and come back (state 2), and does a second round.
//! - **2, echoer.** Echoes every message, byte for byte (so a Linux
//!   cell's `bulkhead-ipc pingpong initiator` can be the other end). On
//!   its first boot, after
//!   [`ROUND_TRIPS`] echoes, it writes into the initiator's output section,
//!   which it may only read: a stage-2 permission fault; with
//!   `on_fault: restart` it comes back and echoes again.
//! - **3, outsider.** No peer of any channel: on successive boots (with
//!   `on_fault: restart`) it reads the ECAM window, writes a doorbell
//!   register, reads the shared memory; each is a fault.
//! - **4, bench initiator.** Measures the channel (see [Benchmarks](#benchmarks)).
//! - **5, bench echoer.** Its peer for the benchmarks; never faults.
//!
//! # Benchmarks
//!
//! Roles 4 and 5 (`hil-tests/configs/qemu-ipc-lab.yaml`) use a ring of
//! 8 slots of 4 KiB + 8 bytes each way, and take three measurements,
//! all on the virtual counter (the same in both cells: `CNTVOFF_EL2` is
//! 0), one at a time, so that the two never overlap:
//!
//! 1. **One way** ([`ONEWAY_SAMPLES`]): the initiator reads the counter
//!    right before it sends a small message, and its doorbell reads it
//!    again right before the store to the Doorbell register
//!    ([`LAST_RING`]); the echoer, idle in WFI with IRQs masked, wakes on
//!    the doorbell interrupt and reads the counter first, before it
//!    acknowledges the interrupt and runs its handler
//!    ([`poll_irq`](baremetal_cells::poll_irq),
//!    [`DOORBELL_ENTRY`]), and answers with that reading. Two figures:
//!    `oneway`, from before `send` to the handler, and `notify`, from the
//!    Doorbell store to the handler (the notification alone). Taking the
//!    interrupt this way, from thread context right after WFI, costs no
//!    exception entry, register save or `eret`: the figures end at the
//!    same point as at an IRQ vector. A sample the echoer did not take
//!    from WFI (it was still busy) is sent again; one whose interrupt
//!    never came is lost.
//! 2. **Round trip** ([`ROUND_TRIPS`] 8-byte messages): from before the
//!    send to after the receive of the echo.
//! 3. **Throughput** ([`STREAM_BYTES`] in messages of each of
//!    [`STREAM_SIZES`] bytes): the initiator sends as fast as the ring
//!    allows (the library's `send` waits for room), the echoer copies each
//!    message into a local buffer and sums its words; its final answer
//!    (count and sum) ends the timing, and the initiator checks both. Then
//!    the initiator times a plain copy of as many bytes, message by
//!    message, between two buffers on its stack: the memcpy baseline.
//!
//! Output of the initiator, one figure a line (parsed by
//! `hil-tests/src/ipc_bench.rs`; histograms as the probe prints them:
//! `value:count` pairs in ticks, eight a line, values ascending, `lost:N`
//! last, then a summary line to check them against):
//!
//! ```text
//! bench: counter 1000000000 Hz
//! bench: hist oneway 635:199 1055:1 lost:0
//! bench: oneway latency: 200 samples, min 635, avg 637, max 1055 ticks
//! bench: hist notify 532:199 928:1 lost:0
//! bench: notify latency: 200 samples, min 532, avg 533, max 928 ticks
//! bench: hist roundtrip 1564:1000 lost:0
//! bench: roundtrip latency: 1000 samples, min 1564, avg 1564, max 1564 ticks
//! bench: throughput 64 B: 16384 messages, 1048576 bytes in 13235339 ticks; memcpy of the same bytes in 1097731 ticks
//! bench: throughput 1024 B: 1024 messages, 1048576 bytes in 1355659 ticks; memcpy of the same bytes in 560131 ticks
//! bench: throughput 4096 B: 256 messages, 1048576 bytes in 782155 ticks; memcpy of the same bytes in 533251 ticks
//! bench: done
//! ```
//!
//! A measurement that fails prints a line with `FAILED` instead of its
//! figures, and the bench stops.
//!
//! Addresses: the ECAM window is the board's `virtual_pci.ecam`
//! (`bsp/boards/<board>.yaml`, as `baremetal_cells::board`); the channel is device 0 (the first
//! channel of the config), and everything else comes from its
//! configuration space, as a driver would read it: BAR 0 (registers),
//! BAR 2 (shared memory), the vendor capability (section sizes), the ID
//! register (peer id). The doorbell SPI follows `bulkhead_config::doorbell_spi`.
//!
//! The cell runs with its MMU off (all data accesses are Device memory);
//! the channel library only makes aligned 32-bit accesses and no atomic
//! read-modify-writes, and neither does this file.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod device;
#[cfg(target_os = "none")]
mod roles;

#[cfg(target_os = "none")]
mod cell {
    use crate::bench::{bench_echoer, bench_initiator};
    use crate::device::{enable_interrupts, probe_device};
    use crate::roles::{echoer, initiator, outsider};
    use baremetal_cells::{count_boot, println};

    const ROLE_INITIATOR: u64 = 1;

    const ROLE_ECHOER: u64 = 2;

    const ROLE_OUTSIDER: u64 = 3;

    const ROLE_BENCH_INITIATOR: u64 = 4;

    const ROLE_BENCH_ECHOER: u64 = 5;

    #[unsafe(no_mangle)]
    fn cell_main(boot_argument: u64) -> ! {
        let boot = count_boot();
        let role = boot_argument & 0xf;
        let redistributor = (boot_argument & !0xf) as usize;
        match role {
            ROLE_INITIATOR | ROLE_ECHOER => {
                let name = if role == ROLE_INITIATOR {
                    "initiator"
                } else {
                    "echoer"
                };
                println!("pingpong: {name}, boot {boot}");
                match probe_device() {
                    Some(device) => {
                        enable_interrupts(&device, redistributor);
                        if role == ROLE_INITIATOR {
                            initiator(&device)
                        } else {
                            echoer(&device, boot)
                        }
                    }
                    None => println!("pingpong: no channel"),
                }
            }
            ROLE_BENCH_INITIATOR | ROLE_BENCH_ECHOER => {
                let initiator = role == ROLE_BENCH_INITIATOR;
                let name = if initiator { "initiator" } else { "echoer" };
                println!("pingpong: bench {name}, boot {boot}");
                match probe_device() {
                    Some(device) => {
                        enable_interrupts(&device, redistributor);
                        if initiator {
                            bench_initiator(&device)
                        } else {
                            bench_echoer(&device)
                        }
                    }
                    None => println!("pingpong: no channel"),
                }
            }
            ROLE_OUTSIDER => outsider(boot),
            _ => println!("pingpong: unknown role {role} (x0 = {boot_argument:#x})"),
        }
        baremetal_cells::halt()
    }

    #[unsafe(no_mangle)]
    fn cell_secondary(_vcpu: usize, _context: u64) -> ! {
        baremetal_cells::cpu_off()
    }
}

baremetal_cells::host_main!();
