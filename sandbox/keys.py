"""RSA key pairs for a sandboxed GitHub App.

GitHub gives an App a private key and keeps the public half to verify the App's JWTs. Tests and
the demo need the same pair without ever committing a key, so one is generated at run time.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def generate_app_key(bits: int = 2048) -> tuple[str, str]:
    """Return ``(private_pem, public_pem)`` of a fresh RSA key, as PEM text.

    The private key is PKCS#1 (``BEGIN RSA PRIVATE KEY``), the format GitHub hands out.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )
    return private_pem, public_pem
