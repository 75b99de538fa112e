//! The MQTT and HTTPS firmware against the servers such devices talk to: `mqtt-sensor`
//! woken [`WAKE_UPS`] times against Mosquitto with `mosquitto_sub` listening, and
//! `https-get` against nginx. [`demo()`] prints one table of both; [`test()`] also asserts
//! the servers' own evidence: the subscriber printed every reading, and nginx's access
//! log has every request with `$ssl_session_reused` = `r` exactly for the resumed ones.

use std::time::Duration;

use crate::demo::CORE_CLOCK_MHZ;
use crate::qemu::{between, field, pair, FirmwareRun, Kit};
use crate::servers::mosquitto::{Broker, Subscriber};
use crate::servers::nginx::{WebServer, DOCUMENT, DOCUMENT_PATH};
use crate::util::group_digits;
use crate::util::{section, Result};

/// How many times the sensor wakes.
pub(crate) const WAKE_UPS: usize = 3;
/// The topic `mqtt-sensor` publishes on (its `TOPIC`).
const TOPIC: &str = "encore/sensor-1/temperature";
/// The MQTT client identifier of `mqtt-sensor` (its `CLIENT_ID`).
const CLIENT_ID: &str = "encore-sensor-1";
/// Marker ids around the handshake of connection 1 and what follows it
/// (`encore-markers`, shared with the firmware).
const MARK_HANDSHAKE: (u32, u32) = pair(encore_markers::handshake(1));
const MARK_EXCHANGE: (u32, u32) = pair(encore_markers::exchange(1));
/// How long a reading may take from the broker to the subscriber.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The sensor's wake-ups and what the broker's subscriber saw.
struct SensorRun {
    wakes: Vec<FirmwareRun>,
    /// Per wake-up: the reading the firmware published, if it printed one.
    readings: Vec<Option<String>>,
    /// Per wake-up: the subscriber printed that reading on [`TOPIC`].
    delivered: Vec<bool>,
    /// `Received PUBLISH from <CLIENT_ID>` lines in the broker's log.
    broker_publishes: usize,
}

/// Wakes `mqtt-sensor` [`WAKE_UPS`] times on one flash file and one device key against one
/// broker (its ticket keys live in memory), with `kex=psk`: the broker allows psk_ke.
fn run_sensor(kit: &Kit) -> Result<SensorRun> {
    let broker = Broker::start(&kit.pki, &kit.work.join("mosquitto"))?;
    let subscriber = Subscriber::start(&broker, &kit.pki, "encore/#")?;
    let mut args = kit.new_device("sensor-")?;
    args.push("kex=psk".to_string());
    let mut run = SensorRun {
        wakes: Vec::new(),
        readings: Vec::new(),
        delivered: Vec::new(),
        broker_publishes: 0,
    };
    for wake in 1..=WAKE_UPS {
        let name = format!("mqtt-sensor-{wake}");
        let boot = kit.boot_echo("mqtt-sensor", &name, broker.port, &args, false)?;
        let reading = boot
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("reading: "))
            .and_then(|l| field(l, "payload"))
            .map(str::to_string);
        let delivered = reading
            .as_deref()
            .is_some_and(|p| subscriber.received(TOPIC, p, DELIVERY_TIMEOUT));
        let failed = boot.status != 0;
        run.wakes.push(boot);
        run.readings.push(reading);
        run.delivered.push(delivered);
        if failed {
            break;
        }
    }
    run.broker_publishes = broker
        .log
        .count(&format!("Received PUBLISH from {CLIENT_ID}"));
    Ok(run)
}

/// The `https-get` run and nginx's access log.
struct HttpsRun {
    run: FirmwareRun,
    requests: Vec<String>,
}

fn run_https(kit: &Kit) -> Result<HttpsRun> {
    let server = WebServer::start(&kit.pki, &kit.work.join("nginx"))?;
    let run = kit.boot_echo("https-get", "https-get", server.port, &[], false)?;
    // nginx writes a request's line when it is done with it; give the last one a moment.
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while server.requests().len() < run.conn_lines().len() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(HttpsRun {
        requests: server.requests(),
        run,
    })
}

/// The `key=value` field of the first line of `run` that starts with `prefix`.
fn line_field<'a>(run: &'a FirmwareRun, prefix: &str, n: usize, key: &str) -> Option<&'a str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with(prefix))
        .nth(n)
        .and_then(|l| field(l, key))
}

/// One row of the table.
struct Row<'a> {
    name: String,
    conn: Option<&'a str>,
    handshake: Option<u64>,
    total_bytes: Option<&'a str>,
    exchange: Option<u64>,
    evidence: String,
}

fn print_rows(rows: &[Row<'_>]) {
    let count = |i: Option<u64>| i.map(group_digits).unwrap_or_else(|| "-".to_string());
    println!();
    println!(
        "  {:<18} {:<7} {:<8} {:>10} {:>14} {:>8} {:>9} {:>13}  server's evidence",
        "run", "reused", "kex", "wire bytes", "instructions", "ms", "all bytes", "app instr."
    );
    for row in rows {
        let conn = row.conn.unwrap_or("");
        let ms = row
            .handshake
            .map(|i| format!("{:.1}", i as f64 / (CORE_CLOCK_MHZ * 1000.0)))
            .unwrap_or_else(|| "-".to_string());
        println!(
            "  {:<18} {:<7} {:<8} {:>10} {:>14} {:>8} {:>9} {:>13}  {}",
            row.name,
            field(conn, "reused").unwrap_or("?"),
            field(conn, "kex").unwrap_or("?"),
            field(conn, "wire_bytes").unwrap_or("?"),
            count(row.handshake),
            ms,
            row.total_bytes.unwrap_or("?"),
            count(row.exchange),
            row.evidence
        );
    }
    println!(
        "  (wire bytes and instructions: the handshake, as in the tables above; ms at 25 MHz, a lower\n   \
         bound; all bytes: every TLS byte of the wake-up or connection, both directions; app instr.:\n   \
         the MQTT session (CONNECT to DISCONNECT) or the HTTP request and response)"
    );
}

fn sensor_rows(sensor: &SensorRun) -> Vec<Row<'_>> {
    sensor
        .wakes
        .iter()
        .enumerate()
        .map(|(i, wake)| Row {
            name: format!("mqtt wake-up {}", i + 1),
            conn: wake.conn_lines().first().copied(),
            handshake: between(wake, MARK_HANDSHAKE),
            total_bytes: line_field(wake, "mqtt: ", 0, "wire_bytes_total"),
            exchange: between(wake, MARK_EXCHANGE),
            evidence: if sensor.delivered.get(i).copied().unwrap_or(false) {
                "mosquitto_sub got the reading".to_string()
            } else {
                "reading NOT delivered".to_string()
            },
        })
        .collect()
}

fn https_rows(https: &HttpsRun) -> Vec<Row<'_>> {
    https
        .run
        .conn_lines()
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let n = i as u8 + 1;
            let evidence = match https.requests.get(i) {
                Some(r) => format!(
                    "nginx: {} {} reused={}",
                    field(r, "uri").unwrap_or("?"),
                    field(r, "status").unwrap_or("?"),
                    field(r, "reused").unwrap_or("?")
                ),
                None => "no access log line".to_string(),
            };
            Row {
                name: format!("https GET {n}"),
                conn: Some(conn),
                handshake: between(&https.run, pair(encore_markers::handshake(n))),
                total_bytes: line_field(&https.run, "http: ", i, "wire_bytes_total"),
                exchange: between(&https.run, pair(encore_markers::exchange(n))),
                evidence,
            }
        })
        .collect()
}

/// What every wake-up must show: exit 0; a full handshake first, psk_ke resumptions after;
/// the reading delivered to the subscriber, and one PUBLISH per wake-up in the broker's log.
fn check_sensor(sensor: &SensorRun) -> Result {
    for (i, wake) in sensor.wakes.iter().enumerate() {
        wake.check(&format!("mqtt-sensor (wake-up {})", i + 1))?;
    }
    if sensor.wakes.len() != WAKE_UPS {
        return Err(format!(
            "mqtt-sensor: {} of {WAKE_UPS} wake-ups ran",
            sensor.wakes.len()
        ));
    }
    for (i, wake) in sensor.wakes.iter().enumerate() {
        let conn = wake.conn_lines().first().copied().unwrap_or("");
        let expected = if i == 0 {
            ("false", "full")
        } else {
            ("true", "psk")
        };
        let got = (
            field(conn, "reused").unwrap_or("?"),
            field(conn, "kex").unwrap_or("?"),
        );
        if got != expected {
            return Err(format!(
                "mqtt-sensor wake-up {}: reused={} kex={}, expected reused={} kex={}",
                i + 1,
                got.0,
                got.1,
                expected.0,
                expected.1
            ));
        }
        if !sensor.delivered[i] {
            return Err(format!(
                "mqtt-sensor wake-up {}: mosquitto_sub did not print the reading {:?}",
                i + 1,
                sensor.readings[i]
            ));
        }
    }
    if sensor.broker_publishes != WAKE_UPS {
        return Err(format!(
            "mqtt-sensor: the broker logged {} PUBLISH packets from {CLIENT_ID}, expected {WAKE_UPS}",
            sensor.broker_publishes
        ));
    }
    Ok(())
}

/// The HTTPS run: exit 0; three GETs of the document, each `200` in nginx's access log,
/// `$ssl_session_reused` `.` for the full handshake and `r` for the two resumptions, and the
/// firmware's own key exchanges full, psk_dhe, psk.
fn check_https(https: &HttpsRun) -> Result {
    https.run.check("https-get")?;
    let expected = [(".", "full"), ("r", "psk_dhe"), ("r", "psk")];
    let conns = https.run.conn_lines();
    if https.requests.len() != expected.len() || conns.len() != expected.len() {
        return Err(format!(
            "https-get: {} connections and {} access log lines, expected {}: {:?}",
            conns.len(),
            https.requests.len(),
            expected.len(),
            https.requests
        ));
    }
    for (i, (reused, kex)) in expected.iter().enumerate() {
        let request = &https.requests[i];
        let seen = (
            field(request, "uri"),
            field(request, "status"),
            field(request, "reused"),
            field(conns[i], "kex"),
        );
        if seen != (Some(DOCUMENT_PATH), Some("200"), Some(*reused), Some(*kex)) {
            return Err(format!(
                "https-get connection {}: nginx logged {request:?}, the firmware kex={:?}; \
                 expected uri={DOCUMENT_PATH} status=200 reused={reused} and kex={kex}",
                i + 1,
                seen.3
            ));
        }
        let body = line_field(&https.run, "http: ", i, "body");
        if body != Some(DOCUMENT) {
            return Err(format!(
                "https-get connection {}: body {body:?}, expected {DOCUMENT}",
                i + 1
            ));
        }
    }
    Ok(())
}

fn print_summary(sensor: &SensorRun, https: &HttpsRun) {
    let mut rows = sensor_rows(sensor);
    rows.extend(https_rows(https));
    print_rows(&rows);
    let wakes: Vec<String> = sensor
        .wakes
        .iter()
        .map(|w| w.total.map(group_digits).unwrap_or_else(|| "-".to_string()))
        .collect();
    println!(
        "  each mqtt wake-up from reset to sleep: {} instructions; the broker logged {} PUBLISH from {CLIENT_ID}",
        wakes.join(", "),
        sensor.broker_publishes
    );
    println!();
}

/// The demo's step: both runs, one table; a failed run ends the demo with its status.
pub(crate) fn demo(kit: &Kit) -> Result {
    section(&format!(
        "demo: mqtt-sensor wakes {WAKE_UPS} times (Mosquitto, session on flash) and https-get (reqwless, nginx)"
    ));
    let sensor = run_sensor(kit)?;
    let https = run_https(kit)?;
    print_summary(&sensor, &https);
    for (what, run) in sensor
        .wakes
        .iter()
        .map(|w| ("mqtt-sensor", w))
        .chain([("https-get", &https.run)])
    {
        if run.status != 0 {
            return crate::demo::exit_with(run.status, what);
        }
    }
    check_sensor(&sensor)?;
    check_https(&https)
}

/// The test steps: both runs, with the servers' evidence asserted.
pub(crate) fn test(kit: &Kit) -> Result {
    section(&format!(
        "QEMU: mqtt-sensor, {WAKE_UPS} wake-ups against Mosquitto (subscriber must get every reading)"
    ));
    let sensor = run_sensor(kit)?;
    print_rows(&sensor_rows(&sensor));
    check_sensor(&sensor)?;
    section("QEMU: https-get against nginx (access log: 200 each, reused . r r)");
    let https = run_https(kit)?;
    print_rows(&https_rows(&https));
    check_https(&https)
}
