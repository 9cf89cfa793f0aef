//! The Rust features and the trained weights cannot drift apart: every name the trainer wrote
//! to `model/golden.tsv` scores here, with the embedded model, as the trainer computed it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use detect::{FEATURES, Model, Psl, extract};
use wire::{Name, RType};

#[test]
fn golden_scores_match_the_trainer() {
    let model = Model::embedded().unwrap();
    let psl = Psl::embedded();
    let text = include_str!("../model/golden.tsv");
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let mut cols = line.split('\t');
        let (qtype, qname, want) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let qtype = RType::from_text(qtype.as_bytes()).unwrap();
        let name: Name = qname.parse().unwrap();
        let want: f32 = want.parse().unwrap();
        let mut f = [0f32; FEATURES];
        let offset = psl.registered(name.as_ref()).offset;
        extract(name.as_ref(), qtype, offset, model.bigrams(), &mut f);
        let got = model.score(&f).score;
        assert!(
            (got - want).abs() < 1e-4,
            "{qtype} {qname}: Rust {got:.6}, trainer {want:.6}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "{checked} golden names");
}

#[test]
fn tunnel_names_score_above_ordinary_ones() {
    let model = Model::embedded().unwrap();
    let psl = Psl::embedded();
    let score = |qtype: RType, qname: &str| {
        let name: Name = qname.parse().unwrap();
        let mut f = [0f32; FEATURES];
        let offset = psl.registered(name.as_ref()).offset;
        extract(name.as_ref(), qtype, offset, model.bigrams(), &mut f);
        model.score(&f)
    };
    let ordinary = score(RType::A, "www.example.com.");
    assert!(ordinary.score < model.threshold());
    let tunnel = score(
        RType::TXT,
        "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHR1bm5lbCBwYXlsb2Fk.c2Vjb25kIGNodW5rIG9mIGRhdGE.t.evil.example.",
    );
    assert!(tunnel.score > model.threshold(), "{}", tunnel.explain());
    assert!(tunnel.explain().to_string().contains(" (+"));
}
