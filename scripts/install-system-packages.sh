#!/usr/bin/env bash
# Install the Debian packages that cadence's tests need: python3-venv (Debian's python3 makes no
# virtualenv without it), and what they run for real: Dovecot's IMAP server, dnsmasq as a DNS
# server (the binary only, dnsmasq-base: no packaged service to stop), Chromium
# for the browser tests (driven by Playwright with executable_path=/usr/bin/chromium), PostgreSQL,
# and openssl (the IMAP-over-TLS test makes its certificate with it).
#
# PostgreSQL, when this script installs it (a fresh machine), is set up as the tests expect it
# (DEVELOPERS.md): a superuser role for the user running the tests (${PGUSER:-root}) that logs in
# over 127.0.0.1 without a password, and a database `test`. A PostgreSQL that was there already is
# left as it is.
#
# Idempotent and non-interactive: installs only what is missing, runs `apt-get update` only when it
# has something to install, and leaves the packaged Dovecot service stopped and disabled, because the
# tests start a private Dovecot of their own on a free port (tests/support/dovecot.py) and the
# packaged one would only hold ports 143 and 993.
set -euo pipefail

PACKAGES=(python3-venv dovecot-imapd dnsmasq-base chromium postgresql openssl)

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

# The freshly installed cluster: trust for the tests' role over 127.0.0.1 (first, as the first
# matching line wins), the cluster started, the role and the database `test` created.
set_up_postgresql() {
    local version role hba
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    role="${PGUSER:-root}"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    sed -i "1i host all $role 127.0.0.1/32 trust  # cadence's tests (scripts/install-system-packages.sh)" "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    cd /
    if ! runuser -u postgres -- psql -Atqc "SELECT 1 FROM pg_roles WHERE rolname = '$role'" | grep -q 1; then
        runuser -u postgres -- createuser --superuser "$role"
    fi
    if ! runuser -u postgres -- psql -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
        runuser -u postgres -- createdb --owner "$role" test
    fi
    cd - >/dev/null
    echo "install-system-packages: PostgreSQL $version set up for role $role on 127.0.0.1:5432"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-system-packages: missing Debian packages: ${missing[*]}" >&2
        echo "install-system-packages: run this script as root (e.g. sudo bash $0)" >&2
        exit 1
    fi
    echo "install-system-packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -q -y --no-install-recommends "${missing[@]}"
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
        set_up_postgresql
    fi
else
    echo "install-system-packages: already installed: ${PACKAGES[*]}"
fi

# Stop the packaged Dovecot and keep it from starting at boot. Needs root; without it there is
# nothing we may do (and a non-root user cannot have started it either).
if [ "$(id -u)" -eq 0 ]; then
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            systemctl stop dovecot.socket dovecot.service >/dev/null 2>&1 || true
        fi
        # Works without a running systemd too: it only removes the wants/ symlinks.
        systemctl disable dovecot.socket dovecot.service >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1 && [ -x /etc/init.d/dovecot ]; then
        service dovecot stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -x /etc/init.d/dovecot ]; then
        update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
    # Only the packaged master: the one whose pid file is in the packaged base_dir and that was
    # started without -c. Private test instances (dovecot -F -c /tmp/...) are left alone.
    pidfile=/run/dovecot/master.pid
    if [ -f "$pidfile" ]; then
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
            cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
            if [[ "$cmdline" == *dovecot* && "$cmdline" != *" -c "* ]]; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 1 50); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
            fi
        fi
    fi
fi

echo "install-system-packages: dovecot $(dovecot --version 2>/dev/null || /usr/sbin/dovecot --version)"
