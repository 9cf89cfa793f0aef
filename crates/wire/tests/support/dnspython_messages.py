"""Reference side of the message differential test, using dnspython.

gen SEED COUNT: prints JSON, a list of messages that dnspython builds (with its own name
compression) and, for each, its records in uncompressed wire form.
check: reads the same JSON shape on stdin (messages that Portcullis wrote) and exits non-zero
with a description when dnspython reads any of them differently.
"""
import json
import random
import sys

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SAMPLES = {
    "A": ["192.0.2.1", "10.0.0.255"],
    "AAAA": ["2001:db8::1", "::"],
    "NS": ["ns1.{z}", "ns.other.test."],
    "CNAME": ["target.{z}", "elsewhere.test."],
    "PTR": ["host.{z}"],
    "MX": ["10 mail.{z}", "0 ."],
    "SOA": ["ns1.{z} hostmaster.{z} 2024010101 7200 3600 1209600 300"],
    "TXT": ['"hello world"', '"a" "b" "c"', '""'],
    "SRV": ["0 5 5060 sip.{z}"],
    "NAPTR": ['100 10 "U" "E2U+sip" "!^.*$!sip:info@example.test!" .'],
    "CAA": ['0 issue "ca.example.net"'],
    "DS": ["60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"],
    "SSHFP": ["1 1 123456789abcdef67890123456789abcdef67890"],
    "TLSA": ["3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
    "HINFO": ['"PC" "Linux"'],
    "TYPE65280": [r"\# 3 010203", r"\# 0"],
}
LABELS = ["www", "mail", "a", "B", "xn--bcher-kva", "deep", "Sub", "x1"]


def random_name(rng, zone):
    labels = [rng.choice(LABELS) for _ in range(rng.randint(0, 3))]
    return dns.name.from_text(".".join(labels + [zone]) if labels else zone)


def wire_hex(name):
    return name.to_wire().hex()


def records_of(msg):
    out = []
    for section_name, section in (("answer", msg.answer), ("authority", msg.authority), ("additional", msg.additional)):
        for rrset in section:
            for rd in rrset:
                out.append([section_name, wire_hex(rrset.name), int(rrset.rdtype), int(rrset.rdclass), rrset.ttl, rd.to_wire().hex()])
    return sorted(out)


def gen(seed, count):
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        zone = rng.choice(["example.test.", "Example.TEST.", "a.b.c.test."])
        qname = random_name(rng, zone)
        query = dns.message.make_query(qname, rng.choice(["A", "MX", "TXT", "SOA"]), use_edns=rng.random() < 0.5)
        msg = dns.message.make_response(query)
        for section in (msg.answer, msg.authority, msg.additional):
            for _ in range(rng.randint(0, 3)):
                rtype = rng.choice(sorted(SAMPLES))
                owner = random_name(rng, zone)
                texts = rng.sample(SAMPLES[rtype], rng.randint(1, len(SAMPLES[rtype])))
                rrset = dns.rrset.from_text_list(owner, rng.randint(0, 86400), "IN", rtype, [t.format(z=zone) for t in texts])
                if not any(r.match(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers) for r in section):
                    section.append(rrset)
        wire = msg.to_wire()
        # Records as dnspython reads its own wire: compression may change the case of a name.
        messages.append({"wire": wire.hex(), "records": records_of(dns.message.from_wire(wire))})
    json.dump(messages, sys.stdout)


def check():
    problems = []
    for i, item in enumerate(json.load(sys.stdin)):
        msg = dns.message.from_wire(bytes.fromhex(item["wire"]))
        got = records_of(msg)
        want = sorted(item["records"])
        if got != want:
            problems.append(f"message {i}: dnspython read {got}, expected {want}")
    if problems:
        print("\n".join(problems[:5]))
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    else:
        check()
