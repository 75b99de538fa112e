//! Every handshake message parser over arbitrary bytes: errors, never panics (E4). The first
//! byte picks the message type, as in a handshake header.

use encore_tls::wire::handshake::{
    parse_key_update, split_message, Certificate, CertificateRequest, CertificateVerify,
    EncryptedExtensions, NewSessionTicket, ServerHello,
};

/// One input of the `handshake` target.
pub fn run(data: &[u8]) {
    if let Ok(Some(m)) = split_message(data, 1 << 16) {
        assert!(m.total_len <= data.len());
        assert_eq!(m.body.len() + 4, m.total_len);
    }
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 7 {
        0 => {
            let _ = ServerHello::parse(body);
        }
        1 => {
            let _ = EncryptedExtensions::parse(body);
        }
        2 => {
            if let Ok(c) = Certificate::parse(body) {
                // Validated once at parse time: iteration sees every entry.
                for cert in c.certificates() {
                    assert!(!cert.is_empty());
                }
            }
        }
        3 => {
            if let Ok(cr) = CertificateRequest::parse(body) {
                let _ = cr.accepts(0x0403);
            }
        }
        4 => {
            let _ = CertificateVerify::parse(body);
        }
        5 => {
            // A lifetime over seven days parses (the engine skips that ticket); an empty
            // ticket does not.
            if let Ok(t) = NewSessionTicket::parse(body) {
                assert!(!t.ticket.is_empty());
                assert!(t.nonce.len() + t.ticket.len() + 13 <= body.len());
            }
        }
        _ => {
            let _ = parse_key_update(body);
        }
    }
}
