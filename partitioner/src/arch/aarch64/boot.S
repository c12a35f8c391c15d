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

.macro SAVE_AND_CALL handler, kind
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
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
    mrs     x0, elr_el2
    mrs     x1, spsr_el2
    stp     x30, x0, [sp, #240]
    str     x1, [sp, #256]
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
lower_irq:      SAVE_AND_CALL handle_lower_exception, 1
lower_fiq:      SAVE_AND_CALL handle_lower_exception, 2
lower_serror:   SAVE_AND_CALL handle_lower_exception, 3
lower_aarch32:  SAVE_AND_CALL handle_lower_exception, 4

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
