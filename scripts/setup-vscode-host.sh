#!/usr/bin/env bash
# Installs the real VS Code test host: code-server 4.100.3 (VS Code 1.100.3, still runs on
# Node 20) from the npm registry into .vscode-test/code-server/, in a package.json of its own.
# Once installed it is reused (a marker file holds the version). See
# ../shared/docs/real-vscode-tests.md for the three fixes applied here:
#   1. Debian packages libkrb5-dev (kerberos module headers) and ripgrep;
#   2. npm_config_yes=true (node-pty's postinstall runs `npx node-gyp`; ~/.npmrc may say yes=false);
#   3. a ripgrep cache tarball built from /usr/bin/rg, so @vscode/ripgrep does not download
#      from GitHub (no network here except the npm registry and Debian).
# Also installs Debian's chromium (the browser that drives the workbench) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.100.3
# @vscode/ripgrep version and ripgrep release that code-server $VERSION depends on.
RG_PKG=1.15.11
RG_RELEASE=v13.0.0-10
# ETCD_BACKUP_VSCODE_HOST_DIR installs elsewhere (to check a clean install without touching the one in use).
DIR=${ETCD_BACKUP_VSCODE_HOST_DIR:-.vscode-test/code-server}
MARKER=$DIR/.installed

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$VERSION" ] && [ -x "$DIR/node_modules/.bin/code-server" ] && [ -x /usr/bin/chromium ]; then
  echo "code-server $VERSION already installed in $DIR"
  exit 0
fi

start=$SECONDS

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/krb5/krb5.h ] || need+=(libkrb5-dev)
if ! command -v make >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then need+=(build-essential); fi
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "apt-get install ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The cached ripgrep asset @vscode/ripgrep's postinstall looks for (in os.tmpdir()).
tmp=${TMPDIR:-/tmp}
tmp=${tmp%/}
cache="$tmp/vscode-ripgrep-cache-$RG_PKG"
asset="$cache/ripgrep-$RG_RELEASE-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$asset" ]; then
  mkdir -p "$cache"
  staging=$(mktemp -d)
  cp "$(command -v rg)" "$staging/rg"
  tar -C "$staging" -czf "$asset.part" rg
  mv "$asset.part" "$asset"
  rm -rf "$staging"
fi

mkdir -p "$DIR"
rm -f "$MARKER"
if [ ! -f "$DIR/package.json" ]; then
  printf '{\n  "name": "vscode-test-host",\n  "private": true,\n  "description": "code-server for the extension-host tests; installed by scripts/setup-vscode-host.sh"\n}\n' > "$DIR/package.json"
fi

echo "npm install code-server@$VERSION in $DIR (takes about a minute)"
(
  cd "$DIR"
  npm_config_yes=true npm install --unsafe-perm --no-audit --no-fund "code-server@$VERSION"
) || {
  echo "code-server install failed. If @vscode/ripgrep tried to download, check the version it" >&2
  echo "expects: node_modules/@vscode/ripgrep/lib/postinstall.js (VERSION) and package.json." >&2
  exit 1
}

"$DIR/node_modules/.bin/code-server" --version
echo "$VERSION" > "$MARKER"
echo "code-server $VERSION installed in $DIR in $((SECONDS - start))s"
