//! QEMU `virt` (GICv3, `virtualization=on`, 4 × Cortex-A72, 2 GiB): the
//! reference board. Every value was read from the device tree that
//! `qemu-system-aarch64 -M virt,virtualization=on,gic-version=3,dumpdtb=…`
//! (QEMU 7.2) writes.

use crate::{
    Board, ControlPath, Cpu, Device, Gic, IntidRange, MemRange, Timer, Uart, FIRST_PPI, FIRST_SPI,
};

const fn spi(n: u32) -> u32 {
    FIRST_SPI + n
}

const fn ppi(n: u32) -> u32 {
    FIRST_PPI + n
}

const UART_MMIO: MemRange = MemRange::new(0x0900_0000, 0x1000);

/// QEMU places virtio-mmio transports 0x200 apart from here, on SPI 16 + slot.
const VIRTIO_MMIO_BASE: u64 = 0x0a00_0000;
const VIRTIO_MMIO_STRIDE: u64 = 0x200;

macro_rules! virtio_slots {
    ($($slot:literal),* $(,)?) => {
        [
            Device { name: "uart0", compatible: "arm,pl011", mmio: &[UART_MMIO], irqs: &[spi(1)], dma: false },
            Device { name: "rtc", compatible: "arm,pl031", mmio: &[MemRange::new(0x0901_0000, 0x1000)], irqs: &[spi(2)], dma: false },
            Device { name: "gpio", compatible: "arm,pl061", mmio: &[MemRange::new(0x0903_0000, 0x1000)], irqs: &[spi(7)], dma: false },
            Device { name: "fw-cfg", compatible: "qemu,fw-cfg-mmio", mmio: &[MemRange::new(0x0902_0000, 0x1000)], irqs: &[], dma: true },
            $(
                Device {
                    name: concat!("virtio-mmio", $slot),
                    compatible: "virtio,mmio",
                    mmio: &[MemRange::new(VIRTIO_MMIO_BASE + $slot * VIRTIO_MMIO_STRIDE, VIRTIO_MMIO_STRIDE)],
                    irqs: &[spi(16 + $slot)],
                    dma: true,
                },
            )*
        ]
    };
}

const DEVICES: [Device; 36] = virtio_slots!(
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31
);

const fn cpu(mpidr: u64) -> Cpu {
    // `cpu-map` puts all four cores in cluster0.
    Cpu {
        mpidr,
        cluster: Some(0),
    }
}

/// The QEMU `virt` board as Bulkhead's tests and demo start it.
pub const BOARD: Board = Board {
    name: "qemu-virt",
    cpus: &[cpu(0), cpu(1), cpu(2), cpu(3)],
    ram: &[MemRange::new(0x4000_0000, 0x8000_0000)],
    // The partitioner is loaded at 0x4008_0000 (Image text_offset); the boot
    // image's payloads follow it. QEMU puts its own DTB at 0x4000_0000.
    hypervisor_ram: MemRange::new(0x4000_0000, 0x1000_0000),
    console: Uart {
        device: "uart0",
        mmio: UART_MMIO,
        irq: spi(1),
    },
    gic: Gic {
        distributor: MemRange::new(0x0800_0000, 0x1_0000),
        redistributors: MemRange::new(0x080a_0000, 0xf6_0000),
        redistributor_stride: 0x2_0000,
        maintenance_irq: ppi(9),
        control_path: ControlPath::Group0Fiq,
    },
    timer: Timer {
        hypervisor: ppi(10),
        virtual_timer: ppi(11),
        physical_timer: ppi(14),
    },
    devices: &DEVICES,
    // QEMU virt has 256 SPIs (INTID 32..288); board devices use SPI 0..47.
    spare_spis: IntidRange {
        first: spi(64),
        count: 64,
    },
    counter_hz: 62_500_000,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtio_slots_follow_qemu_layout() {
        let last = BOARD.device("virtio-mmio31").unwrap();
        assert_eq!(last.mmio[0].base, 0x0a00_3e00);
        assert_eq!(last.irqs, &[spi(47)]);
    }

    #[test]
    fn device_names_are_unique() {
        for (i, a) in BOARD.devices.iter().enumerate() {
            assert!(
                BOARD.devices[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
    }

    #[test]
    fn spare_spis_are_unused() {
        for d in BOARD.devices {
            for irq in d.irqs {
                assert!(!BOARD.spare_spis.contains(*irq), "{}", d.name);
            }
        }
    }
}
