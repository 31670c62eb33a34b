#!/usr/bin/env bash
# Install everything the test suite needs, then run it (arguments go to pytest).
# This is the README's test command; CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's Chromium through Debian's chromedriver (no browser download).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing chromium and chromium-driver with apt for the browser tests..."
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
    echo "WARNING: could not install Chromium; the browser tests will fail (they never skip)." >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
