use super::*;

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap()
}

/// Parses `text` after a `$TTL` line (so line numbers in errors are one more than in `text`).
fn parse(text: &str) -> Result<Hints, HintsError> {
    Hints::from_zone_text(&format!("$TTL 3600\n{text}"), Path::new("hints.zone"))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

/// The built-in list written out as `named.root` is.
fn builtin_as_named_root() -> String {
    let mut text = String::from("; root hints\n");
    for (n, v4, v6) in BUILTIN {
        text.push_str(&format!(".\t3600000\tNS\t{}\n", n.to_uppercase()));
        text.push_str(&format!("{n}\t3600000\tA\t{v4}\n"));
        text.push_str(&format!("{n}\t3600000\tAAAA\t{v6}\n"));
    }
    text
}

#[test]
fn builtin_has_thirteen_servers_with_both_families() {
    let h = Hints::builtin();
    assert_eq!(h.servers().len(), 13);
    for (s, letter) in h.servers().iter().zip('a'..='m') {
        assert_eq!(s.name, name(&format!("{letter}.root-servers.net.")));
        assert_eq!(s.addrs.len(), 2);
        assert!(s.addrs[0].is_ipv4(), "{}", s.name);
        assert!(s.addrs[1].is_ipv6(), "{}", s.name);
    }
    let a = &h.servers()[0];
    assert_eq!(a.addrs[0], "198.41.0.4".parse::<IpAddr>().unwrap());
    assert_eq!(a.addrs[1], "2001:503:ba3e::2:30".parse::<IpAddr>().unwrap());
    let b = &h.servers()[1];
    assert_eq!(b.addrs[0], "170.247.170.2".parse::<IpAddr>().unwrap());
    assert_eq!(b.addrs[1], "2801:1b8:10::b".parse::<IpAddr>().unwrap());
    let m = &h.servers()[12];
    assert_eq!(m.addrs[0], "202.12.27.33".parse::<IpAddr>().unwrap());
    assert_eq!(m.addrs[1], "2001:dc3::35".parse::<IpAddr>().unwrap());
    assert_eq!(h.addresses().count(), 26);
}

#[test]
fn builtin_equals_its_named_root_form() {
    let parsed = parse(&builtin_as_named_root()).unwrap();
    assert_eq!(parsed, Hints::builtin());
}

#[test]
fn priming_rrsets() {
    let h = Hints::builtin();
    let ns = h.ns_rrset();
    assert!(ns.owner.as_ref().is_root());
    assert_eq!(ns.rtype, RType::NS);
    assert_eq!(ns.class, Class::IN);
    assert_eq!(ns.ttl, HINTS_TTL);
    assert_eq!(ns.rdatas.len(), 13);
    assert_eq!(
        Name::from_wire(&ns.rdatas[0]).unwrap(),
        name("a.root-servers.net.")
    );
    let addrs = h.address_rrsets();
    assert_eq!(addrs.len(), 26);
    assert_eq!(addrs[0].owner, name("a.root-servers.net."));
    assert_eq!(addrs[0].rtype, RType::A);
    assert_eq!(addrs[0].rdatas, vec![vec![198, 41, 0, 4]]);
    assert_eq!(addrs[1].rtype, RType::AAAA);
    assert_eq!(addrs[1].rdatas[0].len(), 16);
    assert!(addrs.iter().all(|r| r.sigs.is_empty()));
}

#[test]
fn reads_a_test_world_file() {
    let text = "\
$TTL 86400
; a private root with two servers, one IPv4 only
.                 NS  ns1.root.test.
.                 NS  NS2.root.test.
.                 NS  ns1.root.test.   ; repeated
ns1.root.test.    A     127.1.0.1
ns1.root.test.    AAAA  ::1
ns1.root.test.    A     127.1.0.2
ns2.root.test.    3600 A  127.1.0.3
other.test.       A     127.9.9.9     ; not a root server: ignored
root.test.        TXT   \"ignored\"
";
    let h = parse(text).unwrap();
    assert_eq!(h.servers().len(), 2);
    let s1 = &h.servers()[0];
    assert_eq!(s1.name, name("ns1.root.test."));
    let want: Vec<IpAddr> = ["127.1.0.1", "127.1.0.2", "::1"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(s1.addrs, want);
    assert_eq!(
        h.servers()[1].addrs,
        vec!["127.1.0.3".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(h.ns_rrset().ttl, 86400);
    assert_eq!(h.ns_rrset().rdatas.len(), 2);
    // One A RRset with the smallest TTL of the addresses, plus one AAAA.
    let addrs = h.address_rrsets();
    assert_eq!(addrs.len(), 3);
    assert!(addrs.iter().all(|r| r.ttl == 3600));
    assert_eq!(addrs[0].rdatas.len(), 2);
}

#[test]
fn servers_without_address_are_dropped() {
    let h = parse(". NS a.test.\n. NS b.test.\nb.test. A 127.0.0.2\n").unwrap();
    assert_eq!(h.servers().len(), 1);
    assert_eq!(h.servers()[0].name, name("b.test."));
}

#[test]
fn syntax_errors_carry_their_location() {
    let e = error(". 3600 NS a.test.\na.test. 3600 A 300.1.1.1\n");
    assert_eq!(e, "hints.zone:3:16: bad A RDATA: expected an IPv4 address");
    // Every error is reported, one per line.
    let e = error("a.test. A 1.2.3\n. NS a.test.\nb.test. A nonsense\n");
    assert_eq!(e.lines().count(), 2, "{e}");
    assert!(
        e.lines().next().unwrap().starts_with("hints.zone:2:"),
        "{e}"
    );
    assert!(
        e.lines().nth(1).unwrap().starts_with("hints.zone:4:"),
        "{e}"
    );
}

#[test]
fn ns_below_the_root_is_refused_with_its_location() {
    let e = error(". NS a.test.\na.test. A 127.0.0.1\n\ntest. NS a.test.\n");
    assert!(e.starts_with("hints.zone:5:1:"), "{e}");
    assert!(e.contains("only the root's NS"), "{e}");
}

#[test]
fn files_without_usable_servers_are_refused() {
    let e = error("");
    assert_eq!(
        e,
        "hints.zone: no NS record for the root (.): a hints file lists the root's name \
         servers (`. NS a.root-servers.net.`) and their addresses"
    );
    let e = error("a.test. A 127.0.0.1\n");
    assert!(e.contains("no NS record for the root"), "{e}");
    let e = error(". NS a.test.\n. NS b.test.\nc.test. A 127.0.0.1\n");
    assert!(
        e.starts_with("hints.zone: none of the 2 root name servers"),
        "{e}"
    );
}

#[test]
fn other_classes_are_refused() {
    let e = error(". CH NS a.test.\n");
    assert!(e.starts_with("hints.zone:2:3:"), "{e}");
    assert!(e.contains("only IN"), "{e}");
}

#[test]
fn too_many_servers_are_refused() {
    let mut text = String::new();
    for i in 0..=MAX_HINT_SERVERS {
        text.push_str(&format!(". NS ns{i}.test.\nns{i}.test. A 127.0.0.1\n"));
    }
    let e = error(&text);
    assert!(e.contains("more than 64"), "{e}");
}

#[test]
fn from_file_reads_and_reports_the_path() {
    let dir = std::env::temp_dir().join(format!("portcullis-hints-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("named.root");
    std::fs::write(&good, builtin_as_named_root()).unwrap();
    assert_eq!(Hints::from_file(&good).unwrap(), Hints::builtin());

    let bad = dir.join("bad.root");
    std::fs::write(&bad, ". 60 NS a.test.\na.test. 60 A x\n").unwrap();
    let e = Hints::from_file(&bad).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:2:", bad.display())), "{e}");

    let missing = dir.join("missing.root");
    let e = Hints::from_file(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:1:1:", missing.display())), "{e}");
    assert!(e.contains("cannot read"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
