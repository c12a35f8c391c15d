// Entry points and exception vectors of the partitioner (EL2, AArch64).
// Included with global_asm! from boot.rs; symbols named here are defined
// by link.ld or in Rust.

.section .text.head, "ax"
.global _start
_start:
    // arm64 Image header (Documentation/arch/arm64/booting.rst).
    b       primary_entry               // code0
    .word   0                           // code1
    .quad   TEXT_OFFSET                 // text_offset: from its RAM bank's base (board.ld)
    .quad   __image_size                // image_size: the whole footprint
    .quad   0x2                         // flags: little endian, 4K pages, 2M-aligned base
    .quad   __identity_offset           // res2: where the board identity record is (config::identity)
    .quad   0                           // res3
    .quad   0                           // res4
    .word   0x644d5241                  // magic "ARM\x64"
    .word   0                           // res5

primary_entry:
    mrs     x20, cntpct_el0             // the counter at entry, for boot times
    mov     x19, x0                     // x0 = device tree from the loader
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    halt                        // not at EL2: nothing we can do
    msr     daifset, #0xf
    adrp    x1, __boot_stack_top
    add     x1, x1, :lo12:__boot_stack_top
    mov     sp, x1
    // Zero .bss with aligned 16-byte stores (the MMU is off).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:  adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, x19
    mov     x1, x20
    bl      primary_main
    b       halt

// Secondary cores arrive here from PSCI CPU_ON with x0 = CPU index.
.global secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    // Stack: __stacks_start + (index + 1) * CPU_STACK_SIZE.
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    add     x2, x0, #1
    mov     x3, #0x8000
    madd    x1, x2, x3, x1
    mov     sp, x1
    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el2, x1
    isb
    mov     x0, x19
    bl      secondary_main
    b       halt

// Where a core released from the boot firmware's spin table starts, with
// the MMU off: the index of the core being released is in
// `spin_table_cpu` (written and cleaned to memory by the core that
// releases it, one core at a time); from there on as after PSCI CPU_ON.
.global spin_table_entry
spin_table_entry:
    adrp    x0, spin_table_cpu
    ldr     x0, [x0, :lo12:spin_table_cpu]
    b       secondary_entry

.global halt
halt:
    msr     daifset, #0xf
3:  wfi
    b       3b

// ---------------------------------------------------------------------------
// Exception vectors. Every entry saves the interrupted context as a
// TrapFrame on the EL2 stack and calls Rust with (frame, kind).

// The TrapFrame past x0-x3 (which the caller saved): x4-x30, ELR, SPSR;
// \t0 and \t1 are scratch.
.macro SAVE_REST t0, t1
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     \t0, elr_el2
    mrs     \t1, spsr_el2
    stp     x30, \t0, [sp, #240]
    str     \t1, [sp, #256]
.endm

.macro SAVE_AND_CALL handler, kind
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    SAVE_REST x0, x1
    mov     x0, sp
    mov     x1, #\kind
    bl      \handler
    b       restore_and_return
.endm

.macro VECTOR label
.balign 0x80
    b       \label
.endm

.section .text.vectors, "ax"
.balign 0x800
exception_vectors:
    VECTOR  el2_sync        // current EL, SP0
    VECTOR  el2_irq
    VECTOR  el2_fiq
    VECTOR  el2_serror
    VECTOR  el2_sync        // current EL, SPx
    VECTOR  el2_irq
    VECTOR  el2_fiq
    VECTOR  el2_serror
    VECTOR  lower_sync      // lower EL, AArch64
    VECTOR  lower_irq
    VECTOR  lower_fiq
    VECTOR  lower_serror
    VECTOR  lower_aarch32   // lower EL, AArch32 (never enabled)
    VECTOR  lower_aarch32
    VECTOR  lower_aarch32
    VECTOR  lower_aarch32

el2_sync:       SAVE_AND_CALL handle_el2_exception, 0
el2_irq:        SAVE_AND_CALL handle_el2_exception, 1
el2_fiq:        SAVE_AND_CALL handle_el2_exception, 2
el2_serror:     SAVE_AND_CALL handle_el2_exception, 3
lower_sync:     SAVE_AND_CALL handle_lower_exception, 0
lower_irq:      b       virtual_irq
lower_fiq:      SAVE_AND_CALL handle_lower_exception, 2
lower_serror:   SAVE_AND_CALL handle_lower_exception, 3
lower_aarch32:  SAVE_AND_CALL handle_lower_exception, 4

// ---------------------------------------------------------------------------
// An IRQ from a cell. Only the cores of cells whose interrupts are
// virtualized (`HCR_EL2.IMO`) take IRQs at EL2: `virtualized_cores` has a
// bit for each (cpu index in TPIDR_EL2); it counts each IRQ as their exit
// (`exit_counts`, runtime/exits.rs). The hot case, a PPI or SPI of the
// cell with a list register free, is handled here with four registers
// saved: acknowledge (ICC_IAR1_EL1), note the priority (ICC_RPR_EL1),
// drop it (ICC_EOIR1_EL1, EOI mode 1), list it pending with the HW bit,
// eret. The list register's layout and the priority as the cell wrote it
// (`0x80 | p >> 1` on the GIC, so `(rpr & 0x7f) << 1`) are those of
// `devices/vgic/lists.rs` (`entry`) and `devices/vgic/mod.rs`
// (`unsqueeze_priority`). Everything else (SGIs, the partitioner's own
// PPIs and SPI, spurious INTIDs, no free list register) goes to
// `handle_lower_irq(frame, intid, rpr)` with the interrupt acknowledged;
// on a core that is not virtualized, unacknowledged (intid = ~0).
virtual_irq:
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    mrs     x2, tpidr_el2
    adrp    x3, virtualized_cores
    ldr     w3, [x3, :lo12:virtualized_cores]
    lsr     x3, x3, x2
    mov     x0, #-1
    tbz     x3, #0, virtual_irq_slow
    // exit_counts[cpu][0] += 1: the IRQ exits of this core (a row is 32
    // bytes; runtime/exits.rs).
    adrp    x3, exit_counts
    add     x3, x3, :lo12:exit_counts
    add     x3, x3, x2, lsl #5
    ldr     w0, [x3]
    add     w0, w0, #1
    str     w0, [x3]
    mrs     x0, icc_iar1_el1
    and     x0, x0, #0xffffff
    mrs     x1, icc_rpr_el1
    // SGIs (0-15) and spurious INTIDs (1020 and up) take the slow path.
    sub     x2, x0, #16
    cmp     x2, #(1020 - 16)
    b.hs    virtual_irq_slow
    // So do the partitioner's own PPIs (a bit each in partitioner_ppis)
    // and its one SPI (partitioner_spi, the board UART's).
    cmp     x0, #32
    b.hs    1f
    adrp    x3, partitioner_ppis
    ldr     w3, [x3, :lo12:partitioner_ppis]
    lsr     x3, x3, x0
    tbnz    x3, #0, virtual_irq_slow
4:  mrs     x2, ich_elrsr_el2
    cbz     x2, virtual_irq_slow
    rbit    x2, x2
    clz     x2, x2
    // Pending, HW, Group 1 (bits 62..60), priority, pINTID, vINTID.
    and     x1, x1, #0x7f
    lsl     x1, x1, #49
    orr     x1, x1, x0
    orr     x1, x1, x0, lsl #32
    mov     x3, #7
    orr     x1, x1, x3, lsl #60
    msr     icc_eoir1_el1, x0
    adr     x3, 2f
    add     x3, x3, x2, lsl #3
    br      x3
2:  msr     ich_lr0_el2, x1
    b       3f
    msr     ich_lr1_el2, x1
    b       3f
    msr     ich_lr2_el2, x1
    b       3f
    msr     ich_lr3_el2, x1
    b       3f
    msr     ich_lr4_el2, x1
    b       3f
    msr     ich_lr5_el2, x1
    b       3f
    msr     ich_lr6_el2, x1
    b       3f
    msr     ich_lr7_el2, x1
    b       3f
    msr     ich_lr8_el2, x1
    b       3f
    msr     ich_lr9_el2, x1
    b       3f
    msr     ich_lr10_el2, x1
    b       3f
    msr     ich_lr11_el2, x1
    b       3f
    msr     ich_lr12_el2, x1
    b       3f
    msr     ich_lr13_el2, x1
    b       3f
    msr     ich_lr14_el2, x1
    b       3f
    msr     ich_lr15_el2, x1
3:  ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #272
    eret
    // An SPI: the partitioner's own takes the slow path.
1:  adrp    x3, partitioner_spi
    ldr     w3, [x3, :lo12:partitioner_spi]
    cmp     x0, x3
    b.eq    virtual_irq_slow
    b       4b

// The rest of the frame, then handle_lower_irq(frame, intid in x0, rpr in
// x1).
virtual_irq_slow:
    SAVE_REST x2, x3
    mov     x2, x1
    mov     x1, x0
    mov     x0, sp
    bl      handle_lower_irq
    b       restore_and_return

restore_and_return:
    ldr     x1, [sp, #256]
    ldp     x30, x0, [sp, #240]
    msr     elr_el2, x0
    msr     spsr_el2, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #272
    eret

// enter_guest(frame: *const TrapFrame, stack_top: usize) -> !
// Resets this core's EL2 stack and erets into the guest context. The frame
// may lie anywhere, even on the stack being reset: it is only read.
.global enter_guest
enter_guest:
    mov     sp, x1
    ldr     x2, [x0, #248]
    msr     elr_el2, x2
    ldr     x2, [x0, #256]
    msr     spsr_el2, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
