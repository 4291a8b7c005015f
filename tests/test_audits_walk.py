"""The walk page as the server renders it: every control pre-filled from the saved state, show_if applied, the
wrap-up, photos, and the data the script needs, with no inline script or style. (The page live in a browser is
tested in tests/browser/test_walk.py.)"""

from __future__ import annotations

import io
import json
import uuid
from html.parser import HTMLParser

import pytest

from shopper.checklists.builtin import get_builtin
from shopper.checklists.schema import ITEM_TYPES
from shopper.checklists.scoring import visible_item_keys
from shopper.orgs.models import Role
from tests.images import oriented_jpeg

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], ""

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def all(self, tag: str | None = None, **attrs) -> list[Node]:
        """Descendants by tag and attributes (data_photo= means data-photo=; PRESENT matches a bare attribute)."""
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and all(_matches(n.attrs, k.replace("_", "-"), v) for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, **attrs) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def by_id(self, element_id: str) -> Node:
        return self.one(id=element_id)

    def checked(self, name: str) -> list[str]:
        return [n.attrs["value"] for n in self.all("input", name=name) if "checked" in n.attrs]

    def value(self, name: str) -> str | None:
        node = self.one(name=name)
        return node.text if node.tag == "textarea" else node.attrs.get("value")

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs

    @property
    def content(self) -> str:
        return self.text + "".join(child.content for child in self.children)


PRESENT = object()


def _matches(attrs: dict, name: str, wanted) -> bool:
    return name in attrs if wanted is PRESENT else attrs.get(name) == wanted


class Tree(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text += data


@pytest.fixture
def world(make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=auditor, definition=get_builtin("be-your-customer").definition)
    audit = make.audit(org, auditor, checklist=checklist)
    return {"org": org, "auditor": auditor, "audit": audit, "make": make}


@pytest.fixture
def walker(client, login, world):
    """The signed-in auditor: .page(touchpoint) parses the walk page, .answer() and .visit() save through the API."""
    login(world["auditor"])
    api = f"/o/{world['org'].slug}/api/audits/{world['audit'].id}"

    class Walker:
        clock = 1

        def page(self, touchpoint_key: str, audit=None) -> Node:
            audit_id = (audit or world["audit"]).id
            response = client.get(f"/o/{world['org'].slug}/audits/{audit_id}/walk/{touchpoint_key}")
            assert response.status_code == 200
            self.html = response.get_data(as_text=True)
            return Tree(self.html).root

        def _put(self, path: str, body: dict, audit=None) -> dict:
            Walker.clock += 1
            base = api if audit is None else f"/o/{world['org'].slug}/api/audits/{audit.id}"
            response = client.put(
                f"{base}/{path}",
                data=json.dumps({**body, "client_ts": Walker.clock}),
                content_type="application/json",
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def answer(self, item_key: str, value, audit=None, **extra) -> dict:
            return self._put(f"answers/{item_key}", {"value": value, **extra}, audit)

        def visit(self, touchpoint_key: str, **body) -> dict:
            return self._put(f"touchpoints/{touchpoint_key}", body)

        def photo(self, touchpoint_key: str, item_key: str | None = None, caption: str = "") -> str:
            photo_id = str(uuid.uuid4())
            data = {"id": photo_id, "touchpoint_key": touchpoint_key, "caption": caption}
            if item_key:
                data["item_key"] = item_key
            data["file"] = (io.BytesIO(oriented_jpeg(1)), "photo.jpg")
            response = client.post(f"{api}/photos", data=data, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert response.status_code == 201, response.get_json()
            return photo_id

        def state(self) -> dict:
            return client.get(api).get_json()

    return Walker()


def test_every_item_type_renders_with_its_saved_value(walker, world):
    walker.answer("web-prices-found", "yes", note="https://harbour.example/prices")
    walker.answer("web-clicks-to-price", 4)
    walker.answer("web-outdated", "yes")
    walker.answer("web-outdated-details", "Old holiday hours on the contact page")
    walker.answer("web-mobile-ease", 2, note="Tiny buttons", flagged=True)
    walker.answer("phone-time-to-human", 75)
    walker.answer("email-sent-date", "2026-11-02")
    walker.answer("email-reply-hours", 30.5)
    walker.answer("chat-channel", "public-post")
    seen_types = set()

    website = walker.page("website")
    assert website.checked("web-prices-found") == ["yes"]
    assert website.value("web-prices-found.note") == "https://harbour.example/prices"  # in the "prove it" box
    assert website.value("web-clicks-to-price") == "4"
    assert website.checked("web-outdated") == ["yes"]
    assert website.value("web-outdated-details") == "Old holiday hours on the contact page"
    assert website.checked("web-mobile-ease") == ["2"]
    ease = website.by_id("item-web-mobile-ease")
    assert "open" in ease.one("details").attrs  # a saved note or flag is not folded away
    assert ease.value("web-mobile-ease.note") == "Tiny buttons"
    assert "checked" in ease.one("input", name="web-mobile-ease.flagged").attrs
    assert website.checked("web-contact-found") == [] and website.value("web-contact-found.note") == ""
    assert "open" not in website.by_id("item-web-contact-found").one("details").attrs

    billing = walker.page("billing-line")
    timer = billing.by_id("item-phone-time-to-human")
    assert timer.value("phone-time-to-human") == "75"
    assert timer.one("output").content == "01:15"
    assert "at most 75 s" not in walker.html and "at most 60 s" in walker.html  # the promise beside it
    assert timer.all("button", data_action="start") and timer.all("button", data_action="reset")

    email = walker.page("email-enquiry")
    assert email.value("email-sent-date") == "2026-11-02"
    assert email.value("email-reply-hours") == "30.5"

    chat = walker.page("chat-social")
    assert chat.checked("chat-channel") == ["public-post"]
    assert chat.checked("chat-bot-handover") == []

    for page in (website, billing, email, chat):
        for article in page.all("article", **{"class": "walk-item"}):
            seen_types.add(article.attrs["data-type"])
            assert article.attrs["data-item"] == article.attrs["id"].removeprefix("item-")
            assert article.one(**{"class": "breach"}).hidden  # filled in by the script
    assert seen_types == set(ITEM_TYPES)


def test_hidden_items_follow_the_saved_answers(walker, world):
    def hidden(page: Node) -> set[str]:
        return {a.attrs["data-item"] for a in page.all("article", data_item=PRESENT) if a.hidden}

    assert hidden(walker.page("website")) == {"web-outdated-details"}
    assert hidden(walker.page("chat-social")) == {
        "chat-time-to-person",
        "chat-public-reply-hours",
        "chat-bot-handover",
        "chat-answered",
        "chat-transcript",
    }
    walker.answer("web-outdated", "no")
    assert hidden(walker.page("website")) == {"web-outdated-details"}
    walker.answer("web-outdated", "yes")
    assert hidden(walker.page("website")) == set()
    walker.answer("chat-channel", "public-post")
    assert hidden(walker.page("chat-social")) == {"chat-time-to-person", "chat-bot-handover"}
    walker.answer("chat-channel", "messaging-app")
    assert hidden(walker.page("chat-social")) == {"chat-public-reply-hours"}


CHAIN = {
    "title": "Chained conditions",
    "touchpoints": [
        {
            "key": "first",
            "title": "Ring",
            "channel": "phone",
            "items": [
                {"key": "called", "type": "check", "prompt": "Did you get through?"},
                {
                    "key": "heard",
                    "type": "choice",
                    "multiple": True,
                    "prompt": "What did you hear while waiting?",
                    "options": [
                        {"value": "music", "label": "Music"},
                        {"value": "silence", "label": "Silence"},
                        {"value": "adverts", "label": "Adverts"},
                    ],
                    "show_if": {"item": "called", "equals": "yes"},
                },
                {"key": "rating", "type": "rating", "prompt": "How was it?", "scale": 3},
            ],
        },
        {
            "key": "second",
            "title": "Visit",
            "channel": "in-person",
            "items": [
                {"key": "tune", "type": "text", "prompt": "Which tune?", "show_if": {"item": "heard", "in": ["music"]}},
                {
                    "key": "great",
                    "type": "text",
                    "prompt": "What was great?",
                    "show_if": {"item": "rating", "equals": 3},
                },
                {"key": "when", "type": "date", "prompt": "When?"},
            ],
        },
    ],
}


@pytest.mark.parametrize(
    "answers, shown",
    [
        ({}, {"when"}),
        ({"called": "no", "heard": ["music"]}, {"when"}),  # the source is hidden, so the chain is
        ({"called": "yes", "heard": ["adverts", "music"]}, {"tune", "when"}),  # any chosen option matches
        ({"called": "yes", "heard": ["silence"]}, {"when"}),
        ({"called": "yes", "heard": [], "rating": 3}, {"great", "when"}),  # numbers match numbers
        ({"rating": 2}, {"when"}),
    ],
)
def test_conditions_across_touchpoints_match_the_scoring_rule(walker, world, answers, shown):
    make = world["make"]
    checklist = make.checklist(world["org"], by=world["auditor"], definition=CHAIN)
    audit = make.audit(world["org"], world["auditor"], checklist=checklist)
    for key, value in answers.items():
        walker.answer(key, value, audit=audit)
    page = walker.page("second", audit=audit)
    rendered = {a.attrs["data-item"] for a in page.all("article", data_item=PRESENT) if not a.hidden}
    assert rendered == shown
    assert rendered == visible_item_keys(CHAIN, answers) & {"tune", "great", "when"}
    if "heard" in answers and answers.get("called") == "yes":
        assert sorted(walker.page("first", audit=audit).checked("heard")) == sorted(answers["heard"])


def test_the_wrap_up_shows_what_was_saved(walker):
    walker.visit("billing-line", effort=5, promise_kept=False, note="On hold for ages")
    page = walker.page("billing-line")
    wrapup = page.by_id("wrapup")
    assert wrapup.attrs["data-wrapup"] == "billing-line"
    assert wrapup.checked("wrapup.effort") == ["5"]
    assert wrapup.checked("wrapup.promise_kept") == ["no"]
    assert wrapup.value("wrapup.note") == "On hold for ages"
    assert len(wrapup.all("input", name="wrapup.effort")) == 7
    assert "A person answers within a minute" in wrapup.content  # the promise being judged
    walker.visit("billing-line", effort=None, promise_kept=True, note="")
    wrapup = walker.page("billing-line").by_id("wrapup")
    assert wrapup.checked("wrapup.effort") == [] and wrapup.checked("wrapup.promise_kept") == ["yes"]
    fresh = walker.page("website").by_id("wrapup")
    assert fresh.checked("wrapup.effort") == [] and fresh.checked("wrapup.promise_kept") == []


def test_saved_photos_show_as_thumbnails_with_caption_and_delete(client, walker, world):
    on_item = walker.photo("website", "web-screenshot", caption="The price page")
    on_evidence = walker.photo("printed-invoice", "print-current")
    on_touchpoint = walker.photo("website", caption="The home page")
    base = f"/o/{world['org'].slug}/audits/{world['audit'].id}/photos"

    page = walker.page("website")
    item_tiles = page.by_id("item-web-screenshot").all("li", data_photo=on_item)
    assert len(item_tiles) == 1
    tile = item_tiles[0]
    assert tile.one("img").attrs["src"] == f"{base}/{on_item}/thumb.jpg"
    assert tile.one("input", data_field="caption").attrs["value"] == "The price page"
    assert tile.one("button", data_action="delete-photo")
    wrapup = page.by_id("wrapup")
    assert [t.attrs["data-photo"] for t in wrapup.all("li", data_photo=PRESENT)] == [on_touchpoint]
    assert client.get(f"{base}/{on_touchpoint}/thumb.jpg").status_code == 200
    pickers = page.all("div", data_photos=PRESENT)
    assert {(p.attrs["data-touchpoint"], p.attrs["data-item"]) for p in pickers} == {
        ("website", "web-prices-found"),  # "prove it" photos
        ("website", "web-screenshot"),
        ("website", ""),
    }
    for picker in pickers:
        camera, gallery = picker.all("input", type="file")
        assert camera.attrs["capture"] == "environment" and camera.attrs["accept"] == "image/*"
        assert "capture" not in gallery.attrs and "multiple" in gallery.attrs

    evidence = walker.page("printed-invoice").by_id("item-print-current")
    assert [t.attrs["data-photo"] for t in evidence.all("li", data_photo=PRESENT)] == [on_evidence]
    assert "Photo required" in evidence.content


def test_the_page_has_no_inline_script_or_style_and_hands_its_data_to_the_script(walker, world):
    walker.answer("web-outdated", "yes")
    walker.photo("website", "web-screenshot")
    page = walker.page("website")
    html = walker.html
    assert 'style="' not in html and "<style" not in html
    for node in page.walk():
        assert not [name for name in node.attrs if name.startswith("on")], node.tag
        assert not str(node.attrs.get("href", "")).startswith("javascript:")
    scripts = page.all("script")
    assert {s.attrs.get("type") for s in scripts} == {"application/json", "module"}
    modules = [m.attrs["src"].partition("?")[0] for m in page.all("script", type="module")]
    assert all(src.startswith("/static/js/") for src in modules) and "/static/js/walk.js" in modules
    assert not any(m.content.strip() for m in page.all("script", type="module"))
    assert len(page.all("script", type="application/json")) == 1
    assert json.loads(page.by_id("audit-state").content) == walker.state()

    walk = page.by_id("walk")
    audit_id, slug = world["audit"].id, world["org"].slug
    assert walk.attrs["data-audit"] == str(audit_id) and walk.attrs["data-touchpoint"] == "website"
    assert walk.attrs["data-answer-url"] == f"/o/{slug}/api/audits/{audit_id}/answers/__item__"
    assert walk.attrs["data-visit-url"] == f"/o/{slug}/api/audits/{audit_id}/touchpoints/__touchpoint__"
    assert walk.attrs["data-photos-url"] == f"/o/{slug}/api/audits/{audit_id}/photos"
    assert walk.attrs["data-photo-url"] == f"/o/{slug}/api/audits/{audit_id}/photos/__photo__"
    assert walk.attrs["data-thumb-url"] == f"/o/{slug}/audits/{audit_id}/photos/__photo__/thumb.jpg"
    status = page.by_id("save-status")
    assert status.attrs["role"] == "status" and status.attrs["aria-live"] == "polite"
    sign_in = page.one("a", data_signin=PRESENT)
    assert sign_in.attrs["href"] == f"/login?next=/o/{slug}/audits/{audit_id}/walk/website" and sign_in.hidden
    stylesheets = [n.attrs["href"].partition("?")[0] for n in page.all("link", rel="stylesheet")]
    assert "/static/css/walk.css" in stylesheets and "/static/css/checklists.css" in stylesheets


def test_touchpoint_list_and_moving_on(walker, world):
    walker.answer("web-prices-found", "yes")
    page = walker.page("website")
    assert "Step into your customer's shoes" in page.content
    assert "Prices, contact details and opening hours" in page.content  # the promise
    lines = page.all("li", data_progress=PRESENT)
    assert [n.attrs["data-progress"] for n in lines][:2] == ["website", "billing-line"] and len(lines) == 8
    assert " ".join(lines[0].one(**{"class": "tp-progress"}).content.split()) == "1 of 7 answered · 1 required left"
    assert lines[0].one("a").attrs["aria-current"] == "step"
    assert page.one(data_left_here=PRESENT).content == "1 required left here"
    nav = page.one("nav", **{"class": "walk-nav"})
    assert [a.content for a in nav.all("a")] == ["Next →"]
    last = walker.page("renew-pay").one("nav", **{"class": "walk-nav"})
    assert [a.content for a in last.all("a")] == ["← Previous", "Review and submit"]
    assert last.all("a")[1].attrs["href"] == f"/o/{world['org'].slug}/audits/{world['audit'].id}/review"


def test_only_the_auditor_and_managers_see_the_walk(client, login, make, world):
    colleague = make.member(world["org"], Role.AUDITOR)
    stranger = make.member(make.org(), Role.OWNER)
    url = f"/o/{world['org'].slug}/audits/{world['audit'].id}/walk/website"
    for person in (colleague, stranger):
        login(person)
        assert client.get(url).status_code == 404
