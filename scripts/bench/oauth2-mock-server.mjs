// Starts npm `oauth2-mock-server` (installed into a temp dir by bench-mock-authority.sh) over
// HTTPS with the given signing algorithm, for a side-by-side comparison with mock-authority.
// Usage: node oauth2-mock-server.mjs NODE_MODULES_DIR ALG PORT KEY_PEM CERT_PEM
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, alg, port, key, cert] = process.argv.slice(2);
const require = createRequire(path.join(modules, "noop.js"));
const entry = require.resolve("oauth2-mock-server");
const { OAuth2Server } = await import(pathToFileURL(entry).href);
const server = new OAuth2Server(key, cert);
await server.issuer.keys.generate(alg);
await server.start(Number(port), "127.0.0.1");
console.log(`oauth2-mock-server ${alg} listening on ${server.issuer.url}`);
const stop = async () => { await server.stop(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
