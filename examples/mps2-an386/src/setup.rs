//! Start-up the TLS firmware share: the host's CA as the trust anchor, and the network.
//! A failure prints `<firmware>: FAILED: <what>: <error>` and ends the program with
//! [`exit_code::BOARD_INIT`](encore_examples_common::exit_code::BOARD_INIT).

use core::fmt::Debug;

use embassy_net::Stack;
use encore_board_mps2::lan9118::Lan9118;
use encore_board_mps2::{net, Board, EmulatorRng, Spawner};
use encore_client::PskMode;
use rustls_pki_types::TrustAnchor;

use crate::{connection, trust, Device, Mps2};

/// Reports a start-up failure of `firmware` and ends the program.
pub fn failed(firmware: &str, what: &str, e: impl Debug) -> ! {
    encore_examples_common::setup_failed::<Mps2>(firmware, what, e)
}

/// The CA certificate the host made for this run, as the one trust anchor.
pub fn trust_anchors(firmware: &str) -> &'static [TrustAnchor<'static>] {
    match trust::anchors() {
        Ok(a) => a,
        Err(e) => failed(firmware, "CA certificate from the host", e),
    }
}

/// Starts the network on the board's Ethernet controller with QEMU's user-mode addresses;
/// `seed` seeds its ports and sequence numbers. Does not wait for the link.
pub fn network(firmware: &str, spawner: Spawner, nic: Lan9118, seed: u64) -> Stack<'static> {
    match net::start(spawner, nic, net::qemu_user_config(), seed) {
        Ok(s) => s,
        Err(e) => failed(firmware, "network start", e),
    }
}

/// What the shared examples start from: this run's trust anchor ([`trust_anchors`]), the
/// network on `nic` ([`network`], seeded from `rng`) and `rng` itself.
pub fn device(firmware: &str, spawner: Spawner, nic: Lan9118, rng: EmulatorRng) -> Device<Mps2> {
    Device::new(trust_anchors(firmware), rng, |seed| {
        network(firmware, spawner, nic, seed)
    })
}

/// The device of `firmware` ([`device`]) as the network stack and the one application
/// context over `pool`, for a firmware that needs nothing else of it. The network may not
/// be up yet: wait with `wait_config_up` before connecting.
///
/// Never inlined, like [`Device::into_context`]: inlined, the context was built in the
/// caller's frame and then moved, a second copy under every handshake.
#[inline(never)]
pub fn context<'a>(
    firmware: &str,
    spawner: Spawner,
    board: Board,
    pool: &'a connection::Pool,
) -> (Stack<'static>, connection::Ctx<'a>) {
    let device = device(firmware, spawner, board.nic, board.rng);
    let stack = device.stack;
    (stack, device.into_context(pool))
}

/// The key exchange a resumption offers, from `kex=` on the command line: `psk`
/// (psk_ke, no public-key operation; for a server known to allow it) or `psk_dhe`
/// (psk_dhe_ke, the default, which every TLS 1.3 server resuming tickets accepts). A
/// server that refuses psk_ke answers it with a HelloRetryRequest and a full handshake,
/// so the choice belongs to the device's configuration for its server.
pub fn psk_mode(firmware: &str) -> PskMode {
    let mut value = [0u8; 16];
    match crate::saved::arg("kex", &mut value) {
        Ok(Some("psk")) => PskMode::AllowPskOnly,
        Ok(Some("psk_dhe")) | Ok(None) => PskMode::DheOnly,
        Ok(Some(_)) => failed(firmware, "kex= must be psk or psk_dhe", ()),
        Err(e) => failed(firmware, "command line", e),
    }
}
