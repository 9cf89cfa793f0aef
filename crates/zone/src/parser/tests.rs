//! Tests of the parser, filed by directive and rule.

use super::*;

fn origin() -> Name {
    "example.".parse().unwrap()
}

fn parse(text: &str) -> Vec<Record> {
    parse_str(text, Path::new("t.zone"), origin().as_ref())
        .collect_all()
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// Each record as its Display line.
fn lines(text: &str) -> Vec<String> {
    parse(text).iter().map(|r| r.to_string()).collect()
}

/// The first error, as `line:column: message`.
fn error(text: &str) -> String {
    let e = parse_str(text, Path::new("t.zone"), origin().as_ref())
        .find_map(Result::err)
        .unwrap_or_else(|| panic!("no error in {text:?}"));
    assert_eq!(&*e.loc.file, Path::new("t.zone"));
    format!("{}:{}: {}", e.loc.line, e.loc.column, e.message)
}

const SOA: &str = "@ 3600 IN SOA ns hostmaster 1 7200 900 1209600 300\n";

#[test]
fn a_small_zone() {
    let text = format!("{SOA}  NS ns\nns A 192.0.2.1\nwww.example. 60 AAAA 2001:db8::1\n");
    assert_eq!(
        lines(&text),
        [
            "example.\t3600\tIN\tSOA\tns.example. hostmaster.example. 1 7200 900 1209600 300",
            "example.\t3600\tIN\tNS\tns.example.",
            "ns.example.\t3600\tIN\tA\t192.0.2.1",
            "www.example.\t60\tIN\tAAAA\t2001:db8::1",
        ]
    );
}

#[test]
fn records_carry_their_location() {
    let r = parse("$TTL 1\na A 1.2.3.4\n  AAAA ::1\n");
    let at = |r: &Record| r.loc.as_ref().map(|l| (l.line, l.column));
    assert_eq!(at(&r[0]), Some((2, 1)));
    assert_eq!(at(&r[1]), Some((3, 3)));
}

#[test]
fn ttl_and_class_in_either_order() {
    assert_eq!(
        lines(
            "a 300 IN A 1.1.1.1\nb IN 301 A 1.1.1.2\nc IN A 1.1.1.3\nd 1h2m A 1.1.1.4\ne in A 1.1.1.5\n"
        ),
        [
            "a.example.\t300\tIN\tA\t1.1.1.1",
            "b.example.\t301\tIN\tA\t1.1.1.2",
            "c.example.\t301\tIN\tA\t1.1.1.3",
            "d.example.\t3720\tIN\tA\t1.1.1.4",
            "e.example.\t3720\tIN\tA\t1.1.1.5",
        ]
    );
}

#[test]
fn ttl_rules() {
    // $TTL wins over the last explicit TTL.
    let ttls = |t: &str| parse(t).iter().map(|r| r.ttl).collect::<Vec<_>>();
    assert_eq!(ttls("$TTL 10\na 20 A 1.1.1.1\nb A 1.1.1.1\n"), [20, 10]);
    // Without $TTL, the last explicit TTL (RFC 1035).
    assert_eq!(ttls("a 20 A 1.1.1.1\nb A 1.1.1.1\n"), [20, 20]);
    // Without either, the SOA MINIMUM, the SOA's own included.
    assert_eq!(ttls("@ SOA ns h 1 2 3 4 55\nb A 1.1.1.1\n"), [55, 55]);
    // The last explicit TTL wins over the SOA MINIMUM.
    assert_eq!(ttls(&format!("{SOA}b A 1.1.1.1\n")), [3600, 3600]);
    // $TTL later in the file applies from there on.
    assert_eq!(
        ttls("a 5 A 1.1.1.1\n$TTL 6\nb A 1.1.1.1\nc 7 A 1.1.1.1\nd A 1.1.1.1\n"),
        [5, 6, 7, 6]
    );
    assert_eq!(
        error("a A 1.1.1.1\n"),
        "1:3: no TTL for this record: give it one, or set a default with $TTL"
    );
    assert_eq!(
        error("$TTL 2147483648\n"),
        "1:6: TTL 2147483648 is above the largest, 2147483647 (RFC 2181 section 8)"
    );
    assert_eq!(
        error("$TTL 1x\n"),
        "1:6: bad TTL '1x': expected seconds, or a duration like 1h30m"
    );
    assert_eq!(
        error("a 1y A 1.1.1.1\n"),
        "1:3: bad TTL '1y': expected seconds, or a duration like 1h30m"
    );
}

#[test]
fn owner_inheritance_and_relative_names() {
    let text = "$TTL 1\n@ A 1.1.1.1\n  A 1.1.1.2\nsub A 1.1.1.3\n\tTXT x\nabs.other. A 1.1.1.4\n A 1.1.1.5\n";
    let owners: Vec<String> = parse(text).iter().map(|r| r.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "example.",
            "example.",
            "sub.example.",
            "sub.example.",
            "abs.other.",
            "abs.other."
        ]
    );
    assert_eq!(
        error(" A 1.1.1.1\n"),
        "1:2: no owner name: this line starts with a blank, but no record came before it"
    );
}

#[test]
fn origin_directive() {
    let text =
        "$TTL 1\n$ORIGIN sub\na A 1.1.1.1\n$ORIGIN other.\n@ MX 10 mx\n$origin .\nb. CNAME c\n";
    assert_eq!(
        lines(text),
        [
            "a.sub.example.\t1\tIN\tA\t1.1.1.1",
            "other.\t1\tIN\tMX\t10 mx.other.",
            "b.\t1\tIN\tCNAME\tc."
        ]
    );
    assert_eq!(error("$ORIGIN\n"), "1:8: expected $ORIGIN name");
    assert_eq!(
        error("$ORIGIN a b\n"),
        "1:11: unexpected field: the form is $ORIGIN name"
    );
    assert_eq!(
        error("$ORIGIN a..b\n"),
        "1:9: bad $ORIGIN name: empty label"
    );
}

#[test]
fn parentheses_comments_quotes_escapes() {
    let text = "$TTL 1\n@ SOA ns host ( ; comment\n 1 ; serial\n 2 3 4 5 )\n\
                t TXT \"a b;c (d)\" \"q\\\"\" plain\\;x\nesc\\.aped\\032x A 1.1.1.1\n";
    assert_eq!(
        lines(text),
        [
            "example.\t1\tIN\tSOA\tns.example. host.example. 1 2 3 4 5",
            "t.example.\t1\tIN\tTXT\t\"a b;c (d)\" \"q\\\"\" \"plain;x\"",
            "esc\\.aped\\032x.example.\t1\tIN\tA\t1.1.1.1",
        ]
    );
}

#[test]
fn generic_forms() {
    assert_eq!(
        lines("$TTL 1\na TYPE65280 \\# 3 abcdef\nb A \\# 4 C0000201\nc CLASS1 TYPE1 1.2.3.4\n"),
        [
            "a.example.\t1\tIN\tTYPE65280\t\\# 3 ABCDEF",
            "b.example.\t1\tIN\tA\t192.0.2.1",
            "c.example.\t1\tIN\tA\t1.2.3.4"
        ]
    );
}

#[test]
fn errors_name_line_and_column() {
    assert_eq!(
        error("$TTL 1\na CH A 1.1.1.1\n"),
        "2:3: class CH is not supported: only IN"
    );
    assert_eq!(
        error("$TTL 1\na HS 5 A 1.1.1.1\n"),
        "2:3: class HS is not supported: only IN"
    );
    assert_eq!(
        error("$TTL 1\na 5 BOGUS 1.1.1.1\n"),
        "2:5: expected a record type, found 'BOGUS'"
    );
    assert_eq!(error("$TTL 1\na 5\n"), "2:4: expected a record type");
    assert_eq!(
        error("$TTL 1\na 5 \"A\" 1.1.1.1\n"),
        "2:5: expected a record type, found 'A'"
    );
    assert_eq!(
        error("$TTL 1\na AXFR 1.1.1.1\n"),
        "2:3: AXFR is a query type and cannot appear in a zone"
    );
    assert_eq!(
        error("$TTL 1\na ANY A 1.1.1.1\n"),
        "2:3: class ANY is not supported: only IN"
    );
    assert_eq!(
        error("$TTL 1\na A 1.1.1\n"),
        "2:5: bad A RDATA: expected an IPv4 address"
    );
    assert_eq!(
        error("$TTL 1\na A\n"),
        "2:4: bad A RDATA: expected IPv4 address"
    );
    assert_eq!(
        error("$TTL 1\na MX 10 b c\n"),
        "2:11: bad MX RDATA: unexpected extra field"
    );
    assert_eq!(
        error("$TTL 1\na MX (\n 10\n  bad..name )\n"),
        "4:3: bad MX RDATA: bad exchange host: empty label"
    );
    assert_eq!(
        error("$TTL 1\na SOA ns h ( 1 2\n 3 4 )\n"),
        "3:5: bad SOA RDATA: expected minimum"
    );
    assert_eq!(
        error("$TTL 1\na..b A 1.1.1.1\n"),
        "2:1: bad owner name: empty label"
    );
    assert_eq!(
        error("$TTL 1\nx TYPE9 \\# 2 ab\n"),
        "2:16: bad MR RDATA: \\# length is 2 but 1 bytes of hex follow"
    );
    assert_eq!(
        error("$FOO 1\n"),
        "1:1: unknown directive '$FOO': expected $ORIGIN, $TTL, $INCLUDE or $GENERATE"
    );
    assert_eq!(
        error("$TTL 1\na A 1.1.1.1 )\n"),
        "2:13: ')' without a matching '('"
    );
    assert_eq!(
        error("$TTL 1\na ( A\n1.1.1.1\n"),
        "2:3: '(' is not closed before the end of the file"
    );
    assert_eq!(
        error("$TTL 1\na TXT \"x\n"),
        "2:7: quoted string not closed on its line"
    );
    assert_eq!(
        error("$TTL 1\na TXT x\\\n"),
        "2:8: escape '\\' at the end of a line"
    );
}

#[test]
fn directive_errors() {
    assert_eq!(error("$TTL\n"), "1:5: expected $TTL ttl");
    assert_eq!(
        error("$TTL 1 2\n"),
        "1:8: unexpected field: the form is $TTL ttl"
    );
    assert_eq!(error("$INCLUDE\n"), "1:9: expected $INCLUDE file [origin]");
    assert_eq!(
        error("$INCLUDE a b c\n"),
        "1:14: unexpected field: the form is $INCLUDE file [origin]"
    );
    assert_eq!(
        error("$INCLUDE a b..c\n"),
        "1:12: bad $INCLUDE origin: empty label"
    );
    let e = parse_str(
        b"$INCLUDE \"\xff\"\n",
        Path::new("t.zone"),
        origin().as_ref(),
    )
    .find_map(Result::err)
    .unwrap();
    assert_eq!(
        e.to_string(),
        "t.zone:1:10: the $INCLUDE file name is not UTF-8"
    );
    assert_eq!(
        error("$GENERATE 1-2 a\n"),
        "1:16: expected $GENERATE range owner [ttl] [class] type rdata"
    );
    assert_eq!(
        error("$TTL 1\na CLASS3 A 1.1.1.1\n"),
        "2:3: class CH is not supported: only IN"
    );
    // A directive is recognised only at the start of a line.
    assert_eq!(
        error("$TTL 1\na A 1.1.1.1\n $TTL 5\n"),
        "3:2: expected a record type, found '$TTL'"
    );
}

#[test]
fn goes_on_after_an_error() {
    let text = "$TTL 1\na A 1\nb A 1.1.1.1\nc ) A\nd A 2.2.2.2\ne FOO x\n";
    let items: Vec<_> = parse_str(text, Path::new("t.zone"), origin().as_ref()).collect();
    let summary: Vec<String> = items
        .iter()
        .map(|i| match i {
            Ok(r) => r.owner.to_string(),
            Err(e) => format!("{}:{}", e.loc.line, e.loc.column),
        })
        .collect();
    assert_eq!(summary, ["2:5", "b.example.", "4:3", "d.example.", "6:3"]);
    let err = parse_str(text, Path::new("t.zone"), origin().as_ref())
        .collect_all()
        .unwrap_err();
    assert_eq!(err.len(), 3);
    assert_eq!(
        err[0].to_string(),
        "t.zone:2:5: bad A RDATA: expected an IPv4 address"
    );
}

#[test]
fn generate_directive() {
    // BIND's ARM example (RFC 2317 delegation).
    let text = "$TTL 1\n$ORIGIN 0.0.192.IN-ADDR.ARPA.\n$GENERATE 1-2 @ NS SERVER$.EXAMPLE.\n$GENERATE 1-127 $ CNAME $.0\n";
    let got = lines(text);
    assert_eq!(got.len(), 129);
    assert_eq!(got[0], "0.0.192.IN-ADDR.ARPA.\t1\tIN\tNS\tSERVER1.EXAMPLE.");
    assert_eq!(got[1], "0.0.192.IN-ADDR.ARPA.\t1\tIN\tNS\tSERVER2.EXAMPLE.");
    assert_eq!(
        got[2],
        "1.0.0.192.IN-ADDR.ARPA.\t1\tIN\tCNAME\t1.0.0.0.192.IN-ADDR.ARPA."
    );
    assert_eq!(
        got[128],
        "127.0.0.192.IN-ADDR.ARPA.\t1\tIN\tCNAME\t127.0.0.0.192.IN-ADDR.ARPA."
    );
    // TTL and class in either order, step, quoted RDATA, modifiers.
    let text = "$TTL 1\n$GENERATE 0-4/2 h${1,2} IN 60 A 10.0.0.$\n$GENERATE 1-2 @ 7 MX \"10 mx${0,0,x}\"\n\
                $GENERATE 10-11 ${0,3,n} PTR host$.\n";
    assert_eq!(
        lines(text),
        [
            "h01.example.\t60\tIN\tA\t10.0.0.0",
            "h03.example.\t60\tIN\tA\t10.0.0.2",
            "h05.example.\t60\tIN\tA\t10.0.0.4",
            "example.\t7\tIN\tMX\t10 mx1.example.",
            "example.\t7\tIN\tMX\t10 mx2.example.",
            // $TTL wins over the last explicit TTL.
            "a.0.example.\t1\tIN\tPTR\thost10.",
            "b.0.example.\t1\tIN\tPTR\thost11.",
        ]
    );
    let r = parse("$TTL 1\n\n$GENERATE 1-2 a$ A 1.1.1.$\n");
    assert_eq!(r[1].loc.as_ref().map(|l| (l.line, l.column)), Some((3, 1)));
}

#[test]
fn generate_errors() {
    assert_eq!(
        error("$TTL 1\n$GENERATE 0-65536 a$ A 1.1.1.1\n"),
        "2:11: $GENERATE would make 65537 records; the limit is 65536 per directive"
    );
    assert_eq!(parse("$TTL 1\n$GENERATE 1-65536 a$ TXT x\n").len(), 65_536);
    assert_eq!(
        error("$TTL 1\n$GENERATE 5-1 a$ A 1.1.1.1\n"),
        "2:11: range start 5 is above its stop 1"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a${x} A 1.1.1.1\n"),
        "2:16: bad modifier '${x}': the offset must be an integer"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a A \"1.1.1.${0,1,q}\"\n"),
        "2:26: bad modifier '${0,1,q}': the base must be one of d, o, x, X, n, N"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a MX 10 b$\n"),
        "2:23: unexpected field after the $GENERATE RDATA (quote RDATA that has blanks)"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a$ A\n"),
        "2:19: expected $GENERATE range owner [ttl] [class] type rdata"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a$ CH A 1.1.1.$\n"),
        "2:18: class CH is not supported: only IN"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 250-256 a$ A 1.1.1.$\n"),
        "2:24: $GENERATE value 256: bad RDATA '1.1.1.256': expected an IPv4 address"
    );
    assert_eq!(
        error("$TTL 1\n$GENERATE 1-2 a${-2} A 1.1.1.1\n"),
        "2:15: offset -2 makes the value for 1 negative"
    );
    assert_eq!(
        error("$GENERATE 1-2 a$ A 1.1.1.1\n"),
        "1:18: no TTL for these records: give them one, or set a default with $TTL"
    );
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("portcullis-zone-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse_path(path: &Path) -> Vec<Result<Record, ParseError>> {
    parse_file(path, origin().as_ref()).collect()
}

#[test]
fn include_directive() {
    let dir = TempDir::new("include");
    dir.write(
        "sub.zone",
        "$ORIGIN deeper\nx A 10.0.0.1\n  A 10.0.0.2\n$TTL 99\n",
    );
    std::fs::create_dir_all(dir.0.join("more")).unwrap();
    dir.write("more/leaf.zone", "y A 10.0.0.3\n");
    let main = dir.write(
        "main.zone",
        "$TTL 5\nw A 10.0.0.0\n$INCLUDE sub.zone sub\n  A 10.0.0.4\nafter A 10.0.0.5\n$INCLUDE more/leaf.zone\n",
    );
    let got: Vec<String> = parse_path(&main)
        .into_iter()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "w.example.\t5\tIN\tA\t10.0.0.0",
            "x.deeper.sub.example.\t5\tIN\tA\t10.0.0.1",
            "x.deeper.sub.example.\t5\tIN\tA\t10.0.0.2",
            // The owner and the origin come back; $TTL stays.
            "w.example.\t99\tIN\tA\t10.0.0.4",
            "after.example.\t99\tIN\tA\t10.0.0.5",
            "y.example.\t99\tIN\tA\t10.0.0.3",
        ]
    );
    let records: Vec<Record> = parse_path(&main).into_iter().map(Result::unwrap).collect();
    let l = records[1].loc.as_ref().unwrap();
    assert_eq!(
        (&*l.file, l.line, l.column),
        (dir.0.join("sub.zone").as_path(), 2, 1)
    );
}

#[test]
fn include_errors() {
    let dir = TempDir::new("include-errors");
    let main = dir.write("main.zone", "$TTL 5\n$INCLUDE missing.zone\na A 1.1.1.1\n");
    let got = parse_path(&main);
    let e = got[0].as_ref().unwrap_err();
    assert_eq!((e.loc.line, e.loc.column), (2, 10));
    assert!(e.message.starts_with("cannot read "), "{e}");
    assert!(got[1].is_ok());

    // A device never ends: it is refused, not read.
    let dev = dir.write("dev.zone", "$INCLUDE /dev/zero\n");
    let e = parse_path(&dev)[0].as_ref().unwrap_err().message.clone();
    assert!(e.contains("not a regular file"), "{e}");

    // A cycle: a includes b includes a.
    let a = dir.write("a.zone", "$TTL 5\n$INCLUDE b.zone\n");
    dir.write("b.zone", "x A 1.1.1.1\n$INCLUDE ./a.zone\n");
    let got = parse_path(&a);
    assert!(got[0].is_ok());
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(
        (&*e.loc.file, e.loc.line, e.loc.column),
        (dir.0.join("b.zone").as_path(), 2, 10)
    );
    assert!(e.message.contains("$INCLUDE cycle"), "{e}");
    assert_eq!(got.len(), 2);

    // A file including itself.
    let s = dir.write("self.zone", "$INCLUDE self.zone\n");
    assert!(
        parse_path(&s)[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("cycle")
    );

    // Depth: d0 includes d1 ... ; eight levels are fine, nine are not.
    for i in 0..10 {
        dir.write(
            &format!("d{i}.zone"),
            &format!("$TTL 1\nd{i} A 1.1.1.1\n$INCLUDE d{}.zone\n", i + 1),
        );
    }
    dir.write("d8.zone", "d8 A 1.1.1.1\n");
    assert_eq!(
        parse_path(&dir.0.join("d0.zone"))
            .into_iter()
            .filter(Result::is_ok)
            .count(),
        9
    );
    dir.write("d8.zone", "d8 A 1.1.1.1\n$INCLUDE d9.zone\n");
    let got = parse_path(&dir.0.join("d0.zone"));
    let e = got.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:1: $INCLUDE nested deeper than 8 files",
            dir.0.join("d8.zone").display()
        )
    );

    // A file that cannot be read at all.
    let got = parse_path(&dir.0.join("nope.zone"));
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .as_ref()
            .unwrap_err()
            .message
            .starts_with("cannot read the zone file")
    );
}

#[test]
fn non_utf8_input_is_an_error_not_a_panic() {
    let text: &[u8] = b"$TTL 1\n\xff\xfe A 1.1.1.1\nb TXT \"\xc3\x28\"\n\xff A \xff\n";
    let items: Vec<_> = parse_str(text, Path::new("t.zone"), origin().as_ref()).collect();
    assert_eq!(
        items[0].as_ref().unwrap().owner.as_wire(),
        b"\x02\xff\xfe\x07example\x00"
    );
    assert_eq!(items[1].as_ref().unwrap().rdata, b"\x02\xc3\x28");
    assert!(items[2].is_err());
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(b"abcxyz019-_*".to_vec()), 1..8),
            proptest::collection::vec(any::<u8>(), 1..6),
        ]
    }

    fn name() -> impl Strategy<Value = Name> {
        proptest::collection::vec(label(), 0..4)
            .prop_map(|labels| Name::from_labels(labels.iter().map(Vec::as_slice)).unwrap())
    }

    fn record() -> impl Strategy<Value = Record> {
        let rdata = prop_oneof![
            any::<[u8; 4]>().prop_map(|a| (RType::A, a.to_vec())),
            any::<[u8; 16]>().prop_map(|a| (RType::AAAA, a.to_vec())),
            name().prop_map(|n| (RType::NS, n.as_wire().to_vec())),
            name().prop_map(|n| (RType::CNAME, n.as_wire().to_vec())),
            (any::<u16>(), name()).prop_map(|(p, n)| {
                let mut v = p.to_be_bytes().to_vec();
                v.extend_from_slice(n.as_wire());
                (RType::MX, v)
            }),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4)
                .prop_map(|strings| {
                    let mut v = Vec::new();
                    for s in strings {
                        v.push(s.len() as u8);
                        v.extend(s);
                    }
                    (RType::TXT, v)
                }),
            (name(), name(), any::<[u32; 5]>()).prop_map(|(m, r, nums)| {
                let mut v = m.as_wire().to_vec();
                v.extend_from_slice(r.as_wire());
                for n in nums {
                    v.extend_from_slice(&n.to_be_bytes());
                }
                (RType::SOA, v)
            }),
            (
                1000u16..65000,
                proptest::collection::vec(any::<u8>(), 0..10)
            )
                .prop_map(|(t, v)| (RType(t), v)),
        ];
        (name(), 0..=MAX_TTL, rdata).prop_map(|(owner, ttl, (rtype, rdata))| Record {
            owner,
            class: Class::IN,
            rtype,
            ttl,
            rdata,
            loc: None,
        })
    }

    proptest! {
        #[test]
        fn display_then_parse_gives_the_records_back(records in proptest::collection::vec(record(), 1..8)) {
            let text: String = records.iter().map(|r| format!("{r}\n")).collect();
            let back = parse_str(&text, Path::new("t.zone"), NameRef::ROOT).collect_all();
            let back = back.map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
            prop_assert_eq!(back.len(), records.len());
            for (a, b) in records.iter().zip(&back) {
                prop_assert_eq!(a.owner.as_wire(), b.owner.as_wire());
                prop_assert_eq!((a.class, a.rtype, a.ttl), (b.class, b.rtype, b.ttl));
                prop_assert_eq!(&a.rdata, &b.rdata);
            }
        }
    }
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    /// Pieces that reach every branch of the lexer and the parser.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let words: Vec<&'static [u8]> = vec![
            b" ",
            b"\t",
            b"\n",
            b"(",
            b")",
            b"\"",
            b";",
            b"\\",
            b"\\0",
            b"$",
            b"${",
            b"}",
            b",",
            b"-",
            b"/",
            b"@",
            b".",
            b"$ORIGIN",
            b"$TTL",
            b"$INCLUDE",
            b"$GENERATE",
            b"1-3",
            b"0-2/2",
            b"a$",
            b"${1,2,n}",
            b"${-9}",
            b"IN",
            b"CH",
            b"300",
            b"1h",
            b"A",
            b"AAAA",
            b"MX",
            b"SOA",
            b"TXT",
            b"TYPE65280",
            b"\\#",
            b"4",
            b"c0000201",
            b"192.0.2.1",
            b"::1",
            b"x",
            b"\xff",
        ];
        prop_oneof![
            proptest::sample::select(words).prop_map(<[u8]>::to_vec),
            proptest::collection::vec(any::<u8>(), 1..4)
        ]
    }

    proptest! {
        #[test]
        fn any_input_gives_records_or_errors(pieces in proptest::collection::vec(piece(), 0..60)) {
            let text: Vec<u8> = pieces.concat();
            // Includes of missing files only fail; nothing here may panic or loop forever.
            let n = parse_str(&text, Path::new("/nonexistent/t.zone"), origin().as_ref()).take(200_000).count();
            prop_assert!(n < 200_000);
        }
    }
}
