//! Power cut at every step (C28, E6): every word programmed and every sector erased of a script
//! that stores the tickets of a full handshake, consumes one for a resumption, stores the
//! replacement tickets, and prunes. After each cut the device reboots and loads, and:
//! - no committed record is lost except the one in flight;
//! - nothing corrupt is accepted (every loaded record is byte-identical to one stored);
//! - no consumed ticket is loaded again (a ticket is never offered twice);
//! - the store goes on working: the tickets loaded are consumed, a new one is stored, and a second
//!   reboot still satisfies all of the above;
//! - no nonce seals two different values anywhere on flash (E8), although every boot restarts
//!   the same deterministic generator.

mod common;
mod raw;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use embassy_futures::block_on;
use encore_session::{ContextId, Limits, SessionPool, SEVEN_DAYS_S};
use encore_store::{DeviceKey, SessionStore, StoreError, Stored};

const CTX: ContextId = ContextId(7);
/// Map item data of a test record: key, sealing overhead, serialised record (61 + 32 + 2 + 192).
const RECORD_DATA: usize = 1 + 45 + 287;
/// Map item data of a tombstone: key, sealing format, write counter.
const TOMBSTONE_DATA: usize = 1 + 5;
const SLOTS: usize = 3;
/// Three 1 KiB sectors of 4-byte words: two records per sector, so the script fills the ring,
/// migrates live records and erases sectors.
type Flash = SimFlash<4, 1024, 3>;
type Store<'f> = SessionStore<&'f mut Flash, SLOTS>;

fn open(flash: &mut Flash) -> Store<'_> {
    Store::new(flash, 0..Flash::SIZE, &DeviceKey::new([0x42; 32])).unwrap()
}

/// A blank flash whose power fails at step `k`.
fn cut_at(k: u64) -> Flash {
    let mut flash = Flash::new();
    flash.cut_at(k);
    flash
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A NewSessionTicket arrived: store ticket `id` with this server lifetime.
    Store { id: u8, lifetime_s: u32 },
    /// A resumption offers ticket `id`: consume it first.
    Consume { id: u8 },
    /// Prune at this wall-clock time.
    Prune { now: u64 },
}

impl Op {
    /// Store ticket `id`, with a lifetime of 2 h.
    const fn store(id: u8) -> Op {
        Op::Store {
            id,
            lifetime_s: 7200,
        }
    }

    /// Consume ticket `id`.
    const fn consume(id: u8) -> Op {
        Op::Consume { id }
    }
}

/// Full handshake (two tickets), then three resumptions, each consuming a ticket and storing the
/// replacements, then a prune that removes ticket 4 (100 s lifetime), then five more resumptions.
const SCRIPT: &[Op] = &[
    Op::store(1),
    Op::store(2),
    Op::consume(1),
    Op::store(3),
    Op::consume(2),
    Op::Store {
        id: 4,
        lifetime_s: 100,
    },
    Op::store(5),
    Op::consume(3),
    Op::store(6),
    Op::Prune { now: T0 + 300 },
    // Later resumptions, one ticket each: the ring of sectors wraps around twice more.
    Op::consume(5),
    Op::store(7),
    Op::consume(6),
    Op::store(8),
    Op::consume(7),
    Op::store(9),
    Op::consume(8),
    Op::store(10),
    Op::consume(9),
    Op::store(11),
];

/// One ticket of the first resumptions stays live while the ring of sectors wraps around four
/// times, so every page migration copies it: a cut during that copy leaves its only complete
/// value on the old sector.
const SCRIPT_LONG_LIVED: &[Op] = &[
    Op::store(1),
    Op::store(2),
    Op::consume(2),
    Op::store(3),
    Op::consume(3),
    Op::store(4),
    Op::consume(4),
    Op::store(5),
    Op::consume(5),
    Op::store(6),
    Op::consume(6),
    Op::store(7),
    Op::consume(7),
    Op::store(8),
    Op::consume(8),
    Op::store(9),
];

/// What the device knows for sure, across reboots.
#[derive(Debug, Default, Clone)]
struct Model {
    /// Stored (the call returned `Ok`) and neither consumed nor pruned.
    committed: BTreeSet<u8>,
    /// Consumed (the call returned `Ok`): offered in a ClientHello, never to be loaded again.
    offered: BTreeSet<u8>,
    /// The operation power failed in.
    in_flight: Option<Op>,
    /// Wall clock.
    now: u64,
    /// Server lifetime of each ticket stored or being stored.
    lifetimes: BTreeMap<u8, u32>,
    /// Slot of each ticket stored.
    slots: BTreeMap<u8, u8>,
    /// Items the store wrote, as (slot, data length), for the ring model.
    items: Vec<(u8, usize)>,
}

impl Model {
    fn lifetime(&self, id: u8) -> u32 {
        self.lifetimes.get(&id).copied().unwrap_or(7200)
    }

    fn expired(&self, id: u8, now: u64) -> bool {
        now >= T0 + u64::from(self.lifetime(id))
    }
}

fn is_power_cut(e: &StoreError<SimError>) -> bool {
    matches!(
        e,
        StoreError::Flash(SimError::PowerCut) | StoreError::Flash(SimError::PowerOff)
    )
}

/// Runs `script` until power fails; returns whether it failed.
fn run_script(flash: &mut Flash, model: &mut Model, script: &[Op]) -> bool {
    let pool: SessionPool<16> = SessionPool::new();
    let mut rng = TestRng(1);
    let mut store = open(flash);
    model.now = T0;
    let boot = block_on(store.load_all(&pool, 0, Some(T0), |_| {}));
    if let Err(e) = boot {
        assert!(is_power_cut(&e), "{e:?}");
        return true;
    }
    let mut handles = BTreeMap::new();
    for op in script {
        model.in_flight = Some(*op);
        let result = match *op {
            Op::Store { id, lifetime_s } => {
                model.lifetimes.insert(id, lifetime_s);
                let s = ticket(&pool, id, CTX, T0, lifetime_s);
                let r = block_on(store.store(&s, 0, Some(model.now), &mut rng));
                handles.insert(id, s);
                r.map(|stored| {
                    let Stored::Written {
                        slot,
                        evicted: false,
                    } = stored
                    else {
                        panic!("{stored:?}");
                    };
                    model.slots.insert(id, slot);
                    model.items.push((slot, RECORD_DATA));
                    model.committed.insert(id);
                })
            }
            Op::Consume { id } => block_on(store.consume(&handles[&id])).map(|found| {
                assert!(found, "ticket {id} was stored");
                model.items.push((model.slots[&id], TOMBSTONE_DATA));
                model.committed.remove(&id);
                model.offered.insert(id);
            }),
            Op::Prune { now } => {
                model.now = now;
                block_on(store.prune(now)).map(|cleared| {
                    assert_eq!(cleared, 1, "ticket 4 expired");
                    let m = model.clone();
                    for id in m.committed.iter().filter(|id| m.expired(**id, now)) {
                        model.items.push((m.slots[id], TOMBSTONE_DATA));
                    }
                    model.committed.retain(|id| !m.expired(*id, now));
                })
            }
        };
        if let Err(e) = result {
            assert!(is_power_cut(&e), "{op:?}: {e:?}");
            return true;
        }
        model.in_flight = None;
    }
    false
}

/// A broken invariant found after a reboot.
#[derive(Debug)]
enum Violation {
    /// Consumed tickets loaded again (C28).
    Resurrected(Vec<u8>),
    /// Anything else: a load error, a lost or corrupt record, an unexpected count.
    Other(String),
}

/// Reboots: loads and checks the invariants; returns the ids loaded.
fn inspect(flash: &mut Flash, model: &Model, label: &str) -> Result<BTreeSet<u8>, Violation> {
    let fail = |m: String| Err(Violation::Other(format!("{label}: {m}")));
    flash.power_on();
    let pool: SessionPool<16> = SessionPool::new();
    let mut store = open(flash);
    let mut loaded = Vec::new();
    let report = match block_on(store.load_all(&pool, 0, Some(model.now), |s| loaded.push(s))) {
        Ok(r) => r,
        Err(e) => return fail(format!("load after power cut failed: {e:?}")),
    };
    if (
        report.rejected,
        report.malformed,
        report.not_loaded,
        report.foreign,
    ) != (0, 0, 0, 0)
    {
        return fail(format!("{report:?}"));
    }
    let mut ids = BTreeSet::new();
    for s in &loaded {
        let t = ticket_of(s);
        let id = id_of(&t);
        let info = s.info().unwrap();
        // Nothing corrupt accepted: byte-identical to what was stored.
        if t != ticket_bytes(id)
            || psk_of(s) != psk_bytes(id)
            || info.owner != CTX
            || info.peer != peer()
            || info.lifetime_s != model.lifetime(id)
            || info.received_unix != Some(T0)
        {
            return fail(format!("ticket {id} differs from the one stored"));
        }
        if !ids.insert(id) {
            return fail(format!("ticket {id} loaded twice"));
        }
    }
    if report.loaded != ids.len() {
        return fail(format!("{report:?}"));
    }

    // C28: a consumed ticket never comes back.
    let again: Vec<u8> = ids.intersection(&model.offered).copied().collect();
    if !again.is_empty() {
        return Err(Violation::Resurrected(again));
    }

    // No committed record lost except the one in flight; nothing that was never committed appears
    // except the one in flight.
    let in_flight = match model.in_flight {
        Some(Op::Store { id, .. }) | Some(Op::Consume { id }) => Some(id),
        _ => None,
    };
    let must: BTreeSet<u8> = model
        .committed
        .iter()
        .copied()
        .filter(|id| Some(*id) != in_flight && !model.expired(*id, model.now))
        .collect();
    let mut may = must.clone();
    if let Some(id) = in_flight {
        if !model.expired(id, model.now) && !model.offered.contains(&id) {
            may.insert(id);
        }
    }
    if !must.is_subset(&ids) {
        return fail(format!("lost {:?}", &must - &ids));
    }
    if !ids.is_subset(&may) {
        return fail(format!("unexpected {:?}", &ids - &may));
    }

    drop(store);
    // E8: every complete item on flash, superseded ones included: a nonce seals one value only
    // (a page migration copies a value, nonce and all, which is the same value).
    let mut sealed: BTreeMap<[u8; 24], Vec<u8>> = BTreeMap::new();
    for (_, value) in raw::items::<4, 1024, 3>(flash.bytes()) {
        if raw::is_sealed_record(&value) {
            let first = sealed.entry(raw::nonce_of(&value)).or_insert(value.clone());
            if *first != value {
                return fail("one nonce sealed two values".to_string());
            }
        }
    }
    Ok(ids)
}

fn reboot_and_check(flash: &mut Flash, model: &Model, label: &str) -> BTreeSet<u8> {
    match inspect(flash, model, label) {
        Ok(ids) => ids,
        Err(Violation::Resurrected(ids)) => {
            panic!("{label}: consumed tickets loaded again: {ids:?}")
        }
        Err(Violation::Other(m)) => panic!("{m}"),
    }
}

/// After a reboot, the device resumes with every loaded ticket (consuming each first) and stores
/// one new ticket; then it reboots again and checks.
fn resume_and_reboot(
    flash: &mut Flash,
    model: &mut Model,
    loaded: &BTreeSet<u8>,
    label: &str,
) -> Result<(), Violation> {
    let fail = |m: String| Err(Violation::Other(format!("{label}: {m}")));
    let pool: SessionPool<16> = SessionPool::new();
    // The same generator, from the same seed, as before the cut: its output repeats.
    let mut rng = TestRng(1);
    let mut store = open(flash);
    let mut sessions = Vec::new();
    if let Err(e) = block_on(store.load_all(&pool, 0, Some(model.now), |s| sessions.push(s))) {
        return fail(format!("second load: {e:?}"));
    }
    for s in &sessions {
        let id = id_of(&ticket_of(s));
        if !loaded.contains(&id) {
            return fail(format!("ticket {id} not loaded the first time"));
        }
        if block_on(store.consume(s)) != Ok(true) {
            return fail(format!("consume {id}"));
        }
        model.committed.remove(&id);
        model.offered.insert(id);
    }
    let fresh = ticket(&pool, 99, CTX, T0, 7200);
    let stored = block_on(store.store(&fresh, 0, Some(model.now), &mut rng));
    if !matches!(stored, Ok(Stored::Written { .. })) {
        return fail(format!("store after reboot: {stored:?}"));
    }
    model.committed.insert(99);
    model.in_flight = None;
    drop(sessions);
    let ids = inspect(flash, model, label)?;
    if ids != BTreeSet::from([99]) {
        return fail(format!("after resuming: {ids:?}"));
    }
    Ok(())
}

fn continue_after_reboot(flash: &mut Flash, model: &mut Model, loaded: &BTreeSet<u8>, label: &str) {
    match resume_and_reboot(flash, model, loaded, label) {
        Ok(()) => {}
        Err(Violation::Resurrected(ids)) => {
            panic!("{label}: consumed tickets loaded again: {ids:?}")
        }
        Err(Violation::Other(m)) => panic!("{m}"),
    }
}

/// Cuts power at every step of `script`; after each cut, also at every step of the next boot's
/// repair. Returns (steps, sector erases) of the uncut script, which the ring model predicts.
fn cut_at_every_step(script: &[Op]) -> (u64, u64) {
    let mut clean = Flash::new();
    let mut model = Model::default();
    assert!(!run_script(&mut clean, &mut model, script), "uncut run");
    let mut ring = RingModel::new(3, 1024, 4);
    for (slot, data) in &model.items {
        ring.write(*slot, *data);
    }
    // Each word programmed and each sector erased is one step.
    assert_eq!(
        clean.steps(),
        ring.wear.bytes_written / 4 + ring.wear.erases
    );
    assert_eq!(clean.erase_steps(), ring.wear.erases);

    let mut cuts_in_erase = 0;
    for k in 0..clean.steps() {
        let label = format!("cut at step {k}");
        let mut flash = cut_at(k);
        let mut model = Model::default();
        assert!(
            run_script(&mut flash, &mut model, script),
            "{label}: no cut happened"
        );
        if flash.cut_in() == Some(Cut::Erase) {
            cuts_in_erase += 1;
        }

        // Power may fail again during the repair the next boot performs: cut every step of it.
        let after_cut = flash.bytes().to_vec();
        let mut probe = Flash::with_image(&after_cut);
        reboot_and_check(&mut probe, &model, &label);
        for j in 0..probe.steps() {
            let mut again = Flash::with_image(&after_cut);
            again.cut_at(j);
            let pool: SessionPool<16> = SessionPool::new();
            let mut store = open(&mut again);
            let r = block_on(store.load_all(&pool, 0, Some(model.now), |_| {}));
            assert!(r.is_err(), "{label}: repair step {j} was not cut");
            drop(store);
            reboot_and_check(&mut again, &model, &format!("{label}, repair cut {j}"));
        }

        let loaded = reboot_and_check(&mut flash, &model, &label);
        continue_after_reboot(&mut flash, &mut model, &loaded, &label);
    }
    assert_eq!(cuts_in_erase, clean.erase_steps());
    (clean.steps(), clean.erase_steps())
}

#[test]
fn c28_power_cut_at_every_step() {
    // 11 records, 9 tombstones, page markers, migrated items and 4 sector erases.
    assert_eq!(cut_at_every_step(SCRIPT), (1001, 4));
}

#[test]
fn c28_power_cut_while_a_live_record_is_migrated() {
    // 9 records, 7 tombstones, ticket 1's record copied at each of the 4 wraps.
    assert_eq!(cut_at_every_step(SCRIPT_LONG_LIVED), (989, 4));
}

#[test]
fn e6_prune_limits_default_to_widest() {
    // The store prunes with 7 days / 7 days unless told otherwise, so a ticket the server gave
    // 24 h survives a reboot 3 h later although a context may configure a 2-hour timeout.
    let pool: SessionPool<4> = SessionPool::new();
    let mut flash = Flash::new();
    let mut store = open(&mut flash);
    block_on(store.load_all(&pool, 0, Some(T0), |_| {})).unwrap();
    let s = ticket(&pool, 1, CTX, T0, 86_400);
    block_on(store.store(&s, 0, Some(T0), &mut TestRng(3))).unwrap();
    drop(store);

    let later = T0 + 3 * 3600;
    let mut store = open(&mut flash);
    let report = block_on(store.load_all(&pool, 0, Some(later), |_| {})).unwrap();
    assert_eq!((report.loaded, report.expired), (1, 0));
    drop(store);

    let mut store = open(&mut flash).with_limits(Limits {
        timeout_s: 7200,
        max_auth_age_s: SEVEN_DAYS_S,
    });
    let report = block_on(store.load_all(&pool, 0, Some(later), |_| {})).unwrap();
    assert_eq!((report.loaded, report.expired), (0, 1));
}

/// The steps of `script` that erase a sector.
fn erase_steps(script: &[Op]) -> Vec<u64> {
    let mut clean = Flash::new();
    run_script(&mut clean, &mut Model::default(), script);
    let steps: Vec<u64> = (0..clean.steps())
        .filter(|&k| {
            let mut flash = cut_at(k);
            run_script(&mut flash, &mut Model::default(), script);
            flash.cut_in() == Some(Cut::Erase)
        })
        .collect();
    assert_eq!(steps.len() as u64, clean.erase_steps());
    steps
}

/// Cuts during each sector erase of the script, with many different partial states: the erased
/// prefix ending at every word of the sector (C28, no record lost but the one in flight).
#[test]
fn c28_power_cut_during_erase_every_prefix() {
    let erase_steps = erase_steps(SCRIPT);
    let mut cases = 0;
    for &k in &erase_steps {
        for seed in 0..256u64 {
            let label = format!("erase cut at step {k}, seed {seed}");
            let mut flash = cut_at(k);
            flash.seed_noise(seed);
            let mut model = Model::default();
            assert!(run_script(&mut flash, &mut model, SCRIPT));
            let loaded = reboot_and_check(&mut flash, &model, &label);
            continue_after_reboot(&mut flash, &mut model, &loaded, &label);
            cases += 1;
        }
    }
    assert_eq!(cases, 256 * erase_steps.len());
}

/// An erase interrupted so early that the sector keeps its markers and all but a few bits (set
/// to 1 at random), after a page migration had copied the sector's live items. The map alone
/// would take the sector for the source of an interrupted migration at its next write, erase the
/// good copies and copy again from the damaged sector, so a damaged tombstone would let the
/// record it consumed come back. The boot finishes the erase instead, when hiding the sector
/// changes no slot's newest value (`finish_interrupted_erase`). Every invariant holds.
/// Runs every scattered erase cut of `script`; returns (cases, sectors whose erase the boot finished).
fn scattered_erase_cuts(script: &[Op]) -> (u64, usize) {
    let mut finished = 0;
    let mut cases = 0u64;
    for k in erase_steps(script) {
        for bits in [1u32, 2, 4, 8, 16, 64, 256, 2048] {
            for seed in 0..64u64 {
                let label = format!("scattered cut at step {k}, {bits} bits, seed {seed}");
                let mut flash = cut_at(k);
                flash.set_erase_cut(EraseCut::Scattered(bits));
                flash.seed_noise(seed);
                let mut model = Model::default();
                assert!(run_script(&mut flash, &mut model, script));
                cases += 1;

                let mut probe = Flash::with_image(flash.bytes());
                let pool: SessionPool<16> = SessionPool::new();
                let mut store = open(&mut probe);
                let report = block_on(store.load_all(&pool, 0, Some(model.now), |_| {})).unwrap();
                finished += report.repaired_sectors;

                let loaded = reboot_and_check(&mut flash, &model, &label);
                continue_after_reboot(&mut flash, &mut model, &loaded, &label);
            }
        }
    }
    (cases, finished)
}

#[test]
fn c28_scattered_erase_cut() {
    // 4 erase steps in each script, 8 densities x 64 patterns each. Every erase step erases a
    // sector whose items were copied first, and none of these cuts leaves a visible mark: each
    // boot finishes the erase.
    assert_eq!(scattered_erase_cuts(SCRIPT), (2048, 2048));
    assert_eq!(scattered_erase_cuts(SCRIPT_LONG_LIVED), (2048, 2048));
}
