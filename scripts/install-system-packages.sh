#!/usr/bin/env bash
# Install the Debian packages that cadence's tests run for real: Dovecot's IMAP server, dnsmasq as a
# DNS server (the binary only, dnsmasq-base: no packaged service to stop), and Chromium for the
# browser tests (driven by Playwright with executable_path=/usr/bin/chromium).
#
# Idempotent and non-interactive: installs only what is missing, runs `apt-get update` only when it
# has something to install, and leaves the packaged Dovecot service stopped and disabled, because the
# tests start a private Dovecot of their own on a free port (tests/support/dovecot.py) and the
# packaged one would only hold ports 143 and 993.
set -euo pipefail

PACKAGES=(dovecot-imapd dnsmasq-base chromium)

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
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
