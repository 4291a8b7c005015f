from datetime import timedelta

import pytest

from shopper.accounts import service
from shopper.accounts.models import LoginAttempt, User
from shopper.accounts.passwords import common_passwords, password_problem
from shopper.orgs.models import Membership, Organization
from shopper.timeutil import utcnow
from tests.factories import PASSWORD

SIGNUP = {
    "name": "Dana Doe",
    "email": "Dana@Example.com",
    "password": "a walk in the customer's shoes",
    "org_name": "Dana's Bakery",
    "org_kind": "business",
}


def test_sign_up_creates_the_user_and_their_organization_as_owner(client, make):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/o/dana-s-bakery/")
    user = make.find(User, email="dana@example.com")
    assert user.email == "dana@example.com"  # stored lower-case
    assert make.count(Membership, user_id=user.id, role="owner") == 1
    home = client.get("/o/dana-s-bakery/")
    assert home.status_code == 200 and b"Dana&#39;s Bakery" in home.data


def test_sign_up_as_consultancy(client, make):
    client.post("/signup", data={**SIGNUP, "org_kind": "consultancy", "org_name": "Service Sense"})
    assert make.find(Organization, slug="service-sense").kind == "consultancy"


@pytest.mark.parametrize(
    ("change", "field_message"),
    [
        ({"email": "not-an-email"}, b"Enter an email address like"),
        ({"email": ""}, b"Enter your email address"),
        ({"password": "short"}, b"at least 10 characters"),
        ({"password": "password123"}, b"first that attackers try"),
        ({"name": "x" * 121}, b"at most 120 characters"),
        ({"org_name": ""}, b"Enter business or consultancy name"),
        ({"org_kind": "charity"}, b"Not a valid choice"),
    ],
)
def test_sign_up_refuses_bad_input_and_writes_nothing(client, make, change, field_message):
    before = make.count(User), make.count(Organization)
    response = client.post("/signup", data={**SIGNUP, **change})
    assert response.status_code == 400
    assert field_message in response.data
    assert (make.count(User), make.count(Organization)) == before


def test_sign_up_with_a_taken_email_in_any_case_is_refused(client, make):
    make.user(email="taken@example.com")
    before = make.count(Organization)
    response = client.post("/signup", data={**SIGNUP, "email": "TAKEN@example.com"})
    assert response.status_code == 400
    assert b"already exists" in response.data
    assert make.count(Organization) == before


def test_sign_in_is_case_insensitive_and_sign_out_works(client, make):
    user = make.user(email="casey@example.com")
    org = make.org()
    make.member(org, user=user)
    response = client.post("/login", data={"email": "  CASEY@Example.COM ", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(f"/o/{org.slug}/").status_code == 200
    client.post("/logout")
    assert client.get(f"/o/{org.slug}/").status_code == 302


def test_wrong_password_is_refused_and_recorded(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": "not the password"})
    assert response.status_code == 400
    assert b"do not match" in response.data
    assert make.count(LoginAttempt, email=user.email) == 1


def test_sign_in_redirects_only_to_local_next(client, make):
    user = make.user()
    local = client.post("/login?next=/orgs", data={"email": user.email, "password": PASSWORD})
    assert local.headers["Location"] == "/orgs"
    client.post("/logout")
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(f"/login?next={evil}", data={"email": user.email, "password": PASSWORD})
        assert "evil" not in response.headers["Location"]
        client.post("/logout")


def test_remember_me_sets_a_long_lived_cookie(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0] and "Expires=" in remember[0]


def test_failed_sign_ins_are_throttled_per_account(client, make):
    user = make.user()
    for _ in range(10):
        assert client.post("/login", data={"email": user.email, "password": "wrong password"}).status_code == 400
    throttled = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert b"try again in 15 minutes" in throttled.data
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60


def test_failed_sign_ins_are_throttled_per_address(app, client, make):
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    for n in range(limit):
        client.post("/login", data={"email": f"nobody{n}@example.com", "password": "wrong password"})
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429


def test_throttle_window_expires(ctx, make):
    policy = service.ThrottlePolicy(window=timedelta(minutes=15), max_per_client=3, max_per_ip=100, max_per_account=50)
    user = make.user()
    start = utcnow()
    here = service.Client("10.0.0.1")
    for n in range(3):
        with pytest.raises(service.BadCredentials):
            service.authenticate(
                email=user.email, password="nope", client=here, policy=policy, now=start + timedelta(seconds=n)
            )
    with pytest.raises(service.Throttled) as throttled:
        service.authenticate(
            email=user.email, password=PASSWORD, client=here, policy=policy, now=start + timedelta(minutes=5)
        )
    assert throttled.value.retry_after == 10 * 60
    later = start + timedelta(minutes=15, seconds=1)
    back = service.authenticate(email=user.email, password=PASSWORD, client=here, policy=policy, now=later)
    assert back.id == user.id


def test_password_change_signs_out_other_sessions(app, client, make):
    user = make.user()
    other_device = app.test_client()
    for c in (client, other_device):
        c.post("/login", data={"email": user.email, "password": PASSWORD})
    new = "a brand new sentence for the door"
    response = client.post("/account/password", data={"current": PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 302
    assert client.get("/account/password").status_code == 200  # this device stays signed in
    assert other_device.get("/account/password").status_code == 302  # the other one is signed out
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": new}).status_code == 302


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"current": "wrong one here", "new": "a brand new sentence", "confirm": "a brand new sentence"},
            b"current password is not right",
        ),
        (
            {"current": PASSWORD, "new": "a brand new sentence", "confirm": "something else entirely"},
            b"two new passwords differ",
        ),
        ({"current": PASSWORD, "new": "qwertyuiop", "confirm": "qwertyuiop"}, b"first that attackers try"),
    ],
)
def test_password_change_refusals_change_nothing(client, make, login, data, message):
    user = login(make.user())
    response = client.post("/account/password", data=data)
    assert response.status_code == 400 and message in response.data
    assert make.get(User, user.id).password_hash == user.password_hash


def test_password_rules():
    assert password_problem("tiny", min_length=10) == "Use at least 10 characters."
    assert "attackers" in password_problem("1234567890", min_length=10)
    assert "attackers" in password_problem("aaaaaaaaaaaaa", min_length=10)
    assert "email" in password_problem("dana.doe@example.com", min_length=10, email="dana.doe@example.com")
    assert password_problem("the billing line kept me waiting", min_length=10) is None
    assert all(len(p) >= 10 for p in common_passwords())
