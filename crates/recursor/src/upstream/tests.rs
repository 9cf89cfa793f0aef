use super::*;

#[test]
fn rejection_labels_are_distinct() {
    let labels: std::collections::HashSet<_> =
        Rejection::ALL.iter().map(Rejection::as_str).collect();
    assert_eq!(labels.len(), Rejection::ALL.len());
}
