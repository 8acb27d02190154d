#!/usr/bin/env bash
# Installs the Debian packages of scripts/packages.txt that are missing.
#
# Idempotent and non-interactive: when everything is installed it changes
# nothing and needs no network; otherwise it runs `apt-get update` once and
# installs only the missing packages. Runs as root, or through sudo.
#
# A `kernel-series <series>` line in packages.txt is not a package: it asks
# for the newest Debian kernel image of that series (6.12: Debian 13's
# kernel) and its headers from bookworm-backports. The exact package name
# (linux-image-6.12.<n>+deb12-amd64) changes with every Debian update, so it
# is resolved here, never written down. bookworm-backports is added as an
# apt source of its own, with the same URIs and key as the machine's
# bookworm source, and pinned so that only those kernel packages can come
# from it (scripts/apt/milk-backports.pref).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=()
kernel_series=()
while read -r line; do
    line="${line%%#*}"
    read -r name argument _ <<<"$line" || true
    if [[ "${name:-}" == kernel-series ]]; then
        kernel_series+=("$argument")
    elif [[ -n "${name:-}" ]]; then
        packages+=("$name")
    fi
done <"$here/packages.txt"

installed() {
    # dpkg-query's status is "install ok installed" only for a package that
    # is fully installed; removed-but-configured or half-installed ones count
    # as missing.
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# A series counts as present when some image of it and that same release's
# headers are both installed (the VM tests boot the image, Kbuild needs the
# headers).
series_installed() {
    local series=$1 image release
    while read -r image; do
        release="${image#linux-image-}"
        installed "$image" && installed "linux-headers-$release" && return 0
    done < <(dpkg-query -W -f='${Package}\n' "linux-image-$series.*-amd64" 2>/dev/null || true)
    return 1
}

missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
done
missing_series=()
for series in "${kernel_series[@]}"; do
    series_installed "$series" || missing_series+=("$series")
done

if ((${#missing[@]} == 0 && ${#missing_series[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages and ${#kernel_series[@]} extra kernel(s) are installed"
    exit 0
fi

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: missing packages (${missing[*]} ${missing_series[*]/#/linux }), and not root and no sudo to install them" >&2
        exit 1
    fi
    as_root=(sudo)
fi
# The environment goes through `env` because sudo resets it.
apt_env=(env DEBIAN_FRONTEND=noninteractive)

# Writes a file as root only when its content differs, so that a second run
# changes nothing.
install_file() {
    local content=$1 path=$2
    if [[ ! -f "$path" || "$(cat "$path")" != "$content" ]]; then
        echo "install-deps: writing $path"
        printf '%s\n' "$content" | "${as_root[@]}" tee "$path" >/dev/null
    fi
}

# bookworm-backports with the URIs and Signed-By of the machine's own
# bookworm source (a deb822 stanza whose Suites hold "bookworm", or a
# one-line `deb` entry), so that a mirror or snapshot configured there is
# used here too; Debian's default archive when there is none.
add_backports() {
    local uris="" signed_by=""
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        # deb822: stanzas are separated by blank lines.
        IFS=$'\t' read -r uris signed_by < <(awk '
            function flush() { if (suites ~ /(^| )bookworm( |$)/ && uris != "") { print uris "\t" (signed == "" ? "-" : signed); found = 1; exit } }
            /^[ \t]*$/ { flush(); suites = uris = signed = ""; next }
            /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
            /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); signed = $0 }
            END { if (!found) flush() }' "$file") || true
        [[ -n $uris ]] && break
    done
    if [[ -z $uris ]]; then
        for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -f $file ]] || continue
            uris="$(sed -nE 's/^deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+)[ \t]+bookworm[ \t].*/\2/p' "$file" | head -n1)"
            [[ -n $uris ]] && break
        done
    fi
    [[ -n $uris ]] || uris=http://deb.debian.org/debian
    [[ -n $signed_by && $signed_by != - ]] || signed_by=/usr/share/keyrings/debian-archive-keyring.gpg
    install_file "$(printf '%s\n' \
        "# Added by milk's scripts/install-deps.sh: Linux 6.12 for milk.ko's second kernel." \
        "# scripts/apt/milk-backports.pref (as /etc/apt/preferences.d/milk-backports.pref)" \
        "# lets only the kernel packages come from this suite." \
        "Types: deb" "URIs: $uris" "Suites: bookworm-backports" "Components: main" "Signed-By: $signed_by")" \
        /etc/apt/sources.list.d/milk-backports.sources
    install_file "$(cat "$here/apt/milk-backports.pref")" /etc/apt/preferences.d/milk-backports.pref
}

if ((${#missing_series[@]})); then
    add_backports
fi
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
fi
"${as_root[@]}" "${apt_env[@]}" apt-get update -qq </dev/null
if ((${#missing[@]})); then
    "${as_root[@]}" "${apt_env[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

for series in "${missing_series[@]}"; do
    # The newest image of the series that bookworm-backports carries (the
    # signed one: the -unsigned and -dbg packages have other suffixes).
    pattern="^linux-image-${series//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$"
    image="$(apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -n1)"
    if [[ -z $image ]]; then
        echo "install-deps: no linux-image-$series.*-amd64 in the apt sources (is bookworm-backports reachable?)" >&2
        exit 1
    fi
    release="${image#linux-image-}"
    echo "install-deps: installing Linux $release from bookworm-backports"
    "${as_root[@]}" "${apt_env[@]}" apt-get install -y --no-install-recommends \
        "$image" "linux-headers-$release" </dev/null
done
