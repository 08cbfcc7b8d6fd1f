# Sourced by scripts/run, scripts/test and scripts/lock: pick a local Python 3.11-3.13, make the
# virtualenv and install exactly what uv.lock pins (every package, direct and transitive). The
# install is redone only when uv.lock, pyproject.toml or the Python changes.
#
# Installer: uv (the one on PATH if recent enough, else uv $UV_VERSION installed from PyPI into
# .tools/), pip as the fallback with requirements.lock (uv.lock exported with hashes). A Python is
# never downloaded: only interpreters already on the machine are used.
#
# Settings (environment):
#   PYTHON    the interpreter to use (default: the first of python3, python3.13, python3.12,
#             python3.11 that is 3.11-3.13)
#   CSP_VENV  the virtualenv (default .venv)
#   CSP_INSTALLER=pip  skip uv and install with pip from requirements.lock
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

UV_VERSION=0.13.9
CSP_VENV="${CSP_VENV:-.venv}"
export UV_PROJECT_ENVIRONMENT="$CSP_VENV" UV_PYTHON_DOWNLOADS=never
_bootstrap_t0=$SECONDS

bootstrap_say() { printf 'bootstrap [%3ds] %s\n' "$((SECONDS - _bootstrap_t0))" "$*" >&2; }

# "<executable> <major.minor>" of a supported interpreter, or nothing.
_python_probe() {
  "$1" -c 'import sys
if (3, 11) <= sys.version_info[:2] <= (3, 13):
    print(sys.executable, "%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

_bootstrap_pick_python() {
  local candidate found
  if [ -n "${PYTHON:-}" ]; then
    found="$(_python_probe "$PYTHON")"
    if [ -z "$found" ]; then
      echo "bootstrap: PYTHON=$PYTHON is not a Python 3.11, 3.12 or 3.13" >&2
      return 1
    fi
    echo "$found"
    return 0
  fi
  for candidate in python3 python3.13 python3.12 python3.11; do
    found="$(_python_probe "$candidate")"
    if [ -n "$found" ]; then
      echo "$found"
      return 0
    fi
  done
  echo "bootstrap: no Python 3.11, 3.12 or 3.13 found (tried python3, python3.13, python3.12," \
    "python3.11; set PYTHON=/path/to/python). Nothing is downloaded." >&2
  return 1
}

# The uv to use: $UV, the one on PATH when >= 0.9, else .tools/uv-$UV_VERSION (installed from PyPI
# with pip on first use). Prints nothing when uv cannot be had.
bootstrap_find_uv() {
  local tools=".tools/uv-$UV_VERSION" version
  if [ -n "${UV:-}" ]; then
    echo "$UV"
    return 0
  fi
  if command -v uv >/dev/null 2>&1; then
    version="$(uv --version 2>/dev/null | awk '{print $2}')"
    case "$version" in
      0.[0-8].* | "") ;;
      *)
        command -v uv
        return 0
        ;;
    esac
  fi
  if [ ! -x "$tools/bin/uv" ]; then
    bootstrap_say "installing uv $UV_VERSION from PyPI into $tools"
    rm -rf "$tools"
    if ! { "$BOOTSTRAP_PYTHON" -m venv "$tools" &&
      "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
        "uv==$UV_VERSION"; } >&2; then
      rm -rf "$tools"
      bootstrap_say "could not install uv: falling back to pip"
      return 0
    fi
  fi
  echo "$ROOT/$tools/bin/uv"
}

read -r BOOTSTRAP_PYTHON BOOTSTRAP_PYTHON_VERSION <<<"$(_bootstrap_pick_python)"
[ -n "${BOOTSTRAP_PYTHON:-}" ] || exit 1
# scripts/lock needs only the Python and uv.
[ "${BOOTSTRAP_NO_INSTALL:-}" = 1 ] && return 0

stamp="$CSP_VENV/.installed-$(
  {
    cat uv.lock pyproject.toml
    echo "$BOOTSTRAP_PYTHON $BOOTSTRAP_PYTHON_VERSION ${CSP_INSTALLER:-uv}"
  } | sha256sum | cut -c1-16
)"
if [ ! -f "$stamp" ] || [ ! -x "$CSP_VENV/bin/python" ]; then
  bootstrap_say "installing uv.lock into $CSP_VENV (Python $BOOTSTRAP_PYTHON_VERSION," \
    "$BOOTSTRAP_PYTHON)"
  BOOTSTRAP_UV=""
  [ "${CSP_INSTALLER:-uv}" = pip ] || BOOTSTRAP_UV="$(bootstrap_find_uv)"
  if [ -n "$BOOTSTRAP_UV" ]; then
    bootstrap_say "uv sync --locked ($("$BOOTSTRAP_UV" --version))"
    if ! "$BOOTSTRAP_UV" sync --locked --all-extras --python "$BOOTSTRAP_PYTHON" \
      --no-python-downloads; then
      echo "bootstrap: uv sync failed. If it says the lockfile needs to be updated," \
        "pyproject.toml changed without the lock: run scripts/lock and commit uv.lock and" \
        "requirements.lock." >&2
      exit 1
    fi
  else
    bootstrap_say "pip install --require-hashes -r requirements.lock"
    rm -rf "$CSP_VENV"
    "$BOOTSTRAP_PYTHON" -m venv "$CSP_VENV"
    "$CSP_VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on \
      --require-hashes -r requirements.lock
    "$CSP_VENV/bin/python" -m pip install --disable-pip-version-check --quiet --no-deps -e .
  fi
  rm -f "$CSP_VENV"/.installed-*
  touch "$stamp"
  bootstrap_say "installed into $CSP_VENV"
fi
unset stamp
