"""A throwaway Dovecot on 127.0.0.1 for the tests and the benchmark: its own configuration, user,
Maildir and self-signed certificate in temporary folders, stopped and removed afterwards."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or (os.path.exists("/usr/sbin/dovecot") and "/usr/sbin/dovecot") or None
CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = yes
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


@contextmanager
def running_dovecot():
    """A Dovecot serving user zhc (password secret) on free ports; the mail owned by an unprivileged user."""
    # Dovecot's own processes run as its unprivileged users: its folder must be readable by them
    # (pytest's temporary folders are private to their owner).
    base = Path(tempfile.mkdtemp(prefix="assess-xl-dovecot-", dir="/tmp"))
    os.chmod(base, 0o755)
    for sub in ("run", "state"):
        (base / sub).mkdir(parents=True)
    mail = Path(tempfile.mkdtemp(prefix="assess-xl-mail-", dir="/tmp"))
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    os.chown(mail, user.pw_uid, user.pw_gid)
    port, tls_port = free_port(), free_port()
    (base / "passwd").write_text("zhc:{PLAIN}secret\n")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(base / "key.pem"),
                    "-out", str(base / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(base / "key.pem", 0o644)
    config = base / "dovecot.conf"
    config.write_text(CONFIG.format(base=base, mail=mail, uid=user.pw_uid, gid=user.pw_gid, port=port, tls_port=tls_port))
    server = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    for listening in (port, tls_port):
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", listening), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
    TLS[port] = (tls_port, base / "cert.pem")
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(mail, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


TLS: dict = {}  # plain port → (IMAPS port, the server's certificate)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]




def append(port, raw: bytes, folder: str = "INBOX"):
    """Put a message into user zhc's folder, unread, as a mail server would on delivery."""
    from imap_tools import MailBoxUnencrypted
    with MailBoxUnencrypted("127.0.0.1", port).login("zhc", "secret") as mailbox:
        mailbox.append(raw, folder, dt=None, flag_set=())


def flags(port):
    """(subject, flags) of every message in zhc's INBOX, looked at without changing anything."""
    from imap_tools import MailBoxUnencrypted
    with MailBoxUnencrypted("127.0.0.1", port).login("zhc", "secret") as mailbox:
        mailbox.folder.set("INBOX", readonly=True)
        return sorted((m.subject, m.flags) for m in mailbox.fetch(mark_seen=False))


needs_dovecot = pytest.mark.skipif(DOVECOT is None and os.environ.get("CI") != "true",
                                   reason="Dovecot (dovecot-imapd) is not installed; .ci/run installs it")


@pytest.fixture
def dovecot():
    """A Dovecot serving user zhc (password secret) on free ports (plain/STARTTLS and IMAPS)."""
    with running_dovecot() as port:
        yield port
