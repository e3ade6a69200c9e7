#!/usr/bin/python3
"""Prints the suite's closing line from meson's testlog.json files.

Exit status 0 when nothing failed. The last line is always
"vireo tests: N passed, N failed, N skipped".
"""
import json
import sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
failed_names = []
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"summarize: {path}: {e}")
        counts["failed"] += 1
        continue
    build = path.split("/")[0]
    for line in lines:
        if not line.strip():
            continue
        rec = json.loads(line)
        result = rec.get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif result == "SKIP":
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
            failed_names.append(f"{build}: {rec.get('name')} ({result})")

for name in failed_names:
    print(f"FAILED {name}")
print(f"vireo tests: {counts['passed']} passed, {counts['failed']} failed, "
      f"{counts['skipped']} skipped")
sys.exit(1 if counts["failed"] else 0)
