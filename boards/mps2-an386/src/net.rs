//! Bringing up embassy-net on the LAN9118 behind QEMU user networking.

use embassy_executor::Spawner;
use embassy_net::{
    Config, IpEndpoint, Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4,
};
use static_cell::StaticCell;

use crate::lan9118::Lan9118;

/// Sockets the stack can hold at once.
pub const MAX_SOCKETS: usize = 4;

/// The guest address QEMU user networking expects.
pub const GUEST_ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// QEMU user networking's gateway.
pub const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
/// The server the runner forwards (`guestfwd=tcp:10.0.2.100:443-...`) to
/// `127.0.0.1:$ENCORE_SERVER_PORT` on the host.
pub const SERVER: IpEndpoint = IpEndpoint::new(
    embassy_net::IpAddress::Ipv4(Ipv4Address::new(10, 0, 2, 100)),
    443,
);

/// Static IPv4 configuration for QEMU user networking (10.0.2.15/24 via 10.0.2.2).
pub fn qemu_user_config() -> Config {
    Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(GUEST_ADDRESS, 24),
        gateway: Some(GATEWAY),
        dns_servers: Default::default(),
    })
}

/// The network could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NetStartError {
    /// [`start`] was already called: there is one NIC and one stack.
    AlreadyStarted,
}

static RESOURCES: StaticCell<StackResources<MAX_SOCKETS>> = StaticCell::new();

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Lan9118>) -> ! {
    runner.run().await
}

/// Creates the embassy-net stack over `nic`, spawns its runner task and
/// returns the stack. `seed` seeds the stack's port and sequence numbers.
///
/// Not inlined: building the stack takes several KB of stack for a moment,
/// and that frame should not stay under the caller's.
#[inline(never)]
pub fn start(
    spawner: Spawner,
    nic: Lan9118,
    config: Config,
    seed: u64,
) -> Result<Stack<'static>, NetStartError> {
    let resources = RESOURCES
        .try_init(StackResources::new())
        .ok_or(NetStartError::AlreadyStarted)?;
    let (stack, runner) = embassy_net::new(nic, config, resources, seed);
    let task = net_task(runner).map_err(|_| NetStartError::AlreadyStarted)?;
    spawner.spawn(task);
    Ok(stack)
}
