"""A backend asks the operator's token request endpoint for a per-participant VideoSDK token,
authenticated by its pod's ServiceAccount token.

Python 3.8 or later, standard library only (urllib.request, ssl): nothing to install or pin in
the application's image.

Environment: VIDEOSDK_TOKEN_URL, the endpoint (https://...:8443/apis/videosdk.live/v1alpha1/
namespaces/NAMESPACE/tokenrequests); VIDEOSDK_CA_FILE, the CA that signed its certificate (the
Secret videosdk-token-operator-ca; default /etc/videosdk-ca/ca.crt); VIDEOSDK_BEARER_TOKEN_FILE,
the projected ServiceAccount token (default /var/run/secrets/videosdk/token).

    python3 participant_token.py [ROOM_ID] [PARTICIPANT_ID]

prints the token.
"""

import functools
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

TOKEN_URL = os.environ.get("VIDEOSDK_TOKEN_URL", "")
CA_FILE = os.environ.get("VIDEOSDK_CA_FILE", "/etc/videosdk-ca/ca.crt")
BEARER_TOKEN_FILE = os.environ.get(
    "VIDEOSDK_BEARER_TOKEN_FILE", "/var/run/secrets/videosdk/token"
)


@functools.lru_cache(maxsize=None)
def tls_context(ca_file: str) -> ssl.SSLContext:
    """Trusts the endpoint's CA only, and checks the certificate's name (made once)."""
    return ssl.create_default_context(cafile=ca_file)


def participant_token(room_id: str, participant_id: str) -> str:
    with open(BEARER_TOKEN_FILE) as f:  # read at every request: the kubelet renews it
        bearer = f.read()
    request = urllib.request.Request(
        TOKEN_URL,
        method="POST",
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        data=json.dumps(
            {"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "roles": ["rtc"],
             "roomId": room_id, "participantId": participant_id}
        ).encode(),
    )
    try:
        with urllib.request.urlopen(request, context=tls_context(CA_FILE), timeout=5) as res:
            return json.load(res)["token"]
    except urllib.error.HTTPError as refused:
        # A 429 or 503 says when to come back (Retry-After): retry then, as any client of a
        # Kubernetes-style API does.
        body = json.load(refused)
        raise RuntimeError(
            f"token request refused ({body['code']} {body['reason']}): {body['message']}"
        ) from None


if __name__ == "__main__":
    args = sys.argv[1:]
    room_id = args[0] if len(args) > 0 else "demo-room"
    participant_id = args[1] if len(args) > 1 else "alice"
    try:
        print(participant_token(room_id, participant_id))
    except (OSError, RuntimeError) as error:  # urllib.error.URLError is an OSError
        sys.exit(f"{error}")
