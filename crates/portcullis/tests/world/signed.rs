//! Signed worlds: DNSSEC on the test internet.
//!
//! A zone declared with [`WorldBuilder::zone`](super::WorldBuilder::zone) is signed at world
//! start when it is also given a [`Signing`] with
//! [`WorldBuilder::sign`](super::WorldBuilder::sign): which program signs it ([`Signer`]), with
//! which algorithm, with NSEC or NSEC3 ([`Denial`]), and optionally a [`Fault`] that breaks the
//! result on purpose (for the validator's failure paths).
//!
//! Zones are signed bottom-up (deepest origin first): after a zone is signed, the DS records of
//! its key-signing keys (SHA-256) are added to its parent (the closest enclosing zone of the
//! world), which is signed after it. When the root is signed, its DS records are written to a
//! trust-anchor file ([`super::World::trust_anchor`]) in zone-file format, which the resolver
//! is given (`--trust-anchor FILE`, or Unbound's `trust-anchor-file:`).
//!
//! The signers:
//! - [`Signer::Bind`]: keys from `dnssec-keygen` (a KSK and a ZSK), `dnssec-signzone -S`;
//! - [`Signer::Ldns`]: keys from `ldns-keygen`, `ldns-signzone`;
//! - [`Signer::Knot`]: `knotd` with `dnssec-signing: on` and a policy, started with no network
//!   interface and `zonefile-sync: 0`, so that it writes the signed zone back to its file; the
//!   world stops it once the file is written. Knot then signs like an offline signer, and the
//!   signed file is served by the world's authority like the others.
//!
//! Every signed file is read back through `ldns-read-zone` (one record a line, absolute names),
//! so that faults are applied to one text form whatever the signer. Signed zones are served by
//! the world's [`super::Authority`]; NSD serves NSEC and NSEC3 proofs from the signed file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Authority, Scratch, WorldBuilder, ZoneSpec};

// ---------------------------------------------------------------------------------------------
// Declaring a signed world
// ---------------------------------------------------------------------------------------------

/// The authority that serves signed worlds: NSD, or the program named by
/// `PORTCULLIS_SIGNED_AUTHORITY` (`nsd`, `knot`, `portcullis`).
pub fn signed_authority() -> Authority {
    match std::env::var("PORTCULLIS_SIGNED_AUTHORITY").as_deref() {
        Ok("portcullis") => Authority::Portcullis,
        Ok("knot") => Authority::Knot,
        _ => Authority::Nsd,
    }
}

/// A signed world to add leaves to: the root on `127.N.0.1` (`a.root-servers.`) and `test.` on
/// `127.N.1.1` (`ns1.nic.test.`), both signed by BIND with ECDSA P-256 and NSEC, served by
/// [`signed_authority`]. The trust anchor is the root's DS.
pub fn signed_basic(test: &str, block: u8) -> WorldBuilder {
    WorldBuilder::new(test, block)
        .zone(
            ".",
            "@ NS a.root-servers.\n\
             a.root-servers. A 127.N.0.1\n\
             test. NS ns1.nic.test.\n\
             ns1.nic.test. A 127.N.1.1\n",
        )
        .zone("test.", "@ NS ns1.nic\nns1.nic A 127.N.1.1\n")
        .server("0.1", &["."])
        .server("1.1", &["test."])
        .sign(".", Signing::bind())
        .sign("test.", Signing::bind())
        .authority(signed_authority())
}

impl WorldBuilder {
    /// Signs the zone `origin` at start, as `signing` says.
    pub fn sign(mut self, origin: &str, signing: Signing) -> WorldBuilder {
        assert!(
            self.zones.iter().any(|z| z.origin == origin),
            "sign {origin}, which is not declared"
        );
        self.signings.push((origin.to_string(), signing));
        self
    }

    /// Gives the resolver the root's key-signing DNSKEY records as its trust anchor instead
    /// of the root's DS records.
    pub fn dnskey_anchor(mut self) -> WorldBuilder {
        self.dnskey_anchor = true;
        self
    }

    /// A leaf zone `<label>.test.` on its own server `127.N.<rest>` (`ns1.<label>.test.`),
    /// delegated from `test.` with glue, holding `www` A 192.0.2.1, `mail` A 192.0.2.25, `txt`
    /// TXT "hello from <label>" and the wildcard `*.wild` A 192.0.2.99. Signed when `signing`
    /// is given; without it, `test.` has no DS for it (an insecure delegation when `test.` is
    /// signed).
    pub fn leaf(self, label: &str, rest: &str, signing: Option<Signing>) -> WorldBuilder {
        let origin = format!("{label}.test.");
        let b = self
            .records(
                "test.",
                &format!("{label} NS ns1.{label}\nns1.{label} A 127.N.{rest}"),
            )
            .zone(
                &origin,
                &format!(
                    "@ NS ns1\nns1 A 127.N.{rest}\nwww A 192.0.2.1\nmail A 192.0.2.25\n\
                     txt TXT \"hello from {label}\"\n*.wild A 192.0.2.99\n"
                ),
            )
            .server(rest, &[&origin]);
        match signing {
            Some(s) => b.sign(&origin, s),
            None => b,
        }
    }
}

/// The program that signs a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// BIND's `dnssec-keygen` and `dnssec-signzone`.
    Bind,
    /// `ldns-keygen` and `ldns-signzone` (ldnsutils).
    Ldns,
    /// Knot DNS's automatic signing in `knotd`.
    Knot,
}

/// How the zone denies existence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    /// NSEC3 with no salt, `iterations` extra hash iterations, and the opt-out flag when
    /// `opt_out` (unsigned delegations get no NSEC3 record of their own).
    Nsec3 {
        iterations: u16,
        opt_out: bool,
    },
}

/// What is broken on purpose in a signed zone (or in its parent's DS for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every signature expired a week ago. Bind or Ldns only.
    Expired,
    /// Every signature becomes valid in a week. Bind or Ldns only.
    NotYetValid,
    /// The parent holds the DS of another key, which the zone does not have.
    WrongDs,
    /// The DNSKEY RRset (and its RRSIGs) removed after signing; the parent's DS stays.
    NoDnskey,
    /// A byte of the signature over `www`'s A RRset changed.
    BadSignature,
    /// The RRSIGs over `www`'s A RRset removed.
    NoRrsig,
    /// Every NSEC and NSEC3 record (and its RRSIGs) removed: negative answers lack proof.
    NoDenial,
    /// The parent's DS records say digest type 3 (GOST R 34.11-94), which validators without
    /// GOST do not support: the zone is insecure, not bogus.
    GostDs,
}

/// How to sign one zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signing {
    pub signer: Signer,
    /// DNSSEC algorithm number: 5, 7, 8, 10, 13, 14, 15 or 16.
    pub algorithm: u8,
    pub denial: Denial,
    pub fault: Option<Fault>,
    /// A second algorithm (Bind only): a KSK and a ZSK of it too, every RRset signed with
    /// both algorithms, a DS for both KSKs (RFC 6840 5.11: one supported algorithm is
    /// enough).
    pub also_algorithm: Option<u8>,
    /// One more DS record in the parent, beside the right one: the zone stays secure.
    pub extra_ds: Option<ExtraDs>,
    /// A second key-signing key of `algorithm` (Bind only), in a rollover (RFC 5011).
    pub extra_ksk: Option<ExtraKsk>,
}

/// A second key-signing key in a zone, beside the one its parent's DS (or the trust anchor)
/// names: a key rollover as a resolver following RFC 5011 sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraKsk {
    /// A new key, published and signing the DNSKEY RRset, that the parent has no DS for (and
    /// the trust anchor does not list) yet.
    New,
    /// A key revoked by its owner (`dnssec-revoke`): published with the REVOKE flag (0x0080)
    /// and signing the DNSKEY RRset itself. The parent's DS (and the trust anchor) still name
    /// it as it was before the revocation.
    Revoked,
}

/// A DS record the parent holds beside the right one, which a validator must look past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraDs {
    /// The DS of a key the zone does not have (a rollover in progress).
    StaleKey,
    /// A copy of the DS with digest type 3 (GOST), which validators without GOST skip.
    Gost,
}

impl Signing {
    /// `signer` with `algorithm`, NSEC, nothing broken.
    pub fn new(signer: Signer, algorithm: u8) -> Signing {
        Signing {
            signer,
            algorithm,
            denial: Denial::Nsec,
            fault: None,
            also_algorithm: None,
            extra_ds: None,
            extra_ksk: None,
        }
    }

    /// BIND, ECDSA P-256 (13), NSEC: the default of the tests.
    pub fn bind() -> Signing {
        Signing::new(Signer::Bind, 13)
    }

    /// NSEC3 with `iterations` and opt-out as given.
    pub fn nsec3(mut self, iterations: u16, opt_out: bool) -> Signing {
        self.denial = Denial::Nsec3 {
            iterations,
            opt_out,
        };
        self
    }

    pub fn fault(mut self, fault: Fault) -> Signing {
        self.fault = Some(fault);
        self
    }

    /// Signs with `algorithm` too (Bind only).
    pub fn also(mut self, algorithm: u8) -> Signing {
        assert_eq!(self.signer, Signer::Bind, "a second algorithm needs Bind");
        self.also_algorithm = Some(algorithm);
        self
    }

    pub fn extra_ds(mut self, extra: ExtraDs) -> Signing {
        self.extra_ds = Some(extra);
        self
    }

    /// A second key-signing key, new or revoked (Bind only).
    pub fn extra_ksk(mut self, extra: ExtraKsk) -> Signing {
        assert_eq!(
            self.signer,
            Signer::Bind,
            "a second key-signing key needs Bind"
        );
        self.extra_ksk = Some(extra);
        self
    }
}

/// The algorithm's mnemonic as BIND and ldns spell it.
fn mnemonic(algorithm: u8) -> &'static str {
    match algorithm {
        5 => "RSASHA1",
        7 => "NSEC3RSASHA1",
        8 => "RSASHA256",
        10 => "RSASHA512",
        13 => "ECDSAP256SHA256",
        14 => "ECDSAP384SHA384",
        15 => "ED25519",
        16 => "ED448",
        other => panic!("no signer for DNSSEC algorithm {other}"),
    }
}

fn is_rsa(algorithm: u8) -> bool {
    matches!(algorithm, 5 | 7 | 8 | 10)
}

/// Runs a signing tool; panics with its output when it fails.
fn run(program: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `YYYYMMDDHHMMSS` (UTC) for seconds since the epoch, as `dnssec-signzone -s/-e` and
/// `ldns-signzone -i/-e` take it (the key files' format).
pub fn timestamp(epoch: u64) -> String {
    dnssec::keyfile::timestamp(epoch)
}

/// Signature inception and expiration for a fault, seconds since the epoch; `None` leaves the
/// signer's defaults (valid now, for weeks).
fn validity(fault: Option<Fault>) -> Option<(u64, u64)> {
    let t = now();
    match fault {
        // A week beyond the edge: validators allow for clock skew (Unbound up to a day).
        Some(Fault::Expired) => Some((t - 30 * 86_400, t - 7 * 86_400)),
        Some(Fault::NotYetValid) => Some((t + 7 * 86_400, t + 37 * 86_400)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Signing a world
// ---------------------------------------------------------------------------------------------

/// Signs every zone of `zones` that has a [`Signing`], deepest first, adding each one's DS
/// records to its parent before the parent is signed; replaces the signed zones' text with the
/// signed text. When the root is signed, writes its trust anchor to a file and returns it: its
/// DS records, or its key-signing DNSKEY records when `dnskey_anchor`.
pub(super) fn sign_world(
    dir: &Scratch,
    zones: &mut [ZoneSpec],
    signings: &[(String, Signing)],
    dnskey_anchor: bool,
) -> Option<PathBuf> {
    let work = dir.0.join("signing");
    std::fs::create_dir_all(&work).unwrap();
    let mut order: Vec<usize> = (0..zones.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(label_count(&zones[i].origin)));
    let mut anchor = None;
    for i in order {
        let origin = zones[i].origin.clone();
        let Some((_, signing)) = signings.iter().find(|(o, _)| *o == origin) else {
            continue;
        };
        let zdir = work.join(if origin == "." {
            "root".to_string()
        } else {
            origin.trim_end_matches('.').to_string()
        });
        std::fs::create_dir_all(&zdir).unwrap();
        let (text, ds, vouched) = sign_zone(&zdir, &origin, &zones[i].text, signing);
        if origin == "." {
            anchor = Some(if dnskey_anchor {
                dir.write("root.dnskey", &vouched)
            } else {
                dir.write("root.anchor", &ds)
            });
        }
        zones[i].text = text;
        if origin != "."
            && let Some(parent) = parent_of(zones, &origin)
        {
            zones[parent].text.push_str(&ds);
        }
    }
    anchor
}

fn label_count(origin: &str) -> usize {
    origin.split('.').filter(|l| !l.is_empty()).count()
}

/// The index of the closest zone of `zones` strictly above `origin`.
fn parent_of(zones: &[ZoneSpec], origin: &str) -> Option<usize> {
    let mut rest = origin;
    while let Some((_, up)) = rest.split_once('.') {
        let up = if up.is_empty() { "." } else { up };
        if let Some(i) = zones.iter().position(|z| z.origin.eq_ignore_ascii_case(up)) {
            return Some(i);
        }
        if up == "." {
            return None;
        }
        rest = up;
    }
    None
}

/// Signs one zone in `zdir`: the signed text (one record a line, faults applied), the DS
/// records for the parent (zone-file lines), and the key-signing DNSKEY records they are the
/// digests of (what a DNSKEY trust anchor lists).
fn sign_zone(zdir: &Path, origin: &str, text: &str, signing: &Signing) -> (String, String, String) {
    let unsigned = zdir.join("unsigned.zone");
    std::fs::write(&unsigned, text).unwrap();
    let signed = match signing.signer {
        Signer::Bind => sign_bind(zdir, origin, &unsigned, signing),
        Signer::Ldns => sign_ldns(zdir, origin, &unsigned, signing),
        Signer::Knot => sign_knot(zdir, origin, &unsigned, signing),
    };
    let normal = run(
        "ldns-read-zone",
        &[signed.to_str().unwrap()],
        Path::new("/"),
    );
    let vouched = vouched_keys(zdir, &normal, signing.extra_ksk);
    let mut ds = ds_of(zdir, origin, &vouched);
    let mut text = normal;
    match signing.extra_ds {
        Some(ExtraDs::StaleKey) => ds.push_str(&stale_ds(zdir, origin, signing.algorithm)),
        Some(ExtraDs::Gost) => ds.push_str(&as_gost(&ds)),
        None => {}
    }
    match signing.fault {
        Some(Fault::WrongDs) => ds = stale_ds(zdir, origin, signing.algorithm),
        Some(Fault::GostDs) => ds = as_gost(&ds),
        Some(Fault::NoDnskey) => text = drop_rrsets(&text, &["DNSKEY"]),
        Some(Fault::NoDenial) => text = drop_rrsets(&text, &["NSEC", "NSEC3"]),
        Some(Fault::NoRrsig) => text = drop_signatures(&text, &format!("www.{origin}"), "A"),
        Some(Fault::BadSignature) => text = corrupt_signature(&text, &format!("www.{origin}"), "A"),
        Some(Fault::Expired | Fault::NotYetValid) | None => {}
    }
    (text, ds, vouched)
}

/// The key-signing DNSKEY records of the signed zone `text` that the parent vouches for: all
/// of them, but for an [`ExtraKsk::New`] (no DS yet) and with an [`ExtraKsk::Revoked`] as it
/// was before the revocation (the parent has not caught up).
fn vouched_keys(zdir: &Path, text: &str, extra: Option<ExtraKsk>) -> String {
    let published = key_signing_keys(text);
    let Some(extra) = extra else {
        return published;
    };
    let file = std::fs::read_to_string(zdir.join(EXTRA_KSK_FILE)).unwrap();
    let extra_key = key_signing_keys(&file);
    assert!(
        !extra_key.is_empty(),
        "no extra key-signing key in:\n{file}"
    );
    match extra {
        ExtraKsk::New => {
            let material = public_key(&extra_key);
            let kept: String = published
                .lines()
                .filter(|l| public_key(l) != material)
                .map(|l| format!("{l}\n"))
                .collect();
            assert!(kept.len() < published.len(), "the new key is not published");
            kept
        }
        ExtraKsk::Revoked => format!("{published}{extra_key}"),
    }
}

/// The public key (base64, blanks removed) of a DNSKEY record line (`ldns-read-zone` ends it
/// with a `;{id = ...}` comment).
fn public_key(line: &str) -> String {
    let line = line.split(';').next().unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f.iter().position(|w| *w == "DNSKEY").unwrap();
    f[at + 4..].concat()
}

/// Where [`sign_bind`] keeps the extra key-signing key's DNSKEY record, as generated (before
/// any revocation).
const EXTRA_KSK_FILE: &str = "extra-ksk.dnskey";

/// The DS of a new key of `algorithm` that the zone does not have.
fn stale_ds(zdir: &Path, origin: &str, algorithm: u8) -> String {
    let other = zdir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let key = bind_key(&other, origin, algorithm, true);
    let dnskey = std::fs::read_to_string(other.join(format!("{key}.key"))).unwrap();
    ds_of(&other, origin, &dnskey)
}

/// `ds` with digest type 3 (GOST R 34.11-94). The SHA-256 digest stands in for a GOST one:
/// both are 32 bytes.
fn as_gost(ds: &str) -> String {
    ds.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            let n = f.len();
            f[n - 2] = "3";
            format!("{}\n", f.join(" "))
        })
        .collect()
}

/// Generates a BIND key in `kdir` (a KSK when `ksk`); its base name `K<zone>+<alg>+<tag>`.
fn bind_key(kdir: &Path, origin: &str, algorithm: u8, ksk: bool) -> String {
    let mut args = vec!["-q", "-K", ".", "-a", mnemonic(algorithm)];
    if is_rsa(algorithm) {
        args.extend(["-b", "2048"]);
    }
    if ksk {
        args.extend(["-f", "KSK"]);
    }
    args.push(origin);
    run("dnssec-keygen", &args, kdir).trim().to_string()
}

fn sign_bind(zdir: &Path, origin: &str, unsigned: &Path, signing: &Signing) -> PathBuf {
    let keys = zdir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for algorithm in std::iter::once(signing.algorithm).chain(signing.also_algorithm) {
        bind_key(&keys, origin, algorithm, true);
        bind_key(&keys, origin, algorithm, false);
    }
    if let Some(extra) = signing.extra_ksk {
        let key = bind_key(&keys, origin, signing.algorithm, true);
        std::fs::copy(keys.join(format!("{key}.key")), zdir.join(EXTRA_KSK_FILE)).unwrap();
        if extra == ExtraKsk::Revoked {
            // `-r`: the key files without the flag go, so that only the revoked key signs.
            run("dnssec-revoke", &["-r", "-K", ".", &key], &keys);
        }
    }
    let out = zdir.join("signed.zone");
    let mut args: Vec<String> = ["-q", "-S", "-K", "keys", "-O", "full", "-o", origin, "-f"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    if let Denial::Nsec3 {
        iterations,
        opt_out,
    } = signing.denial
    {
        args.extend(["-3".into(), "-".into(), "-H".into(), iterations.to_string()]);
        if opt_out {
            args.push("-A".into());
        }
    }
    if let Some((inception, expiration)) = validity(signing.fault) {
        // The signer's own check of the zone would refuse signatures that are not valid now.
        args.extend([
            "-P".into(),
            "-s".into(),
            timestamp(inception),
            "-e".into(),
            timestamp(expiration),
        ]);
    }
    args.push(unsigned.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("dnssec-signzone", &args, zdir);
    out
}

fn sign_ldns(zdir: &Path, origin: &str, unsigned: &Path, signing: &Signing) -> PathBuf {
    assert!(
        signing.also_algorithm.is_none(),
        "a second algorithm needs Bind"
    );
    let keys = zdir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let alg = match signing.algorithm {
        7 => "RSASHA1-NSEC3-SHA1",
        a => mnemonic(a),
    };
    let keygen = |ksk: bool| -> String {
        let mut args = vec!["-a", alg];
        if is_rsa(signing.algorithm) {
            args.extend(["-b", "2048"]);
        }
        if ksk {
            args.push("-k");
        }
        args.push(origin);
        let base = run("ldns-keygen", &args, &keys).trim().to_string();
        keys.join(base).display().to_string()
    };
    let ksk = keygen(true);
    let zsk = keygen(false);
    let out = zdir.join("signed.zone");
    let mut args: Vec<String> = vec!["-o".into(), origin.into(), "-f".into()];
    args.push(out.display().to_string());
    if let Denial::Nsec3 {
        iterations,
        opt_out,
    } = signing.denial
    {
        args.extend(["-n".into(), "-t".into(), iterations.to_string()]);
        if opt_out {
            args.push("-p".into());
        }
    }
    if let Some((inception, expiration)) = validity(signing.fault) {
        args.extend([
            "-i".into(),
            timestamp(inception),
            "-e".into(),
            timestamp(expiration),
        ]);
    }
    args.push(unsigned.display().to_string());
    args.push(ksk);
    args.push(zsk);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("ldns-signzone", &args, zdir);
    out
}

/// How long `knotd` may take to sign a zone and write it out.
const KNOT_SIGN_LIMIT: Duration = Duration::from_secs(15);

fn sign_knot(zdir: &Path, origin: &str, unsigned: &Path, signing: &Signing) -> PathBuf {
    assert!(
        signing.also_algorithm.is_none(),
        "a second algorithm needs Bind"
    );
    assert!(
        !matches!(signing.fault, Some(Fault::Expired | Fault::NotYetValid)),
        "{origin}: Knot signs with the current time; sign expired or future signatures with \
         Bind or Ldns"
    );
    let kdir = zdir.join("knot");
    std::fs::create_dir_all(&kdir).unwrap();
    let file = kdir.join("zone");
    std::fs::copy(unsigned, &file).unwrap();
    let d = kdir.display();
    let alg = mnemonic(signing.algorithm).to_ascii_lowercase();
    let alg = if alg == "nsec3rsasha1" {
        "rsasha1-nsec3-sha1".to_string()
    } else {
        alg
    };
    let mut policy = format!("  - id: world\n    algorithm: {alg}\n");
    if is_rsa(signing.algorithm) {
        policy.push_str("    ksk-size: 2048\n    zsk-size: 2048\n");
    }
    if let Denial::Nsec3 {
        iterations,
        opt_out,
    } = signing.denial
    {
        policy.push_str(&format!(
            "    nsec3: on\n    nsec3-iterations: {iterations}\n    nsec3-salt-length: 0\n    \
             nsec3-opt-out: {}\n",
            if opt_out { "on" } else { "off" }
        ));
    }
    // No `listen`: this knotd only signs, and writes the signed zone back to its file at once.
    let conf = format!(
        "server:\n    rundir: \"{d}\"\n    background-workers: 1\ncontrol:\n    \
         listen: \"{d}/knot.sock\"\ndatabase:\n    storage: \"{d}\"\nlog:\n  - target: stderr\n    \
         any: info\npolicy:\n{policy}template:\n  - id: default\n    storage: \"{d}\"\nzone:\n  \
         - domain: \"{origin}\"\n    file: \"{}\"\n    dnssec-signing: on\n    \
         dnssec-policy: world\n    zonefile-sync: 0\n    journal-content: none\n",
        file.display()
    );
    let conf_path = kdir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = kdir.join("knot.log");
    let mut guard = super::spawn(
        format!("knotd signing {origin}"),
        "knotd",
        &["-c".into(), conf_path.display().to_string()],
        log,
    );
    let deadline = Instant::now() + KNOT_SIGN_LIMIT;
    loop {
        if guard.log().contains("zone file updated") {
            break;
        }
        guard.check_running();
        assert!(
            Instant::now() < deadline,
            "knotd did not write {origin} signed within {KNOT_SIGN_LIMIT:?}:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(guard);
    file
}

// ---------------------------------------------------------------------------------------------
// Records in the signed text
// ---------------------------------------------------------------------------------------------

/// The key-signing keys (flags 257) among the DNSKEY records of `text` (one record a line).
fn key_signing_keys(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|w| *w == "DNSKEY");
            at.is_some_and(|i| f.get(i + 1) == Some(&"257"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The SHA-256 DS records of the key-signing keys among the DNSKEY records of `text` (one
/// record a line), as zone-file lines.
fn ds_of(zdir: &Path, origin: &str, text: &str) -> String {
    let keys = key_signing_keys(text);
    assert!(!keys.is_empty(), "{origin}: no key-signing key in:\n{text}");
    let path = zdir.join("ksk.dnskey");
    // A key file from `dnssec-keygen` has no TTL of its own.
    std::fs::write(&path, format!("$TTL 3600\n{keys}")).unwrap();
    let out = run(
        "dnssec-dsfromkey",
        &["-2", "-f", path.to_str().unwrap(), origin],
        zdir,
    );
    out.lines()
        .filter(|l| l.contains(" DS "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A record line split as `ldns-read-zone` writes it: owner, TTL, class, type, RDATA fields.
fn fields(line: &str) -> Option<(String, &str, Vec<&str>)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 4 || line.starts_with(';') {
        return None;
    }
    Some((f[0].to_ascii_lowercase(), f[3], f[4..].to_vec()))
}

/// `text` without the RRsets of `types` and the RRSIGs over them.
fn drop_rrsets(text: &str, types: &[&str]) -> String {
    text.lines()
        .filter(|l| {
            let Some((_, t, rdata)) = fields(l) else {
                return true;
            };
            let covered = if t == "RRSIG" {
                rdata.first().copied().unwrap_or("")
            } else {
                t
            };
            !types.contains(&covered)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` without the RRSIGs over `owner` `rtype`.
fn drop_signatures(text: &str, owner: &str, rtype: &str) -> String {
    let before = text.lines().count();
    let out: String = text
        .lines()
        .filter(|l| {
            !fields(l)
                .is_some_and(|(o, t, r)| o == owner && t == "RRSIG" && r.first() == Some(&rtype))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        out.lines().count() < before,
        "no RRSIG over {owner} {rtype}"
    );
    out
}

/// `text` with one byte changed in the middle of each signature over `owner` `rtype`: the
/// base64 stays well formed, the signature no longer verifies.
fn corrupt_signature(text: &str, owner: &str, rtype: &str) -> String {
    let mut changed = 0;
    let out = text
        .lines()
        .map(|l| match fields(l) {
            Some((o, "RRSIG", r)) if o == owner && r.first() == Some(&rtype) => {
                changed += 1;
                let sig = r[r.len() - 1];
                let mid = sig.len() / 2;
                let c = sig.as_bytes()[mid];
                let flipped = if c == b'A' { 'B' } else { 'A' };
                let bad = format!("{}{flipped}{}", &sig[..mid], &sig[mid + 1..]);
                let at = l.rfind(sig).unwrap();
                format!("{}{bad}\n", &l[..at])
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert!(changed > 0, "no RRSIG over {owner} {rtype}");
    out
}
