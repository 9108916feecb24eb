"""Run one ejabberd instance from the repository's ``ejabberd.yml``.

ejabberd is started directly with ``erl`` as the calling user (``ejabberdctl`` would switch to the
``ejabberd`` user, who cannot reach a checkout under ``/root``), without epmd: the node listens for
Erlang distribution on ``dist_port`` on loopback, so nothing is left behind when it stops.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .processes import read_pid, tail, terminate
from .settings import REPO_ROOT, StackSettings


def erl_libs() -> str:
    """Where Debian's ejabberd keeps its Erlang applications (read from ejabberdctl)."""
    try:
        match = re.search(r"^ERL_LIBS='?([^'\n]+)'?", Path("/usr/sbin/ejabberdctl").read_text(), re.M)
    except OSError:
        match = None
    return match.group(1) if match else f"/usr/lib/{os.uname().machine}-linux-gnu"

CONFIG_FILE = REPO_ROOT / "ejabberd.yml"


class EjabberdError(RuntimeError):
    """ejabberd could not be started, stopped or asked something; the message says what to do."""


def write_certificate(settings: StackSettings) -> None:
    """Create a self-signed certificate for the domain and ``*.domain`` unless one exists."""
    if settings.certfile.exists():
        return
    settings.certfile.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, settings.domain)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(settings.domain), x509.DNSName(f"*.{settings.domain}")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_encipherment=False, key_cert_sign=True,
                content_commitment=False, data_encipherment=False, key_agreement=True,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    settings.certfile.write_bytes(cert_pem + key_pem)
    settings.certfile.chmod(0o600)
    settings.ca_file.write_bytes(cert_pem)


def _yaml_scalar(value: object) -> str:
    return json.dumps(value)  # JSON scalars and maps are valid YAML flow values


def macros(settings: StackSettings) -> dict[str, object]:
    """The values of the macros ``ejabberd.yml`` uses, for this instance."""
    sqlite = settings.ejabberd_sql_type == "sqlite"
    journal, calls = settings.component_domain("journal"), settings.component_domain("calls")
    return {
        "LOGLEVEL": settings.loglevel,
        "DOMAIN": settings.domain,
        "BIND_IP": settings.bind_ip,
        "C2S_PORT": settings.c2s_port,
        "HTTP_PORT": settings.http_port,
        "UPLOAD_URL": settings.upload_url,
        "UPLOAD_DIR": str(settings.upload_dir),
        "UPLOAD_MAX_DAYS": settings.upload_max_days or "infinity",
        "STUN_PORT": settings.stun_port,
        "TURN_IP": settings.turn_ip,
        "TURN_UDP_MIN_PORT": settings.turn_udp_ports[0],
        "TURN_UDP_MAX_PORT": settings.turn_udp_ports[1],
        "TURN_TCP_MIN_PORT": settings.turn_tcp_ports[0],
        "TURN_TCP_MAX_PORT": settings.turn_tcp_ports[1],
        "JOURNAL_PORT": settings.journal_port,
        "CALLS_PORT": settings.calls_port,
        "JOURNAL_DOMAIN": journal,
        "JOURNAL_SERVICE": {journal: {"password": settings.component_secret("journal")}},
        "CALLS_DOMAIN": calls,
        "CALLS_SERVICE": {calls: {"password": settings.component_secret("calls")}},
        "CERTFILE": str(settings.certfile),
        "SQL_TYPE": settings.ejabberd_sql_type,
        "SQL_DATABASE": str(settings.ejabberd_sqlite_file) if sqlite else settings.ejabberd_sql_database,
        "SQL_SERVER": settings.ejabberd_sql_server,
        "SQL_PORT": settings.ejabberd_sql_port,
        "SQL_USERNAME": settings.ejabberd_sql_username,
        "SQL_PASSWORD": settings.ejabberd_sql_password,
    }


def prepare(settings: StackSettings) -> Path:
    """Create the state folder, certificate, WAL-mode SQLite file and the wrapper config.

    Returns the path of the wrapper config to start ejabberd with.
    """
    for folder in (settings.ejabberd_dir / "spool", settings.upload_dir, settings.log_dir,
                   settings.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    write_certificate(settings)
    if settings.ejabberd_sql_type == "sqlite" and not settings.ejabberd_sqlite_file.exists():
        # ejabberd would create the file in DELETE journal mode (3.5x slower); WAL sticks to the file
        with sqlite3.connect(settings.ejabberd_sqlite_file) as db:
            db.execute("PRAGMA journal_mode=WAL")
    lines = ["# Generated by Switchboard for this instance; edit the settings, not this file.",
             "define_macro:"]
    lines += [f"  {name}: {_yaml_scalar(value)}" for name, value in macros(settings).items()]
    lines.append(f"include_config_file: {_yaml_scalar(str(CONFIG_FILE))}")
    wrapper = settings.ejabberd_dir / "ejabberd.yml"
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o600)
    return wrapper


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class EjabberdServer:
    """One ejabberd node of a stack, started from its settings."""

    settings: StackSettings
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / "ejabberd.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / "ejabberd.log"

    def pid(self) -> int | None:
        """The process id of this stack's running ejabberd, or None."""
        return read_pid(self.pid_file, self.settings.node_name)

    def command(self, wrapper: Path) -> list[str]:
        """The ``erl`` command line that runs this node."""
        spool = self.settings.ejabberd_dir / "spool"
        return [
            "erl", "-sname", self.settings.node_name,
            "-erl_epmd_port", str(self.settings.dist_port), "-start_epmd", "false",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
            "-noinput", "+K", "true", "-env", "ERL_CRASH_DUMP_BYTES", "0",
            "-mnesia", "dir", f'"{spool}"',
            "-s", "ejabberd",
        ]

    def start(self, timeout: float = 30.0) -> int:
        """Start the node unless it runs; return its pid once clients can connect."""
        if (pid := self.pid()) is not None:
            return pid
        s = self.settings
        for port, what in ((s.c2s_port, "c2s"), (s.http_port, "HTTP"), (s.dist_port, "Erlang dist"),
                           (s.journal_port, "journal component"), (s.calls_port, "calls component")):
            if port_open(s.bind_ip, port):
                raise EjabberdError(
                    f"port {port} ({what}) on {s.bind_ip} is already in use; stop what listens there "
                    f"(`ss -ltnp 'sport = :{port}'`) or set SWITCHBOARD_{what.split()[0].upper()}_PORT")
        wrapper = prepare(s)
        env = dict(os.environ,
                   EJABBERD_CONFIG_PATH=str(wrapper),
                   EJABBERD_LOG_PATH=str(self.log_file),
                   ERL_LIBS=erl_libs(),
                   ERL_CRASH_DUMP=str(s.log_dir / "erl_crash.dump"),
                   ERL_EPMD_ADDRESS="127.0.0.1")
        try:
            with open(s.log_dir / "ejabberd.out", "ab") as out:
                proc = subprocess.Popen(self.command(wrapper), cwd=s.ejabberd_dir / "spool", env=env,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        except FileNotFoundError as exc:
            raise EjabberdError("erl not found: ejabberd is not installed; "
                                "run ./switchboard install") from exc
        self._process = proc
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EjabberdError(f"ejabberd exited at start (code {proc.returncode}):\n"
                                    + self.log_tail())
            if port_open(s.bind_ip, s.c2s_port) and port_open(s.bind_ip, s.http_port):
                return proc.pid
            time.sleep(0.1)
        self.stop()
        raise EjabberdError(f"ejabberd did not open port {s.c2s_port} within {timeout:.0f} s:\n"
                            + self.log_tail())

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the node (SIGTERM, then SIGKILL); True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid, timeout)
        if self._process is not None:  # we are its parent: collect it, leave no zombie
            self._process.wait()
            self._process = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self) -> str:
        """The last lines of ejabberd's log and console output, for error messages."""
        return tail(self.log_file) + "\n" + tail(self.settings.log_dir / "ejabberd.out")

    # --- admin API ---------------------------------------------------------------------------

    def api(self, command: str, **args: Any) -> Any:
        """Call ejabberd's HTTP admin API (loopback only) and return the decoded answer."""
        s = self.settings
        request = urllib.request.Request(
            f"http://{s.bind_ip}:{s.http_port}/api/{command}",
            data=json.dumps(args).encode(), method="POST",
            headers={"Content-Type": "application/json", "Host": s.domain})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise EjabberdError(f"ejabberd API {command} failed ({exc.code}): {body}") from exc
        except urllib.error.URLError as exc:
            raise EjabberdError(f"ejabberd API unreachable on port {s.http_port}: {exc.reason}; "
                                "is ejabberd running? (./switchboard status)") from exc

    def rpc(self, module: str, function: str, args: str = "[]") -> str:
        """Call ``module:function`` on the running node with ``args`` (an Erlang list, as source
        text) through Erlang distribution on loopback, as ``ejabberdctl`` reaches it, and return the
        result as Erlang prints it: what ejabberd runs, where its HTTP API has no command for it."""
        call = (f"R = rpc:call('{self.settings.node_name}', {module}, {function}, {args}), "
                "io:format(\"~ts\", [io_lib:print(R, 1, 1000000, -1)]), halt().")
        probe = f"probe{uuid.uuid4().hex[:8]}"
        done = subprocess.run(
            ["erl", "-sname", probe, "-erl_epmd_port", str(self.settings.dist_port),
             "-start_epmd", "false", "-dist_listen", "false", "-noshell", "-eval", call],
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0 or done.stdout.startswith("{badrpc,"):
            raise EjabberdError(f"cannot call {module}:{function} on {self.settings.node_name} "
                                f"(port {self.settings.dist_port}): {done.stdout or done.stderr}; "
                                "is ejabberd running? (./switchboard status)")
        return done.stdout

    def register(self, user: str, password: str) -> None:
        """Create the account, or reset its password when it exists."""
        host = self.settings.domain
        if user in self.api("registered_users", host=host):
            self.api("change_password", user=user, host=host, newpass=password)
        else:
            self.api("register", user=user, host=host, password=password)

    def ensure_card(self, user: str, fields: dict[str, str]) -> bool:
        """Give ``user`` a business card (vCard: ``FN``, ``ORG/ORGNAME``, ``TEL/NUMBER``, …) when
        they have none; a card they have, edited or not, stays as it is. True when one was set."""
        host = self.settings.domain
        try:
            self.api("get_vcard", user=user, host=host, name="FN")
            return False
        except EjabberdError as exc:
            if "error_no_vcard_found" not in str(exc):
                raise
        for key, value in fields.items():
            name, _, sub = key.partition("/")
            if sub:
                self.api("set_vcard2", user=user, host=host, name=name, subname=sub, content=value)
            else:
                self.api("set_vcard", user=user, host=host, name=name, content=value)
        return True

    def ensure_group(self, group: str, label: str, members: list[str]) -> None:
        """A shared-roster group whose members see each other; members are usernames or ``@all@``."""
        host = self.settings.domain
        if group not in self.api("srg_list", host=host):
            self.api("srg_create", group=group, host=host, label=label, description=label,
                     display=[group])
        present = {m.split("@")[0] for m in self.api("srg_get_members", group=group, host=host)}
        for member in members:
            if member.split("@")[0] not in present:
                self.api("srg_user_add", user=member, host=host, group=group, grouphost=host)
