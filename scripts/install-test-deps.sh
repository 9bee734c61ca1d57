#!/usr/bin/env bash
# Installs the system packages the test suite drives, when they are missing (idempotent).
# Debian: mosquitto-clients (mosquitto_pub/mosquitto_sub), mosquitto (benchmark peer),
# redis-server (the Redis store and cluster tests start their own on a free port), redis-sentinel
# (test/integration/cluster/sentinel-failover.test.ts fails a master over), nginx-light
# and haproxy (test/integration/reverse-proxy.test.ts runs them in front of the server), iproute2
# (ip netns, for a caller that is not on loopback), awscli (test/integration/awscli.test.ts runs
# Debian's `aws iot ...` and `aws iot-data publish` against the server), make, g++ and python3
# (scripts/test-node-versions.sh compiles better-sqlite3 for each Node version), bsdutils (`script`:
# a pseudo-terminal for the log format test).
set -euo pipefail
need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/bin/redis-sentinel ] || need+=(redis-sentinel)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
[ -x /usr/bin/aws ] || need+=(awscli)
{ command -v make >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1; } || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: need root (or sudo) to install: ${need[*]}" >&2
    exit 1
  fi
fi
echo "install-test-deps: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The mosquitto package starts a system broker on 1883 and redis-server a Redis on 6379; the tests
# start their own.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl stop mosquitto >/dev/null 2>&1 || true
  $SUDO systemctl stop redis-server >/dev/null 2>&1 || true
  $SUDO systemctl stop redis-sentinel >/dev/null 2>&1 || true
  $SUDO systemctl stop nginx >/dev/null 2>&1 || true
  $SUDO systemctl stop haproxy >/dev/null 2>&1 || true
fi
pkill -x mosquitto >/dev/null 2>&1 || true
pkill -x redis-server >/dev/null 2>&1 || true
