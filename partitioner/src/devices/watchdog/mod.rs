//! The register model of the Arm SP805 watchdog a cell gets with
//! `watchdog:` in its config (SP805 Technical Reference Manual, DDI 0270).
//!
//! The counter runs down from `WdogLoad` at [`Watchdog::CLOCK_HZ`] while
//! `INTEN` is set. The first time it reaches zero the interrupt is raised
//! (`WdogRIS`) and the counter reloads; the second time, with the
//! interrupt still not cleared and `RESEN` set, the watchdog asserts its
//! reset, which here is the cell's `watchdog.action`. Petting is clearing
//! the interrupt (`WdogIntClr`) or writing `WdogLoad`: either reloads the
//! counter. `WdogLock` guards every other register (write `0x1ACCE551` to
//! unlock, anything else to lock).
//!
//! Time is the partitioner's counter (`CNTPCT`), passed in as `now` with
//! its frequency: the model keeps when the current count started, not a
//! count that ticks, so nothing has to run while the cell is quiet; the
//! housekeeping core compares [`Sp805::reset_deadline`] with the counter.
//! There is no interrupt line (Linux's `sp805_wdt` takes none): the cell
//! pets, or its action comes.

#[cfg(target_os = "none")]
pub(crate) mod runtime;

use bulkhead_config::Watchdog;

/// Register offsets (SP805 TRM, table 3-1).
mod offset {
    pub const LOAD: u64 = 0x000;
    pub const VALUE: u64 = 0x004;
    pub const CONTROL: u64 = 0x008;
    pub const INTCLR: u64 = 0x00c;
    pub const RIS: u64 = 0x010;
    pub const MIS: u64 = 0x014;
    pub const LOCK: u64 = 0xc00;
    pub const PERIPH_ID0: u64 = 0xfe0;
    pub const PCELL_ID0: u64 = 0xff0;
}

/// `WdogControl`: the counter and its interrupt enabled.
const INTEN: u32 = 1 << 0;
/// `WdogControl`: the reset output enabled.
const RESEN: u32 = 1 << 1;
/// What unlocks `WdogLock`.
const UNLOCK_KEY: u32 = 0x1acc_e551;
/// `WdogPeriphID0..3`: part 0x805, designer Arm (0x41), revision 1, the
/// identification Linux's AMBA bus matches `sp805_wdt` on (0x00141805).
const PERIPH_ID: [u32; 4] = [0x05, 0x18, 0x14, 0x00];
/// `WdogPCellID0..3`: the PrimeCell identification.
const PCELL_ID: [u32; 4] = [0x0d, 0xf0, 0x05, 0xb1];

/// One cell's emulated SP805.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sp805 {
    load: u32,
    control: u32,
    locked: bool,
    /// `WdogRIS`: the counter reached zero once since the last pet.
    interrupt: bool,
    /// Counter value when the current count started.
    started: u64,
    /// Counter value of the last pet (or of arming).
    petted: u64,
}

impl Default for Sp805 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sp805 {
    /// The reset state (SP805 TRM): counter disabled, `WdogLoad` all ones,
    /// unlocked.
    pub const fn new() -> Self {
        Sp805 {
            load: u32::MAX,
            control: 0,
            locked: false,
            interrupt: false,
            started: 0,
            petted: 0,
        }
    }

    /// The state a cell starts with: counting down `timeout_ms` in all
    /// (two periods, as Linux's driver sets it up), reset enabled, locked.
    pub fn armed(timeout_ms: u32, now: u64) -> Self {
        let half_ticks = Watchdog::CLOCK_HZ / 2 * u64::from(timeout_ms) / 1000;
        Sp805 {
            load: u32::try_from(half_ticks.saturating_sub(1)).unwrap_or(u32::MAX),
            control: INTEN | RESEN,
            locked: true,
            interrupt: false,
            started: now,
            petted: now,
        }
    }

    /// One count from `WdogLoad` to zero, in counter ticks at `counter_hz`.
    fn period(&self, counter_hz: u64) -> u64 {
        let ticks =
            (u128::from(self.load) + 1) * u128::from(counter_hz) / u128::from(Watchdog::CLOCK_HZ);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// Brings the model up to `now`: a count that reached zero raises the
    /// interrupt and starts again (a second one is the reset, which
    /// [`reset_deadline`](Self::reset_deadline) reports).
    fn advance(&mut self, now: u64, counter_hz: u64) {
        if self.control & INTEN == 0 {
            return;
        }
        let period = self.period(counter_hz);
        while now.saturating_sub(self.started) >= period {
            if self.interrupt && self.control & RESEN != 0 {
                return;
            }
            self.interrupt = true;
            self.started = self.started.saturating_add(period);
        }
    }

    /// Reloads the counter from `WdogLoad`: a pet.
    fn reload(&mut self, now: u64) {
        self.started = now;
        self.petted = now;
    }

    /// When the watchdog resets the cell, in counter ticks: `None` while
    /// the counter or the reset is disabled.
    pub fn reset_deadline(&self, counter_hz: u64) -> Option<u64> {
        if self.control & (INTEN | RESEN) != INTEN | RESEN {
            return None;
        }
        let periods = if self.interrupt { 1 } else { 2 };
        Some(
            self.started
                .saturating_add(self.period(counter_hz).saturating_mul(periods)),
        )
    }

    /// Counter value of the last pet, or of arming.
    pub fn last_pet(&self) -> u64 {
        self.petted
    }

    /// The timeout as the cell last set it (two counts from `WdogLoad`),
    /// in ms.
    pub fn timeout_ms(&self) -> u64 {
        let ticks = (u128::from(self.load) + 1) * 2 * 1000 / u128::from(Watchdog::CLOCK_HZ);
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// A guest read of the register at `offset` (32-bit registers) at
    /// counter value `now`.
    pub fn read(&mut self, offset: u64, now: u64, counter_hz: u64) -> u32 {
        self.advance(now, counter_hz);
        match offset {
            offset::LOAD => self.load,
            offset::VALUE => {
                if self.control & INTEN == 0 {
                    return self.load;
                }
                let end = self.started.saturating_add(self.period(counter_hz));
                let left = u128::from(end.saturating_sub(now)) * u128::from(Watchdog::CLOCK_HZ)
                    / u128::from(counter_hz.max(1));
                u32::try_from(left).unwrap_or(u32::MAX)
            }
            offset::CONTROL => self.control,
            offset::RIS => u32::from(self.interrupt),
            offset::MIS => u32::from(self.interrupt && self.control & INTEN != 0),
            offset::LOCK => u32::from(self.locked),
            o @ offset::PERIPH_ID0..=0xfec => PERIPH_ID[((o - offset::PERIPH_ID0) / 4) as usize],
            o @ offset::PCELL_ID0..=0xffc => PCELL_ID[((o - offset::PCELL_ID0) / 4) as usize],
            _ => 0,
        }
    }

    /// A guest write of `value` to the register at `offset` at counter
    /// value `now`. While locked, only `WdogLock` takes writes.
    pub fn write(&mut self, offset: u64, value: u32, now: u64, counter_hz: u64) {
        self.advance(now, counter_hz);
        if offset == offset::LOCK {
            self.locked = value != UNLOCK_KEY;
            return;
        }
        if self.locked {
            return;
        }
        match offset {
            offset::LOAD => {
                self.load = value;
                self.reload(now);
            }
            offset::CONTROL => {
                let enabling = value & INTEN != 0 && self.control & INTEN == 0;
                self.control = value & (INTEN | RESEN);
                if enabling {
                    self.reload(now);
                }
            }
            offset::INTCLR => {
                self.interrupt = false;
                self.reload(now);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter frequency of the tests: 1 MHz, one tick a microsecond.
    const HZ: u64 = 1_000_000;

    #[test]
    fn an_armed_watchdog_resets_after_its_timeout_unless_petted() {
        let mut dog = Sp805::armed(2_000, 1_000);
        assert_eq!(dog.timeout_ms(), 2_000);
        // Two periods of one second: the reset at 2 s after arming.
        assert_eq!(dog.reset_deadline(HZ), Some(1_000 + 2_000_000));
        // Linux's ping: unlock, reload, clear, lock.
        dog.write(offset::LOCK, UNLOCK_KEY, 1_500_000, HZ);
        let load = dog.read(offset::LOAD, 1_500_000, HZ);
        dog.write(offset::LOAD, load, 1_500_000, HZ);
        dog.write(offset::INTCLR, 0, 1_500_000, HZ);
        dog.write(offset::LOCK, 0, 1_500_000, HZ);
        assert_eq!(dog.last_pet(), 1_500_000);
        assert_eq!(dog.reset_deadline(HZ), Some(1_500_000 + 2_000_000));
        // Past one period the interrupt is raised; the reset is one period
        // after that.
        assert_eq!(dog.read(offset::RIS, 2_600_000, HZ), 1);
        assert_eq!(dog.reset_deadline(HZ), Some(3_500_000));
        // Locked: a pet is ignored.
        dog.write(offset::INTCLR, 0, 2_700_000, HZ);
        assert_eq!(dog.reset_deadline(HZ), Some(3_500_000));
    }

    #[test]
    fn stopped_or_without_reset_it_never_resets() {
        let mut dog = Sp805::armed(1_000, 0);
        dog.write(offset::LOCK, UNLOCK_KEY, 10, HZ);
        dog.write(offset::CONTROL, INTEN, 10, HZ);
        assert_eq!(dog.reset_deadline(HZ), None);
        // Counting without reset: the interrupt comes, nothing else, however
        // long.
        assert_eq!(dog.read(offset::MIS, 100_000_000, HZ), 1);
        dog.write(offset::CONTROL, 0, 100_000_010, HZ);
        assert_eq!(dog.read(offset::VALUE, 100_000_020, HZ), dog.load);
        assert_eq!(Sp805::new().reset_deadline(HZ), None);
    }

    #[test]
    fn the_value_counts_down_at_the_watchdog_clock() {
        let mut dog = Sp805::armed(1_000, 0);
        // A quarter of a second into a half-second period: half of the
        // 12 000 000 watchdog clock ticks left.
        assert_eq!(dog.read(offset::VALUE, 250_000, HZ), 6_000_000);
        assert_eq!(dog.read(offset::LOCK, 250_000, HZ), 1);
    }

    #[test]
    fn identification_matches_linuxs_amba_table() {
        let mut dog = Sp805::new();
        let id: u32 = (0..4)
            .map(|n| dog.read(offset::PERIPH_ID0 + 4 * n, 0, HZ) << (8 * n))
            .sum();
        assert_eq!(id & 0x00ff_ffff, 0x0014_1805);
        assert_eq!(dog.read(offset::PCELL_ID0 + 12, 0, HZ), 0xb1);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut dog = Sp805::armed(u32::MAX, u64::MAX - 5);
        assert!(dog.reset_deadline(u64::MAX).is_some());
        let _ = dog.read(offset::VALUE, u64::MAX, u64::MAX);
        dog.write(offset::LOCK, UNLOCK_KEY, u64::MAX, 1);
        dog.write(offset::LOAD, 0, 0, 0);
        let _ = dog.read(offset::VALUE, u64::MAX, 0);
        assert!(dog.reset_deadline(0).is_some());
    }
}
