#!/bin/sh
# Rotates the API key of every connector; for cron, e.g. monthly:
#   0 3 1 * *  ES_URL=https://es1:9200 ES_API_KEY=... /path/to/rotate_cron.sh
# Self-managed connectors get their new key in $KEY_DIR/<connector_id>.key
# (mode 0600), for whatever deploys their service to pick up.
# Exit status: non-zero if any connector failed (cron mails the output).
set -eu
: "${ES_URL:?set ES_URL}"
KEY_DIR=${KEY_DIR:-/var/lib/esconnector/keys}
EXPIRATION=${EXPIRATION:-90d}
umask 077
mkdir -p "$KEY_DIR"
exec esconnector rotate --all --expiration "$EXPIRATION" --key-dir "$KEY_DIR"
