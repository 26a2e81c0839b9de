#!/usr/bin/env bash
# Write the logtest input (TSV: session, origin, location, event) for
# logtest-4.14.7.jsonl: the events are what `custom-misp check` prints
# (the binary's own lookup and event code) against three fakemisp servers:
#   A  https://127.0.0.1:28443  embedded data, key KEY_A (CA_A)
#   B  https://127.0.0.1:28444  embedded data, a read-only key KEY_B (CA_B)
#   C  https://127.0.0.1:28445  -events from mkevents.py, key KEY_A (CA_C)
# The forbidden events (FORBIDDEN, one event per line) come from
# mkforbidden.sh: `check` adds no sightings, so they are what the binary
# sent to a stand-in queue socket in integratord mode.
#
# Env: TREE (a manager tree with the integration installed), BIN
# (custom-misp), WORK (scratch), KEY_A KEY_B (key files), CA_A CA_B CA_C,
# ALERTS (the sample alerts, ../../../../testdata/alerts or /work/shared/alerts),
# RULES_ALERT (from mkevents.py), FORBIDDEN.
set -euo pipefail
: "${TREE:?}" "${BIN:?}" "${WORK:?}" "${KEY_A:?}" "${KEY_B:?}" "${CA_A:?}" "${CA_B:?}" "${CA_C:?}" "${ALERTS:?}" "${RULES_ALERT:?}" "${FORBIDDEN:?}"
O=$WORK/options; mkdir -p "$O"
python3 - "$O" <<PY
import json, sys
o = sys.argv[1]
a = {"api_key_file": "$KEY_A", "ca_file": "$CA_A", "exclude": ["example.org", "10.0.0.0/8"], "deadline": "20s", "cache": "off", "to_ids": True}
b = {"name": "circl", "url": "https://127.0.0.1:28444", "api_key_file": "$KEY_B", "ca_file": "$CA_B"}
c = {"api_key_file": "$KEY_A", "ca_file": "$CA_C", "deadline": "20s", "cache": "off", "to_ids": False, "max_events_per_alert": 40}
def w(name, d): json.dump(d, open("%s/%s.options" % (o, name), "w"))
w("one-ids", a)
w("one-badkey", dict(a, api_key_file="$WORK/wrong.apikey"))
w("two-ids", dict(a, name="local", instances=[b]))
w("two-badkey", dict(a, name="local", instances=[dict(b, api_key_file="$WORK/wrong.apikey")]))
w("two-down", dict(a, name="local", instances=[dict(b, url="https://127.0.0.1:28449")]))
w("one-rules", c)
w("two-rules", dict(c, name="local", instances=[{"name": "circl", "url": "https://127.0.0.1:28445", "api_key_file": "$KEY_A", "ca_file": "$CA_C"}]))
PY
printf 'A%.0s' $(seq 40) > "$WORK/wrong.apikey"; echo >> "$WORK/wrong.apikey"
chk() { "$BIN" check --wazuh-home "$TREE" ${2:+--url $2} --options "$O/$1.options" "$3"; }
emit() { while IFS= read -r l; do printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$l"; done; }
C=https://127.0.0.1:28445
for a in sysmon-eid3-dropped-binary-to-public-ipv4 fim-added-hidden-binary-in-tmp sysmon-eid22-malicious-domain-cname-mapped-ipv4 squid-denied-get-absolute-url-query-string; do
  chk one-ids "" "$ALERTS/$a.json" | sed -n 1p | emit one-sample "check one-ids $a" misp
done
for a in sysmon-eid3-dropped-binary-to-public-ipv4 fim-added-hidden-binary-in-tmp; do
  chk two-ids "" "$ALERTS/$a.json" | emit two-sample "check two-ids $a" misp
done
chk one-rules $C "$RULES_ALERT" | emit one-rules "check one-rules rules-check-alert" misp
chk two-rules $C "$RULES_ALERT" | emit two-rules "check two-rules rules-check-alert" misp
A1=$ALERTS/sysmon-eid3-dropped-binary-to-public-ipv4.json
chk one-badkey "" "$A1" | emit errors "check one-badkey" misp
chk two-badkey "" "$A1" | emit errors "check two-badkey" misp
chk two-down "" "$A1" | emit errors "check two-down" misp
emit errors "integratord sightings refused (mkforbidden.sh: one server, then circl of two)" misp < "$FORBIDDEN"
one=$(chk one-rules $C "$RULES_ALERT" | sed -n 1p)
two=$(chk two-rules $C "$RULES_ALERT" | grep '"instance":"circl"' | sed -n 1p)
both=$(chk two-rules $C "$RULES_ALERT" | sed -n 1,2p)
A="(WIN-DC01) 10.20.0.15->misp" B="(WS-HR-0107) 10.20.30.77->misp" L="(LT-SALES-0219) any->misp"
for loc in "$A" "$A" "$B"; do echo "$one" | emit correlation-one "check one-rules rules-check-alert (first event)" "$loc"; done
for loc in "$A" "$B" "$L"; do echo "$two" | emit correlation-two "check two-rules rules-check-alert (first circl event)" "$loc"; done
for loc in "$A" "$B" "$L"; do echo "$both" | emit correlation-servers "check two-rules rules-check-alert (first event, from each server)" "$loc"; done
