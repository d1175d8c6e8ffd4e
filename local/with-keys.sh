#!/bin/sh
# with-keys.sh FILE... -- COMMAND [ARG...]: export the NAME=value lines of each FILE (the keys
# local/rgw-keys.sh wrote for this container's role), then replace this shell with COMMAND. A
# missing file or a line that is not NAME=value stops it with exit 2: a job never starts with
# the wrong keys or none.
set -eu

files=
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    files="$files $1"
    shift
done
if [ "$#" -lt 2 ] || [ -z "$files" ]; then
    echo "usage: with-keys.sh FILE... -- COMMAND [ARG...]" >&2
    exit 2
fi
shift

for file in $files; do
    if [ ! -r "$file" ]; then
        echo "with-keys.sh: cannot read $file (did rgw-keys finish?)" >&2
        exit 2
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        name=${line%%=*}
        case $name in
            '' | *[!A-Z0-9_]* | [0-9]*)
                echo "with-keys.sh: $file: not a NAME=value line" >&2
                exit 2
                ;;
        esac
        export "$name=${line#*=}"
    done <"$file"
done
exec "$@"
