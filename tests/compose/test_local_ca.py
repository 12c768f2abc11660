"""The proxy's certificate as `make compose-env` makes it (scripts/compose-env.sh): a local CA and a server
certificate it signs, in .tls/ beside the env file, named in the env file; kept on the next run, and never made when
the env file names a certificate of its own. A TLS server on loopback with that certificate is trusted by requests
given the CA, and by Chromium through the NSS database testkit.browser.home_trusting makes, which refuses it
without. No Docker needed."""
from __future__ import annotations

import os
import ssl
import stat
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from support import ROOT
from testkit.ports import free_port

TLS_NAMES = ("ANIME_DASHBOARD_TLS_CERT", "ANIME_DASHBOARD_TLS_KEY", "ANIME_DASHBOARD_TLS_CA")


def compose_env(env_file: Path) -> str:
    """scripts/compose-env.sh on env_file: what it printed."""
    return subprocess.run(["bash", str(ROOT / "scripts" / "compose-env.sh")], capture_output=True, text=True,
                          timeout=120, check=True, env={**os.environ, "ANIME_DASHBOARD_ENV_FILE": str(env_file)}).stdout


def env_values(env_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if "=" in line)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, str]:
    """(the env file, what compose-env printed) for ANIME_DASHBOARD_PUBLIC_URL=https://dash.example.test:8443."""
    env_file = tmp_path_factory.mktemp("compose_env") / "conf" / ".env"
    env_file.parent.mkdir()
    env_file.write_text("ANIME_DASHBOARD_PUBLIC_URL=https://dash.example.test:8443\n", encoding="utf-8")
    return env_file, compose_env(env_file)


@pytest.fixture(scope="module")
def https_server(generated):
    """https://localhost:<port>/ on 127.0.0.1 with the generated certificate, answering 200 "ok"."""

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_POST(self) -> None:  # noqa: N802 - a token endpoint's answer
            body = b'{"access_token": "t"}'
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    values = env_values(generated[0])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(values["ANIME_DASHBOARD_TLS_CERT"], values["ANIME_DASHBOARD_TLS_KEY"])
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_compose_env_generates_a_local_ca_and_the_proxys_certificate_into_tls_beside_the_env_file(generated):
    from cryptography import x509

    env_file, out = generated
    tls = env_file.parent / ".tls"
    values = env_values(env_file)
    assert {name: values[name] for name in TLS_NAMES} == {
        "ANIME_DASHBOARD_TLS_CERT": str(tls / "tls.crt"), "ANIME_DASHBOARD_TLS_KEY": str(tls / "tls.key"),
        "ANIME_DASHBOARD_TLS_CA": str(tls / "ca.crt")}
    for key in ("ca.key", "tls.key"):
        assert stat.S_IMODE((tls / key).stat().st_mode) == 0o600, key
    secrets = [v for k, v in values.items() if k not in TLS_NAMES and k != "ANIME_DASHBOARD_PUBLIC_URL"]
    assert secrets and not any(v in out for v in secrets) and "PRIVATE KEY" not in out, "compose-env printed a secret"
    assert str(tls / "ca.crt") in out and "real certificate" in out
    subprocess.run(["openssl", "verify", "-CAfile", str(tls / "ca.crt"), str(tls / "tls.crt")], check=True,
                   capture_output=True)
    cert = x509.load_pem_x509_certificate((tls / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {"localhost", "127.0.0.1", "dash.example.test"}
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 825
    assert x509.ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_compose_env_keeps_the_certificate_it_made_and_one_the_env_file_names(generated, tmp_path):
    env_file, _ = generated
    values = env_values(env_file)
    before = Path(values["ANIME_DASHBOARD_TLS_CERT"]).read_bytes()
    assert "generated a local CA" not in compose_env(env_file)
    assert Path(values["ANIME_DASHBOARD_TLS_CERT"]).read_bytes() == before and env_values(env_file) == values

    real = tmp_path / ".env"  # a real certificate, named before make compose-env: used as it is
    real.write_text(f"ANIME_DASHBOARD_TLS_CERT={values['ANIME_DASHBOARD_TLS_CERT']}\n"
                    f"ANIME_DASHBOARD_TLS_KEY={values['ANIME_DASHBOARD_TLS_KEY']}\n", encoding="utf-8")
    assert "generated a local CA" not in compose_env(real)
    assert not (tmp_path / ".tls").exists() and "ANIME_DASHBOARD_TLS_CA" not in env_values(real)
    real.write_text(f"ANIME_DASHBOARD_TLS_CERT={values['ANIME_DASHBOARD_TLS_CERT']}\n", encoding="utf-8")
    with pytest.raises(subprocess.CalledProcessError):  # a certificate without its key
        compose_env(real)


def test_requests_and_chromium_trust_the_generated_certificate_through_the_ca_only(generated, https_server,
                                                                                   playwright_api):
    from testkit.browser import home_trusting, launch

    ca = env_values(generated[0])["ANIME_DASHBOARD_TLS_CA"]
    assert requests.get(https_server, verify=ca, timeout=10).text == "ok"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https_server, timeout=10)  # the system's roots alone

    browser = launch(playwright_api)  # the system's roots alone: refused
    try:
        with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
            browser.new_page().goto(https_server, timeout=30_000)
    finally:
        browser.close()
    with home_trusting(ca) as home:
        browser = launch(playwright_api, home)
        try:
            page = browser.new_page()
            for url in (https_server, https_server.replace("localhost", "127.0.0.1")):
                assert page.goto(url, timeout=30_000).status == 200, url
                assert page.inner_text("body") == "ok"
        finally:
            browser.close()


def test_the_projects_clients_trust_the_ca_they_are_given_over_requests_ca_bundle(generated, https_server,
                                                                                   monkeypatch):
    """A requests session's own CA is overridden by REQUESTS_CA_BUNDLE (set on many machines): the clients give
    theirs with every request."""
    from anime_dashboard.airflow_api import AirflowApi
    from anime_dashboard.dashboards.client import SupersetClient

    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # public roots only
    ca = env_values(generated[0])["ANIME_DASHBOARD_TLS_CA"]
    assert AirflowApi(https_server, "viewer", "any", verify=ca).session.headers["Authorization"] == "Bearer t"
    client = SupersetClient(https_server, "analyst", "any", verify=ca)
    client.wait_healthy(10)
    assert client._http("GET", "/health").text == "ok"

