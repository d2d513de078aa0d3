"""Print the two command lines of the README's Quickstart block, one per line."""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
QUICKSTART = r"#+\s*Quick\s*start.*?```(?:bash|sh|console)?\n(.*?)```"
match = re.search(QUICKSTART, text, re.S | re.I)
if match is None:
    sys.exit("README.md has no Quickstart section with a fenced block.")
lines = [
    line.strip()
    for line in match.group(1).splitlines()
    if line.strip() and not line.strip().startswith("#")
]
if len(lines) != 2:
    sys.exit(f"The Quickstart block must hold exactly 2 commands. Received: {lines}")
print("\n".join(lines))
