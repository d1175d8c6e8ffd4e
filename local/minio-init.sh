#!/bin/sh
# minio-init.sh: prepare the local MinIO like an Allas project: the lake bucket, a source bucket
# for `ingest bucket`, a read-write user for the jobs and a read-only user for the dashboard.
# Runs in the mc container of local/compose.yaml; safe to run again.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing local/bucketpipe local/bucketpipe-source

# Read-only: list and read the lake bucket, nothing else.
policy=/tmp/bucketpipe-read.json
cat >"$policy" <<'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::bucketpipe"]},
    {"Effect": "Allow", "Action": ["s3:GetObject"],
     "Resource": ["arn:aws:s3:::bucketpipe/*"]}
  ]
}
JSON
mc admin policy create local bucketpipe-read "$policy" >/dev/null

mc admin user add local "$LAKE_ACCESS_KEY_ID" "$LAKE_SECRET_ACCESS_KEY" >/dev/null
mc admin user add local "$LAKE_READONLY_ACCESS_KEY_ID" "$LAKE_READONLY_SECRET_ACCESS_KEY" >/dev/null

# Attaching a policy that is already attached is an error for mc; on a rerun it is not one.
attach() {
    mc admin policy attach local "$1" --user "$2" >/dev/null 2>&1 ||
        mc admin user info local "$2" | grep -q "$1"
}
attach readwrite "$LAKE_ACCESS_KEY_ID"
attach bucketpipe-read "$LAKE_READONLY_ACCESS_KEY_ID"

echo "minio-init: buckets bucketpipe and bucketpipe-source ready;" \
    "users $LAKE_ACCESS_KEY_ID (read-write) and $LAKE_READONLY_ACCESS_KEY_ID (read-only)"
