// Verifies a VideoSDK token with the Node `jsonwebtoken` package, the library VideoSDK's Node
// samples use.
//
// Usage: VIDEOSDK_SECRET=... node verify.js TOKEN EXPECTED_CLAIMS_JSON
// Exit 0 when the signature verifies with HS256, the header is {alg: HS256, typ: JWT}, every
// claim equals the expected one (no more, no fewer), and a wrong secret is rejected.
const assert = require("node:assert/strict");
const jwt = require("jsonwebtoken");

const [token, expectedJson] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const secret = process.env.VIDEOSDK_SECRET;

const { header, payload } = jwt.verify(token, secret, { algorithms: ["HS256"], complete: true });
assert.deepEqual(header, { alg: "HS256", typ: "JWT" }, "header");
assert.deepEqual(payload, expected, "claims");
assert.throws(() => jwt.verify(token, secret + "x", { algorithms: ["HS256"] }), /invalid signature/);

const version = require("jsonwebtoken/package.json").version;
console.log(`jsonwebtoken ${version}: signature, header and ${Object.keys(payload).length} claims verified`);
