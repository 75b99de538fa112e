//! Record headers and alert bodies from arbitrary bytes: errors, never panics (E4).
#![no_main]

use encore_tls::wire::record::RecordHeader;
use encore_tls::wire::Alert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = RecordHeader::parse(data) {
        // A parsed header re-encodes to the bytes it came from.
        assert_eq!(&h.to_bytes()[..], &data[..5]);
        let _ = data.get(5..h.total_len());
    }
    if let Ok(a) = Alert::parse(data) {
        assert_eq!(&a.to_bytes()[..], data);
    }
});
