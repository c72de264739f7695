"""MSAL Python side of the cache interop tests (cache/tests/it/msal_python.rs), no network.

  msal_cache.py write <out_dir> [--now SECS]
      Direction A: builds caches with the real ``msal.SerializableTokenCache.add`` from
      hand-built token responses (what MSAL's own clients pass it after a token call) and
      writes app.json, user.json and obo.json to <out_dir>. Prints a manifest (JSON) of every
      token added, so the Rust side checks each one without repeating the constants here.

  msal_cache.py serve <cache.json> <plan.json> <cache_out.json>
      Direction B: deserializes a cache written by tokenscope, then asks real
      ``msal.ConfidentialClientApplication`` objects for tokens: ``acquire_token_for_client``
      for app tokens and ``get_accounts`` + ``acquire_token_silent`` for user tokens. Prints
      the results (token, token_source) and every HTTP request MSAL made.

MSAL always runs OIDC tenant discovery when an application object is built. We pass MSAL
its documented ``http_client`` extension point: an in-process fake that answers the
discovery GET from memory, answers refresh-token POSTs only when the plan allows them, and
records everything. No socket is opened; proxies point at a dead port (and 127.0.0.1 has no
HTTPS server) so that any request that bypassed the fake would fail loudly.
"""

import base64
import json
import os
import sys
import time
from urllib.parse import urlparse

os.environ["HTTPS_PROXY"] = os.environ["HTTP_PROXY"] = "http://127.0.0.1:9"
os.environ["https_proxy"] = os.environ["http_proxy"] = "http://127.0.0.1:9"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # refused: no server

import msal  # noqa: E402

HOST = "127.0.0.1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return header + "." + b64url(json.dumps(claims).encode()) + "."


def client_info(uid: str, utid: str) -> str:
    return b64url(json.dumps({"uid": uid, "utid": utid}).encode())


def fake_access_token(label: str) -> str:
    """A JWT-shaped access token of realistic size (~1.5 KB); the label makes it unique."""
    return unsigned_jwt({"aud": "api", "label": label, "pad": "x" * 1200})


def token_endpoint(tenant: str) -> str:
    return "https://{}/{}/oauth2/v2.0/token".format(HOST, tenant)


# --- Direction A -------------------------------------------------------------------------

APP_CLIENT = "0b5a8a6e-4c1d-4f6a-9e3b-7c1f2d3e4a5b"
WEB_CLIENT = "5f2c9d1e-8b7a-4e3f-a1c2-d3e4f5a6b7c8"
MID_CLIENT = "c4d3e2f1-a0b9-4c8d-b7e6-f5a4b3c2d1e0"
ALICE = ("6e1f3a2b-0000-4000-8000-00000000a11c", "72f988bf-86f1-41af-91ab-2d7cd011db47")
BOB = ("0d9e8f7a-0000-4000-8000-000000000b0b", "72f988bf-86f1-41af-91ab-2d7cd011db47")


def add(cache, manifest, *, kind, client_id, tenant, scope, response, grant_type, data=None,
        now, home_account_id=None, ext_cache_key=False):
    event = {
        "client_id": client_id,
        "scope": scope,
        "token_endpoint": token_endpoint(tenant),
        "grant_type": grant_type,
        "environment": HOST,  # application.py sets it from authority.instance
        "response": response,
        "params": None,
        "data": dict({"client_id": client_id, "grant_type": grant_type,
                      "scope": " ".join(scope)}, **(data or {})),
    }
    cache.add(event, now=now)
    manifest.append({
        "file": kind,
        "home_account_id": home_account_id or "",
        "client_id": client_id,
        "realm": tenant,
        "scopes": scope,
        "access_token": response.get("access_token"),
        "refresh_token": response.get("refresh_token"),
        "id_token": response.get("id_token"),
        "family_id": response.get("foci"),
        "ext_cache_key": ext_cache_key,
    })


def app_response(label, **extra):
    r = {"access_token": fake_access_token(label), "token_type": "Bearer",
         "expires_in": 3599, "ext_expires_in": 3599}
    r.update(extra)
    return r


def user_response(label, uid, utid, client_id, tenant, username, scope, now, **extra):
    id_token = unsigned_jwt({
        "iss": "https://{}/{}/v2.0".format(HOST, utid), "aud": client_id,
        "sub": "sub-" + uid, "oid": uid, "tid": utid, "iat": now, "nbf": now,
        "exp": now + 3600, "preferred_username": username, "name": username.split("@")[0],
        "ver": "2.0",
    })
    r = {
        "token_type": "Bearer", "scope": " ".join(scope), "expires_in": 4000,
        "ext_expires_in": 4000, "refresh_in": 2000,
        "access_token": fake_access_token(label),
        "refresh_token": "rt-" + label + "-" + "r" * 600,
        "id_token": id_token,
        "client_info": client_info(uid, utid),
    }
    r.update(extra)
    return r


def write(out_dir, now):
    manifest = []

    # Client credentials: two tenants, two resources, a refresh_in, and an FMI token (MSAL
    # 1.39 isolates it with ext_cache_key and an "atext" credential key).
    app = msal.SerializableTokenCache()
    for tenant in ("contoso", "fabrikam"):
        for res in ("api://resource-a/.default", "api://resource-b/.default"):
            label = "app-{}-{}".format(tenant, res.split("/")[2])
            extra = {"refresh_in": 1800} if tenant == "fabrikam" else {}
            add(app, manifest, kind="app", client_id=APP_CLIENT, tenant=tenant, scope=[res],
                response=app_response(label, **extra), grant_type="client_credentials",
                now=now)
    add(app, manifest, kind="app", client_id=APP_CLIENT, tenant="contoso",
        scope=["api://resource-a/.default"], response=app_response("app-contoso-fmi"),
        grant_type="client_credentials", data={"fmi_path": "SomeFmiPath/FmiCredentialPath"},
        now=now, ext_cache_key=True)

    # Authorization code: Alice in her home tenant with FOCI, then as a guest in fabrikam.
    user = msal.SerializableTokenCache()
    scope = ["User.Read", "Mail.Send", "openid", "profile", "offline_access"]
    uid, utid = ALICE
    home = "{}.{}".format(uid, utid)
    for tenant, label in ((utid, "user-alice-home"), ("fabrikam", "user-alice-guest")):
        add(user, manifest, kind="user", client_id=WEB_CLIENT, tenant=tenant, scope=scope,
            response=user_response(label, uid, utid, WEB_CLIENT, tenant,
                                   "alice@contoso.example", scope, now, foci="1"),
            grant_type="authorization_code",
            data={"code": "c0de", "redirect_uri": "http://localhost/cb",
                  "code_verifier": "v" * 43},
            now=now, home_account_id=home)

    # On-behalf-of: the middle tier exchanges Bob's incoming token for a downstream one.
    obo = msal.SerializableTokenCache()
    uid, utid = BOB
    scope = ["api://downstream/Orders.Read", "openid", "profile", "offline_access"]
    add(obo, manifest, kind="obo", client_id=MID_CLIENT, tenant=utid, scope=scope,
        response=user_response("obo-bob", uid, utid, MID_CLIENT, utid, "bob@contoso.example",
                               scope, now),
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        data={"assertion": "incoming." + "a" * 64 + ".sig",
              "requested_token_use": "on_behalf_of"},
        now=now, home_account_id="{}.{}".format(uid, utid))

    os.makedirs(out_dir, exist_ok=True)
    for name, cache in (("app", app), ("user", user), ("obo", obo)):
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            f.write(cache.serialize())
            f.write("\n")
    json.dump({"msal_version": msal.__version__, "now": now, "tokens": manifest},
              sys.stdout, indent=1)


# --- Direction B -------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self.text = json.dumps(body)
        self.headers = {"Content-Type": "application/json"}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise RuntimeError("HTTP {}".format(self.status_code))


class FakeIdp:
    """MSAL's ``http_client`` interface, served from memory; records every request."""

    def __init__(self, allow_refresh, home_account_id=None):
        self.allow_refresh = allow_refresh
        self.home_account_id = home_account_id
        self.requests = []

    def get(self, url, params=None, headers=None, **kwargs):
        path = urlparse(url).path
        self.requests.append({"method": "GET", "url": url})
        suffix = "/v2.0/.well-known/openid-configuration"
        if urlparse(url).hostname == HOST and path.endswith(suffix):
            base = "https://{}{}".format(HOST, path[: -len(suffix)])
            return FakeResponse(200, {
                "issuer": base + "/v2.0",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
            })
        return FakeResponse(404, {"error": "not_found"})

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        data = dict(data or {})
        self.requests.append({
            "method": "POST", "url": url, "grant_type": data.get("grant_type"),
            "refresh_token": data.get("refresh_token"), "scope": data.get("scope"),
        })
        if data.get("grant_type") == "refresh_token" and self.allow_refresh:
            uid, utid = self.home_account_id.split(".")
            return FakeResponse(200, {  # client_info: MSAL always asks for it
                "token_type": "Bearer", "scope": data.get("scope", ""),
                "expires_in": 3600, "ext_expires_in": 3600,
                "access_token": "refreshed-by-fake-idp",
                "refresh_token": "rotated-by-fake-idp",
                "client_info": client_info(uid, utid),
            })
        return FakeResponse(400, {"error": "invalid_request",
                                  "error_description": "the fake IdP refuses this request"})

    def close(self):
        pass


def serve(cache_path, plan_path, cache_out):
    with open(cache_path) as f:
        state = f.read()
    with open(plan_path) as f:
        plan = json.load(f)
    cache = msal.SerializableTokenCache()
    cache.deserialize(state)
    results = []
    for step in plan["steps"]:
        idp = FakeIdp(step.get("allow_refresh", False), step.get("home_account_id"))
        app = msal.ConfidentialClientApplication(
            step["client_id"], client_credential="not-a-real-secret",
            authority="https://{}/{}".format(HOST, step["tenant"]),
            token_cache=cache, http_client=idp, instance_discovery=False)
        out = {"name": step["name"]}
        if step["kind"] == "app":
            r = app.acquire_token_for_client(step["scopes"])
        else:
            accounts = app.get_accounts()
            out["accounts"] = [a["home_account_id"] for a in accounts]
            account = next((a for a in accounts
                            if a["home_account_id"] == step["home_account_id"]), None)
            r = app.acquire_token_silent(step["scopes"], account) if account else None
        r = r or {}
        out.update({
            "access_token": r.get("access_token"),
            "token_source": r.get("token_source"),
            "error": r.get("error"),
            "refresh_on": r.get("refresh_on"),
            "requests": idp.requests,
        })
        results.append(out)
    with open(cache_out, "w") as f:
        f.write(cache.serialize())
    json.dump({"msal_version": msal.__version__, "results": results}, sys.stdout, indent=1)


def main(argv):
    if len(argv) >= 2 and argv[0] == "write":
        now = int(argv[argv.index("--now") + 1]) if "--now" in argv else int(time.time())
        write(argv[1], now)
    elif len(argv) == 4 and argv[0] == "serve":
        serve(argv[1], argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
