//! The per-query path allocates nothing: finding the registered domain, extracting the
//! features and scoring 1,000 names (ordinary and tunnel-length) under a counting allocator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloc_count::allocations;
use detect::{FEATURES, Model, Psl, extract};
use wire::{Name, RType};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

#[test]
fn extract_and_score_do_not_allocate() {
    let model = Model::embedded().unwrap();
    let psl = Psl::embedded();
    let mut names = Vec::new();
    for i in 0..1_000u32 {
        let text = match i % 4 {
            0 => format!("host{i}.example.com."),
            1 => format!("www.shop{i}.Example.CO.UK."),
            2 => format!(
                "{:0>60x}.{:0>60x}.{:0>60x}.t{i}.evil.herokuapp.com.",
                u128::from(i) * 0x9e37_79b9_7f4a_7c15,
                u128::from(i) ^ 0xdead_beef,
                u128::from(i) << 40
            ),
            _ => format!("aGVs+bG8/d29y_bGQ={i}.{i}.tunnel.example."),
        };
        names.push(text.parse::<Name>().unwrap());
    }
    let types = [RType::A, RType::TXT, RType::NULL, RType(65399)];
    let mut f = [0f32; FEATURES];
    let mut total = 0f32;
    let before = allocations();
    for (i, name) in names.iter().enumerate() {
        let registered = psl.registered(name.as_ref());
        extract(
            name.as_ref(),
            types[i % types.len()],
            registered.offset,
            model.bigrams(),
            &mut f,
        );
        total += model.score(&f).score;
    }
    assert_eq!(allocations(), before, "the per-query path allocated");
    assert!(total > 0.0);
}
