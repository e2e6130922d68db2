#!/usr/bin/env bash
# Rebuilds ../vendor/editor.js (CodeMirror 6 + Python, one offline file) from the pinned npm
# packages in package-lock.json. Only needed to upgrade the editor: the built file is committed,
# so installing and running the grader needs neither Node.js nor the network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
rm -rf node_modules
