"""Verifies a VideoSDK token with PyJWT, the library VideoSDK's Python samples use.

Usage: VIDEOSDK_SECRET=... python3 verify.py TOKEN EXPECTED_CLAIMS_JSON
Exit 0 when the signature verifies with HS256, the header is {alg: HS256, typ: JWT}, every claim
equals the expected one (no more, no fewer), and the same token is rejected under a wrong secret.
"""
import json
import os
import sys

import jwt

token, expected = sys.argv[1], json.loads(sys.argv[2])
secret = os.environ["VIDEOSDK_SECRET"]

header = jwt.get_unverified_header(token)
if header != {"alg": "HS256", "typ": "JWT"}:
    sys.exit(f"header is {header}, expected alg HS256 and typ JWT")

claims = jwt.decode(token, secret, algorithms=["HS256"])
if claims != expected:
    sys.exit(f"claims differ:\n  PyJWT read {claims}\n  expected   {expected}")

try:
    jwt.decode(token, secret + "x", algorithms=["HS256"])
except jwt.InvalidSignatureError:
    pass
else:
    sys.exit("PyJWT accepted the token under a wrong secret")

print(f"PyJWT {jwt.__version__}: signature, header and {len(claims)} claims verified")
