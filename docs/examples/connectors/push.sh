#!/bin/sh
# Push one reading to tanjian's connector endpoint with curl (POSIX sh; bearer token).
#   TANJIAN_PUSH_URL    e.g. http://127.0.0.1:8480/v1/readings
#   TANJIAN_TOKEN_FILE  file holding this connector's bearer token
#   usage: push.sh METER COUNTER_KWH [RATE_KW]
# The batch id is derived from the meter and the minute, so a retry of the same minute is answered
# 200 "duplicate" instead of being journaled twice. Exit 0 only once tanjian acknowledged (201/200):
# the reading is then fsync'd in the journal.
set -eu
meter=$1 counter=$2 rate=${3:-}
now=$(date -u +%Y-%m-%dT%H:%M:00Z)
batch="sh-$meter-$now"
extra=""
[ -n "$rate" ] && extra=", \"rate\": $rate"
body=$(printf '{"batch_id": "%s", "readings": [{"meter": "%s", "time": "%s", "counter": %s%s}]}' \
  "$batch" "$meter" "$now" "$counter" "$extra")
answer=$(curl -sS -o - -w '\n%{http_code}' -X POST "$TANJIAN_PUSH_URL" \
  -H "Authorization: Bearer $(cat "$TANJIAN_TOKEN_FILE")" \
  -H 'Content-Type: application/json' --data-binary "$body")
code=$(printf '%s\n' "$answer" | tail -n 1)
printf '%s\n' "$answer" | sed '$d'
case $code in
  200|201) exit 0 ;;
  *) echo "push.sh: refused with HTTP $code" >&2; exit 1 ;;
esac
