"""Webhook deliveries over HTTPS to a real TLS receiver on 127.0.0.1, with a certificate authority made here.

The receiver's name, hooks.example.test, resolves to 127.0.0.1 through a stand-in for DNS (no real
resolver answers for .test). The worker connects to the address it checked, and TLS still sends
that name (SNI) and verifies the certificate against it, with the default checks: a trusted chain
and a matching name. The worker trusts the authority as a deployment would: its process started
with ``SSL_CERT_FILE`` naming the authority's certificate.
"""

import json
import random
import socket
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils import timezone

from aggregation.snapshots.services import snapshot_ingest
from webhooks import sending, services
from webhooks.addresses import Destination
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent

from .aggregation_support import completion_message_for
from .factories import UserFactory
from .webhook_support import receiving

HOST = "hooks.example.test"


@pytest.fixture(autouse=True)
def _receivers_on_this_machine(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def looked_up(monkeypatch) -> list[str]:
    """Make HOST resolve to 127.0.0.1; return the list of the times it was looked up."""
    real, names = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == HOST:
            names.append(host)
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def authority(tmp_path, monkeypatch):
    """A certificate authority the worker trusts; return a function issuing a server context for a name."""
    key, name = ec.generate_private_key(ec.SECP256R1()), _name("webhook tests authority")
    certificate = (
        _builder(subject=name, issuer=name, public_key=key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    bundle = tmp_path / "authority.pem"
    bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    # The worker's trust store as sending.py builds it at import, in a process started with SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setattr(sending, "_tls_context", ssl.create_default_context())
    return lambda server_name: _server_context(tmp_path, server_name, issuer=(name, key))


def _server_context(directory, server_name: str, *, issuer) -> ssl.SSLContext:
    issuer_name, issuer_key = issuer
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _builder(subject=_name(server_name), issuer=issuer_name, public_key=key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    chain, private = directory / f"{server_name}.pem", directory / f"{server_name}.key"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, private)
    context.server_names_seen = []
    context.sni_callback = lambda connection, name, context_: context.server_names_seen.append(name)
    return context


def _builder(*, subject, issuer, public_key) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def complete() -> WebhookEvent:
    snapshot_ingest(message=completion_message_for(UserFactory(), rng=random.Random(1)))
    return WebhookEvent.objects.latest("created_at")


def attempt_all() -> list[str]:
    due = WebhookDelivery.objects.filter(state="pending", next_attempt_at__lte=timezone.now()).order_by("pk")
    return [services.delivery_attempt(delivery_id=pk) for pk in due.values_list("pk", flat=True)]


def test_an_https_receiver_gets_a_signed_delivery_sent_to_the_checked_address_and_verified_for_the_host_name(
    db, looked_up, authority
):
    tls = authority(HOST)
    with receiving(tls=tls, host=HOST) as receiver:
        endpoint = services.endpoint_register(url=receiver.url)
        receiver.secrets = [endpoint.secret]
        event = complete()
        assert attempt_all() == ["delivered"]
    assert receiver.url.startswith(f"https://{HOST}:")
    (request,) = receiver.received
    assert request.verified_with == [endpoint.secret]  # standardwebhooks' own verifier
    assert request.webhook_id == event.webhook_id and json.loads(request.body)["type"] == "onboarding.completed"
    assert tls.server_names_seen == [HOST]  # SNI: the URL's name, though the connection went to 127.0.0.1
    assert request.headers["host"] == f"{HOST}:{receiver.port}"
    # Once when registered, once for the delivery: the connection used that answer, it did not look again.
    assert looked_up == [HOST, HOST]


@pytest.mark.parametrize(
    ("certificate_for", "trusted", "error"),
    [
        ("other.example.test", True, "Hostname mismatch"),
        (HOST, False, "unable to get local issuer certificate"),
    ],
    ids=["a certificate for another name", "an authority the worker does not trust"],
)
def test_an_https_receiver_whose_certificate_does_not_verify_gets_nothing(
    db, looked_up, authority, monkeypatch, certificate_for, trusted, error
):
    tls = authority(certificate_for)
    if not trusted:  # the worker's process started without SSL_CERT_FILE: the system's authorities only
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.setattr(sending, "_tls_context", ssl.create_default_context())
    with receiving(tls=tls, host=HOST) as receiver:
        services.endpoint_register(url=receiver.url)
        complete()
        assert attempt_all() == ["retrying"]
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "CERTIFICATE_VERIFY_FAILED" in attempt.error and error in attempt.error


@pytest.mark.parametrize(
    ("scheme", "port", "host_header"),
    [
        ("https", 443, b"Host: hooks.example.test"),
        ("https", 8443, b"Host: hooks.example.test:8443"),
        ("http", 80, b"Host: hooks.example.test"),
        ("http", 443, b"Host: hooks.example.test:443"),
    ],
)
def test_the_host_header_names_the_port_only_when_it_is_not_the_schemes_own(scheme, port, host_header):
    destination = Destination(scheme=scheme, host="hooks.example.test", port=port, target="/", address="127.0.0.1")
    tls = sending._tls_context if scheme == "https" else None
    connection = sending._PinnedConnection(destination, timeout=1, tls=tls)

    connection.putrequest("POST", "/")  # builds the request head; nothing is connected or sent

    assert host_header in connection._buffer
