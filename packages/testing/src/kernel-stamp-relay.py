"""
The benches' arrival instrument (kernel-stamp-relay.ts starts it): a TCP relay in front of a
provider emulator that stamps every matching request with the time the KERNEL received it
(SO_TIMESTAMPNS on the accepted socket), not the time a user-space process got round to reading
it. A process whose event loop stalls for 30 ms (garbage collection, the two cores busy) would
otherwise stamp the requests that arrived meanwhile all at once, and the 1 s window counts would
measure the stall.

Python's standard library only (recvmsg with ancillary data; Node cannot read it). A client sends
its next request on a kept-alive connection only after the previous answer, so every request
starts a new read, and a read that starts with one of the --match prefixes (e.g. `POST / ` for
SES's SendRawEmail, `GET /v2/email-finder` for Hunter) is one of the requests to stamp.

  python3 kernel-stamp-relay.py <upstream host> <upstream port> [--match PREFIX]... [--stamp-header NAME]
    --match         request prefixes to stamp (default `POST / `)
    --stamp-header  also write the stamp into the request as a header `NAME: <epoch ms>` right
                    after its request line, so that the emulator behind can judge its rate
                    windows on the arrival time as a provider's edge sees it (a request whose
                    request line is split over two reads keeps no header: the emulator's own time)
    prints {"url": "http://127.0.0.1:<port>"} once it listens;
    stdin `report` prints {"sendTimes": [epoch ms, ...], "ports": [client port per stamp, ...],
      "owners": {"<client port>": pid}, "kernelStamped": n}
      (owners: the process that held each client connection, looked up in /proc when it was
      accepted; absent when it could not be found); `close` (or EOF) exits.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("--match", action="append")
parser.add_argument("--stamp-header")
args = parser.parse_args()
upstream = (args.host, args.port)
prefixes = tuple(p.encode() for p in (args.match or ["POST / "]))
stamp_header = args.stamp_header.encode() if args.stamp_header else None

send_times = []
ports = []
owners = {}
kernel_stamped = 0
lock = threading.Lock()


def stamp(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds * 1000 + nanoseconds / 1e6
    return None


def owner_of(client_port, relay_port):
    """The pid holding the client end of a loopback connection (its socket inode in /proc/net/tcp, then /proc/*/fd)."""
    inode = None
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].split(":")[1], 16)
                remote_port = int(fields[2].split(":")[1], 16)
                if local_port == client_port and remote_port == relay_port:
                    inode = fields[9]
                    break
    except OSError:
        return None
    if not inode:
        return None
    target = "socket:[%s]" % inode
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == target:
                    return int(pid)
        except OSError:
            continue
    return None


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def client_to_upstream(client, up, client_port):
    global kernel_stamped
    try:
        while True:
            data, ancillary, _flags, _addr = client.recvmsg(65536, socket.CMSG_SPACE(16))
            if not data:
                break
            if data.startswith(prefixes):
                at = stamp(ancillary)
                with lock:
                    if at is None:
                        at = time.time() * 1000  # no kernel stamp: the read's time
                    else:
                        kernel_stamped += 1
                    send_times.append(at)
                    ports.append(client_port)
                if stamp_header:
                    line_end = data.find(b"\r\n")
                    if line_end >= 0:
                        data = b"%s\r\n%s: %.3f%s" % (data[:line_end], stamp_header, at, data[line_end:])
            up.sendall(data)
    except OSError:
        pass
    finally:
        close_both(client, up)


def upstream_to_client(up, client):
    try:
        while True:
            data = up.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        close_both(client, up)


def find_owner(client_port, relay_port):
    pid = owner_of(client_port, relay_port)
    if pid is not None:
        with lock:
            owners[str(client_port)] = pid


def accept(server):
    relay_port = server.getsockname()[1]
    while True:
        try:
            client, address = server.accept()
        except OSError:
            return
        client.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = socket.create_connection(upstream)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=client_to_upstream, args=(client, up, address[1]), daemon=True).start()
        threading.Thread(target=upstream_to_client, args=(up, client), daemon=True).start()
        threading.Thread(target=find_owner, args=(address[1], relay_port), daemon=True).start()


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(512)
threading.Thread(target=accept, args=(server,), daemon=True).start()
print(json.dumps({"url": "http://127.0.0.1:%d" % server.getsockname()[1]}), flush=True)

for line in sys.stdin:
    command = line.strip()
    if command == "report":
        with lock:
            print(json.dumps({"sendTimes": send_times, "ports": ports, "owners": owners, "kernelStamped": kernel_stamped}), flush=True)
    elif command == "close":
        break
server.close()
