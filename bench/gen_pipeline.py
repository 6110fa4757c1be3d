#!/usr/bin/python3
"""gen_pipeline.py - a large sales pipeline made from the real one.

usage: gen_pipeline.py SOURCE.csv OUT.csv ROWS

Repeats the rows of SOURCE (the 8,800-opportunity sales_pipeline.csv) until
OUT has ROWS data rows, giving every row a new unique opportunity id of the
same shape (8 characters, 0-9A-Z) that collides with no id of SOURCE. All
other columns are kept as they are, quirks included (GTXPro, empty accounts,
CRLF line ends). Debian's /usr/bin/python3, standard library only.
"""
import csv
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SPACE = 36 ** 8
MULT = 1_000_003            # odd and not a multiple of 3: a bijection of 36^8


def ident(i):
    v = (i * MULT + 12345) % SPACE
    s = []
    for _ in range(8):
        v, r = divmod(v, 36)
        s.append(ALPHABET[r])
    return "".join(reversed(s))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(src, newline="", encoding="utf-8-sig") as f:
        data = list(csv.reader(f))
    header, body = data[0], [r for r in data[1:] if r]
    used = {r[0] for r in body}
    with open(out + ".tmp", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        i = k = 0
        while k < rows:
            oid = ident(i)
            i += 1
            if oid in used:
                continue
            r = list(body[k % len(body)])
            r[0] = oid
            w.writerow(r)
            k += 1
    import os
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
