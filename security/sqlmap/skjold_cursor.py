#!/usr/bin/env python3
"""sqlmap tamper script: wraps each payload in a Skjold paging cursor.

A cursor is base64url (no padding) of the JSON array [sort key, record id]. Sent raw, any
payload is refused as "not a cursor this server handed out" before it reaches SQL, so sqlmap
would test only the decoder. Wrapped, the payload arrives as the sort key that the store
compares in its keyset query, which is the part that talks to the database.
"""
import base64
import json
import os

from lib.core.enums import PRIORITY

__priority__ = PRIORITY.LOWEST

# The id half of the cursor: a real record's id, so the key is what varies.
CURSOR_ID = os.environ.get("SKJOLD_CURSOR_ID", "00000000-0000-7000-8000-000000000000")


def dependencies():
    pass


def tamper(payload, **kwargs):
    raw = json.dumps([payload or "", CURSOR_ID]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
