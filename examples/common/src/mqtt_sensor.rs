//! A sensor that wakes, publishes one reading over MQTT on TLS 1.3, and sleeps (the
//! `mqtt-sensor` example).
//!
//! Each boot is one wake-up of a battery-powered device:
//! 1. `load_all` opens the session store on the board's flash (sealed under the device
//!    key the board supplies) and files every stored record into the context's cache
//!    (ticket ages from the wall clock, E6);
//! 2. TCP to the broker ([`Board::server`]), then the TLS handshake with `connect_with`:
//!    a stored ticket is consumed on flash before the ClientHello that offers it (C28),
//!    with psk_ke when the device is configured for a broker that allows it, psk_dhe_ke
//!    otherwise; with nothing stored, a full handshake that verifies the chain against
//!    the device's trust anchor;
//! 3. `rust-mqtt` over the connection (an `embedded_io_async` stream, its small writes
//!    batched into one record per packet): CONNECT, one reading published with QoS 1
//!    and acknowledged by the broker's PUBACK, DISCONNECT;
//! 4. the records the broker's NewSessionTickets made are stored on flash
//!    (`save_tickets`), then close_notify (`shutdown`) and the TCP close;
//! 5. the firmware exits: the device sleeps until it boots again.
//!
//! Lines: `load: ..`, `prune: ..`, `consume: ..`, `conn=1 ..` (as the `resume`
//! example), `reading: topic=.. payload=.. acknowledged=..`, `mqtt: ..` (every TLS
//! byte of the wake-up in `wire_bytes_total`), `store: ..`, `close: ..` and
//! `wear step=..` lines. Markers: 3/4 around `load_all`, 5/6 around `consume` (11 again
//! after it), 11/12 around the handshake, 13/14 around the MQTT exchange, 7/8 around
//! storing the tickets. Exit status 0 when the broker acknowledged the reading and at
//! least one new ticket was stored.

use core::fmt::Write as _;

use embassy_time::{Instant, Timer, WithTimeout};
use encore_client::{ConnectionStats, PskMode};
use rand_core::Rng;
use rust_mqtt::buffer::BumpBuffer;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, TopicReference,
};
use rust_mqtt::client::Client;
use rust_mqtt::types::{MqttString, TopicName};
use static_cell::ConstStaticCell;

use crate::batched::Batched;
use crate::connection::{self, Buffers, Conn, Outcome, Pool, CARRY_LEN};
use crate::saved::{self, ClientStore, Store};
use crate::{
    connection_failed, exchange_markers, exit_code, failed, handshake_markers, out_of_line, say,
    Board, Device, SERVER_NAME,
};

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());
static CARRY: ConstStaticCell<[u8; CARRY_LEN]> = ConstStaticCell::new([0; CARRY_LEN]);

/// How this firmware names itself in its failure lines.
const NAME: &str = "mqtt-sensor";
/// The MQTT client identifier.
pub const CLIENT_ID: &str = "encore-sensor-1";
/// Where the readings go.
pub const TOPIC: &str = "encore/sensor-1/temperature";
/// How long the MQTT exchange may take: a safety net against a broker that stops
/// answering, never reached when it behaves.
const MQTT_TIMEOUT_S: u64 = 10;
/// Bytes one gathered record may carry: the largest packet this device sends.
const BATCH_LEN: usize = 256;
/// Room for the variable parts of the broker's packets (CONNACK properties).
const MQTT_SCRATCH_LEN: usize = 512;

/// Which MQTT step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum MqttStep {
    Connect,
    Publish,
    Acknowledge,
    Disconnect,
    TimedOut,
}

/// CONNECT, one reading published with QoS 1 until the broker's PUBACK, DISCONNECT.
/// The client's error is printed where it happens: it borrows the client's buffer.
async fn publish_reading<B: Board>(
    conn: &mut Conn<'_, '_, B>,
    payload: &[u8],
) -> Result<(), MqttStep> {
    let mut batch = [0u8; BATCH_LEN];
    let mut scratch = [0u8; MQTT_SCRATCH_LEN];
    let mut scratch = BumpBuffer::new(&mut scratch);
    let mut client = Client::<'_, '_, _, _, 1, 1, 1, 0, 1, 0, 0>::new(&mut scratch);

    let id = MqttString::from_str(CLIENT_ID).map_err(|_| MqttStep::Connect)?;
    let options = ConnectOptions::new().clean_start();
    if let Err(e) = client
        .connect(Batched::new(conn, &mut batch), &options, Some(id))
        .await
    {
        say!(B, "mqtt: CONNECT failed: {:?}", e);
        return Err(MqttStep::Connect);
    }

    let topic = MqttString::from_str(TOPIC)
        .ok()
        .and_then(TopicName::new)
        .ok_or(MqttStep::Publish)?;
    let options = PublicationOptions::new(TopicReference::Name(topic)).at_least_once();
    if let Err(e) = client.publish(&options, payload.into()).await {
        say!(B, "mqtt: PUBLISH failed: {:?}", e);
        return Err(MqttStep::Publish);
    }
    loop {
        match client.poll().await {
            Ok(Event::PublishAcknowledged(_)) => break,
            Ok(Event::PublishRejected(r)) => {
                say!(B, "mqtt: the broker rejected the reading: {:?}", r);
                return Err(MqttStep::Acknowledge);
            }
            Ok(_) => {}
            Err(e) => {
                say!(B, "mqtt: waiting for PUBACK failed: {:?}", e);
                return Err(MqttStep::Acknowledge);
            }
        }
    }
    if let Err(e) = client.disconnect(&DisconnectOptions::new()).await {
        say!(B, "mqtt: DISCONNECT failed: {:?}", e);
        return Err(MqttStep::Disconnect);
    }
    Ok(())
}

/// The reading: the wall-clock time and a temperature (this board has no sensor;
/// the generator stands in for one), as JSON.
fn reading(now_unix: u64, sample: u32) -> heapless::String<96> {
    let centi = 1_800 + sample % 800;
    let mut text = heapless::String::new();
    // 96 bytes hold the longest reading (a 20-digit time and a 5-character temperature).
    let _ = write!(
        text,
        "{{\"device\":\"{}\",\"t\":{},\"temp_c\":{}.{:02}}}",
        CLIENT_ID,
        now_unix,
        centi / 100,
        centi % 100
    );
    text
}

/// One wake-up, on a device whose network was started and whose session store is open;
/// `psk_mode` is the key exchange a resumption offers (psk_ke only for a broker known to
/// allow it). Ends the program: the device sleeps.
pub async fn run<B: Board>(mut device: Device<B>, store: &mut Store<B>, psk_mode: PskMode) -> ! {
    let sample = device.rng.next_u32();
    let net_stack = device.stack;
    let ctx = device.into_context(&POOL);
    let now_unix = saved::wall_clock::<B>(NAME, &ctx);

    // 1. Every stored record into the context's cache.
    let _ = out_of_line(saved::load_into_cache::<B>(NAME, store, &ctx, now_unix)).await;
    net_stack.wait_config_up().await;

    // 2. TCP and the handshake; the stored ticket is consumed on flash before it is offered.
    let started = Instant::now();
    let buffers = BUFFERS.take();
    let carry = Some(&mut CARRY.take()[..]);
    let mut slot = None;
    let opened = connection::open::<B>(
        &mut slot,
        &ctx,
        net_stack,
        SERVER_NAME,
        psk_mode,
        buffers,
        carry,
    );
    let conn = match out_of_line(opened).await {
        Ok(c) => c,
        Err(e) => connection_failed::<B>(NAME, 1, e),
    };
    let (hello, _) = handshake_markers(1);
    let mut client_store = ClientStore::<B>::new(store, hello);
    let handshake = match connection::handshake(1, conn, Some(&mut client_store)).await {
        Ok(h) => h,
        Err(e) => {
            client_store.print_consume(SERVER_NAME);
            connection_failed::<B>(NAME, 1, e)
        }
    };

    // 3. The reading, over MQTT.
    let payload = reading(now_unix, sample);
    let (mqtt_begin, mqtt_end) = exchange_markers(1);
    B::marker(mqtt_begin);
    let published = match publish_reading::<B>(conn, payload.as_bytes())
        .with_timeout(embassy_time::Duration::from_secs(MQTT_TIMEOUT_S))
        .await
    {
        Ok(r) => r,
        Err(_) => Err(MqttStep::TimedOut),
    };
    B::marker(mqtt_end);
    let mqtt_stats = conn.stats();

    // 4. The tickets to flash, before the connection ends (a broker that drops the
    //    connection after DISCONNECT cannot cost them), then close_notify.
    connection::save_tickets(conn, &mut client_store).await;
    let closed = connection::close::<B>(conn).await;
    let stats = conn.stats();
    drop(slot);

    client_store.print_consume(SERVER_NAME);
    let outcome = Outcome::new(handshake, stats, started);
    outcome.print::<B>(1);
    say!(
        B,
        "reading: topic={} payload={} acknowledged={}",
        TOPIC,
        payload,
        published.is_ok()
    );
    print_mqtt::<B>(&outcome.stats, &mqtt_stats, published);
    client_store.print_store(&outcome.stats);
    match closed {
        Ok(()) => say!(B, "close: close_notify sent"),
        // The broker may close at once after DISCONNECT: the tickets are stored already.
        Err(e) => say!(B, "close: {:?}", e),
    }
    let (written, failed_writes) = (client_store.written, client_store.failed);
    crate::print_stack_peak::<B>();

    // Let the last FIN go out before the board stops.
    Timer::after_millis(10).await;
    if published.is_err() {
        failed::<B>(NAME, "the broker did not acknowledge the reading");
    }
    if failed_writes > 0 || written == 0 {
        failed::<B>(NAME, "the new tickets were not stored");
    }
    say!(
        B,
        "{}: ok (reused={} kex={}, reading acknowledged, {} ticket(s) stored; sleeping)",
        NAME,
        outcome.reused,
        outcome.kex_name(),
        written
    );
    B::exit(exit_code::SUCCESS)
}

/// `mqtt: ..`: the MQTT exchange's outcome and the application bytes it cost on the
/// wire (records after the handshake up to the end of DISCONNECT, both directions).
fn print_mqtt<B: Board>(
    end: &ConnectionStats,
    at_mqtt_end: &ConnectionStats,
    published: Result<(), MqttStep>,
) {
    let handshake = end.handshake_sent + end.handshake_received;
    let through_mqtt = at_mqtt_end.bytes_sent + at_mqtt_end.bytes_received;
    #[cfg(feature = "defmt")]
    defmt::info!("mqtt: {}", published);
    say!(
        B,
        "mqtt: result={:?} wire_bytes_after_handshake={} wire_bytes_total={}",
        published,
        through_mqtt.saturating_sub(handshake),
        end.bytes_sent + end.bytes_received
    );
}
