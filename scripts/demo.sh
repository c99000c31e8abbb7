#!/usr/bin/env bash
# Runs the extension for real: installs what it needs (Debian packages, npm ci, the VS Code
# host), builds it, starts a local 3-member etcd cluster with sample data, and opens VS Code
# (code-server on 127.0.0.1; the URL is printed) with the extension loaded. Ctrl-C stops it.
# Options go to scripts/demo.mjs: --port N, --plain (no TLS), --smoke (check it and exit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
exec node scripts/demo.mjs "$@"
