"""A writer process for the audit store tests: appends N records and prints each request id once committed.

Usage: python store_writer.py DB PREFIX N [PAYLOAD_CHARS]
"""

import sys

from llmrec.audit.store import AuditStore
from llmrec.testing.audit_records import make_record

if __name__ == "__main__":
    db, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    payload = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    store = AuditStore(db)
    for i in range(n):
        rid = f"{prefix}-{i:05d}"
        store.append(make_record(rid, payload))
        print(rid, flush=True)
