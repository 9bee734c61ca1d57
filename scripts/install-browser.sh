#!/usr/bin/env bash
# Installs the browser the e2e suite drives (test/e2e/browser.test.ts): Debian's Chromium at
# /usr/bin/chromium, driven by playwright-core (which never downloads a browser of its own).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-browser: need root (or sudo) to install chromium" >&2
    exit 1
  fi
fi
echo "install-browser: installing chromium"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
[ -x /usr/bin/chromium ] || { echo "install-browser: /usr/bin/chromium still missing after install" >&2; exit 1; }
