//! Automated trust anchor updates (RFC 5011) over the wire: the resolver, given
//! `dnssec.auto_trust_anchor_file`, checks the root's DNSKEY RRset of a signed test internet
//! (tests/world) and keeps what it saw in the state file: the configured key as valid, a new
//! key-signing key the root starts to publish as pending (`addpend`), a key the root revokes as
//! `revoked`. Once written, the file decides which root keys are trusted, whatever the
//! configured anchors say.
//!
//! The hold-down timers (30 days) are the state machine's own tests (`dnssec::autotrust`);
//! these check the wiring: the validator takes validated DNSKEY RRsets of the root to the
//! state, the state reaches the file, and the file reaches the validator.
//!
//! Every test owns a block `127.N.0.0/16` (the table is in `world/mod.rs`) and needs port 53:
//! run as root, or the tests print `SKIPPED:` and return. Portcullis only: Unbound's RFC 5011
//! state is another file format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wire::{RType, Rcode};
use world::signed::{ExtraKsk, Signing, signed_authority};
use world::{Ask, Resolver, Scratch, World, WorldBuilder};

/// How long the state file may take to show a check after the resolver started.
const STATE_LIMIT: Duration = Duration::from_secs(10);

/// Whether the test can run: port 53 in its block and the tools of a signed world.
fn can_run(test: &str, n: u8) -> bool {
    world::port_53_available(test, n)
        && [
            "nsd",
            "dnssec-keygen",
            "dnssec-signzone",
            "dnssec-dsfromkey",
            "dnssec-revoke",
            "ldns-read-zone",
        ]
        .iter()
        .all(|t| world::tool_available(test, t))
}

/// The signed world of the resolver tests, with the root signed as `root` says: the root on
/// `127.N.0.1`, `test.` on `127.N.1.1`, and the signed leaf `secure.test.` on `127.N.2.1`.
fn world_with_root(test: &str, block: u8, root: Signing) -> World {
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
        .sign(".", root)
        .sign("test.", Signing::bind())
        .authority(signed_authority())
        .leaf("secure", "2.1", Some(Signing::bind()))
        .start()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `[dnssec] auto_trust_anchor_file = "<state>"`, with more `[dnssec]` lines.
fn autotrust_config(state: &Path, more: &str) -> String {
    format!(
        "[dnssec]\nauto_trust_anchor_file = \"{}\"\n{more}",
        state.display()
    )
}

/// A key-signing key as published: flags and public key (base64, no blanks).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    flags: u16,
    public: String,
}

/// The DNSKEY records of the root zone as the world serves it (`root.zone`, one record a
/// line), key-signing keys (SEP flag) only.
fn published_ksks(world: &World) -> Vec<Key> {
    let text = std::fs::read_to_string(world.dir().join("root.zone")).unwrap();
    text.lines()
        .filter_map(|l| {
            // Owner, TTL, class, type, RDATA, and `;{id = ...}` after it.
            let l = l.split(';').next().unwrap_or("");
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(3) != Some(&"DNSKEY") {
                return None;
            }
            let flags: u16 = f.get(4)?.parse().ok()?;
            (flags & 1 == 1).then(|| Key {
                flags,
                public: f[7..].concat(),
            })
        })
        .collect()
}

/// One `key` line of the state file.
#[derive(Clone, Debug)]
struct StateKey {
    zone: String,
    state: String,
    since: u64,
    seen: u64,
    key: Key,
}

/// The `key` and `ds` lines of the state file (comments stripped).
fn read_state(path: &Path) -> (Vec<StateKey>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut keys = Vec::new();
    let mut ds = Vec::new();
    for line in text.lines() {
        let line = line.split(" ;").next().unwrap_or("");
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [
                zone,
                "key",
                state,
                since,
                seen,
                flags,
                _proto,
                _alg,
                public @ ..,
            ] => {
                keys.push(StateKey {
                    zone: zone.to_string(),
                    state: state.to_string(),
                    since: since.parse().unwrap(),
                    seen: seen.parse().unwrap(),
                    key: Key {
                        flags: flags.parse().unwrap(),
                        public: public.concat(),
                    },
                });
            }
            [_, "ds", ..] => ds.push(line.to_string()),
            _ => {}
        }
    }
    (keys, ds)
}

/// Waits (at most [`STATE_LIMIT`]) until the state file holds `count` root keys, and returns
/// them.
fn wait_for_keys(path: &Path, count: usize, resolver: &Resolver) -> Vec<StateKey> {
    let deadline = Instant::now() + STATE_LIMIT;
    loop {
        let (keys, _) = read_state(path);
        if keys.len() >= count {
            assert!(keys.iter().all(|k| k.zone == "."), "{keys:?}");
            return keys;
        }
        assert!(
            Instant::now() < deadline,
            "the state file {} did not list {count} keys within {STATE_LIMIT:?}:\n{}\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_else(|e| format!("({e})")),
            resolver.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `www.secure.test.` is answered secure (AD).
fn assert_secure(resolver: &Resolver) {
    let r = resolver.ask_with("www.secure.test.", RType::A, Ask::DO);
    assert_eq!(r.rcode, Rcode::NOERROR, "{r}\n{}", resolver.log());
    assert!(r.flags.ad(), "not secure: {r}\n{}", resolver.log());
    assert!(r.rdatas(RType::A).iter().any(|d| d == "192.0.2.1"), "{r}");
}

/// Asks the resolver for the root's DNSKEY RRset (a check of the root's keys, whoever asks)
/// and checks it is secure.
fn ask_root_keys(resolver: &Resolver) {
    let r = resolver.ask_with(".", RType::DNSKEY, Ask::DO);
    assert_eq!(r.rcode, Rcode::NOERROR, "{r}\n{}", resolver.log());
    assert!(r.flags.ad(), "the root's DNSKEY RRset is not secure: {r}");
}

fn state_path(scratch: &Scratch) -> PathBuf {
    scratch.0.join("root.autotrust")
}

/// From the world's DS trust anchor, the first check writes the state file with the root's
/// key-signing key as valid (the DS has become the key). A resolver started later from that
/// file alone, without the world's anchor (so with the built-in root anchors, which do not
/// vouch for the test root), validates: the file decides. Without the file it cannot.
#[test]
fn state_file_follows_the_root_and_then_decides() {
    const N: u8 = 74;
    if !can_run("state_file_follows_the_root_and_then_decides", N) {
        return;
    }
    let world = world_with_root("autotrust-decides", N, Signing::bind());
    let scratch = Scratch::new(&format!("autotrust-decides-{N}-state"));
    let state = state_path(&scratch);
    let ksks = published_ksks(&world);
    assert_eq!(ksks.len(), 1, "{ksks:?}");
    let before = now();

    let resolver = Resolver::start_with(
        &world,
        world::ResolverKind::Portcullis,
        &[],
        &autotrust_config(&state, ""),
    );
    assert_secure(&resolver);
    let keys = wait_for_keys(&state, 1, &resolver);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let k = &keys[0];
    assert_eq!(k.state, "valid", "{keys:?}");
    assert_eq!(k.key, ksks[0], "{keys:?}");
    // Trusted by the configured DS the first time it was seen: since then, seen then.
    assert!(k.since >= before && k.since <= now(), "{keys:?}");
    assert_eq!(k.seen, k.since, "{keys:?}");
    let (_, ds) = read_state(&state);
    assert!(ds.is_empty(), "the DS stayed beside its key: {ds:?}");
    drop(resolver);

    // The file alone: the configured anchors are the built-in ones.
    let resolver = world.resolver_unanchored(&autotrust_config(&state, ""));
    assert_secure(&resolver);
    ask_root_keys(&resolver);
    let keys = wait_for_keys(&state, 1, &resolver);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].state, "valid", "{keys:?}");
    drop(resolver);

    // Without it, the built-in anchors do not vouch for this root.
    let resolver = world.resolver_unanchored("");
    let r = resolver.ask_with("www.secure.test.", RType::A, Ask::DO);
    assert_eq!(r.rcode, Rcode::SERVFAIL, "{r}\n{}", resolver.log());
    drop(resolver);

    // A DNSKEY anchor: the first check changes no key's state, and still writes the file, so
    // that it decides from then on (and a file that cannot be written shows at once, not at
    // the next rollover).
    let file = scratch.write(
        "root.dnskey",
        &format!(". 3600 IN DNSKEY 257 3 13 {}\n", ksks[0].public),
    );
    let by_key = scratch.0.join("by-key.autotrust");
    let resolver = world.resolver_unanchored(&autotrust_config(
        &by_key,
        &format!("trust_anchor_files = [\"{}\"]\n", file.display()),
    ));
    assert_secure(&resolver);
    ask_root_keys(&resolver);
    let keys = wait_for_keys(&by_key, 1, &resolver);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].state, "valid", "{keys:?}");
    assert_eq!(keys[0].key, ksks[0], "{keys:?}");
}

/// The root publishes a second key-signing key, which signs its DNSKEY RRset too but which the
/// trust anchor does not name: the state file lists it as pending (`addpend`, first seen
/// now), the configured key stays valid, and answers stay secure.
#[test]
fn a_new_root_key_is_pending() {
    const N: u8 = 75;
    if !can_run("a_new_root_key_is_pending", N) {
        return;
    }
    let world = world_with_root("autotrust-new", N, Signing::bind().extra_ksk(ExtraKsk::New));
    let anchor = std::fs::read_to_string(world.trust_anchor().unwrap()).unwrap();
    assert_eq!(anchor.matches(" DS ").count(), 1, "{anchor}");
    let ksks = published_ksks(&world);
    assert_eq!(ksks.len(), 2, "{ksks:?}");
    let scratch = Scratch::new(&format!("autotrust-new-{N}-state"));
    let state = state_path(&scratch);
    let before = now();

    let resolver = Resolver::start_with(
        &world,
        world::ResolverKind::Portcullis,
        &[],
        &autotrust_config(&state, ""),
    );
    assert_secure(&resolver);
    ask_root_keys(&resolver);
    let keys = wait_for_keys(&state, 2, &resolver);
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut states: Vec<&str> = keys.iter().map(|k| k.state.as_str()).collect();
    states.sort_unstable();
    assert_eq!(states, ["addpend", "valid"], "{keys:?}");
    for k in &keys {
        assert!(ksks.contains(&k.key), "{k:?} is not published: {ksks:?}");
        assert!(k.since >= before && k.since <= now(), "{k:?}");
    }
    // The pending key is the new one, which the anchor has no DS for.
    let pending = keys.iter().find(|k| k.state == "addpend").unwrap();
    assert_eq!(pending.seen, pending.since, "{pending:?}");
    let new = std::fs::read_to_string(world.dir().join("signing/root/extra-ksk.dnskey")).unwrap();
    let new: String = new
        .lines()
        .filter(|l| !l.starts_with(';'))
        .flat_map(|l| l.split_whitespace().skip(6))
        .collect();
    assert_eq!(pending.key.public, new, "{keys:?}");
}

/// The root publishes a second key-signing key revoked (REVOKE flag, signing the DNSKEY RRset
/// itself). A resolver whose anchors name that key (its DS, or the key itself) records it as
/// `revoked` at the first check, and validates with the other key.
#[test]
fn a_revoked_root_key_is_revoked() {
    const N: u8 = 76;
    if !can_run("a_revoked_root_key_is_revoked", N) {
        return;
    }
    let world = world_with_root(
        "autotrust-revoked",
        N,
        Signing::bind().extra_ksk(ExtraKsk::Revoked),
    );
    // The anchor still names the key as it was before its revocation.
    let anchor = std::fs::read_to_string(world.trust_anchor().unwrap()).unwrap();
    assert_eq!(anchor.matches(" DS ").count(), 2, "{anchor}");
    let ksks = published_ksks(&world);
    let mut flags: Vec<u16> = ksks.iter().map(|k| k.flags).collect();
    flags.sort_unstable();
    assert_eq!(flags, [257, 257 | 0x80], "{ksks:?}");
    let scratch = Scratch::new(&format!("autotrust-revoked-{N}-state"));
    let check = |state: &Path, resolver: &Resolver| {
        assert_secure(resolver);
        ask_root_keys(resolver);
        let keys = wait_for_keys(state, 2, resolver);
        assert_eq!(keys.len(), 2, "{keys:?}");
        for k in &keys {
            let expected = if k.key.flags & 0x80 != 0 {
                "revoked"
            } else {
                "valid"
            };
            assert_eq!(k.state, expected, "{keys:?}");
            assert!(ksks.contains(&k.key), "{k:?} is not published: {ksks:?}");
        }
    };

    // A DS anchor for the key: revoked before it was ever trusted.
    let by_ds = scratch.0.join("by-ds.autotrust");
    let resolver = Resolver::start_with(
        &world,
        world::ResolverKind::Portcullis,
        &[],
        &autotrust_config(&by_ds, ""),
    );
    check(&by_ds, &resolver);
    let (_, ds) = read_state(&by_ds);
    assert!(ds.is_empty(), "{ds:?}");
    drop(resolver);

    // DNSKEY anchors (both keys without the flag): a trusted key revoked.
    let unrevoked: String = ksks
        .iter()
        .map(|k| format!(". 3600 IN DNSKEY 257 3 13 {}\n", k.public))
        .collect();
    let file = scratch.write("root.dnskey", &unrevoked);
    let by_key = scratch.0.join("by-key.autotrust");
    let resolver = world.resolver_unanchored(&autotrust_config(
        &by_key,
        &format!("trust_anchor_files = [\"{}\"]\n", file.display()),
    ));
    check(&by_key, &resolver);
}
