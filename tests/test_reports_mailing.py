"""Emailing a report (issue 16) through a real SMTP server on 127.0.0.1: each recipient's mail carries a share link
and the PDF (read back), a PDF over the limit is left out for the link, bad input queues nothing, other
organizations get 404, the form is rate-limited, every sending is in the audit's history, and without mail settings
the page says how to set them up."""

from __future__ import annotations

import re
import smtplib
from email.message import Message

import pytest

from shopper.audits.models import AuditEvent
from shopper.jobs import huey, run_pending
from shopper.mail import Attachment, send_mail
from shopper.orgs.models import LinkRole, Role
from shopper.reports import mailing as mailing_module
from shopper.reports.models import ShareLink
from tests.conftest import make_app
from tests.test_reports_support import pdf_text, read_pdf

WALK = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}
TITLE = "Billing line check"


def mail_app(app, tmp_path, smtp, **overrides):
    return make_app(
        tmp_path,
        DATABASE_URL=app.config["DATABASE_URL"],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_USE_TLS=False,
        **overrides,
    )


@pytest.fixture
def world(make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER, user=make.user("olga@harbour.example", "Olga Owner"))
    auditor = make.member(org, Role.AUDITOR, user=make.user("ana@harbour.example", "Ana Auditor"))
    audit = make.submitted_audit(org, auditor, WALK)
    return {
        "org": org,
        "owner": owner,
        "auditor": auditor,
        "audit": audit,
        "url": f"/o/{org.slug}/audits/{audit.id}/report/email",
    }


def signed_in(app, login, user):
    client = app.test_client()
    login(user, on=client)
    return client


def sent_by_the_queue(app) -> None:
    with app.app_context():
        run_pending()


def body_of(message: Message) -> str:
    [text] = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    return text.get_payload(decode=True).decode()


def pdfs_of(message: Message) -> list[Message]:
    return [part for part in message.walk() if part.get_content_type() == "application/pdf"]


def events(make, audit, kind: str) -> list[AuditEvent]:
    with make.app.app_context():
        from shopper.extensions import db

        return list(db.session.query(AuditEvent).filter_by(audit_id=audit.id, kind=kind).order_by(AuditEvent.id))


def test_each_recipient_gets_a_mail_with_the_link_and_the_pdf(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    page = client.get(world["url"])
    assert page.status_code == 200 and b"Ana Auditor" in page.data and b'<input checked id="attach"' in page.data
    response = client.post(
        world["url"],
        data={
            "recipients": "client@outside.example,\n Second@Outside.example",
            "members": [world["auditor"].id],
            "message": "Thanks for <b>your</b> time & patience",
            "attach": "y",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/audits/{world['audit'].id}")
    assert smtp.messages == []  # the request only queued the mails
    sent_by_the_queue(mailing)
    assert sorted(m["To"] for m in smtp.messages) == [
        "ana@harbour.example",
        "client@outside.example",
        "second@outside.example",
    ]
    [link] = list_links(make, world["audit"])
    links = set()
    for message in smtp.messages:
        assert " ".join(message["Subject"].split()).startswith(f"[Harbour Physio] Report: {TITLE}, ")
        body = body_of(message)
        assert "Olga Owner sent you the report" in body and "Thanks for <b>your</b> time & patience" in body
        assert "The PDF is attached." in body
        links |= set(re.findall(r"http://shopper\.test/r/[A-Za-z0-9_-]{43}", body))
        [attached] = pdfs_of(message)
        assert attached.get_filename().endswith(".pdf")
        data = attached.get_payload(decode=True)
        assert data.startswith(b"%PDF") and TITLE in pdf_text(read_pdf(data))
    [url] = links  # one link for the sending, in every mail
    assert (link.expires_at - link.created_at).days == mailing.config["REPORT_SHARE_DAYS"]
    shared = mailing.test_client().get(url.removeprefix("http://shopper.test"))
    assert shared.status_code == 200 and TITLE.encode() in shared.data
    [event] = events(make, world["audit"], "report_emailed")
    assert event.user_id == world["owner"].id
    assert "client@outside.example, second@outside.example, ana@harbour.example" in event.reason
    assert "with the PDF attached" in event.reason and f"…{link.hint}" in event.reason
    overview = client.get(f"/o/{world['org'].slug}/audits/{world['audit'].id}")
    assert b"report_emailed" in overview.data and b"client@outside.example" in overview.data
    assert b"Email the report" in overview.data
    # the sending's link is revoked like any other share link
    revoked = client.post(f"/o/{world['org'].slug}/audits/{world['audit'].id}/report/shares/{link.id}/revoke")
    assert revoked.status_code == 302
    assert mailing.test_client().get(url.removeprefix("http://shopper.test")).status_code == 404


def list_links(make, audit) -> list[ShareLink]:
    with make.app.app_context():
        from shopper.extensions import db

        return list(db.session.query(ShareLink).filter_by(audit_id=audit.id))


def test_a_pdf_over_the_limit_is_left_out_and_the_mail_gives_the_link(app, tmp_path, make, smtp, world, login):
    small = mail_app(app, tmp_path, smtp, REPORT_MAIL_MAX_ATTACHMENT_BYTES=2000)
    client = signed_in(small, login, world["owner"])
    assert client.post(world["url"], data={"recipients": "client@outside.example", "attach": "y"}).status_code == 303
    sent_by_the_queue(small)
    [message] = smtp.messages
    assert pdfs_of(message) == []
    body = body_of(message)
    assert "is too large to attach" in body and re.search(r"http://shopper\.test/r/[A-Za-z0-9_-]{43}", body)
    [left_out] = events(make, world["audit"], "report_mail_no_pdf")
    assert "client@outside.example" in left_out.reason and "too large" in left_out.reason


def test_unticking_the_pdf_sends_the_link_only(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    assert client.post(world["url"], data={"recipients": "client@outside.example"}).status_code == 303
    sent_by_the_queue(mailing)
    [message] = smtp.messages
    assert pdfs_of(message) == [] and "The PDF is on the report's page." in body_of(message)
    [event] = events(make, world["audit"], "report_emailed")
    assert "with the link only" in event.reason


@pytest.mark.parametrize(
    ("recipients", "members", "message", "says"),
    [
        ("client@outside.example, not-an-address", [], "", "Not an email address: “not-an-address”"),
        ("Ana <ana@outside.example>", [], "", "Not an email address"),
        ("", [], "", "Enter at least one email address"),
        (", ".join(f"p{n}@outside.example" for n in range(21)), [], "", "at most 20 people"),
        ("client@outside.example", [], "x" * 2001, "at most 2000 characters"),
        ("client@outside.example", [987654], "", "Pick people from the list"),
        ("client@outside.example", ["Ana"], "", "Pick people from the list"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_queued(
    mailing, make, smtp, world, login, recipients, members, message, says
):
    client = signed_in(mailing, login, world["owner"])
    huey.flush()
    response = client.post(world["url"], data={"recipients": recipients, "members": members, "message": message})
    assert response.status_code == 422 and says in response.get_data(as_text=True)
    assert huey.pending_count() == 0 and list_links(make, world["audit"]) == []
    assert events(make, world["audit"], "report_emailed") == []
    sent_by_the_queue(mailing)
    assert smtp.messages == []


def test_a_person_of_the_other_organization_gets_404_and_an_auditor_403(mailing, make, smtp, world, login):
    other_org = make.org("Another Business")
    stranger = make.member(other_org, Role.OWNER)
    client = signed_in(mailing, login, stranger)
    assert client.get(world["url"]).status_code == 404
    assert client.post(world["url"], data={"recipients": "x@outside.example"}).status_code == 404
    walker = signed_in(mailing, login, world["auditor"])
    assert walker.get(world["url"]).status_code == 403
    assert walker.post(world["url"], data={"recipients": "x@outside.example"}).status_code == 403
    sent_by_the_queue(mailing)
    assert smtp.messages == [] and list_links(make, world["audit"]) == []


def test_a_consultant_sends_as_the_sharing_rules_say(mailing, make, smtp, world, login):
    consultancy = make.consultancy("North Consulting")
    manager = make.member(consultancy, Role.MANAGER, user=make.user("cm@north.example", "Cara Consultant"))
    make.client_link(consultancy, world["org"], LinkRole.CONSULTANT_MANAGER)
    client = signed_in(mailing, login, manager)
    page = client.get(world["url"])
    assert page.status_code == 200 and b"Cara Consultant" in page.data  # the consultancy's people may be picked
    assert client.post(world["url"], data={"recipients": "owner@client.example"}).status_code == 303
    sent_by_the_queue(mailing)
    [message] = smtp.messages
    assert message["To"] == "owner@client.example" and "Cara Consultant sent you" in body_of(message)
    auditor_only = make.consultancy("East Consulting")
    consultant_auditor = make.member(auditor_only, Role.MANAGER)
    make.client_link(auditor_only, world["org"], LinkRole.CONSULTANT_AUDITOR)
    assert signed_in(mailing, login, consultant_auditor).get(world["url"]).status_code == 403


def test_sending_is_rate_limited_per_person(app, tmp_path, make, smtp, world, login):
    limited = mail_app(app, tmp_path, smtp, RATE_LIMIT_REPORT_MAIL="2 per hour")
    client = signed_in(limited, login, world["owner"])
    for _ in range(2):
        assert client.post(world["url"], data={"recipients": "client@outside.example"}).status_code == 303
    assert client.post(world["url"], data={"recipients": "client@outside.example"}).status_code == 429
    assert client.get(world["url"]).status_code == 200  # the form itself is not limited
    sent_by_the_queue(limited)
    assert len(smtp.messages) == 2 and len(events(make, world["audit"], "report_emailed")) == 2


def test_a_refused_delivery_is_logged_and_tried_again(mailing, make, smtp, world, login):
    smtp.refused.add("gone@outside.example")
    client = signed_in(mailing, login, world["owner"])
    response = client.post(world["url"], data={"recipients": "gone@outside.example, here@outside.example"})
    assert response.status_code == 303
    sent_by_the_queue(mailing)
    assert [m["To"] for m in smtp.messages] == ["here@outside.example"]
    [failed] = events(make, world["audit"], "report_mail_failed")
    assert "gone@outside.example" in failed.reason and "tried again" in failed.reason
    assert huey.scheduled_count() == 1  # the job queue's retry, on its schedule


def test_a_link_revoked_before_the_mail_leaves_sends_nothing(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    assert client.post(world["url"], data={"recipients": "client@outside.example"}).status_code == 303
    [link] = list_links(make, world["audit"])
    assert (
        client.post(f"/o/{world['org'].slug}/audits/{world['audit'].id}/report/shares/{link.id}/revoke").status_code
        == 302
    )
    sent_by_the_queue(mailing)
    assert smtp.messages == []
    [failed] = events(make, world["audit"], "report_mail_failed")
    assert f"…{link.hint} was revoked" in failed.reason


def test_an_audit_reopened_before_the_mail_leaves_sends_nothing(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    assert client.post(world["url"], data={"recipients": "client@outside.example", "attach": "y"}).status_code == 303
    reopened = client.post(f"/o/{world['org'].slug}/audits/{world['audit'].id}/reopen", data={"reason": "A typo"})
    assert reopened.status_code == 302
    sent_by_the_queue(mailing)
    assert smtp.messages == []
    [failed] = events(make, world["audit"], "report_mail_failed")
    assert "Not sent to client@outside.example: the audit was reopened" in failed.reason


def test_the_last_try_of_a_refused_delivery_says_there_are_no_more(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    assert client.post(world["url"], data={"recipients": "gone@outside.example"}).status_code == 303
    [link] = list_links(make, world["audit"])
    huey.flush()
    smtp.refused.add("gone@outside.example")
    with mailing.app_context(), pytest.raises(smtplib.SMTPRecipientsRefused):
        # the job as the queue runs it when no retry is left (no task: none to count)
        mailing_module.send_report_mail.call_local(
            world["audit"].id, link.id, "http://shopper.test/r/x", "gone@outside.example", "O", "", False
        )
    [failed] = events(make, world["audit"], "report_mail_failed")
    assert failed.reason.startswith("To gone@outside.example: ") and failed.reason.endswith("; no more tries")
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0


def test_a_message_is_escaped_on_the_page_and_plain_text_in_the_mail(mailing, make, smtp, world, login):
    client = signed_in(mailing, login, world["owner"])
    script = "<script>alert(1)</script>"
    refused = client.post(world["url"], data={"recipients": "not-an-address", "message": script})
    assert refused.status_code == 422
    assert script not in refused.get_data(as_text=True) and "&lt;script&gt;alert(1)&lt;/script&gt;" in refused.get_data(
        as_text=True
    )
    assert (
        client.post(world["url"], data={"recipients": "client@outside.example", "message": script}).status_code == 303
    )
    sent_by_the_queue(mailing)
    [message] = smtp.messages
    assert message.get_content_type() == "text/plain" and script in body_of(message)


def test_without_mail_settings_the_page_says_how_and_sends_nothing(client, login, make, world):
    login(world["owner"])
    page = client.get(world["url"])
    assert page.status_code == 200 and b"Mail is not set up" in page.data and b"MAIL_SERVER" in page.data
    assert b'name="recipients"' not in page.data
    huey.flush()
    refused = client.post(world["url"], data={"recipients": "client@outside.example"})
    assert refused.status_code == 409 and b"Mail is not set up" in refused.data
    assert huey.pending_count() == 0 and list_links(make, world["audit"]) == []


def test_an_audit_not_submitted_has_no_report_to_send(mailing, make, world, login):
    audit = make.audit(world["org"], world["owner"])
    client = signed_in(mailing, login, world["owner"])
    assert client.get(f"/o/{world['org'].slug}/audits/{audit.id}/report/email").status_code == 409


def test_recipients_are_read_once_each_in_order():
    assert mailing_module.recipients_from("B@x.example;a@x.example\n b@x.example", ["c@x.example", "a@x.example"]) == (
        "b@x.example",
        "a@x.example",
        "c@x.example",
    )
    with pytest.raises(mailing_module.MailingError, match="“a@b”"):
        mailing_module.recipients_from("a@b", [])


def test_send_mail_carries_an_attachment_and_plain_mail_is_unchanged(mailing, smtp):
    with mailing.app_context():
        send_mail(
            "a@outside.example",
            "With a file",
            "See the file.",
            [Attachment("r.pdf", b"%PDF-1.7 x", "application", "pdf")],
        )
        send_mail("b@outside.example", "Plain", "Just text.")
    with_file, plain = smtp.messages
    [part] = pdfs_of(with_file)
    assert part.get_filename() == "r.pdf" and part.get_payload(decode=True) == b"%PDF-1.7 x"
    assert not plain.is_multipart() and plain.get_payload().strip() == "Just text."
