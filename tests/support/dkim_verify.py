"""Verifies the DKIM signature of one message with dkimpy, an implementation independent
of the one that signed it. The selector's TXT record is given on the command line, so no
DNS is involved: `python3 dkim_verify.py message.eml "<record name>" "<record>"`.
Exit status 0 when the signature verifies, 1 otherwise (with the reason)."""
import sys

import dkim

message_path, record_name, record = sys.argv[1], sys.argv[2], sys.argv[3]
with open(message_path, "rb") as f:
    message = f.read()


def dns(name, timeout=5):
    wanted = record_name.rstrip(".") + "."
    got = name.decode() if isinstance(name, bytes) else name
    if got.rstrip(".") + "." == wanted:
        return record.encode()
    return None


verifier = dkim.DKIM(message)
ok = verifier.verify(dnsfunc=dns)
if not ok:
    print("DKIM verification failed:", verifier.logger, file=sys.stderr)
sys.exit(0 if ok else 1)
