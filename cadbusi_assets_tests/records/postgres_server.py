"""A throw-away PostgreSQL server for tests: initdb + pg_ctl on 127.0.0.1 with a free port.

PostgreSQL refuses to run as root; when the tests run as root the server runs as the
``postgres`` system user (``runuser -u postgres --``) with a data directory it owns.
Password authentication (SCRAM) is on, so tests exercise the password path for real.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cadbusi_assets_tests.support import free_port, require_tool

INSTALL_HINT = "apt-get install postgresql (server binaries initdb, pg_ctl)"


def postgres_bindir() -> Path:
    """The directory of initdb/pg_ctl: ``$PG_BINDIR``, the newest /usr/lib/postgresql/*/bin,
    or the PATH. Missing: fails in CI, skips on a developer machine."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").is_file()
            and (Path(candidate) / "pg_ctl").is_file()
        ):
            return Path(candidate)
    return Path(require_tool("initdb", INSTALL_HINT)).parent


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path
    bindir: Path
    run_as: list[str]

    @property
    def dsn(self) -> str:
        """libpq URI with the password (tests only)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/postgres"

    def uri(self, database: str = "postgres") -> str:
        """URI without a password (as a deployment would configure it)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bindir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-s",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb a fresh cluster in a temporary directory and start it; caller must ``stop()``."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="cadbusi-pg-"))
    data_dir = root / "data"
    password = secrets.token_hex(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    run_as: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError(
                "running as root needs runuser to start PostgreSQL as the postgres user"
            )
        run_as = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    try:
        subprocess.run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "start",
                "-D",
                str(data_dir),
                "-w",
                "-t",
                "60",
                "-s",
                "-l",
                str(root / "server.log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
    except subprocess.CalledProcessError as error:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(
            f"PostgreSQL did not start: {error.stderr.decode(errors='replace')[-2000:]} {log[-2000:]}"
        ) from None
    return PostgresServer("127.0.0.1", port, "postgres", password, data_dir, bindir, run_as)
