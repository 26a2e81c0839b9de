#!/usr/bin/env python3
"""Feed mkinput.sh's TSV to a running analysisd's logtest socket
(TREE/queue/sockets/logtest; one logtest session per session name, so that
frequency rules see only their own session) and print the golden lines:
input plus what analysisd answered (decoder, rule id, level, description,
groups).

  logtest.py TREE INPUT.tsv > logtest-4.14.7.jsonl
"""
import json, os, socket, struct, sys

tree, tsv = sys.argv[1:3]


def ask(req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(tree, "queue/sockets/logtest"))
    b = json.dumps(req).encode()
    s.sendall(struct.pack("<I", len(b)) + b)
    n = struct.unpack("<I", s.recv(4))[0]
    buf = b""
    while len(buf) < n:
        buf += s.recv(n - len(buf))
    s.close()
    return json.loads(buf)


tokens = {}
for line in open(tsv, encoding="utf-8"):
    session, origin, location, event = line.rstrip("\n").split("\t", 3)
    p = {"event": event, "log_format": "syslog", "location": location}
    if session in tokens:
        p["token"] = tokens[session]
    r = ask({"version": 1, "origin": {"name": "logtest.py", "module": "wazuh-logtest"},
             "command": "log_processing", "parameters": p})
    d = r.get("data", {})
    tokens[session] = d.get("token", tokens.get(session))
    msgs = [m for m in d.get("messages", []) if "(7202)" not in m]  # 7202: session created
    if r.get("error") or msgs:
        sys.exit("logtest: %s %s" % (r.get("error"), msgs))
    out = d.get("output", {})
    rule = out.get("rule", {})
    print(json.dumps({"session": session, "origin": origin, "location": location, "event": event,
                      "decoder": out.get("decoder", {}).get("name"), "rule_id": rule.get("id"),
                      "level": rule.get("level"), "description": rule.get("description"),
                      "groups": rule.get("groups")}, ensure_ascii=False))
