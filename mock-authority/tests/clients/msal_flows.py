"""MSAL Python flows against mock-authority; prints one JSON object for the Rust test.

Usage: msal_flows.py SCENARIO  (parameters in the MOCK_* environment variables)
Scenarios: cc_twice, auth_code, obo, throttle, reset, hang, cert.
Requests are verified with REQUESTS_CA_BUNDLE (the mock's generated CA).
"""
import json
import os
import sys
import time
import urllib.parse

import msal
import requests

BASE = os.environ["MOCK_BASE"]
TENANT = os.environ["MOCK_TENANT"]
CLIENT_ID = os.environ["MOCK_CLIENT_ID"]
SECRET = os.environ["MOCK_SECRET"]
AUTHORITY = f"{BASE}/{TENANT}"


def app(**kw):
    return msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=SECRET, authority=AUTHORITY,
        instance_discovery=False, **kw)


def summary(r):
    if r is None:
        return None
    return {k: r.get(k) for k in ("token_source", "error", "error_codes", "token_type", "expires_in")} | {
        "has_access_token": bool(r.get("access_token")),
        "has_refresh_token": bool(r.get("refresh_token")),
    }


def cc_twice():
    a = app()
    scopes = [os.environ["MOCK_SCOPE"]]
    return {"first": summary(a.acquire_token_for_client(scopes)),
            "second": summary(a.acquire_token_for_client(scopes))}


def auth_code():
    a = app()
    scopes = [os.environ["MOCK_SCOPE"]]
    flow = a.initiate_auth_code_flow(scopes, redirect_uri="http://localhost:5000/cb",
                                     login_hint=os.environ["MOCK_USER"])
    # The mock's authorize endpoint signs the user in without interaction.
    resp = requests.get(flow["auth_uri"], allow_redirects=False)
    location = resp.headers["Location"]
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))
    first = a.acquire_token_by_auth_code_flow(flow, auth_response)
    accounts = a.get_accounts()
    silent = a.acquire_token_silent(scopes, account=accounts[0]) if accounts else None
    forced = a.acquire_token_silent(scopes, account=accounts[0], force_refresh=True) if accounts else None
    return {"authorize_status": resp.status_code, "first": summary(first),
            "id_token_claims": (first or {}).get("id_token_claims"),
            "accounts": [acc["home_account_id"] for acc in accounts],
            "silent": summary(silent), "forced_refresh": summary(forced)}


def obo():
    a = app()
    scopes = [os.environ["MOCK_SCOPE"]]
    first = a.acquire_token_on_behalf_of(os.environ["MOCK_ASSERTION"], scopes)
    accounts = a.get_accounts()
    silent = a.acquire_token_silent(scopes, account=accounts[0]) if accounts else None
    return {"first": summary(first), "accounts": [acc["home_account_id"] for acc in accounts],
            "silent": summary(silent)}


def admin_faults(rules):
    requests.put(f"{BASE}/_admin/faults", json=rules).raise_for_status()


def throttle():
    a = app()
    scopes = [os.environ["MOCK_SCOPE"]]
    first = a.acquire_token_for_client(scopes)  # the mock answers 429 + Retry-After
    t0 = time.monotonic()
    blocked = a.acquire_token_for_client(scopes)  # MSAL answers from its throttle cache
    admin_faults([])
    waited = None
    while True:  # MSAL keeps blocking until Retry-After has passed
        r = a.acquire_token_for_client(scopes)
        if r.get("access_token"):
            waited = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 15:
            break
        time.sleep(0.1)
    return {"first": summary(first), "blocked": summary(blocked), "after": summary(r),
            "waited_s": waited}


def failure(kind):
    a = app(timeout=float(os.environ.get("MOCK_TIMEOUT", "2")))
    scopes = [os.environ["MOCK_SCOPE"]]
    t0 = time.monotonic()
    try:
        r = a.acquire_token_for_client(scopes)
        return {"exception": None, "result": summary(r)}
    except Exception as e:  # noqa: BLE001 - the type is what the test asserts on
        return {"exception": type(e).__name__, "module": type(e).__module__,
                "message": str(e)[:300], "elapsed_s": time.monotonic() - t0}


def cert():
    """Certificate credential: PS256 + x5t#S256 + x5c (public_certificate given), or RS256 +
    x5t (SHA-1 thumbprint given)."""
    credential = {"private_key": open(os.environ["MOCK_KEY_FILE"]).read()}
    if os.environ.get("MOCK_THUMBPRINT"):
        credential["thumbprint"] = os.environ["MOCK_THUMBPRINT"]
    else:
        credential["public_certificate"] = open(os.environ["MOCK_CERT_FILE"]).read()
    a = msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=credential, authority=AUTHORITY, instance_discovery=False)
    return {"result": summary(a.acquire_token_for_client([os.environ["MOCK_SCOPE"]]))}


SCENARIOS = {"cert": cert, "cc_twice": cc_twice, "auth_code": auth_code, "obo": obo, "throttle": throttle,
             "reset": lambda: failure("reset"), "hang": lambda: failure("hang")}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]]()))
