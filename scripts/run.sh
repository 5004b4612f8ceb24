#!/usr/bin/env bash
# Installs callcard on a fresh Debian/Ubuntu machine with Python 3.11+ and runs the whole service on an
# embedded SQLite database (under ./var), ready for Asterisk: web API and pages on 127.0.0.1:8000,
# AudioSocket media server on 127.0.0.1:9092, FastAGI on 127.0.0.1:4573 (ARI: set CALLCARD_ARI_ENABLED=true).
# On the first start it creates the user "admin" and prints its password.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "callcard needs Python 3.11 or newer (found $(python3 --version 2>&1))" >&2
  exit 1
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .

# Vosk's small Russian and Kazakh models, when missing and the network allows (verified, unpacked atomically).
.venv/bin/callcard models download ru kk --size small \
  || echo "!! Vosk models could not be downloaded; live transcripts stay off until \`callcard models download ru kk\` succeeds (calls are still recorded; cards can be made by hand)." >&2

# The card classifier ships trained (classifier/data/model); `callcard classifier retrain` makes new versions.
exec .venv/bin/callcard serve "$@"
