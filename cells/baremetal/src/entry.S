// Entry of a bare-metal test cell: an arm64 Image header, then the boot
// protocol's state (EL1, MMU off, x0 = boot argument).

.section .text.head, "ax"
.global _start
_start:
    b       cell_entry
    .word   0
    .quad   0                           // text_offset
    .quad   __image_size                // image_size (bss, stacks, noinit)
    .quad   0xa                         // flags: LE, 4K, place anywhere
    .quad   0
    .quad   0
    .quad   0
    .word   0x644d5241                  // "ARM\x64"
    .word   0

cell_entry:
    mov     x19, x0
    bl      set_stack
    // Apply R_AARCH64_RELATIVE relocations: *(base + offset) = base + addend.
    adrp    x20, __image_start
    add     x20, x20, :lo12:__image_start
    adrp    x1, __rela_start
    add     x1, x1, :lo12:__rela_start
    adrp    x2, __rela_end
    add     x2, x2, :lo12:__rela_end
1:  cmp     x1, x2
    b.hs    2f
    ldp     x3, x4, [x1], #16           // r_offset, r_info
    ldr     x5, [x1], #8                // r_addend
    cmp     w4, #1027                   // R_AARCH64_RELATIVE
    b.ne    1b
    add     x5, x5, x20
    str     x5, [x20, x3]
    b       1b
2:  adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
3:  cmp     x1, x2
    b.hs    4f
    stp     xzr, xzr, [x1], #16
    b       3b
4:  mov     x0, x19
    bl      cell_rt_primary
5:  wfi
    b       5b

// Virtual CPUs other than 0 start here (PSCI CPU_ON), x0 = context.
.global cell_secondary_entry
cell_secondary_entry:
    mov     x19, x0
    bl      set_stack
    mov     x0, x19
    bl      cell_rt_secondary
    b       5b

// sp = __stacks_end - vcpu * VCPU_STACK_SIZE, vcpu = MPIDR_EL1.Aff0 & 3.
set_stack:
    mrs     x1, mpidr_el1
    and     x1, x1, #3
    adrp    x2, __stacks_end
    add     x2, x2, :lo12:__stacks_end
    sub     x2, x2, x1, lsl #14
    mov     sp, x2
    ret

// EL1 exception vectors: IRQs from this EL call `cell_rt_irq`; anything
// else is reported by `cell_rt_unexpected` (never returns).
.macro CELL_VECTOR handler
.balign 0x80
    b       \handler
.endm

.section .text.vectors, "ax"
.balign 0x800
.global cell_vectors
cell_vectors:
    CELL_VECTOR unexpected_entry    // current EL, SP0
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry    // current EL, SPx: sync
    CELL_VECTOR irq_entry           //                  IRQ
    CELL_VECTOR unexpected_entry    //                  FIQ
    CELL_VECTOR unexpected_entry    //                  SError
    CELL_VECTOR unexpected_entry    // lower EL (none)
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry
    CELL_VECTOR unexpected_entry

irq_entry:
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    mrs     x0, cntvct_el0              // first thing: when did we get here
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      cell_rt_irq
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #176
    eret

unexpected_entry:
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    bl      cell_rt_unexpected
    b       .
