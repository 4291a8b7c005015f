from datetime import timedelta

import pytest

from shopper.accounts.models import User
from shopper.orgs.models import Invite, Membership, Role, Site
from shopper.timeutil import utcnow
from tests.factories import PASSWORD


@pytest.fixture
def team(make):
    """An organization with one member of each role, plus a stranger's organization."""
    org = make.org("Harbour Physio")
    other = make.org("Other Business")
    return {
        "org": org,
        "other": other,
        "owner": make.member(org, Role.OWNER),
        "manager": make.member(org, Role.MANAGER),
        "auditor": make.member(org, Role.AUDITOR),
        "stranger": make.member(other, Role.OWNER),
    }


# Access layer --------------------------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client, team):
    response = client.get(f"/o/{team['org'].slug}/sites")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/", "/sites", "/members"])
def test_members_of_another_organization_get_404(client, login, team, path):
    login(team["stranger"])
    assert client.get(f"/o/{team['org'].slug}{path}").status_code == 404


def test_unknown_org_slug_is_404(client, login, team):
    login(team["owner"])
    assert client.get("/o/no-such-org/").status_code == 404


def test_each_role_sees_its_org_home(client, login, team):
    for role in ("owner", "manager", "auditor"):
        login(team[role])
        response = client.get(f"/o/{team['org'].slug}/")
        assert response.status_code == 200
        assert f"You are {role} here".encode() in response.data


def test_rows_of_another_organization_are_404_by_id(client, login, make, team):
    """Guessing the id of another organization's site, member or invite from inside your own org gives 404."""
    foreign_site = make.site(team["other"])
    foreign_member = make.membership(team["other"], team["stranger"])
    foreign_invite = make.invite(team["other"], team["stranger"]).invite
    login(team["owner"])
    base = f"/o/{team['org'].slug}"
    checks = [
        ("get", f"{base}/sites/{foreign_site.id}", {}),
        ("post", f"{base}/sites/{foreign_site.id}", {"name": "Mine now"}),
        ("post", f"{base}/sites/{foreign_site.id}/archive", {}),
        ("post", f"{base}/members/{foreign_member.id}/role", {"role": "auditor"}),
        ("post", f"{base}/members/{foreign_member.id}/remove", {}),
        ("post", f"{base}/invites/{foreign_invite.id}/revoke", {}),
    ]
    for method, url, data in checks:
        assert getattr(client, method)(url, data=data).status_code == 404, url
    assert make.get(Site, foreign_site.id).name == foreign_site.name
    assert make.get(Site, foreign_site.id).archived_at is None
    assert make.get(Membership, foreign_member.id).role == "owner"
    assert make.get(Invite, foreign_invite.id).revoked_at is None


def test_org_switcher_lists_every_membership(client, login, make, team):
    make.member(team["other"], Role.AUDITOR, user=team["owner"])
    login(team["owner"])
    page = client.get("/orgs")
    assert b"Harbour Physio" in page.data and b"Other Business" in page.data
    assert client.get("/").headers["Location"] == "/orgs"


# Team and roles -------------------------------------------------------------------------------------------------


def _membership_id(make, org, user):
    return make.membership(org, user).id


def test_owner_changes_a_role(client, login, make, team):
    login(team["owner"])
    member_id = _membership_id(make, team["org"], team["auditor"])
    response = client.post(f"/o/{team['org'].slug}/members/{member_id}/role", data={"role": "manager"})
    assert response.status_code == 302
    assert make.get(Membership, member_id).role == "manager"


def test_auditors_cannot_manage_the_team(client, login, make, team):
    login(team["auditor"])
    member_id = _membership_id(make, team["org"], team["manager"])
    assert client.post(f"/o/{team['org'].slug}/members/{member_id}/role", data={"role": "auditor"}).status_code == 403
    assert client.post(f"/o/{team['org'].slug}/members/{member_id}/remove").status_code == 403
    assert client.post(f"/o/{team['org'].slug}/invites", data={"role": "auditor"}).status_code == 403
    assert make.get(Membership, member_id).role == "manager"


def test_managers_cannot_touch_owners_or_make_owners(client, login, make, team):
    login(team["manager"])
    slug = team["org"].slug
    owner_id = _membership_id(make, team["org"], team["owner"])
    auditor_id = _membership_id(make, team["org"], team["auditor"])
    response = client.post(f"/o/{slug}/members/{owner_id}/role", data={"role": "auditor"})
    assert response.status_code == 403 and b"Only an owner" in response.data
    assert client.post(f"/o/{slug}/members/{auditor_id}/role", data={"role": "owner"}).status_code == 403
    assert client.post(f"/o/{slug}/members/{owner_id}/remove").status_code == 403
    assert make.get(Membership, owner_id).role == "owner"
    assert make.get(Membership, auditor_id).role == "auditor"


def test_the_last_owner_cannot_be_demoted_or_removed(client, login, make, team):
    login(team["owner"])
    slug = team["org"].slug
    owner_id = _membership_id(make, team["org"], team["owner"])
    demote = client.post(f"/o/{slug}/members/{owner_id}/role", data={"role": "manager"})
    assert demote.status_code == 409 and b"at least one owner" in demote.data
    second_owner = make.member(team["org"], Role.OWNER)
    login(second_owner)
    remove = client.post(f"/o/{slug}/members/{owner_id}/remove")
    assert remove.status_code == 302
    last_id = _membership_id(make, team["org"], second_owner)
    refused = client.post(f"/o/{slug}/members/{last_id}/remove")
    assert refused.status_code == 409 and b"last owner" in refused.data
    assert make.get(Membership, last_id) is not None


def test_an_unknown_role_is_refused(client, login, make, team):
    login(team["owner"])
    member_id = _membership_id(make, team["org"], team["auditor"])
    response = client.post(f"/o/{team['org'].slug}/members/{member_id}/role", data={"role": "emperor"})
    assert response.status_code == 400
    assert make.get(Membership, member_id).role == "auditor"


# Invites --------------------------------------------------------------------------------------------------------


def test_invite_link_and_qr_code_are_shown_and_only_a_hash_is_stored(client, login, make, team):
    login(team["manager"])
    response = client.post(f"/o/{team['org'].slug}/invites", data={"role": "auditor", "email": ""})
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    token = page.split("/invite/")[1].split('"')[0]
    assert "<svg" in page  # the QR code
    invite = make.find(Invite, org_id=team["org"].id)
    assert invite.token_hash != token and len(invite.token_hash) == 64
    assert invite.expires_at - invite.created_at == timedelta(days=7)


def test_a_manager_cannot_invite_an_owner(client, login, make, team):
    login(team["manager"])
    response = client.post(f"/o/{team['org'].slug}/invites", data={"role": "owner"})
    assert response.status_code == 403
    assert make.count(Invite, org_id=team["org"].id) == 0


def test_invite_accepted_by_a_new_person(client, make, team):
    new = make.invite(team["org"], team["owner"], role="manager")
    page = client.get(f"/invite/{new.token}")
    assert page.status_code == 200 and b"Join Harbour Physio" in page.data
    response = client.post(
        f"/invite/{new.token}",
        data={"name": "Nia New", "email": "Nia@Example.com", "password": "walking the billing line"},
    )
    assert response.status_code == 302
    user = make.find(User, email="nia@example.com")
    assert make.membership(team["org"], user).role == "manager"
    assert client.get(f"/o/{team['org'].slug}/").status_code == 200  # signed in


def test_invite_accepted_by_a_signed_in_person_who_then_has_two_orgs(client, login, make, team):
    new = make.invite(team["org"], team["owner"])
    login(team["stranger"])
    assert client.post(f"/invite/{new.token}").status_code == 302
    assert make.membership(team["org"], team["stranger"]).role == "auditor"


def test_invite_is_single_use(client, login, make, team):
    new = make.invite(team["org"], team["owner"])
    login(team["stranger"])
    client.post(f"/invite/{new.token}")
    second = make.user()
    login(second)
    response = client.post(f"/invite/{new.token}")
    assert response.status_code == 404 and b"already been used" in response.data
    assert make.count(Membership, user_id=second.id) == 0


def test_expired_invite_is_refused(client, make, team):
    new = make.invite(team["org"], team["owner"], lifetime=timedelta(seconds=-1))
    response = client.post(
        f"/invite/{new.token}", data={"name": "Late", "email": "late@example.com", "password": PASSWORD}
    )
    assert response.status_code == 404 and b"expired" in response.data
    assert make.find(User, email="late@example.com") is None


def test_withdrawn_and_forged_invites_are_refused(client, login, make, team):
    new = make.invite(team["org"], team["owner"])
    login(team["owner"])
    assert client.post(f"/o/{team['org'].slug}/invites/{new.invite.id}/revoke").status_code == 302
    assert client.get(f"/invite/{new.token}").status_code == 404
    assert client.get("/invite/forged-token").status_code == 404


def test_an_email_bound_invite_only_works_for_that_address(client, login, make, team):
    new = make.invite(team["org"], team["owner"], email="only@example.com")
    response = client.post(
        f"/invite/{new.token}", data={"name": "Eve", "email": "eve@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400 and b"This invitation is for only@example.com" in response.data
    assert make.find(User, email="eve@example.com") is None
    login(team["stranger"])
    assert client.post(f"/invite/{new.token}").status_code == 403
    assert make.find(Invite, id=new.invite.id).accepted_at is None


def test_an_invite_for_an_existing_account_asks_to_sign_in_and_creates_nothing(client, make, team):
    new = make.invite(team["org"], team["owner"])
    existing = make.user()
    response = client.post(
        f"/invite/{new.token}", data={"name": "Again", "email": existing.email, "password": PASSWORD}
    )
    assert response.status_code == 400 and b"sign in first" in response.data
    assert make.count(Membership, user_id=existing.id) == 0
    assert make.get(Invite, new.invite.id).accepted_at is None


def test_an_existing_member_cannot_use_an_invite_twice_over(client, login, make, team):
    new = make.invite(team["org"], team["owner"])
    login(team["auditor"])
    response = client.post(f"/invite/{new.token}")
    assert response.status_code == 409
    assert make.get(Invite, new.invite.id).accepted_at is None


# Sites ----------------------------------------------------------------------------------------------------------


def test_manager_adds_renames_archives_and_restores_a_site(client, login, make, team):
    login(team["manager"])
    slug = team["org"].slug
    assert (
        client.post(f"/o/{slug}/sites", data={"name": "Harbour Street", "address": "12 Harbour St"}).status_code == 302
    )
    site = make.find(Site, org_id=team["org"].id, name="Harbour Street")
    assert site.address == "12 Harbour St"
    assert (
        client.post(f"/o/{slug}/sites/{site.id}", data={"name": "Harbour Street clinic", "address": ""}).status_code
        == 302
    )
    renamed = make.get(Site, site.id)
    assert renamed.name == "Harbour Street clinic" and renamed.address is None
    client.post(f"/o/{slug}/sites/{site.id}/archive", data={"archive": "1"})
    assert make.get(Site, site.id).archived_at is not None
    client.post(f"/o/{slug}/sites/{site.id}/archive", data={"archive": "0"})
    assert make.get(Site, site.id).archived_at is None


def test_duplicate_site_names_are_a_conflict(client, login, make, team):
    make.site(team["org"], "Riverside")
    login(team["owner"])
    response = client.post(f"/o/{team['org'].slug}/sites", data={"name": "riverside"})
    assert response.status_code == 409 and b"already a site" in response.data
    assert make.count(Site, org_id=team["org"].id) == 1


def test_site_name_too_long_or_empty_is_refused(client, login, make, team):
    login(team["owner"])
    for name in ("", "x" * 121):
        assert client.post(f"/o/{team['org'].slug}/sites", data={"name": name}).status_code == 400
    assert make.count(Site, org_id=team["org"].id) == 0


def test_auditors_see_sites_but_cannot_change_them(client, login, make, team):
    site = make.site(team["org"])
    login(team["auditor"])
    slug = team["org"].slug
    page = client.get(f"/o/{slug}/sites")
    assert page.status_code == 200 and site.name.encode() in page.data and b"Add a site" not in page.data
    assert client.post(f"/o/{slug}/sites", data={"name": "New"}).status_code == 403
    assert client.post(f"/o/{slug}/sites/{site.id}", data={"name": "Renamed"}).status_code == 403
    assert client.post(f"/o/{slug}/sites/{site.id}/archive").status_code == 403
    assert make.get(Site, site.id).name == site.name


def test_invites_expire_after_the_configured_lifetime(ctx, make, team):
    from shopper.orgs.service import OrgError, find_invite

    new = make.invite(team["org"], team["owner"], lifetime=timedelta(days=7))
    assert find_invite(new.token, utcnow() + timedelta(days=6)).id == new.invite.id
    with pytest.raises(OrgError, match="expired"):
        find_invite(new.token, utcnow() + timedelta(days=7, seconds=1))
