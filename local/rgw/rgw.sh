#!/usr/bin/env bash
# rgw.sh start|stop|env|status [options]: a throwaway single-node Ceph RGW, the S3 server under
# CSC Allas, for the tests (`make test-rgw`) and for running Bucketpipe locally. Installs the
# Debian packages it needs when they are missing (as root), then runs rgw.py. See docs/local.md.
#   local/rgw/rgw.sh start [--https] [--port 7480] [--dir DIR] [--foreground]
#   eval "$(local/rgw/rgw.sh env)"        # AWS_ENDPOINT_URL, keys, BUCKETPIPE_LAKE, ...
#   local/rgw/rgw.sh stop
set -euo pipefail

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

# Binaries the cluster needs, and the Debian package of each.
declare -A package_of=(
    [ceph-mon]=ceph-mon [ceph-osd]=ceph-osd [radosgw]=radosgw [radosgw-admin]=radosgw
    [monmaptool]=ceph-common [openssl]=openssl [python3]=python3
)
if [ "${1:-}" = "start" ]; then
    missing=()
    for binary in "${!package_of[@]}"; do
        command -v "$binary" >/dev/null 2>&1 || missing+=("${package_of[$binary]}")
    done
    # The mon commands go through the rados module of the system's Python (python3-rados).
    if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import rados' 2>/dev/null; then
        missing+=(ceph-common)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        if [ "$(id -u)" -ne 0 ]; then
            echo "rgw: missing ${missing[*]}: run as root or install them first (apt-get install ${missing[*]})" >&2
            exit 1
        fi
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "rgw: missing ${missing[*]} and no apt-get here: install Ceph's mon, osd and radosgw with your package manager" >&2
            exit 1
        fi
        echo "rgw: installing ${missing[*]} (about a minute)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
exec /usr/bin/python3 "$here/rgw.py" "$@"
