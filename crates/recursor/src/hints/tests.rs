use super::*;

#[test]
fn builtin_has_thirteen_servers_with_both_families() {
    let h = Hints::builtin();
    assert_eq!(h.servers().len(), 13);
    for s in h.servers() {
        assert!(s.addrs.iter().any(IpAddr::is_ipv4), "{}", s.name);
        assert!(s.addrs.iter().any(IpAddr::is_ipv6), "{}", s.name);
    }
}
