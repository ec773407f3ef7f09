"""Debian's PgBouncer on a free loopback port, in front of the tests' PostgreSQL.

Stock settings plus `pool_mode = transaction` (how replicas share one PostgreSQL), trust
authentication like the server behind it. scripts/test-setup.sh installs `pgbouncer` when it is
missing; a missing binary raises, so the tests fail rather than skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from sqlalchemy import make_url

from tests.support.network import free_port
from tests.support.timing import wait_until

_BINARY_PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def _binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (place for place in _BINARY_PLACES if Path(place).exists()), None
    )
    if found is None:
        raise RuntimeError("pgbouncer is not installed (scripts/test-setup.sh installs it)")
    return found


class PgBouncer:
    """`with PgBouncer(server_url) as bouncer:` then `bouncer.url_for(database_url)`.

    Its files live in a directory of its own under the system's temporary directory (run as
    root, PgBouncer drops to the `postgres` user, which cannot enter pytest's), removed at stop.
    """

    def __init__(self, server_url: str) -> None:
        server = make_url(server_url)
        self.target = (server.host or "127.0.0.1", server.port or 5432)
        self.user = server.username or "postgres"
        self.workdir = Path(tempfile.mkdtemp(prefix="taskql-pgbouncer-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url_for(self, database_url: str) -> str:
        """`database_url` (a database on the server behind), reached through PgBouncer."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def _write_config(self) -> Path:
        host, port = self.target
        userlist = self.workdir / "userlist.txt"
        userlist.write_text(f'"{self.user}" ""\n')
        config = self.workdir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {userlist}\n"
            "pool_mode = transaction\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
        )
        return config

    def start(self) -> Self:
        config = self._write_config()
        command = [_binary(), "-q", str(config)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root; -u switches to its own user
            owner = pwd.getpwnam("postgres")
            for path in (self.workdir, *self.workdir.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command[1:1] = ["-u", "postgres"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(self._listening, within=10, message="pgbouncer did not start listening")
        except BaseException:
            self.stop()
            raise
        return self

    def _listening(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            stderr = self._process.stderr.read().decode() if self._process.stderr else ""
            raise RuntimeError(f"pgbouncer exited ({self._process.returncode}): {stderr}")
        log = self.workdir / "pgbouncer.log"
        return log.exists() and f"listening on 127.0.0.1:{self.port}" in log.read_text()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
