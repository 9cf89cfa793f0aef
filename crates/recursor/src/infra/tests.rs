use super::*;

#[test]
fn unknown_server_has_unknown_rto() {
    let infra = Infra::new(10, 10);
    let s: SocketAddr = "192.0.2.1:53".parse().unwrap();
    assert_eq!(infra.rto(s, Time::ZERO), UNKNOWN_RTO_MS);
}
