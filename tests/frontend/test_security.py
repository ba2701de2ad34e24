"""TLS, mutual TLS and the API key on the frontend; namespaces isolate workflow ids."""

from __future__ import annotations

import datetime
import ipaddress
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rayflow.client import Client, TLSConfig
from rayflow.exceptions import RPCError, ServiceUnavailableError, WorkflowNotFoundError
from rayflow.service.frontend.server import FrontendServer, ServerTLS
from tests.frontend.conftest import TASK_QUEUE, run_cli


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(name: str, issuer_key, issuer_name, *, ca: bool = False, server: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


@pytest.fixture(scope="module")
def pki():
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA."""
    ca_key, ca_cert = _issue("rayflow-test-ca", None, None, ca=True)
    server_key, server_cert = _issue("localhost", ca_key, ca_cert.subject, server=True)
    client_key, client_cert = _issue("rayflow-client", ca_key, ca_cert.subject)
    pem = lambda cert: cert.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    return {
        "ca": pem(ca_cert),
        "server_cert": pem(server_cert),
        "server_key": _pem_key(server_key),
        "client_cert": pem(client_cert),
        "client_key": _pem_key(client_key),
    }


async def _serve(service, **kwargs) -> FrontendServer:
    server = FrontendServer(service.config, port=0, **kwargs)
    await server.start()
    return server


async def test_tls_round_trip_and_plaintext_client_refused(service, pki):
    server = await _serve(service, tls=ServerTLS(cert_chain=pki["server_cert"], private_key=pki["server_key"]))
    address = f"127.0.0.1:{server.port}"
    try:
        client = await Client.connect(address, tls=TLSConfig(server_root_ca_cert=pki["ca"]))
        result = await client.execute_workflow(
            "Greeting", "tls", id=f"tls-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE
        )
        assert result == "Hello, tls!"
        await client.close()
        with pytest.raises(ServiceUnavailableError, match="cannot reach the rayflow frontend"):
            await Client.connect(address)  # plaintext to a TLS port
        with pytest.raises(ServiceUnavailableError):
            await Client.connect(address, tls=True)  # system roots do not trust the test CA
    finally:
        await server.stop(0)


async def test_mutual_tls_refuses_a_client_without_certificate(service, pki):
    server = await _serve(
        service, tls=ServerTLS(cert_chain=pki["server_cert"], private_key=pki["server_key"], client_ca=pki["ca"])
    )
    address = f"127.0.0.1:{server.port}"
    try:
        with pytest.raises(ServiceUnavailableError):
            await Client.connect(address, tls=TLSConfig(server_root_ca_cert=pki["ca"]))
        client = await Client.connect(
            address,
            tls=TLSConfig(
                server_root_ca_cert=pki["ca"], client_cert=pki["client_cert"], client_private_key=pki["client_key"]
            ),
        )
        assert (
            await client.execute_workflow("Greeting", "mtls", id=f"mtls-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE)
            == "Hello, mtls!"
        )
        await client.close()
    finally:
        await server.stop(0)


async def test_cli_over_mutual_tls(service, pki, tmp_path):
    server = await _serve(
        service, tls=ServerTLS(cert_chain=pki["server_cert"], private_key=pki["server_key"], client_ca=pki["ca"])
    )
    for name in ("ca", "client_cert", "client_key"):
        (tmp_path / f"{name}.pem").write_bytes(pki[name])
    try:
        tls = [
            "--tls-ca-path",
            str(tmp_path / "ca.pem"),
            "--tls-cert-path",
            str(tmp_path / "client_cert.pem"),
            "--tls-key-path",
            str(tmp_path / "client_key.pem"),
        ]
        code, out, err = await run_cli(
            "workflow",
            "execute",
            "--address",
            f"localhost:{server.port}",
            *tls,
            "--type",
            "Greeting",
            "-t",
            TASK_QUEUE,
            "--input",
            '"cli-mtls"',
        )
        assert code == 0 and "Hello, cli-mtls!" in out, err
        code, out, err = await run_cli(
            "workflow", "list", "--address", f"localhost:{server.port}", "--tls-ca-path", str(tmp_path / "ca.pem")
        )
        assert code == 2 and "cannot reach" in err
    finally:
        await server.stop(0)


async def test_api_key_is_checked_on_every_call(service):
    server = await _serve(service, api_key="s3cret-key")
    address = f"127.0.0.1:{server.port}"
    try:
        with pytest.raises(RPCError, match="no API key was sent") as info:
            await Client.connect(address)
        assert info.value.status.name == "UNAUTHENTICATED"
        with pytest.raises(RPCError, match="the API key is wrong"):
            await Client.connect(address, api_key="guess")
        client = await Client.connect(address, api_key="s3cret-key")
        assert (
            await client.execute_workflow("Greeting", "key", id=f"key-{uuid.uuid4().hex[:6]}", task_queue=TASK_QUEUE)
            == "Hello, key!"
        )
        await client.close()
        code, out, err = await run_cli("workflow", "list", "--address", address, "--api-key", "wrong")
        assert code == 2 and "UNAUTHENTICATED" not in out and "the API key is wrong" in err
        code, out, err = await run_cli("server", "status", "--address", address, "--api-key", "s3cret-key")
        assert code == 0 and "Api Key Required  True" in out, err
    finally:
        await server.stop(0)


async def test_namespaces_isolate_workflow_ids(service):
    server = await _serve(service)
    address = f"127.0.0.1:{server.port}"
    try:
        team_a = await Client.connect(address, namespace="team-a")
        team_b = await Client.connect(address, namespace="team-b")
        workflow_id = f"shared-id-{uuid.uuid4().hex[:6]}"
        handle_a = await team_a.start_workflow("Approval", {"item": "a"}, id=workflow_id, task_queue=TASK_QUEUE)
        with pytest.raises(WorkflowNotFoundError):
            await team_b.get_workflow_handle(workflow_id).describe()
        assert await team_b.count_workflows() == 0
        # The same id in the other namespace is another workflow (no conflict), run by the same worker pool.
        handle_b = await team_b.start_workflow("Greeting", "b", id=workflow_id, task_queue=TASK_QUEUE)
        assert handle_b.run_id != handle_a.run_id
        await handle_a.terminate("done")
        assert (await handle_a.describe()).status.name == "TERMINATED"
        for client in (team_a, team_b):
            await client.close()
    finally:
        await server.stop(0)


async def test_the_web_ui_serves_https_and_reaches_the_frontend_over_tls(service, pki, tmp_path):
    import ssl

    import aiohttp

    from rayflow.cli import build_parser
    from rayflow.ui.launch import start_http

    server = await _serve(service, tls=ServerTLS(cert_chain=pki["server_cert"], private_key=pki["server_key"]))
    for name in ("ca", "server_cert", "server_key"):
        (tmp_path / f"{name}.pem").write_bytes(pki[name])
    args = build_parser().parse_args([
        "server", "start", "--ui-port", "0", "--tls-cert", str(tmp_path / "server_cert.pem"),
        "--tls-key", str(tmp_path / "server_key.pem"), "--ui-tls-ca", str(tmp_path / "ca.pem"),
    ])
    servers = await start_http(args, frontend_bind="127.0.0.1", frontend_port=server.port,
                               tls_files=(pki["server_cert"], pki["server_key"], None))
    try:
        assert servers.ui_url is not None and servers.ui_url.startswith("https://")
        url = servers.ui_url.replace(servers.ui_url.split("//")[1].split(":")[0], "localhost")
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/cluster", ssl=trusted) as response:
                assert response.status == 200, await response.text()
                info = await response.json()
            assert info["tls"] is True and info["service_actors"]  # answered by the frontend, over TLS
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # the test CA is not a system root
                await http.get(url + "/api/cluster")
            plain = url.replace("https://", "http://")
            with pytest.raises(aiohttp.ClientError):  # no plaintext on the UI's port
                async with http.get(plain + "/api/cluster") as response:
                    await response.read()
    finally:
        await servers.close()
        await server.stop(0)
