//! Any wire name and type through the detector's per-query path: the registered domain, the
//! features, the query model and the per-domain and anomaly state never panic, and every
//! feature is finite.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use detect::{DetectConfig, Detector, FEATURES, Mode, Model, Psl, extract};
use wire::{NameRef, RType, Rcode};

fn detector() -> Option<&'static (Detector, Model)> {
    static DETECTOR: OnceLock<Option<(Detector, Model)>> = OnceLock::new();
    DETECTOR
        .get_or_init(|| {
            let model = Model::embedded().ok()?;
            let config = DetectConfig { mode: Mode::Block, domains: 1_000, clients: 100, ..DetectConfig::default() };
            Some((Detector::new(config, model.clone(), Psl::embedded(), 0), model))
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some((detector, model)) = detector() else { return };
    let (head, wire) = data.split_at(data.len().min(3));
    let Ok(name) = NameRef::from_wire(wire) else { return };
    let qtype = RType(u16::from_be_bytes([head.first().copied().unwrap_or(0), head.get(1).copied().unwrap_or(1)]));
    let now = u64::from(head.get(2).copied().unwrap_or(0)) * 1_000;
    let registered = Psl::embedded().registered(name);
    let mut features = [0.0f32; FEATURES];
    extract(name, qtype, registered.offset, model.bigrams(), &mut features);
    assert!(features.iter().all(|f| f.is_finite()), "{features:?}");
    let score = model.score(&features);
    assert!((0.0..=1.0).contains(&score.score));
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, head.first().copied().unwrap_or(0)));
    let _ = detector.check(name, client, now);
    let decision = detector.on_miss(name, qtype, client, now);
    if let Some(seen) = decision.seen {
        let _ = detector.on_answer(name, seen, client, Rcode::NXDOMAIN, wire.len(), now);
    }
});
