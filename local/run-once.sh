#!/bin/sh
# run-once.sh ARG...: one Bucketpipe command against the local stack (Ceph RGW, Redis), in a fresh
# container that is removed afterwards. Examples:
#   local/run-once.sh status
#   local/run-once.sh ingest demo
#   local/run-once.sh clean --rebuild quotes
#   local/run-once.sh config
set -eu

if [ "$#" -eq 0 ]; then
    echo "usage: local/run-once.sh ARG...   (the arguments of 'bucketpipe', e.g. status)" >&2
    exit 2
fi
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
exec docker compose -f "$here/compose.yaml" run --rm bucketpipe "$@"
