//! The benchmark PKI: chains made with the openssl CLI, kept under `bench/mps2-an386/pki`.

use super::*;
use crate::pki::{make_chain, ChainSpec, KeyKind};

/// P-256 throughout: the chain of every row but the RSA ones.
pub(super) const P256_CHAIN: ChainSpec = ChainSpec {
    dir: "",
    name: "Encore Bench",
    keys: [KeyKind::P256, KeyKind::P256, KeyKind::P256],
    days: 3650,
};
/// RSA-2048 throughout (the leaf signs CertificateVerify with RSA-PSS): a server such as an
/// MQTT broker with an RSA certificate.
pub(super) const RSA2048_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa2048",
    name: "Encore Bench RSA-2048",
    keys: [KeyKind::Rsa(2048), KeyKind::Rsa(2048), KeyKind::Rsa(2048)],
    days: 3650,
};
/// An RSA-4096 root that signed a P-256 intermediate, which signed a P-256 leaf: one RSA
/// verification (the intermediate's certificate), the rest ECDSA P-256. The intermediate is
/// P-256 rather than P-384 so that the image needs no P-384 code, and so that the RSA-4096
/// signature is the only RSA in the chain.
pub(super) const RSA4096_ROOT_CHAIN: ChainSpec = ChainSpec {
    dir: "rsa4096-root",
    name: "Encore Bench RSA-4096",
    keys: [KeyKind::Rsa(4096), KeyKind::P256, KeyKind::P256],
    days: 3650,
};

/// The benchmark PKI: [`P256_CHAIN`] at the top of `dir`, [`RSA2048_CHAIN`] and
/// [`RSA4096_ROOT_CHAIN`] in subdirectories. Made with the openssl CLI once and committed in
/// `bench/mps2-an386/pki`: the certificates' signatures and the leaf keys set how long
/// verification takes, and the roots are built into the firmware, so one fixed PKI keeps the
/// images and the instruction counts the same on every machine. A chain is made again only
/// when its directory lacks its files.
pub(super) fn make_pki(dir: &Path) -> Result<PathBuf> {
    for chain in [P256_CHAIN, RSA2048_CHAIN, RSA4096_ROOT_CHAIN] {
        make_chain(&dir.join(chain.dir), &chain, SERVER_NAME)?;
    }
    Ok(dir.to_path_buf())
}

/// The preloaded library that pins s_server's random generator (`tools/pinned-rand`).
pub(super) fn build_pinned_rand(work: &Path) -> Result<PathBuf> {
    util::shared_lib(
        &root().join("tools/pinned-rand/pinned_rand.c"),
        &work.join("libpinnedrand.so"),
        &["-l:libcrypto.so.3"],
    )
}
