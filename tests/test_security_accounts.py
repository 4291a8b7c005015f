"""Sign-in, sessions and recovery, tried as a hostile user and as a careless one would (issue 12). Each test here
failed on the code before the fix it names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shopper.accounts import service, sessions
from shopper.accounts.models import DeviceSession, PasswordReset, User
from shopper.extensions import db
from shopper.jobs import run_pending
from shopper.orgs.models import Membership, Role
from shopper.orgs.security_log import SecurityEvent
from shopper.timeutil import utcnow
from tests.factories import PASSWORD

HOST = "shopper.test"


def sign_in(client, user, password=PASSWORD, remember=False, ip="127.0.0.1"):
    data = {"email": user.email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})


def cookie(client, name):
    found = client.get_cookie(name, domain=HOST)
    return found.value if found is not None else None


def browser_with(app, **cookies):
    """A second browser holding copies of another one's cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        if value is not None:
            other.set_cookie(name, value, domain=HOST)
    return other


# Open redirects -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d%0a/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "/%20/evil.example",
        "javascript:alert(1)",
        "/\x7f/evil.example",
    ],
)
def test_next_never_leaves_the_site_signed_in_or_not(client, make, target):
    user = make.user()
    response = client.post(f"/login?next={target}", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location and not location.startswith("//") and "\n" not in location
    signed_in_get = client.get(f"/login?next={target}")
    assert signed_in_get.status_code == 302 and "evil" not in signed_in_get.headers["Location"]


def test_a_local_next_with_a_query_is_followed(client, make):
    user = make.user()
    response = client.post("/login?next=/orgs%3Fa%3D1", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/orgs?a=1"


# Signing out ends the session -----------------------------------------------------------------------------------


def test_signing_out_kills_every_copy_of_the_cookies_and_no_other_device(app, client, make):
    org = make.org()
    user = make.member(org, Role.OWNER)
    laptop = app.test_client()
    assert sign_in(laptop, user).status_code == 302
    assert sign_in(client, user, remember=True).status_code == 302
    session_copy, remember_copy = cookie(client, "session"), cookie(client, "remember_token")
    assert session_copy and remember_copy
    assert client.get(f"/o/{org.slug}/audits/").status_code == 200
    client.post("/logout")
    for stolen in (
        browser_with(app, session=session_copy),
        browser_with(app, remember_token=remember_copy),
        browser_with(app, session=session_copy, remember_token=remember_copy),
    ):
        response = stolen.get(f"/o/{org.slug}/audits/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert laptop.get(f"/o/{org.slug}/audits/").status_code == 200  # signing out of one device ends only that one


def test_sign_out_everywhere_ends_every_device_this_one_included(app, client, make):
    org = make.org()
    user = make.member(org, Role.OWNER)
    phone = app.test_client()
    sign_in(phone, user, remember=True)
    sign_in(client, user)
    page = client.get("/account")
    assert page.status_code == 200 and page.data.count(b"since ") == 2
    assert client.post("/account/sign-out-everywhere").status_code == 302
    for device in (client, phone):
        assert device.get(f"/o/{org.slug}/audits/").status_code == 302
    remembered = browser_with(app, remember_token=cookie(phone, "remember_token"))
    assert remembered.get(f"/o/{org.slug}/audits/").status_code == 302
    assert make.find(SecurityEvent, org_id=org.id, kind="signed_out_everywhere") is not None


def test_a_role_taken_away_or_a_membership_removed_signs_the_person_out(app, client, make, login):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    manager = make.member(org, Role.MANAGER)
    auditor = make.member(org, Role.AUDITOR)
    managers_phone, auditors_phone = app.test_client(), app.test_client()
    sign_in(managers_phone, manager)
    sign_in(auditors_phone, auditor)
    login(owner)
    demoted = make.membership(org, manager)
    assert client.post(f"/o/{org.slug}/members/{demoted.id}/role", data={"role": "auditor"}).status_code == 302
    assert managers_phone.get(f"/o/{org.slug}/audits/").status_code == 302
    removed = make.membership(org, auditor)
    assert client.post(f"/o/{org.slug}/members/{removed.id}/remove").status_code == 302
    assert auditors_phone.get("/orgs").status_code == 302
    kinds = {e.kind for e in db_rows(app, SecurityEvent, org_id=org.id)}
    assert {"role_changed", "member_removed"} <= kinds


def db_rows(app, model, **filters):
    with app.app_context():
        return db.session.scalars(select(model).filter_by(**filters)).all()


def test_a_cookie_of_an_older_format_or_forged_parts_opens_nothing(ctx, make):
    user = make.user()
    for identifier in (f"{user.id}:1", f"{user.id}:1:", f"{user.id}:x:abc", "٣:1:abc", f"{user.id}:1:{'a' * 40}"):
        assert sessions.load(identifier) is None


# Throttling that a stranger cannot turn against the owner ---------------------------------------------------------


def test_a_stranger_cannot_lock_the_owner_out_of_a_known_device(app, client, make):
    owner = make.user()
    assert sign_in(client, owner).status_code == 302  # the owner's phone: now a known device
    client.post("/logout")
    attacker = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_CLIENT"] + 5):
        sign_in(attacker, owner, password="not the password", ip="203.0.113.9")
    assert sign_in(attacker, owner, ip="203.0.113.9").status_code == 429  # the attacker's browser is held
    assert sign_in(client, owner).status_code == 302  # the owner's phone is not


def test_a_known_device_is_held_only_to_its_own_failures(app, client, make):
    owner = make.user()
    sign_in(client, owner)
    client.post("/logout")
    for n in range(app.config["LOGIN_MAX_FAILURES_PER_CLIENT"]):
        sign_in(client, owner, password=f"typo number {n}")
    assert sign_in(client, owner).status_code == 429  # its own ten failures do count


def test_a_spread_out_attack_holds_new_browsers_but_never_the_known_one(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 6)
    owner = make.user()
    sign_in(client, owner)
    client.post("/logout")
    for n in range(6):  # six addresses, one failure each: no per-address rule is reached
        sign_in(app.test_client(), owner, password="guess", ip=f"198.51.100.{n}")
    assert sign_in(app.test_client(), owner, ip="192.0.2.200").status_code == 429
    assert sign_in(client, owner).status_code == 302


def test_failures_from_one_address_across_accounts_are_held(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 4)
    browser = app.test_client()
    for n in range(4):
        browser.post("/login", data={"email": f"nobody{n}@example.com", "password": "x" * 12})
    assert sign_in(browser, make.user()).status_code == 429


def test_a_correct_sign_in_clears_the_clients_own_failures(ctx, make):
    policy = service.ThrottlePolicy(window=timedelta(minutes=15), max_per_client=3, max_per_ip=100, max_per_account=50)
    user = make.user()
    here, now = service.Client("10.0.0.7"), utcnow()
    for _ in range(2):
        with pytest.raises(service.BadCredentials):
            service.authenticate(email=user.email, password="nope", client=here, policy=policy, now=now)
    service.authenticate(email=user.email, password=PASSWORD, client=here, policy=policy, now=now)
    for _ in range(2):
        with pytest.raises(service.BadCredentials):
            service.authenticate(email=user.email, password="nope", client=here, policy=policy, now=now)
    assert service.authenticate(email=user.email, password=PASSWORD, client=here, policy=policy, now=now).id == user.id


# Rate limits (Flask-Limiter) ------------------------------------------------------------------------------------


def test_sign_up_is_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_SIGN_UP", "2 per hour")
    for n in range(2):
        client.post("/signup", data={"name": "A", "email": f"bot{n}@example.com", "password": "short"})
    limited = client.post("/signup", data={"name": "A", "email": "bot9@example.com", "password": "short"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert b"Too many requests" in limited.data
    assert client.get("/signup").status_code == 200  # reading the form costs nothing


def test_the_phone_api_is_rate_limited_per_person_with_a_json_answer(app, client, make, login, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_API", "3 per minute")
    org = make.org()
    auditor = login(make.member(org, Role.AUDITOR))
    audit = make.audit(org, auditor)
    for _ in range(3):
        assert client.get(f"/o/{org.slug}/api/audits/{audit.id}").status_code == 200
    limited = client.get(f"/o/{org.slug}/api/audits/{audit.id}")
    assert limited.status_code == 429 and limited.is_json and "Retry-After" in limited.headers
    other = app.test_client()
    login(make.member(org, Role.AUDITOR), on=other)
    assert other.get(f"/o/{org.slug}/api/audits/{audit.id}").status_code == 404  # someone else's own allowance


def test_opening_links_is_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_LINKS", "3 per hour")
    for path in ("/invite/guess-one", "/password/reset/guess-two", "/account/confirm/guess-three"):
        assert client.get(path).status_code == 404
    assert client.get("/invite/guess-four").status_code == 429  # one allowance for every kind of link


def test_share_links_are_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_SHARED_REPORTS", "2 per minute")
    token = "A" * 43
    assert client.get(f"/r/{token}").status_code == 404
    assert client.get(f"/r/{token}/report.pdf").status_code == 404
    assert client.get(f"/r/{token}").status_code == 429


# Forgot your password --------------------------------------------------------------------------------------------


def link_in(message, start: str) -> str:
    """The path of the link in a message that starts with `start`."""
    body = message.get_payload(decode=True).decode()
    return start + body.split(start, 1)[1].split()[0]


def test_forgot_password_by_mail_resets_once_confirms_the_address_and_ends_every_session(mailing, make, smtp):
    org = make.org()
    user = make.member(org, Role.AUDITOR)
    phone = mailing.test_client()
    sign_in(phone, user)
    browser = mailing.test_client()
    page = browser.post("/password/forgot", data={"email": user.email.upper()})
    assert page.status_code == 200 and b"Check your mail" in page.data
    unknown = browser.post("/password/forgot", data={"email": "nobody@example.com"})
    assert unknown.status_code == 200 and b"Check your mail" in unknown.data  # the same answer: nobody is revealed
    with mailing.app_context():
        run_pending()
    [message] = smtp.messages
    assert message["To"] == user.email
    path = link_in(message, "/password/reset/")
    new = "a fresh sentence for the lock"
    assert browser.get(path).status_code == 200
    done = browser.post(path, data={"new": new, "confirm": new})
    assert done.status_code == 302
    assert phone.get(f"/o/{org.slug}/audits/").status_code == 302  # signed out everywhere
    assert browser.get(f"/o/{org.slug}/audits/").status_code == 200  # signed in where the new password was chosen
    again = mailing.test_client().post(
        path, data={"new": "another sentence again", "confirm": "another sentence again"}
    )
    assert again.status_code == 404  # a link works once
    assert make.get(User, user.id).email_verified_at is not None
    assert sign_in(mailing.test_client(), user, password=new).status_code == 302


def test_a_new_reset_link_ends_the_earlier_one(ctx, make):
    user = make.user()
    first = service.request_reset(user.email, utcnow(), timedelta(hours=2))
    service.request_reset(user.email, utcnow(), timedelta(hours=2))
    with pytest.raises(Exception, match="is not valid"):
        service.find_reset(first.token, utcnow())


def test_a_reset_link_cannot_be_used_twice_at_once(tmp_path):
    from tests.committed import committed_database, race

    with committed_database(tmp_path) as app:
        with app.app_context():
            user = User(email="twice@example.com", name="Twice", password_hash="x")
            db.session.add(user)
            db.session.commit()
            new = service.request_reset(user.email, utcnow(), timedelta(hours=2))
            db.session.commit()

        def use(i):
            with app.app_context():
                reset = service.find_reset(new.token, utcnow())
                result = service.reset_password(reset, f"the new password number {i}", min_length=10, now=utcnow())
                db.session.commit()
                return result

        results = race(4, use)
        assert sum(isinstance(r, User) for r in results) == 1, results
        with app.app_context():
            assert db.session.scalar(select(PasswordReset.accepted_by_id)) is not None


def test_an_owner_makes_a_reset_link_only_for_a_member_of_theirs_alone(client, make, login):
    org = make.org()
    login(make.member(org, Role.OWNER))
    auditor = make.member(org, Role.AUDITOR)
    elsewhere = make.member(org, Role.MANAGER)
    make.member(make.org(), Role.OWNER, user=elsewhere)
    other_owner = make.member(org, Role.OWNER)
    made = client.post(f"/o/{org.slug}/members/{make.membership(org, auditor).id}/reset-link")
    assert made.status_code == 201 and b"/password/reset/" in made.data
    for person, reason in (
        (elsewhere, b"also belongs to another organization"),
        (other_owner, b"resets their password"),
    ):
        refused = client.post(f"/o/{org.slug}/members/{make.membership(org, person).id}/reset-link")
        assert refused.status_code == 403 and reason in refused.data
    assert make.count(PasswordReset, user_id=elsewhere.id) == 0
    assert make.find(SecurityEvent, org_id=org.id, kind="reset_link_made").subject_id == auditor.id


def test_managers_and_consultants_cannot_make_reset_links(client, make, login):
    org = make.org()
    make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    login(make.member(org, Role.MANAGER))
    assert client.post(f"/o/{org.slug}/members/{make.membership(org, auditor).id}/reset-link").status_code == 403
    firm = make.consultancy()
    make.client_link(firm, org)
    login(make.member(firm, Role.OWNER))
    assert client.post(f"/o/{org.slug}/members/{make.membership(org, auditor).id}/reset-link").status_code == 403


# Confirming an address before it opens invitations ------------------------------------------------------------------


def test_an_unconfirmed_account_cannot_take_an_invitation_made_out_to_its_address(mailing, make, smtp):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    squatter = make.user("dana@example.com")  # someone signed up with Dana's address first
    invite = make.invite(org, owner, email="dana@example.com")
    browser = mailing.test_client()
    sign_in(browser, squatter)
    refused = browser.post(f"/invite/{invite.token}")
    assert refused.status_code == 403 and b"confirm your address" in refused.data
    assert make.count(Membership, org_id=org.id, user_id=squatter.id) == 0
    browser.post("/account/confirm-email")
    with mailing.app_context():
        run_pending()
    [message] = smtp.messages
    assert browser.get(link_in(message, "/account/confirm/")).status_code == 302
    assert browser.post(f"/invite/{invite.token}").status_code == 302
    assert make.count(Membership, org_id=org.id, user_id=squatter.id) == 1


def test_a_new_account_made_through_an_addressed_invitation_counts_as_confirmed(client, make):
    org = make.org()
    invite = make.invite(org, make.member(org, Role.OWNER), email="sam@example.com")
    response = client.post(
        f"/invite/{invite.token}", data={"name": "Sam", "email": "sam@example.com", "password": "a long new sentence"}
    )
    assert response.status_code == 302
    assert make.find(User, email="sam@example.com").email_verified_at is not None
    assert make.count(DeviceSession, user_id=make.find(User, email="sam@example.com").id) == 1


# The security log ------------------------------------------------------------------------------------------------


def test_owners_read_the_security_log_and_nobody_else(client, make, login):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    sign_in(client, owner, ip="192.0.2.4")
    page = client.get(f"/o/{org.slug}/security")
    assert page.status_code == 200 and b"Signed in" in page.data and b"192.0.2.4" in page.data
    login(make.member(org, Role.MANAGER))
    assert client.get(f"/o/{org.slug}/security").status_code == 403
    firm = make.consultancy()
    make.client_link(firm, org)
    login(make.member(firm, Role.OWNER))
    assert client.get(f"/o/{org.slug}/security").status_code == 403
    login(make.member(make.org(), Role.OWNER))
    assert client.get(f"/o/{org.slug}/security").status_code == 404


def test_the_account_page_lists_the_open_sessions_in_words(ctx, make):
    user = db.session.get(User, make.user().id)
    agent = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/130 Mobile Safari/537.36"
    sessions.start(user, now=utcnow(), user_agent=agent)
    ended = sessions.start(user, now=utcnow(), user_agent="Firefox on a desk")
    sessions.end(user, utcnow())
    db.session.commit()
    assert [service.device_words(d.user_agent) for d in sessions.open_sessions(user)] == ["Chrome on Android"]
    assert ended
