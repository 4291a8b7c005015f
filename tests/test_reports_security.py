"""Hostile text in every field renders as inert text in both outputs: no request leaves, no file is embedded.

A listener on 127.0.0.1 records any request the renderers make; it must record none.
"""

from __future__ import annotations

import copy
import re

import pytest

from shopper.orgs.models import Role
from shopper.reports import pdf
from tests.conftest import download
from tests.factories import SMALL_CHECKLIST
from tests.test_reports_support import image_count, listening, pdf_text, read_pdf, walk_and_submit


def hostile(url: str) -> str:
    return (
        f'<img src="{url}/img.png"><link rel="stylesheet" href="{url}/sheet.css">'
        f'<a rel="attachment" href="file:///etc/hostname">file</a>'
        f"<style>@font-face{{font-family:x;src:url({url}/font.woff)}} body{{background:url({url}/bg.png)}}</style>"
        f'<script>fetch("{url}/js")</script>'
    )


def hostile_definition(url: str) -> dict:
    definition = copy.deepcopy(SMALL_CHECKLIST)
    touchpoint = definition["touchpoints"][0]
    touchpoint["title"] = f'Call <img src="{url}/title.png">'
    touchpoint["promise"] = f'<link rel="stylesheet" href="{url}/promise.css"> answers in a minute'
    touchpoint["items"][0]["prompt"] = f'Wait <iframe src="{url}/frame"></iframe>'
    second = copy.deepcopy(touchpoint)
    second["key"] = "desk"
    for item in second["items"]:
        item["key"] = f"desk-{item['key']}"
    second["items"][3]["show_if"] = {"item": "desk-resolved", "equals": "yes"}
    definition["touchpoints"].append(second)
    definition["title"] = f"Checklist <object data='{url}/object'></object>"
    return definition


@pytest.fixture
def hostile_audit(app, make):
    def build(url):
        org = make.org()
        owner = make.member(org, Role.OWNER)
        checklist = make.checklist(org, by=owner, definition=hostile_definition(url))
        site = make.site(org, "Harbour Street")
        text = hostile(url)
        with app.app_context():
            audit_id = walk_and_submit(
                org.id,
                owner.id,
                checklist.id,
                site.id,
                app.config["MEDIA_ROOT"],
                scenario=(text + " scenario ").ljust(2000, "s"),
                note=(text + " note ").ljust(5000, "n"),
                caption=f'<img src="{url}/caption.png"> caption',
                wrap_up_note=text,
            )
        return org, owner, audit_id

    return build


def test_hostile_text_is_inert_in_the_web_page_and_the_pdf(app, client, login, hostile_audit):
    with listening() as listener:
        org, owner, audit_id = hostile_audit(listener.url)
        login(owner)
        report = f"/o/{org.slug}/audits/{audit_id}/report"
        member_html = client.get(report).get_data(as_text=True)
        created = client.post(f"{report}/shares").get_data(as_text=True)
        share_url = re.search(r'value="http://shopper\.test(/r/[^"]+)"', created).group(1)
        share_html = app.test_client().get(share_url).get_data(as_text=True)
        status, _, data = download(client, f"{report}.pdf")
        assert status == 200
        assert listener.hits == []

    for html in (member_html, share_html):
        assert "127.0.0.1" in html  # the text is there...
        for raw in (
            '<img src="http',
            '<link rel="stylesheet" href="http',
            '<a rel="attachment"',
            "<script>fetch",
            "<style>@font-face",
            "<iframe",
            "<object",
        ):
            assert raw not in html  # ...but never as markup
        assert "&lt;img src=&#34;http://127.0.0.1" in html and "&lt;script&gt;fetch" in html

    reader = read_pdf(data)
    assert reader.attachments == {}
    assert b"/EmbeddedFile" not in data and b"/URI" not in data and b"/Launch" not in data
    text = pdf_text(reader)
    assert '<img src="http://127.0.0.1' in text and "@font-face" in text and "file:///etc/hostname" in text
    assert image_count(reader) == len(set(re.findall(r"/photos/([^/]+)/thumb\.jpg", member_html)))


def test_the_fetcher_refuses_everything_but_the_listed_files(app):
    other_photo = "3f1c2a9e-0000-4000-8000-000000000000"
    with listening() as listener:
        url = listener.url
        html = (
            "<html><head><title>t</title>"
            f'<link rel="stylesheet" href="{url}/a.css"><link rel="attachment" href="file:///etc/hostname">'
            f"<style>@font-face{{font-family:x;src:url({url}/f.woff)}} body{{font-family:x;"
            f"background:url({url}/bg.png)}}</style></head><body><p>text</p>"
            f'<img src="{url}/i.png"><img src="file:///etc/passwd"><img src="https://127.0.0.1:{listener.port}/s.png">'
            '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA'
            'WjR9awAAAABJRU5ErkJggg==">'
            f'<img src="shopper-media:photo/{other_photo}.jpg"><img src="shopper-static:../../../etc/passwd">'
            f'<a rel="attachment" href="file:///etc/hostname">a</a><object data="{url}/o"></object>'
            f'<iframe src="{url}/frame"></iframe><embed src="{url}/embed"></body></html>'
        )
        rendered = pdf.render(
            pdf.RenderJob(html=html, static={"css/report.css": b""}, media={}),
            timeout=30,
            memory_mb=app.config["REPORT_RENDER_MEMORY_MB"],
        )
        assert listener.hits == []
    refused = " ".join(rendered.refused)
    for fragment in (
        "/a.css",
        "/f.woff",
        "/bg.png",
        "/i.png",
        "file:///etc/passwd",
        "data:image/png",
        other_photo,
        "shopper-static:../../../etc/passwd",
        "https://127.0.0.1",
    ):
        assert fragment in refused
    reader = read_pdf(rendered.pdf)
    assert reader.attachments == {} and b"/EmbeddedFile" not in rendered.pdf and image_count(reader) == 0
