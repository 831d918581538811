"""Runs scim2-tester's checks against a running SCIM server.

Usage: python scim2_check.py BASE_URL TOKEN_FILE
Prints one line per check and exits 1 if any check is ERROR or CRITICAL.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

FAILING = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token_file = sys.argv[1], sys.argv[2]
    with open(token_file, encoding="utf-8") as f:
        token = f.read().strip()
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(http)
    results = check_server(scim)
    failed = 0
    for r in results:
        mark = "FAIL" if r.status in FAILING else r.status.name
        where = f"[{r.resource_type}] " if r.resource_type else ""
        line = f"{mark:10} {where}{r.title}"
        if r.status in FAILING or r.status == Status.DEVIATION:
            line += f": {r.reason}"
        print(line)
        failed += r.status in FAILING
    print(f"\n{len(results)} checks, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
