"""Token verification, with tokens minted by the official ``twilio`` library.

Access tokens (``AccessToken`` + ``TaskRouterGrant``, signed with an API key's secret) and
legacy capability tokens (``WorkerCapabilityToken`` & co., signed with the auth token) must be
accepted exactly as twilio-python makes them, and refused with a clear error otherwise. Times
are the server's (a manual clock here).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant, VideoGrant
from twilio.jwt.taskrouter.capabilities import (
    TaskQueueCapabilityToken,
    WorkerCapabilityToken,
)

from switchboard.bridge.tokens import (
    Forbidden,
    Grant,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TokenVerifier,
)
from switchboard.service.accounts import Account, ApiKey
from switchboard.service.clock import ManualClock

NOW = 1_767_225_600  # seconds; the manual clock's time
AC = "AC" + "1" * 32
OTHER_AC = "AC" + "2" * 32
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
SK = "SK" + "1" * 32
SECRET = "a-very-secret-api-key-secret-1234"
WS = "WS" + "1" * 32
WK = "WK" + "1" * 32
OTHER_WK = "WK" + "2" * 32
WQ = "WQ" + "1" * 32
BASE = f"/v1/Workspaces/{WS}"


@dataclass
class Credentials:
    accounts: dict[str, Account] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)


@pytest.fixture
def credentials() -> Credentials:
    made = Credentials()
    for sid in (AC, OTHER_AC):
        made.accounts[sid] = Account(sid=sid, friendly_name=sid, auth_token=AUTH_TOKEN,
                                     status="active", date_created=0, date_updated=0)
    made.keys[SK] = ApiKey(sid=SK, account_sid=AC, friendly_name="", secret=SECRET,
                           date_created=0, date_updated=0)
    return made


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW * 1000)


@pytest.fixture
def verifier(credentials: Credentials, clock: ManualClock) -> TokenVerifier:
    return TokenVerifier(credentials, clock)


def access_token(*, key: str = SK, secret: str = SECRET, account: str = AC, nbf: int = NOW,
                 valid_until: int = NOW + 3600, role: str | None = "worker",
                 worker: str | None = WK, workspace: str | None = WS) -> str:
    token = AccessToken(account, key, secret, identity="alice", nbf=nbf,
                        valid_until=valid_until)
    token.add_grant(TaskRouterGrant(workspace_sid=workspace, worker_sid=worker, role=role))
    return str(token.to_jwt())


def worker_capability(*, auth_token: str = AUTH_TOKEN, **kwargs: Any) -> str:
    kwargs.setdefault("nbf", NOW)
    kwargs.setdefault("valid_until", NOW + 3600)
    return str(WorkerCapabilityToken(AC, auth_token, WS, WK, **kwargs).to_jwt())


def refused(verifier: TokenVerifier, token: str, error: type[TokenError] = TokenError,
            *mentions: str) -> TokenError:
    with pytest.raises(error) as info:
        verifier.verify(token)
    assert info.value.status == 401
    for mention in mentions:
        assert mention in info.value.message, info.value.message
    return info.value


# ---------------------------------------------------------------------- access tokens


def test_a_valid_access_token(verifier: TokenVerifier) -> None:
    grant = verifier.verify(access_token())
    assert grant == Grant(kind="access_token", account_sid=AC, issuer=SK, workspace_sid=WS,
                          worker_sid=WK, role="worker", identity="alice",
                          expires_ms=(NOW + 3600) * 1000)
    assert not grant.privileged


def test_the_default_times_of_twilio_python(credentials: Credentials) -> None:
    """Minted with the wall clock (nbf now, exp in an hour): fine when the clocks agree."""
    token = AccessToken(AC, SK, SECRET, identity="alice")
    token.add_grant(TaskRouterGrant(workspace_sid=WS, worker_sid=WK, role="worker"))
    minted = jwt.decode(token.to_jwt(), options={"verify_signature": False})
    verifier = TokenVerifier(credentials, ManualClock(minted["nbf"] * 1000))
    assert verifier.verify(token.to_jwt()).worker_sid == WK


def test_expired(verifier: TokenVerifier, clock: ManualClock) -> None:
    token = access_token()
    clock.advance(3600 * 1000 + 29_000)  # within the leeway
    verifier.verify(token)
    clock.advance(1_000)
    error = refused(verifier, token, TokenExpired, "expired")
    assert error.code == 20104
    refused(verifier, access_token(valid_until=NOW - 3600), TokenExpired, "expired")


def test_not_yet_valid(verifier: TokenVerifier) -> None:
    verifier.verify(access_token(nbf=NOW + 29))  # within the leeway
    error = refused(verifier, access_token(nbf=NOW + 600), TokenNotYetValid, "not valid before")
    assert error.code == 20105


def test_wrong_secret(verifier: TokenVerifier) -> None:
    refused(verifier, access_token(secret="not-the-secret-of-this-api-key-0"), TokenError,
            "signature")


def test_unknown_key(verifier: TokenVerifier) -> None:
    refused(verifier, access_token(key="SK" + "9" * 32), TokenError,
            "SK" + "9" * 32, "does not exist")


def test_deleted_key(verifier: TokenVerifier, credentials: Credentials) -> None:
    token = access_token()
    verifier.verify(token)
    del credentials.keys[SK]
    refused(verifier, token, TokenError, "does not exist or was deleted")


def test_key_of_another_account(verifier: TokenVerifier) -> None:
    refused(verifier, access_token(account=OTHER_AC), TokenError, "subject")


def test_inactive_account(verifier: TokenVerifier, credentials: Credentials) -> None:
    credentials.accounts[AC] = dataclasses.replace(credentials.accounts[AC], status="suspended")
    refused(verifier, access_token(), TokenError, "not active")


def test_grants_are_required(verifier: TokenVerifier) -> None:
    video_only = AccessToken(AC, SK, SECRET, identity="alice", nbf=NOW, valid_until=NOW + 60)
    video_only.add_grant(VideoGrant(room="x"))
    refused(verifier, str(video_only.to_jwt()), TokenError, "TaskRouter grant")
    refused(verifier, access_token(workspace=None), TokenError, "workspace")


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
def test_malformed_tokens(verifier: TokenVerifier) -> None:
    refused(verifier, "not a token", TokenError, "not a valid JWT")
    claims = jwt.decode(access_token(), options={"verify_signature": False})
    # Another algorithm, or no content type: not what Twilio's libraries make.
    hs512 = jwt.encode(claims, SECRET, algorithm="HS512", headers={"cty": "twilio-fpa;v=1"})
    refused(verifier, hs512, TokenError, "HS256")
    no_cty = jwt.encode(claims, SECRET, algorithm="HS256")
    refused(verifier, no_cty, TokenError, "cty")
    no_exp = jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET,
                        algorithm="HS256", headers={"cty": "twilio-fpa;v=1"})
    refused(verifier, no_exp, TokenError, "expiry")
    stranger = jwt.encode({**claims, "iss": "XX123"}, SECRET, algorithm="HS256",
                          headers={"cty": "twilio-fpa;v=1"})
    refused(verifier, stranger, TokenError, "neither an API key")


def test_wrong_workspace(verifier: TokenVerifier) -> None:
    grant = verifier.verify(access_token())
    grant.check_workspace(WS)
    with pytest.raises(Forbidden, match="is for workspace") as info:
        grant.check_workspace("WS" + "2" * 32)
    assert (info.value.status, info.value.code) == (403, 20403)


def test_a_worker_acts_only_as_itself(verifier: TokenVerifier) -> None:
    grant = verifier.verify(access_token())
    grant.check_worker(WK)
    with pytest.raises(Forbidden, match=f"worker {WK} cannot act as worker {OTHER_WK}"):
        grant.check_worker(OTHER_WK)
    no_worker = verifier.verify(access_token(worker=None))
    with pytest.raises(Forbidden, match="names no worker"):
        no_worker.check_worker(WK)
    for role in ("admin", "supervisor"):
        privileged = verifier.verify(access_token(role=role))
        assert privileged.privileged
        privileged.check_worker(OTHER_WK)


# ---------------------------------------------------------------------- capability tokens


def test_a_valid_worker_capability_token(verifier: TokenVerifier) -> None:
    grant = verifier.verify(worker_capability())
    assert (grant.kind, grant.account_sid, grant.issuer, grant.workspace_sid,
            grant.worker_sid) == ("capability_token", AC, AC, WS, WK)
    assert grant.expires_ms == (NOW + 3600) * 1000
    assert not grant.privileged


def test_capability_policies_are_matched_on_the_path(verifier: TokenVerifier) -> None:
    grant = verifier.verify(worker_capability())
    # The default policies, whatever host they name (taskrouter./event-bridge.twilio.com).
    grant.check_policies("GET", f"/v1/wschannels/{AC}/{WK}", {})
    grant.check_policies("GET", f"{BASE}/Workers/{WK}", {})
    grant.check_policies("GET", f"{BASE}/Activities", {"PageSize": 1000})
    grant.check_policies("GET", f"{BASE}/Tasks/WT{'1' * 32}", {})
    grant.check_policies("GET", f"{BASE}/Workers/{WK}/Reservations", {})
    grant.check_policies("GET", f"{BASE}/Workers/{WK}/Reservations/WR{'1' * 32}", {})


def test_capability_policy_denials(verifier: TokenVerifier) -> None:
    grant = verifier.verify(worker_capability())
    denied = [
        ("POST", f"{BASE}/Workers/{WK}"),  # not allowed to update itself by default
        ("GET", f"{BASE}/Workers/{OTHER_WK}"),  # another worker
        ("POST", f"{BASE}/Workers/{WK}/Reservations/WR{'1' * 32}"),
        ("GET", f"/v1/Workspaces/WS{'2' * 32}/Activities"),  # another workspace
        ("DELETE", f"{BASE}/Workers/{WK}"),
        ("GET", f"{BASE}/Workers/{WK}/WorkerChannels"),
    ]
    for method, path in denied:
        with pytest.raises(Forbidden, match="policies do not allow") as info:
            grant.check_policies(method, path, {})
        assert info.value.status == 403


def test_capability_post_filters(verifier: TokenVerifier) -> None:
    grant = verifier.verify(worker_capability(allow_update_activities=True,
                                              allow_update_reservations=True))
    grant.check_policies("POST", f"{BASE}/Workers/{WK}", {"ActivitySid": "WA" + "1" * 32})
    with pytest.raises(Forbidden):  # post_filter: ActivitySid is required
        grant.check_policies("POST", f"{BASE}/Workers/{WK}", {"Attributes": "{}"})
    grant.check_policies("POST", f"{BASE}/Workers/{WK}/Reservations/WR{'1' * 32}",
                         {"ReservationStatus": "accepted"})
    grant.check_policies("POST", f"{BASE}/Tasks/WT{'1' * 32}", {"AssignmentStatus": "wrapping"})


def test_capability_tokens_are_signed_with_the_auth_token(verifier: TokenVerifier,
                                                          clock: ManualClock) -> None:
    refused(verifier, worker_capability(auth_token="fedcba9876543210fedcba9876543210"),
            TokenError, "signature")
    refused(verifier, worker_capability(valid_until=NOW - 60), TokenExpired)
    refused(verifier, worker_capability(nbf=NOW + 600), TokenNotYetValid)


def test_a_task_queue_capability_token_names_no_worker(verifier: TokenVerifier) -> None:
    token = TaskQueueCapabilityToken(AC, AUTH_TOKEN, WS, WQ, nbf=NOW, valid_until=NOW + 60)
    grant = verifier.verify(str(token.to_jwt()))
    assert grant.worker_sid is None
    grant.check_policies("GET", f"{BASE}/TaskQueues/{WQ}", {})
    with pytest.raises(Forbidden):
        grant.check_policies("GET", f"/v1/wschannels/{AC}/{WK}", {})
