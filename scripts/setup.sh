#!/usr/bin/env bash
# Installs everything the extension, its tests and its demo need on a Debian machine with
# Node 20 (run as root, or with sudo available): Debian packages, npm dependencies, and the
# real VS Code test host (code-server 4.100.3 in .vscode-test/). Safe to run again: each step
# is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: etcd + etcdctl 3.4 (real members in the tests), openssl (test certificates),
# chromium (drives the real VS Code workbench), ripgrep + libkrb5-dev (code-server's install),
# time (peak memory in the benchmark), unzip (zipinfo lists the packaged VSIX's files).
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/krb5/krb5.h ] || need+=(libkrb5-dev)
[ -x /usr/bin/time ] || need+=(time)
command -v zipinfo >/dev/null 2>&1 || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm dependencies, from the lock file. Re-run when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

# The real VS Code (code-server 4.100.3 from npm) that the extension-host tests run in.
log "VS Code test host"
bash scripts/setup-vscode-host.sh
