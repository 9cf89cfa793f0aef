#!/usr/bin/env python3
"""A tiny DNS over QUIC (RFC 9250) server on aioquic and dnspython, for testing Portcullis's
DoQ client (`portcullis query +quic`, `transport::doq_client::DoqClient`) against an
implementation other than its own server.

    doq_server.py CERT KEY PORT

It listens on 127.0.0.1:PORT (UDP) with ALPN "doq", prints "ready" once it does, then one line
per query ("query id=ID NAME TYPE") on standard output. It answers a fixed zone (below): the
records asked for, NXDOMAIN for other names under example.test., REFUSED elsewhere. Each query
must come alone on its own bidirectional stream, behind its 2-byte length, with message ID 0
and the stream's FIN; anything else closes the connection with DOQ_PROTOCOL_ERROR (0x2), as the
RFC says. It runs until killed.
"""

import asyncio
import sys

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived

DOQ_PROTOCOL_ERROR = 0x2
ORIGIN = dns.name.from_text("example.test.")
ZONE = {
    ("www.example.test.", "A"): ["192.0.2.1"],
    ("www.example.test.", "AAAA"): ["2001:db8::1"],
    ("txt.example.test.", "TXT"): ['"served by aioquic"'],
}


def answer(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    if not question.name.is_subdomain(ORIGIN):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    key = (question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype))
    if key in ZONE:
        rrset = dns.rrset.from_text_list(
            question.name, 300, dns.rdataclass.IN, question.rdtype, ZONE[key]
        )
        response.answer.append(rrset)
    elif not any(name == key[0] for name, _ in ZONE):
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


class DoqProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.streams = {}

    def quic_event_received(self, event):
        if not isinstance(event, StreamDataReceived):
            return
        data = self.streams.get(event.stream_id, b"") + event.data
        self.streams[event.stream_id] = data
        if not event.end_stream:
            return
        del self.streams[event.stream_id]
        length = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
        if event.stream_id % 4 != 0 or length != len(data) - 2:
            self.fail("not one framed query on a client bidirectional stream")
            return
        try:
            query = dns.message.from_wire(data[2:])
        except Exception as e:  # noqa: BLE001 - any parse failure breaks the protocol here
            self.fail(f"malformed query: {e}")
            return
        print(
            f"query id={query.id} {query.question[0].name} "
            f"{dns.rdatatype.to_text(query.question[0].rdtype)}",
            flush=True,
        )
        if query.id != 0:
            self.fail("non-zero message ID")
            return
        wire = answer(query).to_wire()
        self._quic.send_stream_data(
            event.stream_id, len(wire).to_bytes(2, "big") + wire, end_stream=True
        )
        self.transmit()

    def fail(self, why):
        print(f"protocol error: {why}", flush=True)
        self._quic.close(error_code=DOQ_PROTOCOL_ERROR, reason_phrase=why)
        self.transmit()


async def main(cert, key, port):
    config = QuicConfiguration(alpn_protocols=["doq"], is_client=False)
    config.load_cert_chain(cert, key)
    await serve("127.0.0.1", port, configuration=config, create_protocol=DoqProtocol)
    print("ready", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
