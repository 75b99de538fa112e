//! The simulated flash keeps the promises its documentation makes (`encore_store::sim`): NOR
//! rules, step counting, and what a power cut leaves.

use embassy_futures::block_on;
use embedded_storage_async::nor_flash::{NorFlash, ReadNorFlash};
use encore_store::sim::{Cut, EraseCut, SimError, SimFlash};

/// Two 64-byte sectors of 4-byte words.
type Flash = SimFlash<4, 64, 2>;

fn read(flash: &mut Flash, at: u32, len: usize) -> Result<Vec<u8>, SimError> {
    let mut out = vec![0; len];
    block_on(flash.read(at, &mut out)).map(|()| out)
}

#[test]
fn nor_rules() {
    let mut flash = Flash::new();
    assert_eq!(Flash::SIZE, 128);
    assert_eq!(flash.capacity(), 128);
    assert!(flash.bytes().iter().all(|b| *b == 0xFF));
    assert_eq!(block_on(flash.write(4, &[1, 2, 3, 4])), Ok(()));
    assert_eq!(read(&mut flash, 4, 4), Ok(vec![1, 2, 3, 4]));
    // A programmed word is not programmed again, even to clear more bits.
    assert_eq!(
        block_on(flash.write(4, &[0, 0, 0, 0])),
        Err(SimError::NotErased)
    );
    assert_eq!(block_on(flash.write(2, &[0; 4])), Err(SimError::NotAligned));
    assert_eq!(read(&mut flash, 0, 3), Err(SimError::NotAligned));
    assert_eq!(block_on(flash.erase(0, 32)), Err(SimError::NotAligned));
    assert_eq!(
        block_on(flash.write(128, &[0; 4])),
        Err(SimError::OutOfBounds)
    );
    assert_eq!(block_on(flash.erase(64, 0)), Err(SimError::OutOfBounds));
    // Erase works on whole sectors.
    assert_eq!(block_on(flash.erase(0, 64)), Ok(()));
    assert!(flash.bytes().iter().all(|b| *b == 0xFF));
    // One step per word programmed and per sector erased.
    assert_eq!((flash.steps(), flash.erase_steps()), (2, 1));
    assert_eq!(flash.cut_in(), None);
}

#[test]
fn a_cut_word_has_only_some_of_its_bits_cleared_and_power_stays_off() {
    let data = [0x00, 0x0F, 0xF0, 0x55];
    let mut cleared_some = false;
    for seed in 0..32 {
        let mut flash = Flash::new();
        flash.seed_noise(seed);
        flash.cut_at(1);
        assert_eq!(
            block_on(flash.write(0, &[data, data].concat())),
            Err(SimError::PowerCut)
        );
        assert_eq!(flash.cut_in(), Some(Cut::Write));
        assert!(flash.is_off());
        assert_eq!(&flash.bytes()[..4], &data);
        // Programming only clears bits: the cut word lies between erased and the data.
        for (b, d) in flash.bytes()[4..8].iter().zip(data) {
            assert_eq!(b & d, d);
        }
        cleared_some |= flash.bytes()[4..8] != [0xFF; 4];
        assert_eq!(read(&mut flash, 0, 4), Err(SimError::PowerOff));
        assert_eq!(block_on(flash.erase(0, 64)), Err(SimError::PowerOff));
        flash.power_on();
        assert_eq!(read(&mut flash, 0, 4), Ok(data.to_vec()));
        assert_eq!(flash.steps(), 2);
    }
    assert!(cleared_some);
}

#[test]
fn a_cut_erase_leaves_a_prefix_or_scattered_bits() {
    let mut programmed = Flash::new();
    block_on(programmed.write(64, &[0u8; 64])).unwrap();
    for seed in 0..32 {
        // Prefix: erased up to a byte, that byte's word partly erased, the rest still 0.
        let mut flash = Flash::with_image(programmed.bytes());
        flash.seed_noise(seed);
        flash.cut_at(1);
        assert_eq!(block_on(flash.erase(0, 128)), Err(SimError::PowerCut));
        assert_eq!((flash.cut_in(), flash.erase_steps()), (Some(Cut::Erase), 2));
        let sector = &flash.bytes()[64..];
        let erased = sector.iter().take_while(|b| **b == 0xFF).count();
        // The first byte not erased is in the cut word at the latest; past that word, all 0.
        let past = ((erased / 4 + 1) * 4).min(64);
        assert!(sector[past..].iter().all(|b| *b == 0), "seed {seed}");

        // Scattered: 3 bits set at random, everything else kept.
        let mut flash = Flash::with_image(programmed.bytes());
        flash.seed_noise(seed);
        flash.set_erase_cut(EraseCut::Scattered(3));
        flash.cut_at(1);
        assert_eq!(block_on(flash.erase(0, 128)), Err(SimError::PowerCut));
        let ones: u32 = flash.bytes()[64..].iter().map(|b| b.count_ones()).sum();
        assert!((1..=3).contains(&ones), "{ones} bits");
    }
}
