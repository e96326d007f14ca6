#!/bin/sh
# Rotates the API key of every connector, and retires old keys once their
# grace period is over.  For cron, e.g. a monthly rotation and an hourly
# retire:
#   0 3 1 * *  ES_URL=https://es1:9200 ES_USERNAME=rotator ES_PASSWORD_FILE=/etc/esconnector/password /path/to/rotate_cron.sh
#   15 * * * * ES_URL=https://es1:9200 ES_USERNAME=rotator ES_PASSWORD_FILE=/etc/esconnector/password /path/to/rotate_cron.sh retire
# Rotation creates API keys with privileges, which Elasticsearch allows a
# user but not an API key: give a user with manage_api_key (or
# manage_own_api_key), manage_connector, and read_connector_secrets and
# write_connector_secrets for native connectors.  The password is read from a
# file (mode 0600) so that it is neither in the crontab nor in `ps`.
# Self-managed connectors get their new key in $KEY_DIR/<connector_id>.key
# (mode 0600), for whatever deploys their service to pick up; their old key
# stays valid for $RETIRE_AFTER so that the service can reload.
# Exit status: non-zero if any connector failed or anything was left over
# (cron mails the output; each line is written as it happens).
set -eu
: "${ES_URL:?set ES_URL}"
: "${ES_USERNAME:?set ES_USERNAME (a user: API keys cannot create connector keys)}"
if [ -n "${ES_PASSWORD_FILE:-}" ]; then
  ES_PASSWORD=$(cat "$ES_PASSWORD_FILE")
fi
: "${ES_PASSWORD:?set ES_PASSWORD_FILE or ES_PASSWORD}"
export ES_URL ES_USERNAME ES_PASSWORD
unset ES_API_KEY
KEY_DIR=${KEY_DIR:-/var/lib/esconnector/keys}
EXPIRATION=${EXPIRATION:-90d}
RETIRE_AFTER=${RETIRE_AFTER:-1h}
umask 077
case "${1:-rotate}" in
  rotate)
    mkdir -p "$KEY_DIR"
    exec esconnector rotate --all --expiration "$EXPIRATION" --key-dir "$KEY_DIR" --retire-after "$RETIRE_AFTER" ;;
  retire)
    exec esconnector retire --all ;;
  reconcile)
    exec esconnector reconcile --all ;;
  *)
    echo "usage: $0 [rotate|retire|reconcile]" >&2
    exit 2 ;;
esac
