// A backend asks the operator's token request endpoint for a per-participant VideoSDK token,
// authenticated by its pod's ServiceAccount token. Node 18 or later: the built-in `fetch`, no
// package to install.
//
// The endpoint's certificate is signed by the CA in the Secret videosdk-token-operator-ca,
// mounted at /etc/videosdk-ca. Node trusts it, beside its own CAs, when the process starts with
//   NODE_EXTRA_CA_CERTS=/etc/videosdk-ca/ca.crt
// in its environment: Node reads that variable once, at start-up, so set it in the container's
// `env`, not from code.
//
// Environment: VIDEOSDK_TOKEN_URL, the endpoint (https://...:8443/apis/videosdk.live/v1alpha1/
// namespaces/NAMESPACE/tokenrequests); VIDEOSDK_BEARER_TOKEN_FILE, the projected ServiceAccount
// token (default /var/run/secrets/videosdk/token).
//
//   NODE_EXTRA_CA_CERTS=/etc/videosdk-ca/ca.crt node participant_token.js [ROOM_ID] [PARTICIPANT_ID]
// prints the token.

"use strict";
const fs = require("node:fs");

const tokenUrl = process.env.VIDEOSDK_TOKEN_URL;
const bearerTokenFile = process.env.VIDEOSDK_BEARER_TOKEN_FILE || "/var/run/secrets/videosdk/token";

async function participantToken(roomId, participantId) {
  // Read at every request: the kubelet renews the file before the token in it expires.
  const bearer = fs.readFileSync(bearerTokenFile, "utf8");
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify({
      issuer: { name: "videosdk" },
      permissions: ["allow_join"],
      roles: ["rtc"],
      roomId,
      participantId,
    }),
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.json();
  if (!res.ok) {
    // A 429 or 503 says when to come back (Retry-After): retry then, as any client of a
    // Kubernetes-style API does.
    throw new Error(`token request refused (${body.code} ${body.reason}): ${body.message}`);
  }
  return body.token;
}

module.exports = { participantToken };

if (require.main === module) {
  const [roomId = "demo-room", participantId = "alice"] = process.argv.slice(2);
  participantToken(roomId, participantId).then(
    (token) => console.log(token),
    (error) => {
      // fetch's "fetch failed" has the reason (a refused connection, an untrusted certificate)
      // in its cause.
      console.error(error.cause ? `${error.message}: ${error.cause.message}` : error.message);
      process.exit(1);
    },
  );
}
