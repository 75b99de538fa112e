//! Register-level access to the MPS2 AN386 and its Cortex-M4 core.
//!
//! This is the only module of the crate that contains `unsafe`. It exposes safe
//! functions whose preconditions are established here, once:
//!
//! - device registers are reachable only through the [`Reg`] constants below,
//!   each the fixed address of a 32-bit register of a device on this board;
//! - the NVIC lines, the executor poll and the interrupt enable are driven only
//!   from the places documented on each function;
//! - the symbols the runtime and the instruction-count plugin look for
//!   (`__pender`, `encore_marker`, `ENCORE_MARKER_IDS`, the exception handlers)
//!   are defined here.
#![allow(unsafe_code)]

use core::ptr;

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use cortex_m_rt::{exception, ExceptionFrame};

/// A 32-bit device register at a fixed address.
///
/// The field is private to this module: the only values that exist are the
/// constants declared here.
#[derive(Clone, Copy)]
pub(crate) struct Reg(usize);

impl Reg {
    #[inline(always)]
    pub(crate) fn read(self) -> u32 {
        // SAFETY: every `Reg` is one of the constants below, the address of a
        // 32-bit register of a device mapped on this board; a volatile word
        // access there touches no memory owned by Rust.
        unsafe { ptr::read_volatile(self.0 as *const u32) }
    }

    #[inline(always)]
    pub(crate) fn write(self, value: u32) {
        // SAFETY: as in `read`: a fixed device register, never Rust memory.
        unsafe { ptr::write_volatile(self.0 as *mut u32, value) }
    }
}

/// Declares a device's registers as [`Reg`] constants at offsets from its base address, in a
/// module of their own: `registers! { /// doc  name @ BASE { REG = OFFSET, .. } }`.
macro_rules! registers {
    ($(#[$doc:meta])* $device:ident @ $base:literal { $($reg:ident = $offset:literal),+ $(,)? }) => {
        $(#[$doc])*
        pub(crate) mod $device {
            use super::Reg;

            $(pub(crate) const $reg: Reg = Reg($base + $offset);)+
        }
    };
}

/// Declares single-bit fields as `u32` masks, one module per register:
/// `fields! { /// doc  register { FIELD = BIT, .. } .. }`.
macro_rules! fields {
    ($($(#[$doc:meta])* $reg:ident { $($field:ident = $bit:literal),+ $(,)? })+) => {
        $(
            $(#[$doc])*
            mod $reg {
                $(pub(super) const $field: u32 = 1 << $bit;)+
            }
        )+
    };
}

registers! {
    /// SMSC LAN9118 Ethernet controller (system bus, 32-bit mode).
    lan9118 @ 0x4020_0000 {
        RX_DATA_FIFO = 0x00, TX_DATA_FIFO = 0x20, RX_STATUS_FIFO = 0x40, TX_STATUS_FIFO = 0x48,
        ID_REV = 0x50, IRQ_CFG = 0x54, INT_STS = 0x58, INT_EN = 0x5C, BYTE_TEST = 0x64,
        RX_CFG = 0x6C, TX_CFG = 0x70, HW_CFG = 0x74, RX_FIFO_INF = 0x7C, TX_FIFO_INF = 0x80,
        PMT_CTRL = 0x84, MAC_CSR_CMD = 0xA4, MAC_CSR_DATA = 0xA8,
    }
}

registers! {
    /// CMSDK APB UART 0.
    uart0 @ 0x4000_4000 {
        DATA = 0x00, STATE = 0x04, CTRL = 0x08, INTSTATUS = 0x0C, BAUDDIV = 0x10,
    }
}

/// External interrupt lines used by this crate, numbered as QEMU wires them.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub(crate) enum Irq {
    Uart0Rx = 0,
    Uart0Tx = 1,
    Ethernet = 13,
}

// SAFETY: each discriminant is a valid external interrupt number on this board.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// Clears a stale pending state and enables an interrupt line in the NVIC.
pub(crate) fn enable_irq(irq: Irq) {
    NVIC::unpend(irq);
    // SAFETY: critical sections in this firmware mask with PRIMASK
    // (cortex-m `critical-section-single-core`), so an unmasked NVIC line
    // cannot break one; `DefaultHandler` below is ready for every line.
    unsafe { NVIC::unmask(irq) }
}

/// Polls the executor's ready tasks.
pub(crate) fn poll_executor(executor: &'static embassy_executor::raw::Executor) {
    // SAFETY: only `executor::run` calls this, from its single thread-mode
    // loop; `__pender` never polls, so `poll` is never re-entered.
    unsafe { executor.poll() }
}

/// Sleeps until an interrupt unless `work_pending` says there is work.
///
/// Interrupts are masked while `work_pending` is checked, so a wake-up that
/// arrives after the check still ends the `wfi` (a pending interrupt wakes
/// `wfi` even with PRIMASK set) and is then taken once interrupts are enabled.
pub(crate) fn sleep_unless(work_pending: impl Fn() -> bool) {
    cortex_m::interrupt::disable();
    if !work_pending() {
        cortex_m::asm::wfi();
    }
    // SAFETY: called only from the executor loop, outside any critical
    // section, so enabling interrupts cannot end someone's critical section.
    unsafe { cortex_m::interrupt::enable() }
}

#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    crate::executor::pend();
}

/// Lowest and highest address of the stack region (`_stack_end`, `_stack_start`
/// from cortex-m-rt's linker script), and the current stack pointer.
pub(crate) fn stack_region() -> (usize, usize, usize) {
    extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    let low = ptr::addr_of!(_stack_end) as usize;
    let high = ptr::addr_of!(_stack_start) as usize;
    (low, high, cortex_m::register::msp::read() as usize)
}

/// Bytes kept free below the stack pointer when painting, for the frames of
/// the painting code itself.
const PAINT_GUARD: usize = 512;

/// Fills the unused stack words in `[from, current SP - guard)` with `pattern`.
///
/// Interrupts are masked meanwhile, so no handler frame can be live below
/// the stack pointer while it is painted over.
pub(crate) fn paint_stack(from: usize, pattern: u32) {
    cortex_m::interrupt::free(|_| {
        let (low, _, sp) = stack_region();
        let mut addr = from.max(low) & !3;
        let end = sp.saturating_sub(PAINT_GUARD) & !3;
        while addr < end {
            // SAFETY: `addr` is word-aligned, at or above `_stack_end` (the end
            // of all statics) and below the live stack (SP minus a guard for
            // this loop's own calls); with interrupts masked nothing else uses
            // that memory, so it holds no Rust object.
            unsafe { ptr::write_volatile(addr as *mut u32, pattern) };
            addr += 4;
        }
    })
}

/// Reads one word of the stack region, or `None` outside `[_stack_end, SP)`.
pub(crate) fn read_stack_word(addr: usize) -> Option<u32> {
    let (low, _, sp) = stack_region();
    if addr < low || addr >= sp || !addr.is_multiple_of(4) {
        return None;
    }
    // SAFETY: aligned, inside RAM between the statics and the stack pointer:
    // memory no live frame owns, read without creating a reference.
    Some(unsafe { ptr::read_volatile(addr as *const u32) })
}

/// Identity table read by [`encore_marker`]: the address of the byte it loads
/// tells the instruction-count plugin the marker id (plugin API v1 cannot read
/// guest registers, but it sees the address of every load).
#[unsafe(no_mangle)]
pub static ENCORE_MARKER_IDS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i as u8;
        i += 1;
    }
    table
};

/// The function whose address the instruction-count plugin watches.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn encore_marker(id: u8) {
    // SAFETY: the pointer is made from a reference into a static array, so it
    // is valid and aligned; the read is volatile so that it is not removed.
    unsafe { ptr::read_volatile(&ENCORE_MARKER_IDS[usize::from(id)]) };
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    // SAFETY: cortex-m-rt requires this handler to be declared `unsafe`; it
    // only dispatches to the safe interrupt routines of the drivers.
    match irqn {
        0 => crate::uart::on_rx_interrupt(),
        1 => crate::uart::on_tx_interrupt(),
        13 => crate::lan9118::on_interrupt(),
        _ => {}
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // SAFETY: cortex-m-rt requires this handler to be declared `unsafe`; it
    // reports the faulting address and ends the emulation.
    crate::console::hard_fault(frame.pc())
}
