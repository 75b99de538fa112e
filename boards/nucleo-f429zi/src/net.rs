//! embassy-net with DHCP on the board's Ethernet.

use embassy_executor::Spawner;
use embassy_net::{Config, Runner, Stack, StackResources};
use static_cell::StaticCell;

use crate::BoardEthernet;

/// Sockets the stack can hold at once (DHCP uses one).
pub const MAX_SOCKETS: usize = 4;

/// The network could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum NetStartError {
    /// [`start`] was already called: there is one MAC and one stack.
    AlreadyStarted,
}

static RESOURCES: StaticCell<StackResources<MAX_SOCKETS>> = StaticCell::new();

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, BoardEthernet>) -> ! {
    runner.run().await
}

/// Creates the embassy-net stack with DHCP over `ethernet`, spawns its
/// runner task and returns the stack. `seed` should come from the RNG.
pub fn start(
    spawner: Spawner,
    ethernet: BoardEthernet,
    seed: u64,
) -> Result<Stack<'static>, NetStartError> {
    let resources = RESOURCES
        .try_init(StackResources::new())
        .ok_or(NetStartError::AlreadyStarted)?;
    let config = Config::dhcpv4(Default::default());
    let (stack, runner) = embassy_net::new(ethernet, config, resources, seed);
    let task = net_task(runner).map_err(|_| NetStartError::AlreadyStarted)?;
    spawner.spawn(task);
    Ok(stack)
}
