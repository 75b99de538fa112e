//! The host micro-benchmarks of the session cache (criterion), beside rustls's cache.

use super::*;

pub(super) struct HostBench {
    /// (operation, cache, capacity) → mean time per operation in ns.
    pub(super) time_ns: BTreeMap<(String, String, usize), f64>,
    /// (operation, cache, capacity) → allocations per operation.
    pub(super) allocs: BTreeMap<(String, String, usize), f64>,
}

pub(super) fn host_benches() -> Result<HostBench> {
    let out = output(cargo().args([
        "bench",
        "-p",
        "encore-cache",
        "--bench",
        "cache",
        "--",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "2",
    ]))?;
    let mut allocs = BTreeMap::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let ["allocs", cache, op, cap, n] = f.as_slice() {
            if let (Ok(cap), Ok(n)) = (cap.parse(), n.parse()) {
                allocs.insert((op.to_string(), cache.to_string(), cap), n);
            }
        }
    }
    let mut time_ns = BTreeMap::new();
    let criterion = target_dir().join("criterion");
    for op in ["lookup", "take", "insert", "evict"] {
        for cache in ["encore", "rustls"] {
            for cap in [8usize, 64, 256] {
                let est = criterion
                    .join(op)
                    .join(cache)
                    .join(cap.to_string())
                    .join("new/estimates.json");
                let text = std::fs::read_to_string(&est)
                    .map_err(|e| format!("read {}: {e}", est.display()))?;
                let mean = json_mean(&text)
                    .ok_or_else(|| format!("{}: no mean estimate", est.display()))?;
                time_ns.insert((op.to_string(), cache.to_string(), cap), mean);
            }
        }
    }
    Ok(HostBench { time_ns, allocs })
}

/// `mean.point_estimate` of a criterion `estimates.json`.
pub(super) fn json_mean(text: &str) -> Option<f64> {
    let at = text.find("\"mean\"")?;
    let rest = &text[at..];
    let p = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = rest[p..]
        .chars()
        .skip_while(|c| c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}
