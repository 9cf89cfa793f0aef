//! The per-query path: registered domain, features and score, for typical names and
//! tunnel-length ones. Run with `cargo bench -p detect --bench query`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use detect::{FEATURES, Model, Psl, extract};
use wire::{Name, RType};

fn per_query(c: &mut Criterion) {
    let model = Model::embedded().unwrap();
    let psl = Psl::embedded();
    let cases: [(&str, RType, String); 4] = [
        (
            "typical www.example.com",
            RType::A,
            "www.example.com.".to_string(),
        ),
        (
            "typical mail.google.com",
            RType::AAAA,
            "mail.google.com.".to_string(),
        ),
        (
            "tunnel-length",
            RType::TXT,
            format!(
                "{}.{}.t.evil.example.",
                "a1b2c3d4e5".repeat(6),
                "f6g7h8i9j0k1l2m3n4o5".repeat(3)
            ),
        ),
        (
            "tunnel-length max",
            RType::NULL,
            format!(
                "{}.{}.{}.{}.t.example.co.uk.",
                "q".repeat(60),
                "aGVsbG8gd29ybGQ".repeat(4),
                "0123456789abcdef".repeat(3),
                "mzxw6ytb".repeat(7)
            ),
        ),
    ];
    for (label, qtype, text) in &cases {
        let name: Name = text.parse().unwrap();
        let mut f = [0f32; FEATURES];
        c.bench_function(
            &format!("extract+score {label} ({} bytes)", name.len()),
            |b| {
                b.iter(|| {
                    let n = black_box(name.as_ref());
                    let registered = psl.registered(n);
                    extract(n, *qtype, registered.offset, model.bigrams(), &mut f);
                    black_box(model.score(&f))
                })
            },
        );
    }
}

criterion_group!(benches, per_query);
criterion_main!(benches);
