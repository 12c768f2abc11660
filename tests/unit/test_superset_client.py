"""SupersetClient over real loopback sockets: a call whose keep-alive connection the server drops is sent again
once on a new connection (`ConnectionResetError(104, 'Connection reset by peer')`, as a GET of the import can
meet under load); a timeout is not sent again. The server here speaks just enough HTTP/1.1 to answer the
client's login and calls, and resets a connection (RST) when a chosen path arrives on it."""
from __future__ import annotations

import json
import socket
import struct
import threading

import pytest
import requests

from anime_dashboard.dashboards.client import SupersetClient


class DroppingServer:
    """Answers every request with {"access_token", "result"} on a keep-alive connection, except: a path in
    ``reset`` is answered with a reset of its connection (as many times as it is listed), a path in ``silent``
    is never answered. ``seen`` lists (connection number, method, path) in arrival order."""

    def __init__(self, reset: list[str] = (), silent: tuple[str, ...] = ()):
        self.reset, self.silent, self.seen = list(reset), silent, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        n = 0
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = next((int(v) for k, v in (h.split(":", 1) for h in lines[1:]) if k.lower() ==
                               "content-length"), 0)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.seen.append((n, method, path))
                if path in self.reset:
                    self.reset.remove(path)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing with linger 0 sends RST: the client reads 'Connection reset by peer'
                if path in self.silent:
                    conn.recv(1)  # until the client gives up
                    return
                body = json.dumps({"access_token": "token", "result": "csrf", "path": path}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                             + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


@pytest.fixture
def server_factory():
    servers = []

    def make(**kwargs) -> DroppingServer:
        servers.append(DroppingServer(**kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_a_call_whose_keep_alive_connection_is_reset_is_sent_again_on_a_new_connection(server_factory):
    server = server_factory(reset=["/api/v1/chart/"])
    client = SupersetClient(server.url, "admin", "secret")

    assert client.request("GET", "/api/v1/chart/").json()["path"] == "/api/v1/chart/"
    assert server.seen == [(1, "POST", "/api/v1/security/login"), (1, "GET", "/api/v1/security/csrf_token/"),
                           (1, "GET", "/api/v1/chart/"), (2, "GET", "/api/v1/chart/")]


def test_a_post_is_sent_again_too_and_a_second_reset_is_the_callers_error(server_factory):
    server = server_factory(reset=["/api/v1/assets/import/"] * 2)
    client = SupersetClient(server.url, "admin", "secret").login()

    with pytest.raises(requests.ConnectionError, match="reset by peer"):
        client.request("POST", "/api/v1/assets/import/", data={"passwords": "{}"})
    assert [s[1:] for s in server.seen[2:]] == [("POST", "/api/v1/assets/import/")] * 2
    assert client.request("POST", "/api/v1/assets/import/").json()["path"] == "/api/v1/assets/import/"


def test_a_call_that_times_out_is_not_sent_again(server_factory):
    server = server_factory(silent=("/api/v1/chart/1/data/",))
    client = SupersetClient(server.url, "admin", "secret", timeout=0.5).login()

    with pytest.raises(requests.Timeout):
        client.request("GET", "/api/v1/chart/1/data/")
    assert [s for s in server.seen if s[2] == "/api/v1/chart/1/data/"] == [(1, "GET", "/api/v1/chart/1/data/")]
