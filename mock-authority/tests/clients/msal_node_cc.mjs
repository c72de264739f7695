// msal-node client credentials twice against mock-authority; prints JSON for the Rust test.
// Parameters in MOCK_* environment variables; msal-node is loaded from TOKENSCOPE_NODE_MODULES.
// The CA is trusted through NODE_EXTRA_CA_CERTS.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.TOKENSCOPE_NODE_MODULES, "noop.js"));
const msal = require("@azure/msal-node");

const base = process.env.MOCK_BASE;
const host = new URL(base).host;
const app = new msal.ConfidentialClientApplication({
  auth: {
    clientId: process.env.MOCK_CLIENT_ID,
    clientSecret: process.env.MOCK_SECRET,
    authority: `${base}/${process.env.MOCK_TENANT}`,
    knownAuthorities: [host],
    authorityMetadata: process.env.MOCK_AUTHORITY_METADATA,
  },
});
const scopes = [process.env.MOCK_SCOPE];
const summary = (r) => ({ fromCache: r.fromCache, tokenType: r.tokenType, hasAccessToken: !!r.accessToken, expiresOn: r.expiresOn });
try {
  const first = await app.acquireTokenByClientCredential({ scopes });
  const second = await app.acquireTokenByClientCredential({ scopes });
  console.log(JSON.stringify({ first: summary(first), second: summary(second) }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e), errorCode: e.errorCode }));
}
