#!/usr/bin/env python3
"""Write the MISP events a third fakemisp serves (-events DIR) so that every
match rule has an event: threat level x to_ids, TLP red/amber, the watched
tag; and one alert (ALERT) that carries each event's IP.

  mkevents.py DIR ALERT
"""
import json, os, sys, uuid

out, alert_path = sys.argv[1:3]
os.makedirs(out, exist_ok=True)
cases = [  # name, threat_level_id (1 high, 2 medium, 3 low, 4 undefined), to_ids, tags
    ("high-ioc", "1", True, []), ("medium-ioc", "2", True, []), ("undefined-ioc", "4", True, []), ("low-ioc", "3", True, []),
    ("high-context", "1", False, []), ("medium-context", "2", False, []), ("low-context", "3", False, []),
    ("undefined-context", "4", False, []),
    ("red-ioc", "1", True, ["tlp:red"]), ("amber-ioc", "2", True, ["tlp:amber"]), ("watched-ioc", "2", True, ["custom-misp:watched"]),
    ("red-context", "3", False, ["tlp:red"]), ("amber-context", "2", False, ["tlp:amber"]),
    ("watched-context", "3", False, ["custom-misp:watched"]),
]
org = {"id": "1", "name": "TESTORG", "uuid": "351c7264-3374-45ba-8bae-9333e2dee1c5"}
data = {}
for i, (name, tl, ids, tags) in enumerate(cases, 1):
    ip, eid = "45.83.64.%d" % (10 + i), str(100 + i)
    ev = {"Event": {
        "id": eid, "orgc_id": "1", "org_id": "1", "date": "2026-11-30", "threat_level_id": tl,
        "info": "rules check %s" % name, "published": True, "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name + ".event")),
        "analysis": "2", "timestamp": "1795900000", "distribution": "1", "publish_timestamp": "1795900000",
        "Org": org, "Orgc": org,
        "Attribute": [{"id": str(1000 + i), "type": "ip-dst", "category": "Network activity", "to_ids": ids,
                       "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name + ".attr")), "event_id": eid, "distribution": "5",
                       "timestamp": "1795900000", "comment": "", "value": ip, "deleted": False, "Tag": []}],
        "Tag": [{"id": str(50 + j), "name": t, "colour": "#000000", "exportable": True} for j, t in enumerate(tags)]}}
    with open(os.path.join(out, "%02d-%s.json" % (i, name)), "w") as f:
        json.dump(ev, f, indent=1)
    data["peer_%s" % name.replace("-", "_")] = ip
alert = {"timestamp": "2026-11-30T10:00:00.000+0000",
         "rule": {"level": 5, "description": "rules check: one peer per case", "id": "86601", "groups": ["ids", "suricata"]},
         "agent": {"id": "004", "name": "rules-check", "ip": "10.20.30.99"}, "manager": {"name": "wazuh-manager"},
         "id": "1795900000.4242", "decoder": {"name": "json"}, "data": data, "location": "/var/log/suricata/eve.json"}
with open(alert_path, "w") as f:
    json.dump(alert, f, indent=1)
