#!/bin/sh
# init-env.sh [--force]: create local/.env from local/.env.example, filling every empty password
# (REDIS_PASSWORD, REDIS_READER_PASSWORD, BUCKETPIPE_DASHBOARD_PASSWORD) with a random value.
# FINNHUB_API_KEY stays empty for you to fill in. Prints names, never values: the dashboard's
# password is in local/.env, readable by you only.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
example=$here/.env.example
target=$here/.env
generated='REDIS_PASSWORD REDIS_READER_PASSWORD BUCKETPIPE_DASHBOARD_PASSWORD'

if [ -e "$target" ] && [ "${1:-}" != "--force" ]; then
    echo "init-env.sh: $target exists; keeping it (use --force to replace it)" >&2
    exit 1
fi

random_hex() {
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

umask 077
tmp=$target.tmp.$$
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
while IFS= read -r line || [ -n "$line" ]; do
    name=${line%%=*}
    case " $generated " in
        *" $name "*)
            if [ "$line" = "$name=" ]; then
                line="$name=$(random_hex)"
                echo "init-env.sh: generated $name"
            fi
            ;;
    esac
    printf '%s\n' "$line" >>"$tmp"
done <"$example"
mv "$tmp" "$target"
trap - EXIT
echo "init-env.sh: wrote $target (readable only by you)"
