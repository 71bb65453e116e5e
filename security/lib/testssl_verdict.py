#!/usr/bin/env python3
"""Reads testssl.sh's flat JSON output (--jsonfile) and judges it for Skjold.

Fails (exit 1, one line per reason) when a finding is rated HIGH or CRITICAL, when a
protocol other than TLS 1.2 and TLS 1.3 is offered or one of those two is not, or when HSTS
is missing. Prints a one-line summary of the counts by severity on success.

    testssl_verdict.py FILE [--self-signed]

--self-signed: the scanned server uses Skjold's generated self-signed certificate. One
finding is then inherent and accepted, by its exact id and text: `cert_revocation`
"Neither CRL nor OCSP URI provided" (there is no CA to revoke a self-signed certificate;
an operator's certificate from a CA carries these URIs). It is listed as accepted.
"""
import json
import sys
from collections import Counter

path = sys.argv[1]
self_signed = "--self-signed" in sys.argv[2:]
ACCEPTED_SELF_SIGNED = {("cert_revocation", "Neither CRL nor OCSP URI provided")}
accepted = []
with open(path, encoding="utf-8") as f:
    data = json.load(f)
findings = data if isinstance(data, list) else data.get("scanResult", data)
by_id = {}
for item in findings:
    by_id.setdefault(item.get("id", ""), item)

problems = []
severities = Counter(item.get("severity", "?") for item in findings)

for item in findings:
    if item.get("severity") in ("HIGH", "CRITICAL"):
        if self_signed and (item.get("id"), item.get("finding")) in ACCEPTED_SELF_SIGNED:
            accepted.append(f"{item['severity']} {item['id']}")
            continue
        problems.append(f"{item['severity']} {item.get('id')}: {item.get('finding')}")
    # testssl rates a check it could not run as WARN or FATAL: the scan is then incomplete.
    if item.get("severity") in ("FATAL",):
        problems.append(f"testssl could not finish: {item.get('id')}: {item.get('finding')}")


def finding(key):
    item = by_id.get(key)
    return None if item is None else item.get("finding", "")


for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
    f = finding(proto)
    if f is None:
        problems.append(f"protocol {proto} was not tested")
    elif not f.startswith("not offered"):
        problems.append(f"protocol {proto} is offered ({f})")
for proto in ("TLS1_2", "TLS1_3"):
    f = finding(proto)
    if f is None:
        problems.append(f"protocol {proto} was not tested")
    elif not f.startswith("offered"):
        problems.append(f"protocol {proto} is not offered ({f})")

# testssl 3.0 reports HSTS as HSTS_time ("730 days (=63072000 seconds) > …") or as HSTS
# ("not offered") when the header is missing.
hsts = finding("HSTS_time")
if hsts is None:
    problems.append(f"HSTS missing ({finding('HSTS') or 'not tested'})")
elif by_id["HSTS_time"].get("severity") not in ("OK", "INFO"):
    problems.append(f"HSTS too short or malformed ({hsts})")

if problems:
    for p in problems:
        print(p)
    sys.exit(1)
counts = ", ".join(f"{n} {s}" for s, n in sorted(severities.items()))
note = f"; accepted for the self-signed certificate: {', '.join(accepted)}" if accepted else ""
print(f"{len(findings)} findings ({counts}); TLS 1.2 and 1.3 only; HSTS {hsts}{note}")
