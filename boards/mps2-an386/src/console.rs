//! Output and exit through semihosting (QEMU `-semihosting-config enable=on,target=native`).
//!
//! Human-readable lines go to the host's standard output, or to its standard
//! error when the `defmt` feature sends defmt frames to standard output.
//! The firmware ends with [`exit`]; QEMU exits with the same status.

use core::fmt::{self, Write as _};

pub use encore_markers::exit_code;

/// Ends the emulation with `code` as QEMU's exit status (`SYS_EXIT_EXTENDED`).
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// Ends the emulation with [`exit_code::SUCCESS`] when the firmware's check `passed`, and
/// with [`exit_code::FAILURE`] otherwise.
pub fn exit_passed(passed: bool) -> ! {
    exit(if passed {
        exit_code::SUCCESS
    } else {
        exit_code::FAILURE
    })
}

struct Sink<W>(W);

impl<W: semihosting::io::Write> fmt::Write for Sink<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Writes one line; used by [`crate::println!`]. Output errors are ignored:
/// there is nowhere else to report them.
pub fn write_line(args: fmt::Arguments<'_>) {
    #[cfg(not(feature = "defmt"))]
    let out = semihosting::io::stdout();
    #[cfg(feature = "defmt")]
    let out = semihosting::io::stderr();
    if let Ok(out) = out {
        let mut sink = Sink(out);
        let _ = sink.write_fmt(args);
        let _ = sink.write_str("\n");
    }
}

/// Prints a line on the host through semihosting.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::write_line(core::format_args!($($arg)*))
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    write_line(format_args!("panic: {}", info));
    exit(exit_code::PANIC)
}

pub(crate) fn hard_fault(pc: u32) -> ! {
    write_line(format_args!("hard fault at pc {:#010x}", pc));
    exit(exit_code::HARD_FAULT)
}
