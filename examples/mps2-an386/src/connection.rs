//! The shared connection code ([`encore_examples_common::connection`]) on this board.

pub use encore_examples_common::connection::{
    checked, close, handshake, open, run, save_tickets, Buffers, Failure, Handshake, Outcome, Plan,
    Pool, Record, CACHE_ENTRIES, CARRY_LEN, POOL_SLOTS, RX_LEN, SOCKET_BUF_LEN, TICKET_CAPACITY,
    TX_LEN,
};

use crate::Mps2;

/// The examples' context on this board.
pub type Ctx<'a> = encore_examples_common::connection::Ctx<'a, Mps2>;
/// A connection of the examples' context on this board.
pub type Conn<'c, 'a> = encore_examples_common::connection::Conn<'c, 'a, Mps2>;
