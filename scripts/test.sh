#!/usr/bin/env bash
# Installs what the test suite needs into .venv and runs all of it: lint, types, tests.
# Tests use real PostgreSQL: HOTLINE_TEST_DATABASE_URL when set, else an embedded server.
set -euo pipefail
cd "$(dirname "$0")/.."

# speech/ decodes GSM and writes mp3 archive copies through ffmpeg (pydub).
if ! command -v ffmpeg >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq ffmpeg
    else
        echo "scripts/test.sh: ffmpeg is missing; install it (Debian: apt-get install ffmpeg)" >&2
    fi
fi

# notify/ tests run a real Kannel (bearerbox, smsbox) with its fake SMSC (kannel-extras).
if ! command -v bearerbox >/dev/null 2>&1 && [ ! -x /usr/sbin/bearerbox ] \
    || [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras
    else
        echo "scripts/test.sh: Kannel is missing; install it (Debian: apt-get install kannel kannel-extras)" >&2
    fi
fi

# Console tests drive Debian's Chromium headless through Playwright (which never downloads a
# browser here); Noto fonts draw Vietnamese diacritics in the screenshots.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/noto ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core
    else
        echo "scripts/test.sh: Chromium is missing; install it (Debian: apt-get install chromium fonts-noto-core)" >&2
    fi
fi

# The alert rules in deploy/prometheus/ are checked and unit-tested by promtool (Debian's
# prometheus package; the server it also installs is not started).
if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    else
        echo "scripts/test.sh: promtool is missing; install it (Debian: apt-get install prometheus)" >&2
    fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
