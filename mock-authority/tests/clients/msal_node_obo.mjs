// msal-node on-behalf-of twice against mock-authority (the second from its cache); prints JSON.
// Parameters in MOCK_* environment variables; msal-node from TOKENSCOPE_NODE_MODULES; the CA
// is trusted through NODE_EXTRA_CA_CERTS.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.TOKENSCOPE_NODE_MODULES, "noop.js"));
const msal = require("@azure/msal-node");

const base = process.env.MOCK_BASE;
const app = new msal.ConfidentialClientApplication({
  auth: {
    clientId: process.env.MOCK_CLIENT_ID,
    clientSecret: process.env.MOCK_SECRET,
    authority: `${base}/${process.env.MOCK_TENANT}`,
    knownAuthorities: [new URL(base).host],
    authorityMetadata: process.env.MOCK_AUTHORITY_METADATA,
  },
});
const request = { oboAssertion: process.env.MOCK_ASSERTION, scopes: [process.env.MOCK_SCOPE] };
const summary = (r) => ({ fromCache: r.fromCache, hasAccessToken: !!r.accessToken, username: r.account?.username, homeAccountId: r.account?.homeAccountId });
try {
  const first = await app.acquireTokenOnBehalfOf(request);
  const second = await app.acquireTokenOnBehalfOf(request);
  console.log(JSON.stringify({ first: summary(first), second: summary(second) }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), errorCode: e.errorCode }));
}
