//! The cost of one rate-limiting decision on the hot path.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use guard::{Kind, Rrl, RrlConfig, name_key};

fn decide(c: &mut Criterion) {
    let rrl = Rrl::new(RrlConfig {
        responses_per_second: 10,
        ..RrlConfig::default()
    });
    let key = name_key(b"\x03www\x07example\x00", 16);
    let mut i = 0u32;
    c.bench_function("rrl_decide_many_clients", |b| {
        b.iter(|| {
            i = i.wrapping_add(257);
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i & 0xff_ffff)));
            black_box(rrl.decide(black_box(client), Kind::Answer, key, 1_000))
        })
    });
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    c.bench_function("rrl_decide_one_flooding_client", |b| {
        b.iter(|| black_box(rrl.decide(black_box(client), Kind::Answer, key, 1_000)))
    });
    c.bench_function("rrl_name_key", |b| {
        b.iter(|| black_box(name_key(black_box(b"\x03www\x07example\x00"), 16)))
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
