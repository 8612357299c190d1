#!/usr/bin/env bash
# Install Debian's Chromium for the web explorer's browser tests (tests/api/test_ui_browser.py),
# when it is missing. Idempotent: does nothing when /usr/bin/chromium exists.
#
# Playwright drives this system browser (executable_path=/usr/bin/chromium); it never
# downloads a browser of its own (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, no `playwright install`).
# Without apt-get or root, it says so and exits 0: the browser tests then skip with a reason.
set -euo pipefail

log() { printf 'chromium: %s\n' "$*" >&2; }

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "no /usr/bin/chromium and no apt-get: install Chromium with your package manager;"
    log "the browser tests (tests/api/test_ui_browser.py) are skipped until then"
    exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        log "no /usr/bin/chromium, and installing it needs root: sudo apt-get install -y chromium;"
        log "the browser tests (tests/api/test_ui_browser.py) are skipped until then"
        exit 0
    fi
fi
log "installing Debian's chromium for the browser tests (apt-get; about 1-2 minutes)"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -qq \
    || ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    log "apt-get could not install chromium; the browser tests are skipped (see the output above)"
    exit 0
fi
log "installed $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
