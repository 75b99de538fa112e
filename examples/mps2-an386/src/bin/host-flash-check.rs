//! Checks that the emulator's host-file flash keeps NOR rules and outlives a restart.
//!
//! Boot with `-append flash=PATH` twice on the same path:
//! - on a missing file (`phase=1`): the flash is created erased (`0xFF`); a word
//!   is written and read back; writing it again, or over any programmed bit, is
//!   refused with `NotErased` and changes nothing; misaligned and out-of-range
//!   operations are refused; a written sector is erased back to `0xFF`; finally
//!   one word is written at the start of the last sector and left there;
//! - on the same file (`phase=2`): that word is still there.
//!
//! Exit status 0 when every check held, 1 with the first that did not.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embedded_storage_async::nor_flash::{NorFlash, ReadNorFlash};
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::host_flash::{HostFlash, HostFlashError, CAPACITY, SECTOR_SIZE};
use encore_board_mps2::{executor, println, Board, Spawner};
use encore_example_mps2::saved;

/// The word left in the last sector for the next boot to find.
const KEPT: [u8; 4] = [0x45, 0x4E, 0x43, 0x52];
const LAST_SECTOR: u32 = (CAPACITY - SECTOR_SIZE) as u32;

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

fn check(ok: bool, what: &str) {
    if ok {
        println!("ok: {}", what);
    } else {
        println!("host-flash-check: FAILED: {}", what);
        exit(exit_code::FAILURE)
    }
}

async fn read_word(flash: &mut HostFlash, at: u32) -> Result<[u8; 4], HostFlashError> {
    let mut word = [0u8; 4];
    flash.read(at, &mut word).await?;
    Ok(word)
}

#[embassy_executor::task]
async fn app(_spawner: Spawner, _board: Board) {
    let mut value = [0u8; 16];
    let phase = matches!(saved::arg("phase", &mut value), Ok(Some("2")));
    let mut flash = match saved::open_flash() {
        Ok(f) => f,
        Err(e) => {
            println!("host-flash-check: FAILED: open: {:?}", e);
            exit(exit_code::FAILURE)
        }
    };
    check(flash.capacity() == CAPACITY, "capacity");

    if phase {
        let kept = read_word(&mut flash, LAST_SECTOR).await;
        check(
            kept == Ok(KEPT),
            "the word written before the restart is still there",
        );
        println!("host-flash-check: ok (phase 2: contents outlived the restart)");
        exit(exit_code::SUCCESS)
    }

    let mut all = true;
    let mut word = [0u8; 4];
    for at in (0..CAPACITY as u32).step_by(4) {
        all &= flash.read(at, &mut word).await.is_ok() && word == [0xFF; 4];
    }
    check(all, "a new flash reads erased (0xFF) everywhere");

    check(
        flash.write(8, &[1, 2, 3, 4]).await.is_ok(),
        "write an erased word",
    );
    check(
        read_word(&mut flash, 8).await == Ok([1, 2, 3, 4]),
        "read it back",
    );
    check(
        flash.write(8, &[0, 0, 0, 0]).await == Err(HostFlashError::NotErased { offset: 8 }),
        "a second write to the word is refused, even one that only clears bits",
    );
    check(
        flash.write(4, &[0; 8]).await == Err(HostFlashError::NotErased { offset: 8 }),
        "a write that overlaps it is refused as a whole",
    );
    check(
        read_word(&mut flash, 4).await == Ok([0xFF; 4]),
        "and changed nothing",
    );
    check(
        flash.write(2, &[0; 4]).await == Err(HostFlashError::NotAligned),
        "a misaligned write is refused",
    );
    check(
        flash.write(12, &[0; 3]).await == Err(HostFlashError::NotAligned),
        "a partial word is refused",
    );
    check(
        flash.write(CAPACITY as u32 - 4, &[0; 8]).await == Err(HostFlashError::OutOfBounds),
        "a write past the end is refused",
    );
    check(
        flash.erase(0, 100).await == Err(HostFlashError::NotAligned),
        "an erase of part of a sector is refused",
    );
    check(
        flash.erase(0, SECTOR_SIZE as u32).await.is_ok(),
        "erase sector 0",
    );
    check(
        read_word(&mut flash, 8).await == Ok([0xFF; 4]),
        "the word is erased",
    );
    check(
        flash.write(8, &[5, 6, 7, 8]).await.is_ok(),
        "and can be written again",
    );
    check(
        flash.ops().sectors_erased == 1 && flash.ops().writes == 2,
        "one sector erased, two writes counted",
    );
    check(
        flash.write(LAST_SECTOR, &KEPT).await.is_ok(),
        "write a word for the next boot",
    );
    println!("host-flash-check: ok (phase 1: NOR rules hold)");
    exit(exit_code::SUCCESS)
}
