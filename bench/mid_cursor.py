#!/usr/bin/python3
"""mid_cursor.py - a list cursor that points at the middle of the table.

usage: mid_cursor.py DB REAL_CURSOR SORT OFFSET

REAL_CURSOR is the `next` of a real first page (same sort). Axon's cursors
are base64url JSON [key, last value, last rid]; this keeps the server's key
and puts in the value and rid of the row at OFFSET in the sort order (SORT:
a column name, or "" for the default order by rid), so the page asked for
lies in the middle of the table and not just after the first page.
Prints the cursor; prints REAL_CURSOR unchanged (and a note on stderr) when
the cursor is not of that shape, so the caller measures page 2 instead.
"""
import base64
import json
import re
import sqlite3
import sys


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def main():
    db, real, sort, off = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if not re.fullmatch(r"[a-z_]*", sort):
        sys.exit("bad sort column")
    try:
        cur = json.loads(b64d(real))
        assert isinstance(cur, list) and len(cur) == 3 and isinstance(cur[2], int)
    except Exception:
        print("mid_cursor: the cursor is opaque; using page 2", file=sys.stderr)
        print(real)
        return
    con = sqlite3.connect(db)
    if sort:
        value, rid = con.execute(
            "SELECT %s, rid FROM customers ORDER BY %s, rid LIMIT 1 OFFSET ?" % (sort, sort),
            (off,)).fetchone()
    else:
        value, rid = None, con.execute(
            "SELECT rid FROM customers ORDER BY rid LIMIT 1 OFFSET ?", (off,)).fetchone()[0]
    cur[1], cur[2] = value, rid
    print(b64e(json.dumps(cur, separators=(",", ":"), ensure_ascii=False).encode()))


if __name__ == "__main__":
    main()
