//! The cost of one ACL decision on the hot path: a few rules, and a list of 10,000 prefixes.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use guard::{Acl, AclAction, Prefix};

fn decide(c: &mut Criterion) {
    let office: Vec<Prefix> = ["192.0.2.0/24", "2001:db8::/32"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let ten: Vec<Prefix> = vec![Prefix::v4([10, 0, 0, 0], 8)];
    let few = Acl::new(
        [
            (AclAction::Allow, office.as_slice()),
            (AclAction::Refuse, ten.as_slice()),
            (AclAction::Drop, &guard::acl::ANY[..]),
        ],
        AclAction::Refuse,
    );
    let client = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    c.bench_function("acl_decide_3_rules", |b| {
        b.iter(|| black_box(few.decide(black_box(client))))
    });

    // 10,000 /24s and 10,000 /48s spread over the address space, then a catch-all.
    let mut big: Vec<Prefix> = Vec::with_capacity(20_000);
    for i in 0..10_000u32 {
        let v4 = i.wrapping_mul(2_654_435_761) & 0xffff_ff00;
        big.extend(Prefix::new(IpAddr::V4(Ipv4Addr::from(v4)), 24));
        let v6 = (0x2001_0db8u128 << 96) | (u128::from(i.wrapping_mul(2_654_435_761)) << 80);
        big.extend(Prefix::new(IpAddr::V6(Ipv6Addr::from(v6)), 48));
    }
    c.bench_function("acl_build_20000_prefixes", |b| {
        b.iter(|| {
            black_box(Acl::new(
                [(AclAction::Allow, big.as_slice())],
                AclAction::Refuse,
            ))
        })
    });
    let large = Acl::new(
        [
            (AclAction::Drop, ten.as_slice()),
            (AclAction::Allow, big.as_slice()),
        ],
        AclAction::Refuse,
    );
    let mut i = 0u32;
    c.bench_function("acl_decide_10000_prefixes_v4", |b| {
        b.iter(|| {
            i = i.wrapping_add(40_503);
            black_box(large.decide(black_box(IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(97))))))
        })
    });
    c.bench_function("acl_decide_10000_prefixes_v6", |b| {
        b.iter(|| {
            i = i.wrapping_add(40_503);
            let a = (0x2001_0db8u128 << 96) | (u128::from(i) << 80) | 1;
            black_box(large.decide(black_box(IpAddr::V6(Ipv6Addr::from(a)))))
        })
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
