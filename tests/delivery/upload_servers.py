"""Real upload servers on loopback: S3 (moto's standalone server) and SFTP (an asyncssh server).

Both run in threads of the test process and serve real network protocols on 127.0.0.1, so the code
under test (and the CLI in a subprocess) talks to them exactly as to a remote service. Each `Target`
names a URL to upload to, the environment a run needs, and how to seed, list and read what is there
without going through the code under test.
"""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

with warnings.catch_warnings():
    # Importing asyncssh trips cryptography's deprecation warnings: noise in every test report.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"asyncssh\.")
    import asyncssh

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}
KEY_USER = "keyed"
PASSWORD_USER = "reports"
PASSWORD = "sftp-s3cret-pw"  # noqa: S105 - a test credential for the loopback server


@dataclass
class Target:
    """One place to upload to: `url`, the `env` a run needs, the `label` results name it by, and direct
    access to what it holds."""

    url: str
    env: dict[str, str]
    label: str
    s3: object | None = None
    bucket: str = ""
    root: Path | None = None
    prefix: str = ""

    def _key(self, relative: str) -> str:
        """The object key (S3) of a path relative to the target's root."""
        return f"{self.prefix}{relative}"

    def seed(self, relative: str, data: bytes) -> None:
        """Put a file into the target behind the code's back."""
        if self.s3 is not None:
            self.s3.put_object(Bucket=self.bucket, Key=self._key(relative), Body=data)
            return
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def files(self) -> set[str]:
        """Every file in the target, relative to its root (dot-files included)."""
        if self.s3 is not None:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            return {item["Key"][len(self.prefix):] for page in pages for item in page.get("Contents", [])}
        return {path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file()}

    def read(self, relative: str) -> bytes:
        """The bytes of one file of the target."""
        if self.s3 is not None:
            return self.s3.get_object(Bucket=self.bucket, Key=self._key(relative))["Body"].read()
        return (self.root / relative).read_bytes()


@dataclass
class S3Server:
    """moto's S3 server: its endpoint URL, and `stop` (from then on, connections are refused)."""

    endpoint: str
    stop: Callable[[], None]


@contextmanager
def moto_server() -> Iterator[S3Server]:
    """moto's S3 on 127.0.0.1 (a free port) for the block."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    stopped = threading.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            server.stop()

    try:
        yield S3Server(f"http://{host}:{port}", stop)
    finally:
        stop()


def s3_target(endpoint: str, bucket: str, prefix: str = "unifi/") -> Target:
    """A fresh bucket on the moto server at `endpoint`, the target `s3://bucket/prefix`."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=bucket)
    return Target(url=f"s3://{bucket}/{prefix}", env={**AWS_ENV, "UNIFI_S3_ENDPOINT_URL": endpoint},
                  label=f"s3://{bucket}", s3=client, bucket=bucket, prefix=prefix)


@dataclass
class _Accounts(asyncssh.SSHServer):
    """Authentication of the SFTP server: KEY_USER by its public key only, PASSWORD_USER by password
    only; every connection is remembered so that stopping the server cuts them too."""

    authorized: asyncssh.SSHAuthorizedKeys
    connections: list = field(default_factory=list)
    conn: object = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        if username == KEY_USER:
            self.conn.set_authorized_keys(self.authorized)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == PASSWORD_USER and password == PASSWORD


class SftpServer:
    """An asyncssh SFTP server on 127.0.0.1 serving `root` (chrooted), in a thread of its own."""

    def __init__(self, root: Path, client_key: asyncssh.SSHKey) -> None:
        self.root = root
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = client_key
        self.connections: list = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._acceptor = None
        self.port = 0

    def _run(self, coroutine):  # noqa: ANN001, ANN202 - any coroutine, its result
        """Run `coroutine` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def start(self) -> SftpServer:
        """Listen on a free port; returns self."""
        self._thread.start()
        authorized = asyncssh.import_authorized_keys(self.client_key.export_public_key().decode())

        async def listen():  # noqa: ANN202
            return await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=[self.host_key],
                server_factory=lambda: _Accounts(authorized, self.connections),
                sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(self.root)),
            )

        self._acceptor = self._run(listen())
        self.port = self._acceptor.get_port()
        return self

    def known_hosts_line(self) -> str:
        """This server's host key as a ~/.ssh/known_hosts line."""
        return f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"

    def stop(self) -> None:
        """Stop listening and cut every connection: from now on connections are refused."""
        if not self._thread.is_alive():
            return

        async def close() -> None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            for conn in self.connections:
                conn.close()

        self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def install_client_key(home: Path, server: SftpServer) -> None:
    """Give the user of `home` the server's host key in ~/.ssh/known_hosts and the client key as
    ~/.ssh/id_ed25519: where ssh, and asyncssh under sshfs, look for them."""
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "known_hosts").write_text(server.known_hosts_line(), encoding="ascii")
    key_path = ssh / "id_ed25519"
    server.client_key.write_private_key(str(key_path))
    os.chmod(key_path, 0o600)


@contextmanager
def sftp_server(root: Path, home: Path) -> Iterator[SftpServer]:
    """An SFTP server serving `root`, trusted by and holding the client key of the user of `home`."""
    root.mkdir(parents=True, exist_ok=True)
    server = SftpServer(root, asyncssh.generate_private_key("ssh-ed25519")).start()
    install_client_key(home, server)
    try:
        yield server
    finally:
        server.stop()


def sftp_target(server: SftpServer, user: str, directory: str = "srv/unifi") -> Target:
    """The target `sftp://user@127.0.0.1:port/directory/` on `server` (its files under server.root)."""
    return Target(url=f"sftp://{user}@127.0.0.1:{server.port}/{directory}/", env={},
                  label=f"sftp://127.0.0.1:{server.port}", root=server.root / directory)
