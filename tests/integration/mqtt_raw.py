"""mqtt_raw - a tiny, independent MQTT 3.1.1/5 packet builder and reader for
the integration tests.

It exists so that tests can say exactly what goes on the wire (malformed
packets, half packets, properties paho does not expose) and see exactly what
comes back (reason codes, flags, packet sizes).  It deliberately shares no
code with the server's C codec: a bug copied into both would pass unnoticed.
Builders return bytes; RawClient owns one socket (plain, TLS or WebSocket)
and reads whole packets with a deadline, keeping unrelated packets for later.
"""

import base64
import hashlib
import os
import socket
import struct
import time
from collections import deque

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

TYPE_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
              6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
              10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
              14: "DISCONNECT", 15: "AUTH"}

DEFAULT_TIMEOUT = 10.0

# MQTT 5 properties: id -> (name, wire type).
PROPS = {
    0x01: ("PayloadFormatIndicator", "byte"),
    0x02: ("MessageExpiryInterval", "u32"),
    0x03: ("ContentType", "str"),
    0x08: ("ResponseTopic", "str"),
    0x09: ("CorrelationData", "bin"),
    0x0B: ("SubscriptionIdentifier", "varint"),
    0x11: ("SessionExpiryInterval", "u32"),
    0x12: ("AssignedClientIdentifier", "str"),
    0x13: ("ServerKeepAlive", "u16"),
    0x15: ("AuthenticationMethod", "str"),
    0x16: ("AuthenticationData", "bin"),
    0x17: ("RequestProblemInformation", "byte"),
    0x18: ("WillDelayInterval", "u32"),
    0x19: ("RequestResponseInformation", "byte"),
    0x1A: ("ResponseInformation", "str"),
    0x1C: ("ServerReference", "str"),
    0x1F: ("ReasonString", "str"),
    0x21: ("ReceiveMaximum", "u16"),
    0x22: ("TopicAliasMaximum", "u16"),
    0x23: ("TopicAlias", "u16"),
    0x24: ("MaximumQoS", "byte"),
    0x25: ("RetainAvailable", "byte"),
    0x26: ("UserProperty", "pair"),
    0x27: ("MaximumPacketSize", "u32"),
    0x28: ("WildcardSubscriptionAvailable", "byte"),
    0x29: ("SubscriptionIdentifierAvailable", "byte"),
    0x2A: ("SharedSubscriptionAvailable", "byte"),
}
PROP_IDS = {name: (pid, typ) for pid, (name, typ) in PROPS.items()}


class MalformedError(Exception):
    """What the server sent does not parse as MQTT."""


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection."""


# ---------------------------------------------------------------- encoding

def varint(n):
    """Variable byte integer (remaining length, subscription id)."""
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def mstr(s):
    """Length-prefixed string; bytes pass through unchanged (for bad UTF-8)."""
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return u16(len(b)) + b


def props(plist):
    """Encode a property list [(name, value), ...] with its length prefix.

    A list, not a dict, so that order and repeated properties (UserProperty,
    SubscriptionIdentifier) are kept; a dict is accepted for convenience.
    """
    if plist is None:
        plist = []
    if isinstance(plist, dict):
        plist = list(plist.items())
    body = bytearray()
    for name, value in plist:
        pid, typ = PROP_IDS[name]
        body += varint(pid)
        if typ == "byte":
            body.append(value)
        elif typ == "u16":
            body += u16(value)
        elif typ == "u32":
            body += u32(value)
        elif typ == "varint":
            body += varint(value)
        elif typ in ("str", "bin"):
            body += mstr(value)
        elif typ == "pair":
            body += mstr(value[0]) + mstr(value[1])
    return varint(len(body)) + bytes(body)


def packet(first_byte, body):
    """A whole packet: fixed header byte, remaining length, body."""
    return bytes([first_byte]) + varint(len(body)) + bytes(body)


def connect(client_id="", version=4, clean=True, keepalive=60, will=None,
            username=None, password=None, properties=None, flags_extra=0):
    """CONNECT. will = dict(topic, payload, qos=0, retain=False, properties=None).
    version: 4 = MQTT 3.1.1, 5 = MQTT 5 (any other number is sent as given)."""
    flags = 0x02 if clean else 0
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    flags |= flags_extra
    body = mstr("MQTT") + bytes([version, flags]) + u16(keepalive)
    if version == 5:
        body += props(properties)
    body += mstr(client_id)
    if will is not None:
        if version == 5:
            body += props(will.get("properties"))
        body += mstr(will["topic"]) + mstr(_b(will.get("payload", b"")))
    if username is not None:
        body += mstr(username)
    if password is not None:
        body += mstr(_b(password))
    return packet(CONNECT << 4, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None,
            version=4, properties=None):
    first = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mstr(topic)
    if qos:
        body += u16(pid if pid is not None else 1)
    if version == 5:
        body += props(properties)
    return packet(first, body + _b(payload))


def subscribe(pid, filters, version=4, properties=None):
    """filters: [(filter, qos_or_options_byte), ...]; for MQTT 5 the byte may
    carry no-local (0x04), retain-as-published (0x08), retain handling (<<4)."""
    body = u16(pid)
    if version == 5:
        body += props(properties)
    for f, opts in filters:
        body += mstr(f) + bytes([opts])
    return packet((SUBSCRIBE << 4) | 0x02, body)


def sub_options(qos=0, no_local=False, rap=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if rap else 0) | (retain_handling << 4)


def unsubscribe(pid, filters, version=4, properties=None):
    body = u16(pid)
    if version == 5:
        body += props(properties)
    for f in filters:
        body += mstr(f)
    return packet((UNSUBSCRIBE << 4) | 0x02, body)


def ack(ptype, pid, version=4, reason=None, properties=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP."""
    first = (ptype << 4) | (0x02 if ptype == PUBREL else 0)
    body = u16(pid)
    if version == 5 and (reason is not None or properties):
        body += bytes([reason or 0])
        if properties:
            body += props(properties)
    return packet(first, body)


def pingreq():
    return bytes([PINGREQ << 4, 0])


def disconnect(version=4, reason=None, properties=None):
    if version == 5 and (reason is not None or properties):
        body = bytes([reason or 0]) + (props(properties) if properties else b"")
        return packet(DISCONNECT << 4, body)
    return bytes([DISCONNECT << 4, 0])


def _b(x):
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


# ---------------------------------------------------------------- decoding

class Packet:
    """One decoded packet.  Always: type, flags, body, size (bytes on the
    wire).  Per type: CONNACK session_present, rc, props; PUBLISH topic, qos,
    retain, dup, pid, props, payload; acks pid, reason, props; SUBACK and
    UNSUBACK pid, props, codes; DISCONNECT reason, props."""

    def __init__(self, ptype, flags, body, size):
        self.type = ptype
        self.flags = flags
        self.body = body
        self.size = size
        self.props = []

    def prop(self, name, default=None):
        for n, v in self.props:
            if n == name:
                return v
        return default

    def props_all(self, name):
        return [v for n, v in self.props if n == name]

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items()
                  if k not in ("body", "flags") and v not in (None, [])}
        if "payload" in fields and len(fields["payload"]) > 40:
            fields["payload"] = fields["payload"][:40] + b"..."
        return "<%s %s>" % (TYPE_NAMES.get(self.type, self.type), fields)


class _Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def need(self, n):
        if self.i + n > len(self.d):
            raise MalformedError("truncated packet")

    def byte(self):
        self.need(1)
        self.i += 1
        return self.d[self.i - 1]

    def u16(self):
        self.need(2)
        self.i += 2
        return struct.unpack_from("!H", self.d, self.i - 2)[0]

    def u32(self):
        self.need(4)
        self.i += 4
        return struct.unpack_from("!I", self.d, self.i - 4)[0]

    def varint(self):
        n, mult = 0, 1
        for _ in range(4):
            b = self.byte()
            n += (b & 0x7F) * mult
            if not b & 0x80:
                return n
            mult *= 128
        raise MalformedError("varint longer than 4 bytes")

    def bin(self):
        n = self.u16()
        self.need(n)
        self.i += n
        return bytes(self.d[self.i - n:self.i])

    def str(self):
        return self.bin().decode("utf-8")

    def rest(self):
        r = bytes(self.d[self.i:])
        self.i = len(self.d)
        return r

    def left(self):
        return len(self.d) - self.i

    def props(self):
        n = self.varint()
        end = self.i + n
        self.need(n)
        out = []
        while self.i < end:
            pid = self.varint()
            if pid not in PROPS:
                raise MalformedError("unknown property 0x%02x" % pid)
            name, typ = PROPS[pid]
            if typ == "byte":
                v = self.byte()
            elif typ == "u16":
                v = self.u16()
            elif typ == "u32":
                v = self.u32()
            elif typ == "varint":
                v = self.varint()
            elif typ == "str":
                v = self.str()
            elif typ == "bin":
                v = self.bin()
            else:
                v = (self.str(), self.str())
            out.append((name, v))
        if self.i != end:
            raise MalformedError("property length mismatch")
        return out


def decode(first_byte, body, version, size=None):
    """Decode one packet (fixed header byte + body) sent by the server."""
    p = Packet(first_byte >> 4, first_byte & 0x0F, bytes(body),
               size if size is not None else len(body) + 2)
    r = _Reader(body)
    t = p.type
    if t == CONNACK:
        p.session_present = r.byte() & 1
        p.rc = r.byte()
        if version == 5 and r.left():
            p.props = r.props()
    elif t == PUBLISH:
        p.qos = (p.flags >> 1) & 3
        p.retain = p.flags & 1
        p.dup = (p.flags >> 3) & 1
        p.topic = r.str()
        p.pid = r.u16() if p.qos else None
        if version == 5:
            p.props = r.props()
        p.payload = r.rest()
    elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = r.u16()
        p.reason = r.byte() if r.left() else 0
        if r.left():
            p.props = r.props()
    elif t in (SUBACK, UNSUBACK):
        p.pid = r.u16()
        if version == 5:
            p.props = r.props()
        p.codes = list(r.rest())
    elif t == DISCONNECT:
        p.reason = r.byte() if r.left() else 0
        if r.left():
            p.props = r.props()
    elif t == AUTH:
        p.reason = r.byte() if r.left() else 0
        if r.left():
            p.props = r.props()
    return p


# ---------------------------------------------------------------- WebSocket

class WebSocketStream:
    """Just enough of RFC 6455 (client side) to carry MQTT: binary frames
    out (masked), binary/continuation frames in, ping answered, close = EOF.
    Offers sendall/recv/settimeout/close like a socket."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.raw = bytearray(leftover)
        self.data = bytearray()
        self.eof = False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def frame(self, payload, opcode=2, fin=True):
        payload = bytes(payload)
        head = bytearray([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head.append(0x80 | 126)
            head += u16(n)
        else:
            head.append(0x80 | 127)
            head += struct.pack("!Q", n)
        mask = os.urandom(4)
        head += mask
        return bytes(head) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def sendall(self, data, chunk=None):
        """Send data as one binary frame, or as fragments of `chunk` bytes."""
        data = bytes(data)
        if not chunk or chunk >= len(data):
            self.sock.sendall(self.frame(data))
            return
        parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        out = b""
        for i, part in enumerate(parts):
            out += self.frame(part, opcode=2 if i == 0 else 0, fin=i == len(parts) - 1)
        self.sock.sendall(out)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("websocket: TCP closed")
        self.raw += chunk

    def _next_frame(self):
        while True:
            if len(self.raw) >= 2:
                b0, b1 = self.raw[0], self.raw[1]
                n = b1 & 0x7F
                off = 2
                if n == 126:
                    off = 4
                elif n == 127:
                    off = 10
                if b1 & 0x80:
                    raise MalformedError("websocket: server frame is masked")
                if len(self.raw) >= off:
                    if n == 126:
                        n = struct.unpack_from("!H", self.raw, 2)[0]
                    elif n == 127:
                        n = struct.unpack_from("!Q", self.raw, 2)[0]
                    if len(self.raw) >= off + n:
                        payload = bytes(self.raw[off:off + n])
                        del self.raw[:off + n]
                        return b0 & 0x0F, payload
            self._fill()

    def recv(self, n):
        while not self.data:
            if self.eof:
                return b""
            op, payload = self._next_frame()
            if op in (0, 1, 2):
                self.data += payload
            elif op == 8:
                self.eof = True
                try:
                    self.sock.sendall(self.frame(payload[:2], opcode=8))
                except OSError:
                    pass
            elif op == 9:
                self.sock.sendall(self.frame(payload, opcode=10))
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def close(self):
        self.sock.close()


def ws_handshake(sock, host, port, path="/mqtt", subprotocols=("mqtt",), timeout=DEFAULT_TIMEOUT):
    """Send an HTTP upgrade on sock.  Returns (status, headers, leftover):
    headers is a dict with lower-cased names, leftover the bytes read past
    the header block.  The caller checks the status."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(subprotocols))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, leftover = buf.partition(b"\r\n\r\n")
    text = head.decode("latin-1").split("\r\n")
    status = int(text[0].split()[1]) if text and len(text[0].split()) > 1 else 0
    headers = {}
    for line in text[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    expect = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    headers["_expected_accept"] = expect
    return status, headers, leftover


# ---------------------------------------------------------------- client

class RawClient:
    """One connection to the server with packet-level control.

    Packets that a wait does not ask for are kept in `self.stash` (in order)
    for later reads, so that e.g. a PUBLISH arriving while we wait for a
    PUBACK is not lost.  `sizes` records the wire size of every packet read.
    """

    def __init__(self, host, port, version=4, timeout=DEFAULT_TIMEOUT, sock=None,
                 ssl_context=None, server_hostname=None):
        self.version = version
        self.timeout = timeout
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
        self.sock = sock
        self.buf = bytearray()
        self.stash = deque()
        self.sizes = []
        self.closed = False
        self._pid = 0
        self.aliases = {}
        self.connack = None

    # -- raw I/O
    def send(self, data):
        self.sock.sendall(data)

    def next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def _read_packet(self, deadline):
        """Read one packet from the socket; ConnectionClosed on EOF/reset,
        TimeoutError past the deadline."""
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                complete = False
                while i < len(self.buf) and i <= 4:
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        complete = True
                        break
                if not complete and i > 4:
                    raise MalformedError("server sent a bad remaining length")
                if complete and len(self.buf) >= i + n:
                    first = self.buf[0]
                    body = bytes(self.buf[i:i + n])
                    del self.buf[:i + n]
                    p = decode(first, body, self.version, size=i + n)
                    self.sizes.append(i + n)
                    if p.type == PUBLISH and self.version == 5:
                        alias = p.prop("TopicAlias")
                        if alias is not None:
                            if p.topic:
                                self.aliases[alias] = p.topic
                            else:
                                p.topic = self.aliases.get(alias, "")
                    return p
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no packet from server in time")
            if self.closed:
                raise ConnectionClosed("connection already closed")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no packet from server in time") from None
            except (ConnectionResetError, BrokenPipeError) as e:
                self.closed = True
                raise ConnectionClosed(str(e)) from None
            except OSError as e:
                # TLS alerts and resets surface as various OSErrors.
                self.closed = True
                raise ConnectionClosed(repr(e)) from None
            if not chunk:
                self.closed = True
                raise ConnectionClosed("EOF")
            self.buf += chunk

    def read(self, timeout=None):
        """The next packet (stashed ones first)."""
        if self.stash:
            return self.stash.popleft()
        return self._read_packet(time.monotonic() + (timeout or self.timeout))

    def wait_for(self, pred, timeout=None, what="packet"):
        """The first packet (stashed or new) for which pred(p) is true; the
        others are stashed in arrival order."""
        for p in list(self.stash):
            if pred(p):
                self.stash.remove(p)
                return p
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                p = self._read_packet(deadline)
            except TimeoutError:
                raise TimeoutError("timed out waiting for %s; %d stashed packets, the last: %r"
                                   % (what, len(self.stash), list(self.stash)[-5:])) from None
            if pred(p):
                return p
            self.stash.append(p)

    def expect(self, ptype, timeout=None):
        return self.wait_for(lambda p: p.type == ptype, timeout, TYPE_NAMES[ptype])

    def wait_closed(self, timeout=None):
        """Read until the server closes the connection.  Returns the packets
        received until then (stash included).  TimeoutError if still open."""
        got = list(self.stash)
        self.stash.clear()
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                got.append(self._read_packet(deadline))
            except ConnectionClosed:
                return got
            except MalformedError:
                # Garbage before the close is still a close.
                self.closed = True
                return got
            except TimeoutError:
                raise TimeoutError("server did not close the connection; got %d packets%s %r"
                                   % (len(got), ", the last:" if len(got) > 5 else "",
                                      got[-5:])) from None

    def is_open(self, timeout=0.2):
        """Best-effort liveness check by round-tripping a PINGREQ."""
        try:
            self.send(pingreq())
            self.wait_for(lambda p: p.type == PINGRESP, timeout=timeout or self.timeout)
            return True
        except (ConnectionClosed, OSError, TimeoutError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    # -- protocol helpers
    def connect(self, client_id="", **kw):
        """Send CONNECT, return the CONNACK packet (no assertion on rc)."""
        kw.setdefault("version", self.version)
        self.send(connect(client_id, **kw))
        self.connack = self.expect(CONNACK)
        return self.connack

    def subscribe(self, filters, qos=0, properties=None, timeout=None):
        """filters: a filter string or [(filter, options), ...].  Returns SUBACK."""
        if isinstance(filters, str):
            filters = [(filters, qos)]
        pid = self.next_pid()
        self.send(subscribe(pid, filters, self.version, properties))
        return self.wait_for(lambda p: p.type == SUBACK and p.pid == pid, timeout, "SUBACK")

    def unsubscribe(self, filters, properties=None):
        if isinstance(filters, str):
            filters = [filters]
        pid = self.next_pid()
        self.send(unsubscribe(pid, filters, self.version, properties))
        return self.wait_for(lambda p: p.type == UNSUBACK and p.pid == pid, None, "UNSUBACK")

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, wait=True):
        """Publish and, for QoS 1/2, complete the handshake when wait is
        true.  Returns the final ack packet (PUBACK or PUBCOMP) or the pid."""
        pid = self.next_pid() if qos else None
        self.send(publish(topic, payload, qos, retain, pid=pid, version=self.version,
                          properties=properties))
        if not qos or not wait:
            return pid
        if qos == 1:
            return self.wait_for(lambda p: p.type == PUBACK and p.pid == pid, None, "PUBACK")
        rec = self.wait_for(lambda p: p.type == PUBREC and p.pid == pid, None, "PUBREC")
        if rec.reason >= 0x80:
            return rec
        self.send(ack(PUBREL, pid, self.version))
        return self.wait_for(lambda p: p.type == PUBCOMP and p.pid == pid, None, "PUBCOMP")

    def next_publish(self, timeout=None, auto_ack=True):
        """The next PUBLISH; acknowledges QoS 1 (PUBACK) and QoS 2 (PUBREC,
        then PUBREL->PUBCOMP handled in the background of later reads)."""
        p = self.wait_for(lambda q: q.type == PUBLISH, timeout, "PUBLISH")
        if auto_ack:
            self.ack_publish(p)
        return p

    def ack_publish(self, p):
        if p.qos == 1:
            self.send(ack(PUBACK, p.pid, self.version))
        elif p.qos == 2:
            self.send(ack(PUBREC, p.pid, self.version))
            rel = self.wait_for(lambda q: q.type == PUBREL and q.pid == p.pid, None, "PUBREL")
            self.send(ack(PUBCOMP, rel.pid, self.version))

    def disconnect(self, reason=None, properties=None):
        try:
            self.send(disconnect(self.version, reason, properties))
        except OSError:
            pass
        self.close()
