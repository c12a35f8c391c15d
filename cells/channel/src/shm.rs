//! Shared memory and device registers behind raw pointers: the only module
//! of this crate with `unsafe` code. Everything else works on the safe,
//! bounds-checked views defined here.
//!
//! # The views
//!
//! Shared memory is seen as a slice of [`AtomicU32`]: every access is an
//! aligned 32-bit atomic load or store, so a peer (another cell, another
//! thread) changing the memory at any moment is no data race, only a
//! strange value. Byte copies whose shared side starts 8-byte aligned go
//! in aligned 64-bit atomics ([`AtomicU64`]) instead, their partial last
//! 8 bytes included when the view has them: half the accesses, and a span
//! is always reached with the same access size, whoever copies it. Two
//! views:
//!
//! - [`SharedRegion`]: memory this side may write (its own output section,
//!   the common read/write section). Loads, stores, byte copies in and out.
//! - [`ReadOnlyRegion`]: memory this side only reads (the state table,
//!   other peers' output sections, which the hypervisor maps read-only).
//!   Only `Relaxed` loads, the one kind of atomic access Rust guarantees to
//!   work on read-only pages; acquire ordering comes from a separate
//!   [`fence`].
//!
//! Every access takes a byte offset and is checked: a misaligned offset or
//! one outside the view returns an [`AccessError`], never a panic. The
//! fixed part of an endpoint block (its first [`SLOTS`] bytes) also has
//! views of its own, [`SharedHeader`] and [`ReadOnlyHeader`], whose fields
//! are named by constant offsets checked at compile time: the ring's hot
//! path reads them with no run-time check at all. A ring's slots likewise
//! have [`SharedSlots`] and [`ReadOnlySlots`], checked once against the
//! block when made: every message index then names a slot inside the ring. Views
//! never do read-modify-write atomics (the shared memory may be mapped
//! uncached or as device memory, where exclusives are not guaranteed).
//!
//! # The contract
//!
//! The `unsafe` constructors here ([`SharedRegion::from_raw_parts`],
//! [`ReadOnlyRegion::from_raw_parts`], [`Region::from_raw_parts`],
//! [`Registers::at`]) turn an address into a view. Their callers promise:
//!
//! 1. The memory is mapped, 4-byte aligned, and stays mapped for the
//!    lifetime of the view.
//! 2. Memory handed out as writable is writable; read-only views are at
//!    least readable.
//! 3. Inside this program the memory is only reached through this module's
//!    views (or other atomics): no `&`/`&mut` to plain data points into it.
//!    What other cells do to it is outside the program and cannot cause
//!    undefined behaviour here, only garbage values, which the protocol
//!    layers above check.
//!
//! Under the `linux` feature, the module also owns the `mmap` of the PCI
//! BARs (`Mapping`), so that the Linux backend stays free of `unsafe`.
#![allow(unsafe_code)]

use core::fmt;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use crate::error::{ConfigError, Error};
use crate::ivshmem::Registers;
use crate::layout::SLOTS;
use crate::region::{Geometry, PeerId, Region};

/// Bytes per word: shared memory is accessed in aligned 32-bit words.
pub const WORD: usize = 4;

/// Bytes per wide word: copies of 8-byte aligned spans go in aligned 64-bit
/// words.
pub const WIDE_WORD: usize = 8;

/// Wide words moved per round of the unrolled copy loops. LLVM neither
/// merges nor unrolls atomic accesses, so without this the loop overhead
/// would cost as much as the copy.
const UNROLL: usize = 8;

const _: () = assert!(
    core::mem::size_of::<AtomicU64>() == WIDE_WORD
        && core::mem::align_of::<AtomicU64>() == WIDE_WORD
        && WIDE_WORD == 2 * WORD
);

/// Why a shared-memory access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// The offset {offset} is not a multiple of 4.
    Misaligned {
        /// The offending offset.
        offset: usize,
    },
    /// Bytes {offset}..{offset}+{len} are outside the view of {size} bytes.
    OutOfBounds {
        /// Start of the access.
        offset: usize,
        /// Length of the access.
        len: usize,
        /// Size of the view.
        size: usize,
    },
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::Misaligned { offset } => {
                write!(f, "offset {offset} is not a multiple of 4")
            }
            AccessError::OutOfBounds { offset, len, size } => write!(
                f,
                "bytes {offset}..{offset}+{len} are outside the view of {size} bytes"
            ),
        }
    }
}

impl core::error::Error for AccessError {}

/// The words `offset..offset + len` cover, checked: `offset` aligned and the
/// whole byte range inside `words`.
#[inline]
fn word_span(
    words: &[AtomicU32],
    offset: usize,
    len: usize,
) -> Result<core::ops::Range<usize>, AccessError> {
    if !offset.is_multiple_of(WORD) {
        return Err(AccessError::Misaligned { offset });
    }
    let size = words.len() * WORD;
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(offset / WORD..end.div_ceil(WORD)),
        _ => Err(AccessError::OutOfBounds { offset, len, size }),
    }
}

#[inline]
fn word_at(words: &[AtomicU32], offset: usize) -> Result<&AtomicU32, AccessError> {
    let span = word_span(words, offset, WORD)?;
    Ok(&words[span.start])
}

/// A sub-slice of `words`, in bytes; `len` must be a multiple of 4 too.
fn sub_words(words: &[AtomicU32], offset: usize, len: usize) -> Result<&[AtomicU32], AccessError> {
    if !len.is_multiple_of(WORD) {
        return Err(AccessError::Misaligned { offset: len });
    }
    let span = word_span(words, offset, len)?;
    Ok(&words[span])
}

/// Integer words that local byte buffers are copied as: every bit pattern
/// is a valid value, and they have no padding.
trait Plain: Copy {}
impl Plain for u32 {}
impl Plain for u64 {}

/// The whole `T` words at the start of `bytes`, when `bytes` starts aligned
/// for `T`: a mask test instead of `align_to`'s offset arithmetic, which on
/// a short message costs more than the copy.
#[inline]
fn words_mut<T: Plain>(bytes: &mut [u8]) -> Option<&mut [T]> {
    let start = bytes.as_mut_ptr();
    if !(start as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return None;
    }
    // SAFETY: `start` is aligned for `T` (checked), the `len / size_of::<T>()`
    // words lie inside `bytes`, which the exclusive borrow keeps alive and
    // unaliased, and every bit pattern is a valid `T` and valid `u8`s
    // (`Plain`).
    Some(unsafe {
        core::slice::from_raw_parts_mut(start.cast::<T>(), bytes.len() / core::mem::size_of::<T>())
    })
}

/// The whole `T` words at the start of `bytes`, when `bytes` starts aligned
/// for `T` (see [`words_mut`]).
#[inline]
fn words_ref<T: Plain>(bytes: &[u8]) -> Option<&[T]> {
    let start = bytes.as_ptr();
    if !(start as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return None;
    }
    // SAFETY: as for `words_mut`, with a shared borrow.
    Some(unsafe {
        core::slice::from_raw_parts(start.cast::<T>(), bytes.len() / core::mem::size_of::<T>())
    })
}

/// The 64-bit words of `words` when it starts 8-byte aligned in memory and
/// holds a whole number of them.
#[inline]
fn as_wide(words: &[AtomicU32]) -> Option<&[AtomicU64]> {
    let start = words.as_ptr();
    if !(start as usize).is_multiple_of(WIDE_WORD) || !words.len().is_multiple_of(2) {
        return None;
    }
    // SAFETY: `start` is 8-byte aligned (checked), which `AtomicU64` needs
    // (asserted above), and the `len / 2` wide words cover exactly the
    // memory of `words`, which the borrow keeps alive. It is the same
    // shared memory, only reached through atomics (the module contract),
    // so a second atomic view of it is no aliasing violation. Relaxed
    // 64-bit loads are plain `ldr`s on AArch64, which Rust allows on
    // read-only memory as for 32-bit ones (lock-free, no read-modify-write).
    Some(unsafe { core::slice::from_raw_parts(start.cast::<AtomicU64>(), words.len() / 2) })
}

/// The wide words covering bytes `offset..offset + len` of `words`, from an
/// 8-byte aligned address and rounded up to whole wide words, if that is
/// where the span starts and the rounding stays inside `words`.
#[inline]
fn wide_span(words: &[AtomicU32], offset: usize, len: usize) -> Option<&[AtomicU64]> {
    let start = offset / WORD;
    let end = start.checked_add(len.div_ceil(WIDE_WORD) * 2)?;
    words.get(start..end).and_then(as_wide)
}

/// Loads `shared` into `out` (the shorter one's length), [`UNROLL`] words
/// a round.
#[inline(always)]
fn load_wide(shared: &[AtomicU64], out: &mut [u64]) {
    // Both cut to one length first: the compiler then counts the rounds
    // once instead of taking the minimum of two counts at every step.
    let len = shared.len().min(out.len());
    let (shared, out) = (&shared[..len], &mut out[..len]);
    let (shared_rounds, shared_rest) = shared.as_chunks::<UNROLL>();
    let (out_rounds, out_rest) = out.as_chunks_mut::<UNROLL>();
    // Spelled out: at `opt-level = "s"`, `array::from_fn` here becomes a
    // stack buffer and two `memcpy` calls a round.
    for (out, shared) in out_rounds.iter_mut().zip(shared_rounds) {
        let [o0, o1, o2, o3, o4, o5, o6, o7] = out;
        let [s0, s1, s2, s3, s4, s5, s6, s7] = shared;
        *o0 = s0.load(Ordering::Relaxed);
        *o1 = s1.load(Ordering::Relaxed);
        *o2 = s2.load(Ordering::Relaxed);
        *o3 = s3.load(Ordering::Relaxed);
        *o4 = s4.load(Ordering::Relaxed);
        *o5 = s5.load(Ordering::Relaxed);
        *o6 = s6.load(Ordering::Relaxed);
        *o7 = s7.load(Ordering::Relaxed);
    }
    for (out, word) in out_rest.iter_mut().zip(shared_rest) {
        *out = word.load(Ordering::Relaxed);
    }
}

/// Stores `values` into `shared` (the shorter one's length), [`UNROLL`]
/// words a round.
#[inline(always)]
fn store_wide(shared: &[AtomicU64], values: &[u64]) {
    // As in `load_wide`.
    let len = shared.len().min(values.len());
    let (shared, values) = (&shared[..len], &values[..len]);
    let (shared_rounds, shared_rest) = shared.as_chunks::<UNROLL>();
    let (value_rounds, value_rest) = values.as_chunks::<UNROLL>();
    // Spelled out, as in `load_wide`.
    for (shared, values) in shared_rounds.iter().zip(value_rounds) {
        let [s0, s1, s2, s3, s4, s5, s6, s7] = shared;
        let [v0, v1, v2, v3, v4, v5, v6, v7] = *values;
        s0.store(v0, Ordering::Relaxed);
        s1.store(v1, Ordering::Relaxed);
        s2.store(v2, Ordering::Relaxed);
        s3.store(v3, Ordering::Relaxed);
        s4.store(v4, Ordering::Relaxed);
        s5.store(v5, Ordering::Relaxed);
        s6.store(v6, Ordering::Relaxed);
        s7.store(v7, Ordering::Relaxed);
    }
    for (word, &value) in shared_rest.iter().zip(value_rest) {
        word.store(value, Ordering::Relaxed);
    }
}

/// [`copy_out`] from an 8-byte aligned span: `shared` covers `dst` rounded
/// up to whole wide words.
#[inline(always)]
fn copy_out_wide(shared: &[AtomicU64], dst: &mut [u8]) {
    let whole = dst.len() / WIDE_WORD;
    let (body, tail) = dst.split_at_mut(whole * WIDE_WORD);
    let (shared_body, shared_tail) = shared.split_at(whole.min(shared.len()));
    if let Some(out) = words_mut::<u64>(body) {
        if out.len() <= UNROLL {
            // A short message: a plain loop, inlined, costs less than the
            // call to the unrolled one.
            for (out, word) in out.iter_mut().zip(shared_body) {
                *out = word.load(Ordering::Relaxed);
            }
        } else {
            load_wide(shared_body, out);
        }
    } else if let Some(out) = words_mut::<u32>(body) {
        for (out, word) in out.as_chunks_mut::<2>().0.iter_mut().zip(shared_body) {
            let [a, b, c, d, e, f, g, h] = word.load(Ordering::Relaxed).to_ne_bytes();
            *out = [
                u32::from_ne_bytes([a, b, c, d]),
                u32::from_ne_bytes([e, f, g, h]),
            ];
        }
    } else {
        for (chunk, word) in body.chunks_exact_mut(WIDE_WORD).zip(shared_body) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
    }
    if let Some(word) = shared_tail.first().filter(|_| !tail.is_empty()) {
        let bytes = word.load(Ordering::Relaxed).to_ne_bytes();
        for (out, byte) in tail.iter_mut().zip(bytes) {
            *out = byte;
        }
    }
}

/// [`SharedRegion::copy_in`] to an 8-byte aligned span: `shared` covers
/// `src` rounded up to whole wide words.
#[inline(always)]
fn copy_in_wide(shared: &[AtomicU64], src: &[u8]) {
    let whole = src.len() / WIDE_WORD;
    let (body, tail) = src.split_at(whole * WIDE_WORD);
    let (shared_body, shared_tail) = shared.split_at(whole.min(shared.len()));
    if let Some(values) = words_ref::<u64>(body) {
        if values.len() <= UNROLL {
            // As in `copy_out_wide`.
            for (word, &value) in shared_body.iter().zip(values) {
                word.store(value, Ordering::Relaxed);
            }
        } else {
            store_wide(shared_body, values);
        }
    } else if let Some(values) = words_ref::<u32>(body) {
        for (word, &[low, high]) in shared_body.iter().zip(values.as_chunks::<2>().0) {
            let ([a, b, c, d], [e, f, g, h]) = (low.to_ne_bytes(), high.to_ne_bytes());
            word.store(
                u64::from_ne_bytes([a, b, c, d, e, f, g, h]),
                Ordering::Relaxed,
            );
        }
    } else {
        for (word, chunk) in shared_body.iter().zip(body.chunks_exact(WIDE_WORD)) {
            let mut bytes = [0; WIDE_WORD];
            bytes.copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
    }
    if let Some(word) = shared_tail.first().filter(|_| !tail.is_empty()) {
        let mut bytes = word.load(Ordering::Relaxed).to_ne_bytes();
        for (byte, &value) in bytes.iter_mut().zip(tail) {
            *byte = value;
        }
        word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
    }
}

/// Copies `dst.len()` bytes from `offset` with relaxed loads; fine on
/// read-only memory. From an 8-byte aligned span whose last wide word is
/// inside the view, in 64-bit loads (see [`copy_out_wide`]); else in
/// 32-bit loads. Whole words go one aligned store each when `dst` is
/// aligned like them (else byte stores); the last partial word goes byte
/// by byte.
#[inline(always)]
fn copy_out(words: &[AtomicU32], offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
    let span = word_span(words, offset, dst.len())?;
    if let Some(shared) = wide_span(words, offset, dst.len()) {
        copy_out_wide(shared, dst);
        return Ok(());
    }
    let words = &words[span];
    let whole = dst.len() / WORD;
    let (body, tail) = dst.split_at_mut(whole * WORD);
    match words_mut::<u32>(body) {
        Some(out) => {
            for (out, word) in out.iter_mut().zip(words) {
                *out = word.load(Ordering::Relaxed);
            }
        }
        None => {
            for (chunk, word) in body.chunks_exact_mut(WORD).zip(words) {
                chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
        }
    }
    if let Some(word) = words.get(whole).filter(|_| !tail.is_empty()) {
        let bytes = word.load(Ordering::Relaxed).to_ne_bytes();
        for (out, byte) in tail.iter_mut().zip(bytes) {
            *out = byte;
        }
    }
    Ok(())
}

/// A writable view of shared memory. `Copy`: it is a bounds-checked window,
/// not an owner.
#[derive(Clone, Copy)]
pub struct SharedRegion<'a> {
    words: &'a [AtomicU32],
}

impl<'a> SharedRegion<'a> {
    /// A view of memory the program already reaches through atomics (an
    /// in-memory region, a test).
    pub const fn new(words: &'a [AtomicU32]) -> Self {
        SharedRegion { words }
    }

    /// A view of `len` bytes at `base` (rounded down to whole words).
    ///
    /// # Safety
    ///
    /// The module contract: `base..base + len` is mapped, readable and
    /// writable for `'a`, and inside this program only reached through
    /// atomics. Returns an error rather than a view when `base` is null or
    /// not 4-byte aligned.
    pub unsafe fn from_raw_parts(base: *mut u8, len: usize) -> Result<Self, ConfigError> {
        if base.is_null() || !(base as usize).is_multiple_of(WORD) {
            return Err(ConfigError::Misaligned);
        }
        // SAFETY: `base` is non-null and aligned for `AtomicU32` (checked),
        // the caller guarantees `len` bytes mapped for `'a`, and `AtomicU32`
        // has the size of `u32` with interior mutability, so a shared slice
        // of it may alias memory that others write concurrently.
        let words = unsafe { core::slice::from_raw_parts(base.cast::<AtomicU32>(), len / WORD) };
        Ok(SharedRegion { words })
    }

    /// The size of the view in bytes.
    pub fn len(&self) -> usize {
        self.words.len() * WORD
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The address of the first byte (for diagnostics and layout checks).
    pub fn address(&self) -> usize {
        self.words.as_ptr() as usize
    }

    /// The part of the view at `offset..offset + len` (both multiples of 4).
    pub fn subregion(&self, offset: usize, len: usize) -> Result<SharedRegion<'a>, AccessError> {
        Ok(SharedRegion {
            words: sub_words(self.words, offset, len)?,
        })
    }

    /// The fixed part of the endpoint block that starts this view.
    pub fn header(&self) -> Result<SharedHeader<'a>, AccessError> {
        Ok(SharedHeader {
            words: header_words(self.words)?,
        })
    }

    /// The same memory, read-only.
    pub const fn read_only(&self) -> ReadOnlyRegion<'a> {
        ReadOnlyRegion { words: self.words }
    }

    /// Loads the word at `offset` (`Relaxed`).
    #[inline]
    pub fn load_u32(&self, offset: usize) -> Result<u32, AccessError> {
        Ok(word_at(self.words, offset)?.load(Ordering::Relaxed))
    }

    /// Loads the word at `offset` with `Acquire` ordering: what was written
    /// before the matching release store is visible after it.
    #[inline]
    pub fn load_u32_acquire(&self, offset: usize) -> Result<u32, AccessError> {
        Ok(word_at(self.words, offset)?.load(Ordering::Acquire))
    }

    /// Stores `value` at `offset` (`Relaxed`).
    #[inline]
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<(), AccessError> {
        word_at(self.words, offset)?.store(value, Ordering::Relaxed);
        Ok(())
    }

    /// Stores `value` at `offset` with `Release` ordering: everything
    /// written before is visible to whoever acquires this value.
    #[inline]
    pub fn store_u32_release(&self, offset: usize, value: u32) -> Result<(), AccessError> {
        word_at(self.words, offset)?.store(value, Ordering::Release);
        Ok(())
    }

    /// Copies `src` to `offset`, word by word (`Relaxed`). A partial last
    /// word is read, patched and written back: this view's owner must be
    /// that word's only writer.
    ///
    /// An 8-byte aligned span whose last wide word is inside the view goes
    /// in 64-bit words (the partial last one patched likewise), anything
    /// else in 32-bit words. Whole words go as one aligned load each when
    /// `src` is aligned like them (else byte loads); a last partial word
    /// keeps the bytes after `src` as they were.
    #[inline(always)]
    pub fn copy_in(&self, offset: usize, src: &[u8]) -> Result<(), AccessError> {
        let span = word_span(self.words, offset, src.len())?;
        if let Some(shared) = wide_span(self.words, offset, src.len()) {
            copy_in_wide(shared, src);
            return Ok(());
        }
        let words = &self.words[span];
        let whole = src.len() / WORD;
        let (body, tail) = src.split_at(whole * WORD);
        match words_ref::<u32>(body) {
            Some(values) => {
                for (word, &value) in words.iter().zip(values) {
                    word.store(value, Ordering::Relaxed);
                }
            }
            None => {
                for (word, chunk) in words.iter().zip(body.chunks_exact(WORD)) {
                    let bytes = [chunk[0], chunk[1], chunk[2], chunk[3]];
                    word.store(u32::from_ne_bytes(bytes), Ordering::Relaxed);
                }
            }
        }
        if let Some(word) = words.get(whole).filter(|_| !tail.is_empty()) {
            let mut bytes = word.load(Ordering::Relaxed).to_ne_bytes();
            for (byte, &value) in bytes.iter_mut().zip(tail) {
                *byte = value;
            }
            word.store(u32::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        Ok(())
    }

    /// Copies `dst.len()` bytes from `offset` into `dst` (`Relaxed`).
    #[inline(always)]
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
        copy_out(self.words, offset, dst)
    }

    /// Sets `len` bytes at `offset` (multiples of 4) to zero.
    pub fn zero(&self, offset: usize, len: usize) -> Result<(), AccessError> {
        for word in sub_words(self.words, offset, len)? {
            word.store(0, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl fmt::Debug for SharedRegion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRegion")
            .field("address", &format_args!("{:#x}", self.address()))
            .field("len", &self.len())
            .finish()
    }
}

/// A read-only view of shared memory: only relaxed loads (plus fences), the
/// accesses Rust guarantees to work on pages mapped read-only.
#[derive(Clone, Copy)]
pub struct ReadOnlyRegion<'a> {
    words: &'a [AtomicU32],
}

impl<'a> ReadOnlyRegion<'a> {
    /// A view of memory the program already reaches through atomics.
    pub const fn new(words: &'a [AtomicU32]) -> Self {
        ReadOnlyRegion { words }
    }

    /// A read-only view of `len` bytes at `base` (rounded down to whole
    /// words).
    ///
    /// # Safety
    ///
    /// The module contract: `base..base + len` is mapped and readable (it
    /// may be read-only) for `'a`, and inside this program only reached
    /// through atomics. Returns an error rather than a view when `base` is
    /// null or not 4-byte aligned.
    pub unsafe fn from_raw_parts(base: *const u8, len: usize) -> Result<Self, ConfigError> {
        if base.is_null() || !(base as usize).is_multiple_of(WORD) {
            return Err(ConfigError::Misaligned);
        }
        // SAFETY: as in `SharedRegion::from_raw_parts`; this view only
        // performs relaxed 32- and 64-bit loads, which Rust guarantees to
        // work on read-only memory.
        let words = unsafe { core::slice::from_raw_parts(base.cast::<AtomicU32>(), len / WORD) };
        Ok(ReadOnlyRegion { words })
    }

    /// The size of the view in bytes.
    pub fn len(&self) -> usize {
        self.words.len() * WORD
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The address of the first byte (for diagnostics and layout checks).
    pub fn address(&self) -> usize {
        self.words.as_ptr() as usize
    }

    /// The part of the view at `offset..offset + len` (both multiples of 4).
    pub fn subregion(&self, offset: usize, len: usize) -> Result<ReadOnlyRegion<'a>, AccessError> {
        Ok(ReadOnlyRegion {
            words: sub_words(self.words, offset, len)?,
        })
    }

    /// The fixed part of the endpoint block that starts this view.
    pub fn header(&self) -> Result<ReadOnlyHeader<'a>, AccessError> {
        Ok(ReadOnlyHeader {
            words: header_words(self.words)?,
        })
    }

    /// Loads the word at `offset` (`Relaxed`).
    #[inline]
    pub fn load_u32(&self, offset: usize) -> Result<u32, AccessError> {
        Ok(word_at(self.words, offset)?.load(Ordering::Relaxed))
    }

    /// Loads the word at `offset`, then an `Acquire` fence: reads after this
    /// one see what was written before the matching release store.
    #[inline]
    pub fn load_u32_acquire(&self, offset: usize) -> Result<u32, AccessError> {
        let value = word_at(self.words, offset)?.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        Ok(value)
    }

    /// Copies `dst.len()` bytes from `offset` into `dst` (`Relaxed`).
    #[inline(always)]
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> Result<(), AccessError> {
        copy_out(self.words, offset, dst)
    }
}

impl fmt::Debug for ReadOnlyRegion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOnlyRegion")
            .field("address", &format_args!("{:#x}", self.address()))
            .field("len", &self.len())
            .finish()
    }
}

/// Words in the fixed part of an endpoint block.
const HEADER_WORDS: usize = SLOTS / WORD;

/// The first [`HEADER_WORDS`] words of `words`, as an array.
fn header_words(words: &[AtomicU32]) -> Result<&[AtomicU32; HEADER_WORDS], AccessError> {
    words
        .get(..HEADER_WORDS)
        .and_then(|header| header.try_into().ok())
        .ok_or(AccessError::OutOfBounds {
            offset: 0,
            len: SLOTS,
            size: words.len() * WORD,
        })
}

/// The index of the header word at byte `OFFSET`, checked when the program
/// is compiled: a multiple of 4 inside the header.
const fn header_index<const OFFSET: usize>() -> usize {
    const {
        assert!(
            OFFSET.is_multiple_of(WORD) && OFFSET < SLOTS,
            "not a word of the endpoint header"
        )
    };
    OFFSET / WORD
}

/// A writable view of the fixed part of an endpoint block (the layout's
/// offsets below [`SLOTS`]). Fields are named by constant offsets checked
/// at compile time, so an access is one load or store.
#[derive(Clone, Copy)]
pub struct SharedHeader<'a> {
    words: &'a [AtomicU32; HEADER_WORDS],
}

impl SharedHeader<'_> {
    /// Loads the field at `OFFSET` (`Relaxed`).
    #[inline]
    pub fn load<const OFFSET: usize>(&self) -> u32 {
        self.words[header_index::<OFFSET>()].load(Ordering::Relaxed)
    }

    /// Stores `value` in the field at `OFFSET` (`Relaxed`).
    #[inline]
    pub fn store<const OFFSET: usize>(&self, value: u32) {
        self.words[header_index::<OFFSET>()].store(value, Ordering::Relaxed);
    }

    /// Stores `value` in the field at `OFFSET` with `Release` ordering.
    #[inline]
    pub fn store_release<const OFFSET: usize>(&self, value: u32) {
        self.words[header_index::<OFFSET>()].store(value, Ordering::Release);
    }
}

/// A read-only view of the fixed part of an endpoint block: relaxed loads
/// only, as [`ReadOnlyRegion`].
#[derive(Clone, Copy)]
pub struct ReadOnlyHeader<'a> {
    words: &'a [AtomicU32; HEADER_WORDS],
}

impl ReadOnlyHeader<'_> {
    /// Loads the field at `OFFSET` (`Relaxed`).
    #[inline]
    pub fn load<const OFFSET: usize>(&self) -> u32 {
        self.words[header_index::<OFFSET>()].load(Ordering::Relaxed)
    }

    /// Loads the field at `OFFSET`, then an `Acquire` fence.
    #[inline]
    pub fn load_acquire<const OFFSET: usize>(&self) -> u32 {
        let value = self.load::<OFFSET>();
        fence(Ordering::Acquire);
        value
    }
}

impl fmt::Debug for SharedHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedHeader")
            .field(
                "address",
                &format_args!("{:#x}", self.words.as_ptr() as usize),
            )
            .finish()
    }
}

impl fmt::Debug for ReadOnlyHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOnlyHeader")
            .field(
                "address",
                &format_args!("{:#x}", self.words.as_ptr() as usize),
            )
            .finish()
    }
}

/// One ring's slots, checked once when the view is made: `count` slots of
/// `size` bytes (a multiple of 8, at least 16; `count` a power of two),
/// starting 8-byte aligned in memory and inside the view they came from.
/// A slot is an 8-byte header (the message length in its low 32 bits, the
/// layout being little-endian) followed by the payload.
///
/// Every index names a slot inside the ring (the index modulo `count`), so
/// the ring's hot path reaches a slot's header and payload with aligned
/// 64-bit accesses and no per-message offset arithmetic or bounds checks
/// beyond one slice lookup.
#[derive(Clone, Copy)]
struct Slots<'a> {
    /// The ring, exactly `count * size / 8` wide words.
    words: &'a [AtomicU64],
    /// Wide words per slot, at least 2.
    slot_words: usize,
    /// `count - 1`.
    mask: u32,
}

impl<'a> Slots<'a> {
    /// The ring of `count` slots of `size` bytes at byte `offset` of
    /// `words`, checked.
    fn new(words: &'a [AtomicU32], offset: usize, size: u32, count: u32) -> Result<Self, Error> {
        crate::layout::check_ring(size, count)?;
        let len = (size as usize)
            .checked_mul(count as usize)
            .ok_or(ConfigError::SlotCount(count))?;
        let span = word_span(words, offset, len)?;
        let ring = as_wide(&words[span]).ok_or(ConfigError::Misaligned)?;
        Ok(Slots {
            words: ring,
            slot_words: size as usize / WIDE_WORD,
            mask: count - 1,
        })
    }

    /// The wide words of message `index`'s slot, header first.
    #[inline(always)]
    fn slot(&self, index: u32) -> &'a [AtomicU64] {
        let start = (index & self.mask) as usize * self.slot_words;
        debug_assert!(start + self.slot_words <= self.words.len());
        // SAFETY: every `Slots` holds exactly `mask + 1` slots of
        // `slot_words` words (`new` checks it; `NO_RING` is one slot of 2),
        // and `index & mask` is at most `mask`, so the slot's words lie
        // inside `words`.
        unsafe { self.words.get_unchecked(start..start + self.slot_words) }
    }

    /// The payload capacity of a slot, in bytes.
    #[inline(always)]
    fn capacity(&self) -> usize {
        (self.slot_words - 1) * WIDE_WORD
    }
}

/// The one slot of [`ReadOnlySlots::none`]: a zero length, 8 zero bytes.
static NO_RING: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The local ring's slots, writable. Its owner is the only writer of every
/// slot, so a partial last payload word is read, patched and written back.
#[derive(Clone, Copy)]
pub struct SharedSlots<'a> {
    slots: Slots<'a>,
}

impl<'a> SharedSlots<'a> {
    /// The ring of `count` slots of `size` bytes at byte `offset` of
    /// `region`: refused unless the geometry is valid (see
    /// [`check_ring`](crate::layout::check_ring)), the ring lies inside
    /// the region and starts 8-byte aligned in memory.
    pub fn new(
        region: &SharedRegion<'a>,
        offset: usize,
        size: u32,
        count: u32,
    ) -> Result<Self, Error> {
        Ok(SharedSlots {
            slots: Slots::new(region.words, offset, size, count)?,
        })
    }

    /// The payload capacity of a slot, in bytes.
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Writes `bytes` (at most [`capacity`](Self::capacity) bytes; the
    /// rest is cut off) as message `index`: its length, then its payload.
    #[inline(always)]
    pub fn write(&self, index: u32, bytes: &[u8]) {
        let slot = self.slots.slot(index);
        let bytes = &bytes[..bytes.len().min(self.capacity())];
        if let Some((header, payload)) = slot.split_first() {
            header.store(bytes.len() as u64, Ordering::Relaxed);
            copy_in_wide(payload, bytes);
        }
    }
}

/// A peer's ring's slots, read-only: relaxed loads only, as
/// [`ReadOnlyRegion`]. Made once per life of the producer, after its
/// header is checked.
#[derive(Clone, Copy)]
pub struct ReadOnlySlots<'a> {
    slots: Slots<'a>,
}

impl<'a> ReadOnlySlots<'a> {
    /// A stand-in for a ring not attached yet: one slot, 8 zero bytes long.
    pub fn none() -> ReadOnlySlots<'static> {
        ReadOnlySlots {
            slots: Slots {
                words: &NO_RING,
                slot_words: 2,
                mask: 0,
            },
        }
    }

    /// The ring of `count` slots of `size` bytes at byte `offset` of
    /// `region`, checked as in [`SharedSlots::new`].
    pub fn new(
        region: &ReadOnlyRegion<'a>,
        offset: usize,
        size: u32,
        count: u32,
    ) -> Result<Self, Error> {
        Ok(ReadOnlySlots {
            slots: Slots::new(region.words, offset, size, count)?,
        })
    }

    /// The payload capacity of a slot, in bytes.
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// The length the producer wrote for message `index`: unchecked, any
    /// value.
    #[inline(always)]
    pub fn length(&self, index: u32) -> u32 {
        self.slots
            .slot(index)
            .first()
            .map_or(0, |header| header.load(Ordering::Relaxed) as u32)
    }

    /// Copies the first `dst.len()` bytes of message `index`'s payload
    /// into `dst` (at most [`capacity`](Self::capacity) bytes; the rest
    /// of `dst` is left as it was).
    #[inline(always)]
    pub fn read(&self, index: u32, dst: &mut [u8]) {
        let slot = self.slots.slot(index);
        let len = dst.len().min(self.capacity());
        if let Some(payload) = slot.get(1..) {
            copy_out_wide(payload, &mut dst[..len]);
        }
    }
}

impl fmt::Debug for Slots<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field(
                "address",
                &format_args!("{:#x}", self.words.as_ptr() as usize),
            )
            .field("slot_size", &(self.slot_words * WIDE_WORD))
            .field("slot_count", &(u64::from(self.mask) + 1))
            .finish()
    }
}

impl fmt::Debug for SharedSlots<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.slots.fmt(f)
    }
}

impl fmt::Debug for ReadOnlySlots<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.slots.fmt(f)
    }
}

impl<'a> Region<'a> {
    /// The ivshmem-v2 shared memory region of `len` bytes at `base`, laid out
    /// as `geometry` says, seen by `local_peer`: how a bare-metal cell gets
    /// its region from the address in its configuration.
    ///
    /// # Safety
    ///
    /// The module contract: `base..base + len` is mapped and readable for
    /// `'a`; the common read/write section and `local_peer`'s output section
    /// (as `geometry` places them) are writable; inside this program the
    /// memory is only reached through atomics. The rest (state table, other
    /// peers' output sections) may be read-only: [`Region`] never writes it.
    pub unsafe fn from_raw_parts(
        base: *mut u8,
        len: usize,
        geometry: Geometry,
        local_peer: PeerId,
    ) -> Result<Self, Error> {
        if base.is_null() || !(base as usize).is_multiple_of(WORD) {
            return Err(ConfigError::Misaligned.into());
        }
        // SAFETY: `base` is non-null and aligned (checked); the caller
        // guarantees the mapping and its permissions for `'a`. `Region::new`
        // hands out writable views only of the sections the caller promised
        // to be writable.
        let words = unsafe { core::slice::from_raw_parts(base.cast::<AtomicU32>(), len / WORD) };
        Region::new(words, geometry, local_peer)
    }
}

impl Registers {
    /// The ivshmem-v2 register block (BAR 0) at `base`.
    ///
    /// # Safety
    ///
    /// `base` is the address of the device's register region, mapped as
    /// device memory for `'a`, at least `size_of::<Registers>()` bytes,
    /// 4-byte aligned, and reached only through [`Registers`] (volatile
    /// 32-bit accesses).
    pub unsafe fn at<'a>(base: usize) -> &'a Registers {
        // SAFETY: the caller guarantees that a register block is mapped
        // there for `'a`; `Registers` only holds tock-registers cells, which
        // access it with volatile reads and writes.
        unsafe { &*(base as *const Registers) }
    }
}

#[cfg(all(feature = "linux", target_os = "linux"))]
pub(crate) use self::mapping::{Mapping, RegisterMapping};

#[cfg(all(feature = "linux", target_os = "linux"))]
mod mapping {
    extern crate std;

    use core::ffi::c_void;
    use core::ops::Range;
    use core::ptr::NonNull;
    use core::sync::atomic::AtomicU32;
    use std::fs::File;
    use std::io;
    use std::vec::Vec;

    use rustix::mm::{mmap, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

    use super::WORD;
    use crate::error::{ConfigError, Error};
    use crate::ivshmem::Registers;
    use crate::region::{Geometry, PeerId, Region};

    /// A shared `mmap` of a file (a PCI BAR's sysfs `resourceN`), read-only
    /// except for the byte ranges given when it was made. Unmapped on drop;
    /// every view into it borrows it.
    pub(crate) struct Mapping {
        base: NonNull<c_void>,
        len: usize,
        writable: Vec<Range<usize>>,
    }

    // SAFETY: the mapping is process-wide memory, not tied to a thread; this
    // crate only reaches it through atomics and volatile accesses, which are
    // fine from any thread.
    unsafe impl Send for Mapping {}
    // SAFETY: as above: shared access goes through atomics and volatile
    // accesses only.
    unsafe impl Sync for Mapping {}

    impl Mapping {
        /// Maps the first `len` bytes of `file`, shared, read-only except the
        /// `writable` ranges, which must be page-aligned.
        pub(crate) fn new(file: &File, len: usize, writable: &[Range<usize>]) -> io::Result<Self> {
            let page = rustix::param::page_size();
            let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
            if len == 0 {
                return Err(invalid("cannot map zero bytes"));
            }
            for range in writable {
                if range.start >= range.end
                    || range.end > len
                    || !range.start.is_multiple_of(page)
                    || (!range.end.is_multiple_of(page) && range.end != len)
                {
                    return Err(invalid(
                        "a writable range is empty, outside or not page-aligned",
                    ));
                }
            }
            let whole = writable.contains(&(0..len));
            let protection = if whole {
                ProtFlags::READ | ProtFlags::WRITE
            } else {
                ProtFlags::READ
            };
            // SAFETY: a new mapping at an address the kernel chooses (null
            // hint, no MAP_FIXED): it cannot overlap memory the program
            // already uses.
            let address = unsafe {
                mmap(
                    core::ptr::null_mut(),
                    len,
                    protection,
                    MapFlags::SHARED,
                    file,
                    0,
                )
            }?;
            let base = NonNull::new(address)
                .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
            // From here on, dropping `mapping` unmaps it.
            let mapping = Mapping {
                base,
                len,
                writable: writable.to_vec(),
            };
            if !whole {
                for range in writable {
                    let start = base.as_ptr().cast::<u8>().wrapping_add(range.start);
                    // SAFETY: the range lies inside the mapping just made
                    // (checked above) and nothing refers to it yet.
                    unsafe {
                        mprotect(
                            start.cast(),
                            range.len(),
                            MprotectFlags::READ | MprotectFlags::WRITE,
                        )
                    }?;
                }
            }
            Ok(mapping)
        }

        fn words(&self) -> &[AtomicU32] {
            // SAFETY: `base` is page-aligned (so aligned for `AtomicU32`) and
            // `len` bytes are mapped until `self` is dropped, which the
            // borrow prevents while the slice lives. Other cells change the
            // memory concurrently, which atomics allow. Stores only reach the
            // writable ranges: the callers below only hand the slice to
            // `Region`, after checking that its writable sections are exactly
            // those ranges.
            unsafe {
                core::slice::from_raw_parts(self.base.as_ptr().cast::<AtomicU32>(), self.len / WORD)
            }
        }

        /// The ivshmem region in this mapping, seen by `local_peer`. Refused
        /// unless the writable ranges are exactly the common section and the
        /// local output section.
        pub(crate) fn region(
            &self,
            geometry: Geometry,
            local_peer: PeerId,
        ) -> Result<Region<'_>, Error> {
            let own = geometry.output_section_range(local_peer)?;
            let common = geometry.common_section_range();
            let expected = |range: &Range<usize>| *range == own || *range == common;
            let covered =
                |wanted: &Range<usize>| wanted.is_empty() || self.writable.contains(wanted);
            if !self.writable.iter().all(expected) || !covered(&own) || !covered(&common) {
                return Err(ConfigError::Permissions.into());
            }
            Region::new(self.words(), geometry, local_peer)
        }
    }

    impl core::fmt::Debug for Mapping {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Mapping")
                .field("len", &self.len)
                .field("writable", &self.writable)
                .finish()
        }
    }

    /// A read-write mapping of an ivshmem register region (BAR 0).
    #[derive(Debug)]
    pub(crate) struct RegisterMapping {
        mapping: Mapping,
    }

    impl RegisterMapping {
        /// Maps the first `len` bytes of `file` read-write; refused if they
        /// cannot hold the register block.
        pub(crate) fn new(file: &File, len: usize) -> io::Result<Self> {
            if len < core::mem::size_of::<Registers>() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too small for the ivshmem registers",
                ));
            }
            Ok(RegisterMapping {
                mapping: Mapping::new(file, len, core::slice::from_ref(&(0..len)))?,
            })
        }

        /// The register block.
        pub(crate) fn registers(&self) -> &Registers {
            // SAFETY: the mapping is read-write, page-aligned, at least as
            // large as the block (checked in `new`), and lives as long as
            // the returned borrow; `Registers` only does volatile 32-bit
            // accesses.
            unsafe { &*self.mapping.base.as_ptr().cast::<Registers>() }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: `base` and `len` are what mmap returned; every view
            // into the mapping borrows `self`, so none outlives this call.
            let _ = unsafe { munmap(self.base.as_ptr(), self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared words at an 8-byte aligned address.
    #[repr(C, align(8))]
    struct Aligned<const N: usize>([AtomicU32; N]);

    /// Copies in and out through the 64-bit path (offsets 0 and 8 of an
    /// 8-byte aligned view), the 32-bit one (offset 4) and the 32-bit
    /// fallback when the last wide word would leave the view, at every
    /// start alignment of the local buffer and every length up to a few
    /// wide words, against a byte-wise model.
    #[test]
    fn wide_copies_match_a_bytewise_model() {
        const WORDS: usize = 14;
        const BYTES: usize = WORDS * WORD;
        let shared = Aligned::<WORDS>(core::array::from_fn(|_| AtomicU32::new(0)));
        #[repr(C, align(8))]
        struct Local([u8; 64]);
        let mut local = Local([0; 64]);
        for view_words in [WORDS, WORDS - 1] {
            let region = SharedRegion::new(&shared.0[..view_words]);
            for offset in [0, 4, 8] {
                for start in 0..8 {
                    for len in 0..=(view_words * WORD - offset).min(40) {
                        for word in &shared.0 {
                            word.store(0xa5a5_a5a5, Ordering::Relaxed);
                        }
                        let src: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
                        local.0[start..start + len].copy_from_slice(&src[..len]);
                        region
                            .copy_in(offset, &local.0[start..start + len])
                            .unwrap();
                        let mut model = [0xa5u8; BYTES];
                        model[offset..offset + len].copy_from_slice(&src[..len]);
                        let stored: [u8; BYTES] = core::array::from_fn(|i| {
                            shared.0[i / WORD].load(Ordering::Relaxed).to_ne_bytes()[i % WORD]
                        });
                        let case = format_args!(
                            "view {view_words} offset {offset} start {start} len {len}"
                        );
                        assert_eq!(stored, model, "copy_in {case}");
                        let out = &mut local.0[start..start + len];
                        out.fill(0);
                        region.copy_out(offset, out).unwrap();
                        assert_eq!(out, &src[..len], "copy_out {case}");
                        let out = &mut local.0[start..start + len];
                        out.fill(0);
                        region.read_only().copy_out(offset, out).unwrap();
                        assert_eq!(out, &src[..len], "read-only copy_out {case}");
                    }
                }
            }
            let end = view_words * WORD;
            assert!(region.copy_in(end - 4, &[0; 8]).is_err());
            assert!(region.copy_out(end - 4, &mut [0; 8]).is_err());
        }
    }

    /// Copies in and out at every start alignment of the local buffer and
    /// every length up to a few words, against a byte-wise model.
    #[test]
    fn copies_match_a_bytewise_model_at_any_alignment() {
        let words: [AtomicU32; 8] = core::array::from_fn(|_| AtomicU32::new(0));
        let region = SharedRegion::new(&words);
        let mut backing = [0u8; 40];
        for start in 0..4 {
            for len in 0..=20 {
                for w in &words {
                    w.store(0xa5a5_a5a5, Ordering::Relaxed);
                }
                let src: [u8; 20] = core::array::from_fn(|i| i as u8 + 1);
                backing[start..start + len].copy_from_slice(&src[..len]);
                region.copy_in(4, &backing[start..start + len]).unwrap();
                let mut model = [0xa5u8; 32];
                model[4..4 + len].copy_from_slice(&src[..len]);
                let stored: [u8; 32] = core::array::from_fn(|i| {
                    words[i / WORD].load(Ordering::Relaxed).to_ne_bytes()[i % WORD]
                });
                assert_eq!(stored, model, "copy_in start {start} len {len}");
                let out = &mut backing[start..start + len];
                out.fill(0);
                region.copy_out(4, out).unwrap();
                assert_eq!(out, &src[..len], "copy_out start {start} len {len}");
            }
        }
    }
}
