"""Makes the fuzz PKI once (throwaway keys): P-256 root -> intermediate -> server leaf, plus a
client certificate. Needs Python's `cryptography` package; run it in this directory. The
committed seeds pick certificates by index, so a new PKI keeps them meaningful, but their bytes
(and so the fuzzer's corpus) change."""

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)


def name(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Encore fuzz"),
        ]
    )


def cert(subject, subject_key, issuer, issuer_key, serial, extensions):
    b = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(subject_key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    for ext, critical in extensions:
        b = b.add_extension(ext, critical)
    # Ed25519 signs the message itself (no separate hash).
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(issuer_key, algorithm)


def ca_extensions(path_len):
    return [
        (x509.BasicConstraints(ca=True, path_length=path_len), True),
        (
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            True,
        ),
    ]


def leaf_extensions(names, ips, eku):
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            True,
        ),
        (x509.ExtendedKeyUsage([eku]), False),
        (
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]
                + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            ),
            False,
        ),
    ]


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def pkcs8(k):
    return k.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def server_chain(label, keys, serial):
    """A root, an intermediate and a leaf for fuzz.encore.test (and 192.0.2.7) on `keys`, named
    after `label`, with serials from `serial` on."""
    root_key, int_key, leaf_key = keys
    root_name = f"Encore Fuzz {label}Root CA"
    int_name = f"Encore Fuzz {label}Intermediate CA"
    server = leaf_extensions(["fuzz.encore.test"], ["192.0.2.7"], ExtendedKeyUsageOID.SERVER_AUTH)
    return (
        cert(root_name, root_key, root_name, root_key, serial, ca_extensions(None)),
        cert(int_name, int_key, root_name, root_key, serial + 1, ca_extensions(0)),
        cert("fuzz.encore.test", leaf_key, int_name, int_key, serial + 2, server),
    )


curve = ec.SECP256R1()
root_key, int_key, leaf_key, client_key = (ec.generate_private_key(curve) for _ in range(4))
root, inter, leaf = server_chain("", (root_key, int_key, leaf_key), 1)
client = cert(
    "encore-device",
    client_key,
    "Encore Fuzz Intermediate CA",
    int_key,
    4,
    leaf_extensions(["encore-device"], [], ExtendedKeyUsageOID.CLIENT_AUTH),
)
# The same shape with Ed25519 keys: verification is cheaper than P-256 ECDSA, which matters
# to the fuzzer's speed, and it reaches the engine's Ed25519 paths.
ed_root_key, ed_int_key, ed_leaf_key = (ed25519.Ed25519PrivateKey.generate() for _ in range(3))
ed_root, ed_inter, ed_leaf = server_chain("Ed25519 ", (ed_root_key, ed_int_key, ed_leaf_key), 5)
raw_seed = ed_leaf_key.private_bytes(
    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
)

for file, data in [
    ("root.der", der(root)),
    ("int.der", der(inter)),
    ("leaf.der", der(leaf)),
    ("leaf.key.der", pkcs8(leaf_key)),
    ("client.der", der(client)),
    ("client.key.der", pkcs8(client_key)),
    ("ed25519-root.der", der(ed_root)),
    ("ed25519-int.der", der(ed_inter)),
    ("ed25519-leaf.der", der(ed_leaf)),
    ("ed25519-leaf.seed", raw_seed),
]:
    with open(file, "wb") as f:
        f.write(data)
