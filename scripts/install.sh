#!/usr/bin/env bash
# Install what Switchboard needs on Debian 12, idempotently and quietly.
#   - ejabberd 24.12 from bookworm-backports with its SQLite and PostgreSQL drivers
#   - go-sendxmpp, a foreign XMPP client the interop tests use
#   - for the tests only (SWITCHBOARD_FOR_TESTS=1, set by ./switchboard test): Xvfb, xsetroot and
#     xrandr, a real X display for the screen-sharing tests; Chromium, Node.js and npm, a real
#     browser endpoint for the call interop tests
#   - python3-venv when the interpreter lacks it
#   - a venv in .venv with the project installed editable (with the test extra)
# Prints nothing when everything is already there; prints the failing step's output otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SWITCHBOARD_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
EJABBERD_WANTED="24.12"
LOG="$(mktemp)"
POLICY_CREATED=0
cleanup() {  # also when a step failed: a policy-rc.d left behind would block every service start
  rm -f "$LOG"
  if [ "$POLICY_CREATED" -eq 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

run() {  # run a step quietly; on failure show what it printed, a hint, and stop
  if ! "$@" >"$LOG" 2>&1; then
    echo "install: step failed: $*" >&2
    cat "$LOG" >&2
    if grep -q "CERTIFICATE_VERIFY_FAILED" "$LOG"; then
      echo "install: HTTPS to the package index is not trusted. If this network inspects TLS," \
           "add its CA certificate to /usr/local/share/ca-certificates/ and run" \
           "update-ca-certificates (or set PIP_CERT / PIP_INDEX_URL), then run this again." >&2
    fi
    exit 1
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install: '$*' needs root; run this command as root" >&2; exit 1
  fi
}

apt_updated=0
apt_install() {  # apt_install [-t suite] pkg...
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then run as_root apt-get update; apt_updated=1; fi
  run as_root apt-get install -y --no-install-recommends "$@"
}

apt_install_no_start() {  # apt_install, with the packages' services not started now
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    POLICY_CREATED=1
    as_root chmod 755 /usr/sbin/policy-rc.d
  fi
  apt_install "$@"
  if [ "$POLICY_CREATED" -eq 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; POLICY_CREATED=0; fi
}

have_pkg_version() {  # have_pkg_version pkg prefix
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | grep -q "^install ok installed $2"
}

add_backports() {
  # deb822 sources (cloud/container images) or one-line sources.list (installer/debootstrap).
  local d=/etc/apt/sources.list.d
  if grep -rqs "bookworm-backports" /etc/apt/sources.list $d/ 2>/dev/null; then return; fi
  if [ -f $d/debian.sources ]; then
    # copy the stanza of the main archive (not debian-security) with the suite changed; in awk,
    # not python3: a minimal Debian 12 (the container image) has deb822 sources and no python3 yet
    local stanza
    stanza=$(awk -v RS= '
      { n = split($0, lines, "\n"); out = ""; uris = ""; suites = ""
        for (i = 1; i <= n; i++) {
          l = lines[i]
          if (l ~ /^#/) continue
          if (l ~ /^URIs:/) uris = l
          if (l ~ /^Suites:/) { suites = l " "; l = "Suites: bookworm-backports" }
          out = out l "\n"
        }
        if (uris !~ /debian-security/ && suites ~ /[ \t]bookworm[ \t]/) { printf "%s", out; found = 1; exit }
      }
      END { if (!found) exit 1 }' "$d/debian.sources") || {
      echo "install: no stanza of the main Debian archive (Suites: bookworm) in $d/debian.sources;" \
           "add bookworm-backports to the apt sources by hand and run this again" >&2; exit 1; }
    printf '%s\n' "$stanza" | as_root tee "$d/backports.sources" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    local line
    line=$(grep -E '^deb\s' /etc/apt/sources.list | grep -v security | grep -E '\sbookworm\s' | head -n1)
    [ -n "$line" ] || { echo "install: no bookworm line in /etc/apt/sources.list" >&2; exit 1; }
    echo "$line" | sed -E 's/\sbookworm\s/ bookworm-backports /' | as_root tee $d/backports.list >/dev/null
  else
    echo "install: no apt sources found (neither $d/debian.sources nor /etc/apt/sources.list)" >&2; exit 1
  fi
  apt_updated=0
}

# --- ejabberd --------------------------------------------------------------------------------
if ! have_pkg_version ejabberd "$EJABBERD_WANTED" || ! have_pkg_version erlang-p1-sqlite3 "" \
   || ! have_pkg_version erlang-p1-pgsql "" || ! have_pkg_version go-sendxmpp ""; then
  add_backports
  # Debian's ejabberd service listens on every interface (port 5222 and four more) and epmd's on
  # 4369; the suite runs its own ejabberd without epmd. So neither starts now, nor, when this
  # script is what installs them, at the next boot (it would take port 5222 from ./switchboard up)
  boot_units=()
  have_pkg_version ejabberd "" || boot_units+=(ejabberd.service)
  have_pkg_version erlang-base "" || boot_units+=(epmd.service epmd.socket)
  # go-sendxmpp: a small XMPP client we did not write, for interop tests and quick checks
  apt_install_no_start -t bookworm-backports ejabberd erlang-p1-sqlite3 erlang-p1-pgsql go-sendxmpp
  if [ ${#boot_units[@]} -gt 0 ] && command -v systemctl >/dev/null; then
    run as_root systemctl disable "${boot_units[@]}"
  fi
  have_pkg_version ejabberd "$EJABBERD_WANTED" || {
    echo "install: ejabberd $EJABBERD_WANTED not installed; got: $(dpkg-query -W -f='${Version}' ejabberd)" >&2; exit 1; }
fi

# --- PostgreSQL (optional: the tests' PostgreSQL variant; .ci/run asks for it) ------------------
if [ "${SWITCHBOARD_WITH_POSTGRESQL:-0}" = "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install_no_start postgresql  # installed, no system cluster started on 5432
fi

# --- PortAudio: microphones and speakers for calls (the client runs without devices too) ------
if ! have_pkg_version libportaudio2 ""; then
  apt_install libportaudio2
fi

# --- only for the tests (./switchboard test sets SWITCHBOARD_FOR_TESTS=1) ----------------------
if [ "${SWITCHBOARD_FOR_TESTS:-0}" = "1" ]; then
  # Xvfb, xsetroot, xrandr: a real X display for the screen-sharing tests
  if ! have_pkg_version xvfb "" || ! have_pkg_version x11-xserver-utils ""; then
    apt_install xvfb x11-xserver-utils
  fi
  # Chromium, Node.js and npm: a real browser Jingle peer (StanzaJS) for the call interop tests
  # (the tests install the pinned npm packages of tests/browser_peer into .state/browser-peer)
  if ! have_pkg_version chromium ""; then
    apt_install chromium
  fi
  if ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
fi

# --- python venv ------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi
if [ ! -x "$VENV/bin/python" ]; then
  run "$PYTHON" -m venv "$VENV"
fi
# reinstall only when the project metadata changed since the last install
STAMP="$VENV/.switchboard-installed"
HASH="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  run "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
  echo "$HASH" >"$STAMP"
fi
