import re

from shopper.accounts.models import User
from shopper.orgs.models import Role, Site


def _token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


def test_forms_without_a_csrf_token_are_refused_and_change_nothing(csrf_client, make):
    before = make.count(User)
    response = csrf_client.post(
        "/signup",
        data={
            "name": "No Token",
            "email": "no-token@example.com",
            "password": "a sentence long enough",
            "org_name": "Tokenless",
            "org_kind": "business",
        },
    )
    assert response.status_code == 400
    assert b"expired or was sent from elsewhere" in response.data
    assert make.count(User) == before


def test_a_wrong_csrf_token_is_refused(csrf_client, make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    page = csrf_client.get("/login")
    token = _token(page.data)
    csrf_client.post(
        "/login", data={"email": owner.email, "password": "correct horse battery staple", "csrf_token": token}
    )
    response = csrf_client.post(f"/o/{org.slug}/sites", data={"name": "Forged", "csrf_token": "forged"})
    assert response.status_code == 400
    assert make.count(Site, org_id=org.id) == 0


def test_a_real_sign_in_through_the_form_with_its_token(csrf_client, make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    token = _token(csrf_client.get("/login").data)
    response = csrf_client.post(
        "/login", data={"email": owner.email, "password": "correct horse battery staple", "csrf_token": token}
    )
    assert response.status_code == 302
    sites = csrf_client.get(f"/o/{org.slug}/sites")
    response = csrf_client.post(f"/o/{org.slug}/sites", data={"name": "With token", "csrf_token": _token(sites.data)})
    assert response.status_code == 302
    assert make.count(Site, org_id=org.id) == 1


def test_sign_out_needs_the_token_too(csrf_client, make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    token = _token(csrf_client.get("/login").data)
    csrf_client.post(
        "/login", data={"email": owner.email, "password": "correct horse battery staple", "csrf_token": token}
    )
    assert csrf_client.post("/logout").status_code == 400
    assert csrf_client.get(f"/o/{org.slug}/").status_code == 200
