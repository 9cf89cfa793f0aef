#![allow(clippy::unwrap_used, clippy::expect_used)]
// `RingCrypto` may gain fields; `default()` keeps these tests valid either way.
#![allow(clippy::default_constructed_unit_structs)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cache::RrSet;
use dnssec::{RingCrypto, verify_rrsig};
use wire::{Class, Name, RType};

use super::*;
use crate::config::signing::KeyLayout;
use crate::keystate::{DsState, Role, state_path};

const T0: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@       SOA   ns1 hostmaster 1 7200 3600 1209600 300
@       NS    ns1
ns1     A     192.0.2.1
www     A     192.0.2.3
a.b     TXT   \"deep\"
sub     NS    ns.sub
ns.sub  A     192.0.2.53
";

fn origin() -> Name {
    "example.test.".parse().unwrap()
}

fn load(text: &str) -> Zone {
    zone::load_str(text, Path::new("test"), origin().as_ref())
        .unwrap()
        .zone
}

fn settings(dir: &Path, layout: KeyLayout, denial: DenialKind) -> SigningSettings {
    SigningSettings {
        layout,
        denial,
        key_dir: dir.to_owned(),
        ..SigningSettings::default()
    }
}

/// RRsets of a zone with their signatures.
fn rrsets(zone: &Zone) -> Vec<RrSet> {
    let mut out: Vec<RrSet> = Vec::new();
    for node in zone.nodes() {
        let owner = node.owner().to_name();
        for rrset in node.rrsets() {
            if rrset.rtype() == RType::RRSIG {
                continue;
            }
            out.push(RrSet {
                owner: owner.clone(),
                rtype: rrset.rtype(),
                class: Class::IN,
                ttl: rrset.ttl(),
                rdatas: rrset.rdatas().map(<[u8]>::to_vec).collect(),
                sigs: node
                    .signatures(rrset.rtype())
                    .map(|s| s.rdatas().map(<[u8]>::to_vec).collect())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

fn dnskeys(zone: &Zone) -> Vec<Vec<u8>> {
    zone.apex()
        .rrset(RType::DNSKEY)
        .map(|s| s.rdatas().map(<[u8]>::to_vec).collect())
        .unwrap_or_default()
}

/// Every RRSIG verifies at `at`, and every authoritative RRset is signed. Returns the number
/// of signatures.
fn check(zone: &Zone, at: u64) -> usize {
    let keys = dnskeys(zone);
    let mut n = 0;
    for set in rrsets(zone) {
        let unsigned_ok = (set.rtype == RType::NS && set.owner != origin())
            || set.owner.to_string().ends_with("sub.example.test.") && set.rtype == RType::A;
        assert!(
            unsigned_ok || !set.sigs.is_empty(),
            "{} {} unsigned",
            set.owner,
            set.rtype
        );
        for sig in &set.sigs {
            assert!(
                keys.iter()
                    .any(|k| verify_rrsig(&RingCrypto::default(), &set, sig, k, at).is_ok()),
                "{} {}: bad signature at {at}",
                set.owner,
                set.rtype
            );
            n += 1;
        }
    }
    n
}

fn sigs_of(zone: &Zone, owner: &str, rtype: RType) -> Vec<Vec<u8>> {
    let name: Name = owner.parse().unwrap();
    zone.node(name.as_ref())
        .and_then(|n| n.signatures(rtype))
        .map(|s| s.rdatas().map(<[u8]>::to_vec).collect())
        .unwrap_or_default()
}

#[test]
fn signs_reuses_keys_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    for (layout, denial) in [
        (KeyLayout::Csk, DenialKind::Nsec),
        (KeyLayout::KskZsk, DenialKind::Nsec3),
    ] {
        let _ = std::fs::remove_dir_all(&keys);
        let s = settings(&keys, layout, denial);
        let signer = Signer::new();
        let zone = signer.sign(load(ZONE), &s, T0).unwrap();
        check(&zone, T0);
        let want_keys = if layout == KeyLayout::Csk { 1 } else { 2 };
        assert_eq!(dnskeys(&zone).len(), want_keys);
        // The key directory was made, private keys are the owner's alone.
        let mut privates = 0;
        for entry in std::fs::read_dir(&keys).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "private") {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
                privates += 1;
            }
        }
        assert_eq!(privates, want_keys);
        assert!(state_path(&keys, &origin()).exists());

        // A restart (a new signer) reuses the keys.
        let again = Signer::new().sign(load(ZONE), &s, T0 + 10).unwrap();
        assert_eq!(dnskeys(&again), dnskeys(&zone));

        // The new KSK or CSK waits for its DS: the key state is looked at hourly. Once the DS
        // is seen, the next event is the signatures' refresh.
        assert!(signer.next_event().unwrap() <= T0 + 3600);
        let mut ring = KeyRing::read(&keys, &origin()).unwrap();
        assert_eq!(ring.ds_seen(), 1);
        ring.save().unwrap();

        // A reload of an edited zone keeps the signatures of unchanged RRsets.
        let edited = ZONE
            .replace("192.0.2.3", "192.0.2.4")
            .replace(" 1 7200", " 2 7200");
        let reloaded = signer.sign(load(&edited), &s, T0 + 100).unwrap();
        check(&reloaded, T0 + 100);
        assert_eq!(
            sigs_of(&reloaded, "ns1.example.test.", RType::A),
            sigs_of(&zone, "ns1.example.test.", RType::A)
        );
        assert_ne!(
            sigs_of(&reloaded, "www.example.test.", RType::A),
            sigs_of(&zone, "www.example.test.", RType::A)
        );

        // The file's serial went from 1 to 2: served as is. The same file again signs nothing
        // and keeps the serial.
        assert_eq!(reloaded.serial(), 2);
        let same = signer.sign(load(&edited), &s, T0 + 200).unwrap();
        assert_eq!(same.serial(), 2);
        assert_eq!(
            sigs_of(&same, "www.example.test.", RType::A),
            sigs_of(&reloaded, "www.example.test.", RType::A)
        );
        // An edit without a serial bump is still served with a higher serial.
        let unbumped = edited.replace("192.0.2.4", "192.0.2.5");
        let zone3 = signer.sign(load(&unbumped), &s, T0 + 300).unwrap();
        assert_eq!(zone3.serial(), 3);
        check(&zone3, T0 + 300);

        // Nothing is due before the refresh point; at it, the zone is signed again (with a new
        // serial, so that secondaries fetch the new signatures) and stays valid beyond the old
        // signatures' expiry.
        let next = signer.next_event().unwrap();
        let validity = u64::from(s.signature_validity);
        assert!(next > T0 + validity - u64::from(s.refresh) - validity / 10 - 1);
        assert!(next <= T0 + 100 + validity - u64::from(s.refresh));
        assert!(signer.resign_due(next - 1).is_empty());
        let resigned = signer.resign_due(next);
        assert_eq!(resigned.len(), 1);
        let fresh = resigned.into_iter().next().unwrap().1.unwrap();
        assert_eq!(fresh.serial(), 4);
        // Every signature now outlives the refresh window.
        check(&fresh, next + u64::from(s.refresh));
        assert!(signer.next_event().unwrap() > next);
    }
}

#[test]
fn zsk_rollover_by_pre_publication() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), KeyLayout::KskZsk, DenialKind::Nsec);
    s.zsk_lifetime = (30 * DAY) as u32;
    s.propagation_delay = 3600;
    let signer = Signer::new();
    let zone = signer.sign(load(ZONE), &s, T0).unwrap();
    assert_eq!(dnskeys(&zone).len(), 2);
    // The lifetime passes: a new ZSK is published, not yet signing.
    let t1 = T0 + 30 * DAY;
    let zone = signer.sign(load(ZONE), &s, t1).unwrap();
    assert_eq!(dnskeys(&zone).len(), 3);
    let ring = KeyRing::read(dir.path(), &origin()).unwrap();
    let zsks: Vec<_> = ring
        .entries
        .iter()
        .filter(|e| e.role == Role::Zsk)
        .collect();
    assert_eq!(zsks.len(), 2);
    let switch = zsks[1].active.unwrap();
    assert_eq!(switch, t1 + 3600 + 3600, "DNSKEY TTL + propagation delay");
    check(&zone, t1);
    // The timer wakes at the switch: the new ZSK signs, the old one is still published.
    assert!(signer.next_event().unwrap() <= switch);
    let zone = signer
        .resign_due(switch)
        .into_iter()
        .next()
        .unwrap()
        .1
        .unwrap();
    check(&zone, switch);
    let new_tag = ring.keys[&zsks[1].base].key_tag();
    let sig = &sigs_of(&zone, "www.example.test.", RType::A)[0];
    assert_eq!(dnssec::sign::rrsig_key(sig).unwrap().1, new_tag);
    assert_eq!(dnskeys(&zone).len(), 3);
    // After the zone's largest TTL plus the delay, the old ZSK leaves the DNSKEY RRset.
    let gone = zsks[0].removed.unwrap();
    assert!(signer.next_event().unwrap() <= gone);
    let zone = signer
        .resign_due(gone)
        .into_iter()
        .next()
        .unwrap()
        .1
        .unwrap();
    assert_eq!(dnskeys(&zone).len(), 2);
    check(&zone, gone);
}

#[test]
fn csk_rollover_waits_for_the_ds() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), KeyLayout::Csk, DenialKind::Nsec);
    s.ksk_lifetime = (365 * DAY) as u32;
    let signer = Signer::new();
    let zone = signer.sign(load(ZONE), &s, T0).unwrap();
    // The first key waits for its DS: CDS and CDNSKEY are published.
    assert!(zone.apex().rrset(RType::CDS).is_some());
    let mut ring = KeyRing::read(dir.path(), &origin()).unwrap();
    assert_eq!(ring.ds_seen(), 1);
    ring.save().unwrap();
    let zone = signer.sign(load(ZONE), &s, T0 + DAY).unwrap();
    assert!(zone.apex().rrset(RType::CDS).is_none());

    // A year on: a second CSK signs beside the first, with CDS for it.
    let t1 = T0 + 365 * DAY;
    let zone = signer.sign(load(ZONE), &s, t1).unwrap();
    assert_eq!(dnskeys(&zone).len(), 2);
    assert_eq!(zone.apex().rrset(RType::CDS).map(|c| c.count()), Some(1));
    assert_eq!(sigs_of(&zone, "www.example.test.", RType::A).len(), 2);
    check(&zone, t1);
    // Still waiting later on: nothing changes.
    let zone = signer.sign(load(ZONE), &s, t1 + 10 * DAY).unwrap();
    assert_eq!(dnskeys(&zone).len(), 2);
    // The DS is seen: the old key retires, then is removed.
    let mut ring = KeyRing::read(dir.path(), &origin()).unwrap();
    assert_eq!(ring.ds_seen(), 1);
    ring.save().unwrap();
    let t2 = t1 + 11 * DAY;
    let zone = signer.sign(load(ZONE), &s, t2).unwrap();
    assert_eq!(sigs_of(&zone, "www.example.test.", RType::A).len(), 1);
    assert!(zone.apex().rrset(RType::CDS).is_none());
    let ring = KeyRing::read(dir.path(), &origin()).unwrap();
    let old = ring.entries.iter().find(|e| e.retired.is_some()).unwrap();
    assert_eq!(old.ds, DsState::Seen);
    let zone = signer.sign(load(ZONE), &s, old.removed.unwrap()).unwrap();
    assert_eq!(dnskeys(&zone).len(), 1);
    check(&zone, old.removed.unwrap());
}
