//! An HTTPS GET with `reqwless` over Encore: a full handshake, then resumed ones.
//!
//! Three connections to the web server the host forwards to 10.0.2.100:443, each a
//! `GET /config.json` (`reqwless` 0.14 without its own TLS, over the connection as
//! an `embedded_io_async` stream, its header writes batched into one record):
//! 1. a full handshake that verifies the server's chain against the CA of the run
//!    (`-append ca=PATH`); the server's tickets go to the context's cache;
//! 2. a resumption with psk_dhe_ke (`connect` takes a ticket from the cache);
//! 3. a resumption with psk_ke (no public-key operation), which the server must allow.
//!
//! Lines: `conn=N ..` (as the `resume` firmware) and `http: conn=N status=..
//! wire_bytes_total=.. body=..` (every TLS byte of the connection, both directions). Markers `10·N+1` and `10·N+2`
//! bracket each handshake, `10·N+3` and `10·N+4` the request and its response. Exit
//! status 0 when every request got `200` and connections 2 and 3 resumed.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer, WithTimeout};
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::marker::marker;
use encore_board_mps2::{executor, println, Board, Spawner};
use encore_client::{KeyExchangeMode, PskMode};
use encore_example_mps2::batched::Batched;
use encore_example_mps2::connection::{self, Buffers, Ctx, Failure, Outcome, Pool, CARRY_LEN};
use encore_example_mps2::{connection_failed, failed, print_stack_peak, setup, Mps2};
use encore_example_mps2::{exchange_markers, SERVER_NAME};
use reqwless::client::HttpConnection;
use reqwless::request::{Request, RequestBuilder};
use static_cell::ConstStaticCell;

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());
static CARRY: ConstStaticCell<[u8; CARRY_LEN]> = ConstStaticCell::new([0; CARRY_LEN]);

/// How this firmware names itself in its failure lines.
const NAME: &str = "https-get";
/// The document every connection fetches.
const PATH: &str = "/config.json";
/// Bytes one gathered record may carry: the request header.
const BATCH_LEN: usize = 256;
/// The response's header and body.
const RESPONSE_LEN: usize = 2_048;
/// Bytes of the body shown in the `http:` line.
const BODY_SHOWN: usize = 128;
/// How long a request may take: a safety net, never reached when the server behaves.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

/// What one GET returned.
struct Got {
    outcome: Outcome,
    status: u16,
    /// The start of the body, for the `http:` line.
    body: heapless::String<BODY_SHOWN>,
}

/// Why a GET failed.
enum GetError {
    /// The TLS connection failed.
    Connection(Failure),
    /// The HTTP exchange failed.
    Http(reqwless::Error),
    /// The server did not answer in time.
    TimedOut,
}

/// Reports why connection `n` failed and ends the program.
fn get_failed(n: u8, e: GetError) -> ! {
    match e {
        GetError::Connection(e) => connection_failed::<Mps2>(NAME, n, e),
        GetError::Http(e) => println!("{}: FAILED: conn={} HTTP {:?}", NAME, n, e),
        GetError::TimedOut => println!("{}: FAILED: conn={} no response in time", NAME, n),
    }
    exit(exit_code::FAILURE)
}

impl From<Failure> for GetError {
    fn from(e: Failure) -> Self {
        GetError::Connection(e)
    }
}

/// Connection `n`: TCP, the handshake (between its markers), `GET PATH`, close_notify.
async fn get<'a>(
    n: u8,
    ctx: &Ctx<'a>,
    stack: Stack<'static>,
    psk_mode: PskMode,
    buffers: &mut Buffers,
    carry: &mut [u8],
) -> Result<Got, GetError> {
    let started = Instant::now();
    let mut slot = None;
    let opened = connection::open::<Mps2>(
        &mut slot,
        ctx,
        stack,
        SERVER_NAME,
        psk_mode,
        buffers,
        Some(carry),
    );
    let conn = encore_examples_common::out_of_line(opened).await?;
    let handshake = connection::handshake::<Mps2>(n, conn, None).await?;

    let mut batch = [0u8; BATCH_LEN];
    let mut response = [0u8; RESPONSE_LEN];
    let (begin, end) = exchange_markers(n);
    marker(begin);
    let got = async {
        let mut http = HttpConnection::Plain(Batched::new(&mut *conn, &mut batch));
        let request = Request::get(PATH).host(SERVER_NAME).build();
        let response = http.send(request, &mut response).await?;
        let status = response.status.0;
        let body = response.body().read_to_end().await?;
        let mut text = heapless::String::<BODY_SHOWN>::new();
        let shown = core::str::from_utf8(body).unwrap_or("(not UTF-8)");
        let _ = text.push_str(shown.get(..BODY_SHOWN).unwrap_or(shown).trim_end());
        Ok::<_, reqwless::Error>((status, text))
    }
    .with_timeout(REQUEST_TIMEOUT)
    .await;
    marker(end);
    let (status, body) = match got {
        Ok(Ok(got)) => got,
        Ok(Err(e)) => return Err(GetError::Http(e)),
        Err(_) => return Err(GetError::TimedOut),
    };
    connection::close::<Mps2>(conn).await?;
    let stats = conn.stats();
    Ok(Got {
        outcome: Outcome::new(handshake, stats, started),
        status,
        body,
    })
}

#[embassy_executor::task]
async fn app(spawner: Spawner, board: Board) {
    let (net_stack, ctx) = setup::context(NAME, spawner, board, &POOL);
    net_stack.wait_config_up().await;
    let buffers = BUFFERS.take();
    let carry = CARRY.take();

    // 1. Full handshake; 2. psk_dhe_ke from the cache; 3. psk_ke from the cache.
    let plan = [
        (1, PskMode::DheOnly, KeyExchangeMode::Full),
        (2, PskMode::DheOnly, KeyExchangeMode::PskDhe),
        (3, PskMode::AllowPskOnly, KeyExchangeMode::Psk),
    ];
    let mut as_planned = true;
    for (n, mode, expected) in plan {
        let got = match get(n, &ctx, net_stack, mode, buffers, carry).await {
            Ok(g) => g,
            Err(e) => get_failed(n, e),
        };
        got.outcome.print::<Mps2>(n);
        let stats = &got.outcome.stats;
        println!(
            "http: conn={} status={} wire_bytes_total={} body={}",
            n,
            got.status,
            stats.bytes_sent + stats.bytes_received,
            got.body
        );
        as_planned &= got.status == 200
            && got.outcome.summary.kex == expected
            && got.outcome.reused == (expected != KeyExchangeMode::Full);
    }

    print_stack_peak::<Mps2>();
    // Let the last FIN go out before the emulator stops.
    Timer::after_millis(10).await;
    if !as_planned {
        failed::<Mps2>(NAME, "expected status 200 each time, a full handshake, then psk_dhe_ke and psk_ke resumptions");
    }
    println!(
        "{}: ok (full handshake, then psk_dhe_ke and psk_ke resumptions; 3 x 200)",
        NAME
    );
    exit(exit_code::SUCCESS)
}
