#!/bin/sh
# every.sh SECONDS COMMAND [ARG...]: run COMMAND now and then SECONDS after each run ends, until
# stopped (SIGTERM or SIGINT stops the loop and the running command). A failed run is reported
# and the loop carries on: the next run catches up, as the next CronJob slot would.
set -u

if [ "$#" -lt 2 ]; then
    echo "usage: every.sh SECONDS COMMAND [ARG...]" >&2
    exit 2
fi
interval=$1
shift
case $interval in
    '' | *[!0-9]*)
        echo "every.sh: SECONDS must be a whole number of seconds, got '$interval'" >&2
        exit 2
        ;;
esac

pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; fi; exit 0' TERM INT

while :; do
    "$@" &
    pid=$!
    wait "$pid"
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "every.sh: '$*' exited with status $status; next run in ${interval}s" >&2
    fi
    sleep "$interval" &
    pid=$!
    wait "$pid"
done
