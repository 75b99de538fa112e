//! Record headers and alert bodies from arbitrary bytes: errors, never panics (E4).

use encore_tls::wire::record::RecordHeader;
use encore_tls::wire::Alert;

/// One input of the `record` target.
pub fn run(data: &[u8]) {
    if let Ok(h) = RecordHeader::parse(data) {
        // A parsed header re-encodes to the bytes it came from.
        assert_eq!(&h.to_bytes()[..], &data[..5]);
        let _ = data.get(5..h.total_len());
    }
    if let Ok(a) = Alert::parse(data) {
        assert_eq!(&a.to_bytes()[..], data);
    }
}
