#!/usr/bin/env python3
"""The wire baseline of scripts/bench-email.sh: log in, EXAMINE a folder, one
`UID FETCH 1:* BODY.PEEK[]`, every literal read to the end and thrown away.
Prints the seconds it took and the bytes read. No parsing beyond the framing:
what any client must at least spend to get the mail off the server.

    scripts/imap-wire.py HOST PORT USER PASSWORD FOLDER
"""
import socket
import sys
import time

host, port, user, password, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
started = time.monotonic()
conn = socket.create_connection((host, port))
stream = conn.makefile("rb")
stream.readline()  # the greeting


def command(tag, line):
    conn.sendall(f"{tag} {line}\r\n".encode())
    while True:
        answer = stream.readline()
        if not answer:
            sys.exit(f"{line.split()[0]}: the server closed the connection")
        if answer.startswith(f"{tag} ".encode()):
            if not answer.startswith(f"{tag} OK".encode()):
                sys.exit(f"{line.split()[0]}: {answer.decode(errors='replace').strip()}")
            return


command("a1", f"LOGIN {user} {password}")
command("a2", f"EXAMINE {folder}")
conn.sendall(b"a3 UID FETCH 1:* BODY.PEEK[]\r\n")
total = 0
while True:
    line = stream.readline()
    if not line or line.startswith(b"a3 "):
        break
    if line.endswith(b"}\r\n"):
        size = int(line[line.rindex(b"{") + 1 : -3])
        total += len(stream.read(size))
print(f"{time.monotonic() - started:.3f} {total}")
