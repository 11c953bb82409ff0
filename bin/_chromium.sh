# Sourced by bin/test: find a Chromium for the dashboard's browser tests, or install Debian's.
# Exports CHROMIUM (its path). Fails loudly when there is none and it cannot be installed.
find_chromium() {
  for candidate in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
if ! CHROMIUM="$(find_chromium)"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bin/test: installing Debian's chromium for the dashboard tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  fi
  CHROMIUM="$(find_chromium)" || {
    echo "bin/test: no Chromium found; install one (Debian: apt-get install chromium) or set CHROMIUM=/path" >&2
    exit 1
  }
fi
export CHROMIUM
