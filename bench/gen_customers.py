#!/usr/bin/python3
"""gen_customers.py - deterministic customers for the list/search benchmark.

usage: gen_customers.py OUTDIR BOUND [BOUND ...]
  e.g. gen_customers.py bench/out/data 10000 100000 1000000

Writes one slice per bound, rows [previous bound, bound), so that loading
the slices one after the other grows one database through every size:
  OUTDIR/customers_<lo>_<hi>.csv    header = Axon field names (for `axon import`)
  OUTDIR/customers_<lo>_<hi>.jsonl  the same rows as JSON bodies (for the
                                    HTTP fallback loader, bench/lua/load_jsonl.lua)

Names come from fixed word lists, so every common word matches thousands of
rows. The search term (SEARCH_TERM, printed on stdout) is in the names of
exactly SEARCH_HITS rows, all inside the first 10,000, so a search for it
matches the same 20 rows at every size; no other token starts with it.
Run with Debian's /usr/bin/python3 (standard library only).
"""
import csv
import json
import os
import sys

SEARCH_TERM = "quokka"
SEARCH_HITS = 20
SEARCH_STRIDE = 487          # term rows: 7, 494, 981, ... (all < 10,000)

ADJ = ("Acme Blue Bright Central Coastal Delta Eastern First Global Golden Grand "
       "Green Harbor Highland Imperial Inland Keystone Liberty Lunar Metro Midland "
       "National Northern Nova Oak Pacific Peak Pioneer Prime Quantum Rapid Red "
       "Royal Silver Solar Southern Star Summit Sun Swift Trinity Union United "
       "Valley Vertex Western White Zenith Alpine Atlas").split()
NOUN = ("Analytics Apparel Aviation Bakery Biotech Builders Capital Chemicals "
        "Consulting Dairy Data Design Devices Dynamics Electric Energy Engineering "
        "Farms Fibers Foods Freight Games Glass Health Hotels Industries Insurance "
        "Labs Logistics Machines Media Metals Mining Motors Networks Optics Paper "
        "Partners Pharma Plastics Power Robotics Shipping Software Steel Systems "
        "Telecom Textiles Tools Travel Ventures Water Wireless").split()
SUFFIX = "Inc Ltd LLC Group Corp Co Holdings GmbH".split()
SECTORS = "technology retail medical finance telecom energy manufacturing services".split()
TIERS = "A B C".split()
REGIONS = "North South East West Central".split()
PLACES = [("United States", "Boston"), ("United States", "Denver"), ("Germany", "Berlin"),
          ("France", "Lyon"), ("Japan", "Osaka"), ("Brazil", "Recife"),
          ("Kenya", "Nairobi"), ("Canada", "Calgary"), ("Italy", "Turin"),
          ("Norway", "Bergen"), ("Chile", "Valparaiso"), ("India", "Pune")]
FIELDS = ["external_id", "name", "email", "phone", "sector", "tier", "region",
          "country", "city", "employees", "revenue", "year_established"]

assert not any(w.lower().startswith(SEARCH_TERM) for w in ADJ + NOUN + SUFFIX)


def row(i):
    a = ADJ[(i * 7) % len(ADJ)]
    n = NOUN[(i * 13 + i // len(ADJ)) % len(NOUN)]
    s = SUFFIX[(i // 3) % len(SUFFIX)]
    if i % SEARCH_STRIDE == 7 and i // SEARCH_STRIDE < SEARCH_HITS:
        a = SEARCH_TERM.capitalize()
    country, city = PLACES[(i * 5) % len(PLACES)]
    return {
        "external_id": "BC%07d" % i,
        "name": "%s %s %s" % (a, n, s),
        "email": "contact%d@%s-%s.example.com" % (i, a.lower(), n.lower()),
        "phone": "+1-555-%04d" % (i % 10000),
        "sector": SECTORS[i % len(SECTORS)],
        "tier": TIERS[i % len(TIERS)],
        "region": REGIONS[i % len(REGIONS)],
        "country": country,
        "city": city,
        "employees": 10 + (i * 37) % 50000,
        "revenue": round(((i * 7919) % 100000) / 100.0, 2),
        "year_established": 1900 + (i % 120),
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    bounds = [int(b) for b in sys.argv[2:]]
    os.makedirs(out, exist_ok=True)
    lo = 0
    for hi in bounds:
        base = os.path.join(out, "customers_%d_%d" % (lo, hi))
        with open(base + ".csv.tmp", "w", newline="") as fc, \
                open(base + ".jsonl.tmp", "w") as fj:
            w = csv.DictWriter(fc, fieldnames=FIELDS, lineterminator="\n")
            w.writeheader()
            for i in range(lo, hi):
                r = row(i)
                w.writerow(r)
                fj.write(json.dumps(r, separators=(",", ":")) + "\n")
        os.replace(base + ".csv.tmp", base + ".csv")
        os.replace(base + ".jsonl.tmp", base + ".jsonl")
        lo = hi
    print(SEARCH_TERM)


if __name__ == "__main__":
    main()
