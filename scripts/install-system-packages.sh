#!/usr/bin/env bash
# Install the Debian packages that cadence's tests run for real (today: Dovecot's IMAP server).
#
# Idempotent and non-interactive: installs only what is missing, runs `apt-get update` only when it
# has something to install, and leaves the packaged Dovecot service stopped, because the tests start
# their own private Dovecot on a free port and the packaged one would only hold ports 143/993.
set -euo pipefail

PACKAGES=(dovecot-imapd)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1 \
        || ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-system-packages: missing Debian packages: ${missing[*]}" >&2
        echo "install-system-packages: run this script as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "install-system-packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -q -y --no-install-recommends "${missing[@]}"
else
    echo "install-system-packages: already installed: ${PACKAGES[*]}"
fi

# Stop the packaged Dovecot so that it holds no port; the tests run their own instance.
if [ "$(id -u)" -eq 0 ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
        systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
        service dovecot stop >/dev/null 2>&1 || true
    fi
    # Only the packaged master: the one started with the default configuration, whose pid file is
    # in the packaged base_dir. Private test instances (dovecot -c /tmp/...) are left alone.
    pidfile=/run/dovecot/master.pid
    if [ -f "$pidfile" ]; then
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
            && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'dovecot' \
            && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- ' -c '; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e /etc/init.d/dovecot ]; then
        update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
fi

echo "install-system-packages: $(dovecot --version 2>/dev/null | sed 's/^/dovecot /' || echo 'dovecot: not found')"
