# Sourced by bin/run and bin/test: create .venv and install the project with the given extra,
# again only when pyproject.toml changed since the last install.
set -euo pipefail
extra="$1"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$extra-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$extra]"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
