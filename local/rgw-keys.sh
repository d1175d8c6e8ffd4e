#!/bin/sh
# rgw-keys.sh DIR < exports: split the keys `local/rgw/rgw.sh env` prints (`export NAME=value`
# lines) into one file per role, DIR/writer/env, DIR/reader/env and DIR/source/env, each holding
# only the NAME=value lines that role's containers may see, under the names they read. Each role
# directory is a volume of its own in local/compose.yaml, so a container mounts only its role's
# keys: the dashboard gets the reader's, never the writer's. Prints names, never values.
set -eu

if [ "$#" -ne 1 ]; then
    echo "usage: rgw-keys.sh DIR < exports" >&2
    exit 2
fi
dir=$1
tab=$(printf '\t')

# Read the exports into shell variables prefixed rgw_, refusing anything that is not a plain
# NAME=value line (the values are keys and URLs: no spaces, quotes or shell syntax).
while IFS= read -r line || [ -n "$line" ]; do
    case $line in
        '' | '#'*) continue ;;
    esac
    line=${line#export }
    name=${line%%=*}
    value=${line#*=}
    case $name in
        '' | *[!A-Z0-9_]*)
            echo "rgw-keys.sh: not an export line: $name" >&2
            exit 2
            ;;
    esac
    case $value in
        *[!A-Za-z0-9_./:+=@-]*)
            echo "rgw-keys.sh: unexpected characters in the value of $name" >&2
            exit 2
            ;;
    esac
    eval "rgw_$name=\$value"
done

# need NAME: set `value` to the input's NAME, or stop (never write a role's file half full).
need() {
    eval "value=\${rgw_$1:-}"
    if [ -z "$value" ]; then
        echo "rgw-keys.sh: $1 missing from the input (is RGW started?)" >&2
        exit 1
    fi
}

# write ROLE NAME=SOURCE...: DIR/ROLE/env with NAME set to the input's SOURCE, readable by every
# user of the containers that mount it (Bucketpipe runs as a non-root UID), written atomically.
write() {
    role=$1
    shift
    mkdir -p "$dir/$role"
    tmp="$dir/$role/.env.tmp"
    rm -f "$tmp"
    : >"$tmp"
    names=
    for pair in "$@"; do
        need "${pair#*=}"
        printf '%s=%s\n' "${pair%%=*}" "$value" >>"$tmp"
        names="$names${tab}${pair%%=*}"
    done
    chmod 0444 "$tmp"
    mv -f "$tmp" "$dir/$role/env"
    echo "rgw-keys.sh: $role:$(printf '%s' "$names" | tr '\t' ' ')"
}

write writer AWS_ACCESS_KEY_ID=AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=AWS_SECRET_ACCESS_KEY \
    BUCKETPIPE_LAKE=BUCKETPIPE_LAKE
write reader AWS_ACCESS_KEY_ID=BUCKETPIPE_READER_ACCESS_KEY_ID \
    AWS_SECRET_ACCESS_KEY=BUCKETPIPE_READER_SECRET_ACCESS_KEY BUCKETPIPE_LAKE=BUCKETPIPE_LAKE
write source BUCKETPIPE_SOURCE=BUCKETPIPE_SOURCE \
    BUCKETPIPE_SOURCE_ACCESS_KEY_ID=BUCKETPIPE_SOURCE_ACCESS_KEY_ID \
    BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY=BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY
