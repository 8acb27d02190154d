#!/usr/bin/env bash
# Installs the Debian packages of scripts/packages.txt that are missing.
#
# Idempotent and non-interactive: when everything is installed it changes
# nothing and needs no network; otherwise it runs `apt-get update` once and
# installs only the missing packages. Runs as root, or through sudo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=()
while read -r line; do
    line="${line%%#*}"
    read -r name _ <<<"$line" || true
    [[ -n "${name:-}" ]] && packages+=("$name")
done <"$here/packages.txt"

missing=()
for package in "${packages[@]}"; do
    # dpkg-query's status is "install ok installed" only for a package that
    # is fully installed; removed-but-configured or half-installed ones count
    # as missing.
    status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: missing packages (${missing[*]}), and not root and no sudo to install them" >&2
        exit 1
    fi
    as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
# The environment goes through `env` because sudo resets it.
apt_env=(env DEBIAN_FRONTEND=noninteractive)
"${as_root[@]}" "${apt_env[@]}" apt-get update </dev/null
"${as_root[@]}" "${apt_env[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
