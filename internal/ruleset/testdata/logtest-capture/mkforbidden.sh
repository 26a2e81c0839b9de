#!/usr/bin/env bash
# Write forbidden-events.jsonl: the forbidden events (rule 117652) exactly as
# the binary sends them in integratord mode, one per line. `custom-misp check`
# adds no sightings, so these come from integratord-mode runs (argv as
# integratord passes it) with sightings on, against the fakes of mkinput.sh
# (A with a normal key, B as instance "circl" with a key that may not add
# sightings: captured with fakemisp -readonly-role, a user with MISP's "Read
# Only" role; -readonly, a read-only key, gets the same 403), writing to a
# unix datagram socket that stands in for analysisd's queue:
#   1. one server, B:                  the refusal without instance
#   2. two servers, local = A, circl = B: the refusal with misp.instance and
#      "MISP circl: " (A takes the sightings)
# Each run starts with an empty sightings memory, so each refuses once.
#
# Env: BIN (custom-misp, custom-misp-net beside it), WORK (scratch), KEY_A
# KEY_B (key files), CA_A CA_B, ALERTS (the sample alerts).
set -euo pipefail
: "${BIN:?}" "${WORK:?}" "${KEY_A:?}" "${KEY_B:?}" "${CA_A:?}" "${CA_B:?}" "${ALERTS:?}"
F=$WORK/forbidden; rm -rf "$F"; mkdir -p "$F/one" "$F/two"
A1=$ALERTS/sysmon-eid3-dropped-binary-to-public-ipv4.json
python3 - "$F" "$KEY_A" "$KEY_B" "$CA_A" "$CA_B" <<'PY'
import json, sys
f, key_a, key_b, ca_a, ca_b = sys.argv[1:6]
common = {"exclude": ["example.org", "10.0.0.0/8"], "deadline": "20s", "cache": "off", "to_ids": True,
          "sightings": {"enabled": True}, "socket_path": f + "/queue", "log_file": f + "/integrations.log"}
one = dict(common, api_key_file=key_b, ca_file=ca_b, sightings_path=f + "/one/sightings.db")
two = dict(common, name="local", api_key_file=key_a, ca_file=ca_a, sightings_path=f + "/two/sightings.db",
           instances=[{"name": "circl", "url": "https://127.0.0.1:28444", "api_key_file": key_b, "ca_file": ca_b}])
json.dump(one, open(f + "/one.options", "w"))
json.dump(two, open(f + "/two.options", "w"))
PY
# The queue stand-in: one line per datagram; quits when the script ends.
python3 - "$F/queue" "$F/queue.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(1 << 17) + b"\n")
PY
SINK=$!
trap 'kill $SINK' EXIT
for _ in $(seq 50); do [ -S "$F/queue" ] && break; sleep 0.1; done
# integratord's argv: name, alert file, api_key (empty: the key is in the
# options' api_key_file), hook_url, "" (no debug), options file, timeout, retries.
run() { python3 -c 'import os,sys; os.execv(sys.argv[1], ["integrations"] + sys.argv[2:])' "$BIN" "$A1" "" "$1" "" "$2" 10 0; }
run https://127.0.0.1:28444 "$F/one.options"
run https://127.0.0.1:28443 "$F/two.options"
sleep 0.3
# A datagram is "1:LOCATION:EVENT", LOCATION "[003] (WS-FIN-0042) 10.20.30.41->misp"
# for an agent's alert; the golden keeps the event (logtest gets location "misp").
grep '"error":"forbidden"' "$F/queue.out" | sed 's/^[^{]*{"integration"/{"integration"/'
