"""Reference side of the RDATA differential test, using dnspython.

Reads lines `TYPE<TAB>presentation RDATA` on stdin and prints, for each, `ok HEX` with the
uncompressed wire form dnspython makes of it (relative names complete with example.com.), or
`err MESSAGE` when dnspython rejects it.
"""
import sys

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

ORIGIN = dns.name.from_text("example.com.")

for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    rtype, text = line.split("\t", 1)
    try:
        rd = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=ORIGIN, relativize=False
        )
        print("ok " + rd.to_wire().hex())
    except Exception as e:  # noqa: BLE001 - any rejection is reported, not raised
        print("err " + type(e).__name__ + ": " + str(e).replace("\n", " "))
