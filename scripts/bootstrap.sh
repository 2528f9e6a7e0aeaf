#!/usr/bin/env bash
# Set up .venv with a Python >= 3.12 and install crowd-model with the given extras.
# Usage: scripts/bootstrap.sh [extras]   (extras default: "sweeps,distributed,app")
# Re-runs are quick: nothing is reinstalled unless pyproject.toml or the extras changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-sweeps,distributed,app}"
venv="$root/.venv"

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local candidates=()
  [[ -n "${CROWD_MODEL_PYTHON:-}" ]] && candidates+=("$CROWD_MODEL_PYTHON")
  candidates+=(python3.13 python3.12 python3)
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for v in "$pyenv_root"/versions/3.1[2-9]* "$pyenv_root"/versions/3.[2-9][0-9]*; do
    [[ -x "$v/bin/python" ]] && candidates+=("$v/bin/python")
  done
  candidates+=(/usr/bin/python3.13 /usr/bin/python3.12 /usr/local/bin/python3.13 /usr/local/bin/python3.12)
  for c in "${candidates[@]}"; do
    local exe
    exe="$(command -v "$c" 2>/dev/null || true)"
    if [[ -n "$exe" ]] && python_ok "$exe"; then echo "$exe"; return 0; fi
  done
  return 1
}

if [[ ! -x "$venv/bin/python" ]] || ! python_ok "$venv/bin/python"; then
  if ! py="$(find_python)"; then
    echo "crowd-model needs Python >= 3.12 (Mesa 3.5 requires it) and none was found;" \
         "install one (e.g. 'pyenv install 3.12') or set CROWD_MODEL_PYTHON=/path/to/python3.12" >&2
    exit 1
  fi
  echo "bootstrap: creating .venv with $py ($("$py" --version))" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
fi

# The stamp holds pyproject.toml's hash and the extras installed. Extras already installed
# under the same pyproject.toml are kept, so that scripts/crowd-model and scripts/test, which
# ask for different extras, do not reinstall each other's.
stamp="$venv/.crowd-model-installed"
hash="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
have=""
if [[ -f "$stamp" ]]; then
  read -r old_hash old_extras < "$stamp" || true
  [[ "${old_hash:-}" == "$hash" ]] && have="${old_extras:-}"
fi
union="$(printf '%s\n' ${have//,/ } ${extras//,/ } | sort -u | paste -sd, -)"
if [[ -z "$have" ]] || [[ "$union" != "$have" ]]; then
  echo "bootstrap: installing crowd-model[$union] into .venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[$union]" >&2
  echo "$hash $union" > "$stamp"
  installed=1
  # Byte-compile the package, as pip does for a wheel (an editable install does not, and
  # with PYTHONDONTWRITEBYTECODE set Python never writes it): a start then skips compiling
  # the sources, about 0.15 s.
  "$venv/bin/python" -m compileall -q "$root/crowd_model" "$root/experiments" "$root/analysis" >&2
fi

# After an install, compile the kernels once into numba's cache, so that the first run
# starts at once. CROWD_MODEL_NO_WARM=1 skips this.
if [[ -n "${installed:-}" ]] && [[ -z "${CROWD_MODEL_NO_WARM:-}" ]]; then
  echo "bootstrap: compiling the kernels into numba's cache (CROWD_MODEL_NO_WARM=1 skips this)" >&2
  "$venv/bin/python" -m crowd_model compile >&2
fi
