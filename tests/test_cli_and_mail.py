from sqlalchemy import select

from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.checklists.models import Checklist
from shopper.extensions import db
from shopper.jobs import huey, run_pending
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, Role, Site
from tests.conftest import make_app, session_id_for


def test_demo_is_idempotent_and_prints_passwords(app, database, make):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "owner@demo.shopper.test" in first.output and "auditor@demo.shopper.test" in first.output
    counts = make.count(User), make.count(Organization), make.count(Site), make.count(Membership)
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert (make.count(User), make.count(Organization), make.count(Site), make.count(Membership)) == counts
    demo = make.find(Organization, slug="demo")
    assert make.count(Site, org_id=demo.id) == 2


def test_the_demo_queues_the_pdfs_of_its_submitted_audits_and_the_queue_makes_them(app, database, make):
    from shopper.reports.models import ReportPdf

    huey.flush()
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    submitted = make.count(Audit, status="submitted")
    assert submitted >= 4 and huey.pending_count() == submitted
    with app.app_context():
        run_pending()
    assert make.count(ReportPdf) == submitted


def test_demo_consultancy_serves_three_clients_with_an_audit_each_on_its_shared_checklist(app, database, make):
    output = app.test_cli_runner().invoke(args=["demo"]).output
    assert "consultant@demo.shopper.test" in output
    consultancy = make.find(Organization, slug="demo-consulting")
    assert consultancy.is_consultancy and consultancy.primary_color == "#3b2f7a"
    links = make.count(ClientLink, consultancy_id=consultancy.id)
    checklist = make.find(Checklist, org_id=consultancy.id)
    assert links == 3 and checklist.shared_with == "all"
    with app.app_context():
        audits = db.session.scalars(select(Audit).where(Audit.checklist_id == checklist.id)).all()
        assert len({a.org_id for a in audits}) == 3 and {a.status for a in audits} == {"submitted"}
        assert len({a.score for a in audits}) == 3  # three different businesses to compare
    app.test_cli_runner().invoke(args=["demo"])
    assert make.count(Audit, checklist_id=checklist.id) == 3


def test_demo_owner_can_sign_in_with_the_printed_password(app, client):
    output = app.test_cli_runner().invoke(args=["demo"]).output
    line = next(line for line in output.splitlines() if "owner@demo.shopper.test" in line)
    password = line.split("password:")[1].strip()
    response = client.post("/login", data={"email": "owner@demo.shopper.test", "password": password})
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/o/demo/"


def test_create_user(app, database, make):
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--email",
            "Real@Example.com",
            "--name",
            "Real Owner",
            "--org",
            "Real Business",
            "--password",
            "a real long password here",
        ]
    )
    assert result.exit_code == 0, result.output
    user = make.find(User, email="real@example.com")
    assert make.find(Membership, user_id=user.id).role == "owner"


def test_create_user_refuses_a_common_password(app, database, make):
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--email",
            "weak@example.com",
            "--name",
            "Weak",
            "--org",
            "Weak Co",
            "--password",
            "password123",
        ]
    )
    assert result.exit_code != 0 and "attackers" in result.output
    assert make.find(User, email="weak@example.com") is None


def test_invite_is_mailed_when_smtp_is_configured(tmp_path, app, database, make, smtp):
    mailing = make_app(
        tmp_path,
        DATABASE_URL=app.config["DATABASE_URL"],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_USE_TLS=False,
    )
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    client = mailing.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(app, owner)
    response = client.post(f"/o/{org.slug}/invites", data={"role": "auditor", "email": "new@example.com"})
    assert response.status_code == 201 and b"sending the invitation to new@example.com" in response.data
    with mailing.app_context():
        run_pending()
    [message] = smtp.messages
    assert message["To"] == "new@example.com" and "Harbour Physio" in message["Subject"]
    token = response.get_data(as_text=True).split("/invite/")[1].split('"')[0]
    assert f"/invite/{token}" in message.get_payload()


def test_a_mail_failure_still_shows_the_link(tmp_path, app, database, make):
    unreachable = make_app(
        tmp_path,
        DATABASE_URL=app.config["DATABASE_URL"],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=1,
        MAIL_USE_TLS=False,
        MAIL_TIMEOUT=2,
    )
    org = make.org()
    owner = make.member(org, Role.OWNER)
    client = unreachable.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(app, owner)
    response = client.post(f"/o/{org.slug}/invites", data={"role": "auditor", "email": "new@example.com"})
    assert response.status_code == 201 and b"/invite/" in response.data
    with unreachable.app_context():
        run_pending()
    assert huey.scheduled_count() == 1  # to be tried again later
    assert make.count(Invite, org_id=org.id) == 1
