"""
The 10k benchmark's instrument (bench/send-10k.ts): a TCP relay in front of the SES emulator that
stamps every SendRawEmail with the time the KERNEL received it (SO_TIMESTAMPNS on the accepted
socket), not the time a user-space process got round to reading it. A relay whose event loop
stalls for 30 ms (garbage collection, the two cores busy) would otherwise stamp the requests that
arrived meanwhile all at once, and the 1 s window counts would measure the stall.

Python's standard library only (recvmsg with ancillary data; Node cannot read it). A client sends
its next request on a kept-alive connection only after the previous answer, so every request
starts a new read, and a read that starts with `POST / ` is a SendRawEmail (the only v1 call the
worker makes).

  python3 kernel-stamp-relay.py <upstream host> <upstream port>
    prints {"url": "http://127.0.0.1:<port>"} once it listens;
    stdin `report` prints {"sendTimes": [epoch ms, ...], "kernelStamped": n}; `close` (or EOF) exits.
"""
import json
import socket
import struct
import sys
import threading
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux
POST_ROOT = b"POST / "

upstream = (sys.argv[1], int(sys.argv[2]))
send_times = []
kernel_stamped = 0
lock = threading.Lock()


def stamp(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds * 1000 + nanoseconds / 1e6
    return None


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def client_to_upstream(client, up):
    global kernel_stamped
    try:
        while True:
            data, ancillary, _flags, _addr = client.recvmsg(65536, socket.CMSG_SPACE(16))
            if not data:
                break
            if data.startswith(POST_ROOT):
                at = stamp(ancillary)
                with lock:
                    if at is None:
                        send_times.append(time.time() * 1000)  # no kernel stamp: the read's time
                    else:
                        send_times.append(at)
                        kernel_stamped += 1
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


def accept(server):
    while True:
        try:
            client, _ = server.accept()
        except OSError:
            return
        client.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = socket.create_connection(upstream)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=client_to_upstream, args=(client, up), daemon=True).start()
        threading.Thread(target=upstream_to_client, args=(up, client), daemon=True).start()


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
            print(json.dumps({"sendTimes": send_times, "kernelStamped": kernel_stamped}), flush=True)
    elif command == "close":
        break
server.close()
