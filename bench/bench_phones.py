"""The load test of issue 13: many phones write at once through a server that loses a worker and restarts, and
afterwards the database holds exactly what every phone was told it saved.

    python bench/bench_phones.py [--phones 50] [--seconds 60] [--database both|sqlite|postgres]

Each database gets a fresh instance folder and the two processes of a deployment: gunicorn with two sync workers
(the README's command) and the job consumer (`flask --app shopper jobs run`). Seeded: one organization per ten
phones, each with an owner, and per phone an auditor with two audits in progress. Every phone signs in through
/login and then walks its audits from two tabs at once (two threads, each with its own outbox), so its writes
reach the server in an order of their own: answers, touchpoint wrap-ups, photo uploads (real small JPEGs),
caption edits, photo deletes, the same photo uploaded again from the other tab, and, once both outboxes are
empty, the submit; then one change queued too late, which must be refused (409). Every change carries a new
Idempotency-Key and the phone's clock (`client_ts`, strictly increasing per phone); 20% of the sends are replays
of an earlier request of the phone (same key, same body, out of order, also while the first is still on its
way). A network error, 408, 429, 502, 503 or 504 puts the change back at the head of its outbox and it is sent
again with the same key after a short wait (0.25 s doubling up to 2 s, or Retry-After up to 5 s: the real
outbox waits 5 s doubling up to 2 minutes); any other 5xx gets five tries; a 4xx sets the change aside and is
checked to be one the phone should expect (409 after the submit, 410 for a photo it deleted). At 35% of the run
one gunicorn worker is killed with SIGKILL, at 65% the master gets SIGTERM and a new one starts on the same
port. Meanwhile the owners ask for the PDF of every submitted audit as the "being prepared" page does (202
while the consumer makes it, the status every few seconds, then the file), and the consumer's heartbeat is read
every second (a page says the consumer is not running once it is three minutes old).

At the end the database is compared with what the phones know:
- lost: an acknowledged write that is not in the final state although no later write of the phone replaced it
  (an answer, wrap-up or caption whose latest acknowledged value is not the stored one, a photo whose upload was
  acknowledged and that the phone never deleted but is gone, an acknowledged submit that did not freeze the audit,
  an acknowledged write without its SyncOp record);
- duplicated: a key answered twice differently (a replay must return the first answer byte for byte), audit
  revisions bumped more often than there are recorded writes, photo rows no phone uploaded;
- wrong winners: a stored answer, wrap-up or caption that is an earlier write of the phone than its latest
  acknowledged one (also checked on every answer: `applied` true must echo the write, false must show a later
  one);
- deleted photos back: a photo whose delete was acknowledged but whose row exists;
- applied though refused: a write that was answered with an error but is in the database anyway;
- responses >= 500 (503 included), changes set aside for no good reason, changes never answered;
- orphan files: media files no row refers to, and rows whose files are missing. Files still under a temporary
  name (an upload writes `<key>.<random>.part` and renames it; a SIGKILLed worker cannot clean up) are counted
  on their own line: `flask --app shopper media check --fix` removes them. What the media check itself finds is
  printed too.
Exits 1 when any of those is not zero, or when a submitted audit never got its PDF.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import _measure  # puts the repository root on sys.path, so it comes before the project's imports
import _phones
from PIL import Image, ImageDraw

SCHEMA = "shopper_bench_phones"
PHONES_PER_ORG = 10
WALKS_PER_PHONE = 2
TOUCHPOINTS = 4
REPLAY_SHARE = 0.2
THINK_S = (0.2, 0.8)  # between two changes made in one tab
MAX_OUTBOX = 8  # a tab with this many changes waiting makes no new one until some are sent
MAX_LIVE_PHOTOS = 8  # per audit
KILL_AT, RESTART_AT = 0.35, 0.65
DRAIN_S = 90  # after the run: time for outboxes to empty and the submits to go
PDF_WAIT_S = 120  # after the phones: time for the last PDFs
RETRY_STATUSES = {408, 429, 502, 503, 504}
KINDS = {"answer": 40, "visit": 12, "photo": 14, "caption": 18, "delete": 6, "reupload": 4}


def definition() -> dict:
    touchpoints = []
    for t in range(TOUCHPOINTS):
        key = f"tp{t}"
        touchpoints.append(
            {
                "key": key,
                "title": f"Touchpoint {t + 1}",
                "channel": "in-person" if t % 2 else "phone",
                "promise": "Somebody helps within a minute.",
                "items": [
                    {"key": f"{key}-check", "type": "check", "prompt": "Were you greeted?"},
                    {"key": f"{key}-rating", "type": "rating", "scale": 5, "prompt": "How did it feel?"},
                    {"key": f"{key}-count", "type": "counter", "target_max": 1, "prompt": "How often passed on?"},
                    {"key": f"{key}-text", "type": "text", "prompt": "What did they say?"},
                    {"key": f"{key}-photo", "type": "photo", "prompt": "The counter"},
                ],
            }
        )
    return {"title": "Phones load test", "touchpoints": touchpoints}


ANSWERED = [
    (item["key"], item["type"]) for tp in definition()["touchpoints"] for item in tp["items"] if item["type"] != "photo"
]


def answer_value(kind: str, rng: random.Random):
    if kind == "check":
        return rng.choice(["yes", "no", "na"])
    if kind == "rating":
        return rng.randint(1, 5)
    if kind == "counter":
        return rng.randint(0, 6)
    return f"They said {rng.randint(0, 10**6)}"


def jpegs(count: int) -> list[bytes]:
    """Small phone photos (960x720 JPEGs, about 30-60 KB), each different."""
    rng = random.Random(5)
    made = []
    for n in range(count):
        image = Image.new("RGB", (960, 720), (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
        draw = ImageDraw.Draw(image)
        for _ in range(30):
            x, y = rng.randint(0, 900), rng.randint(0, 660)
            colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
            draw.rectangle((x, y, x + rng.randint(20, 300), y + rng.randint(20, 200)), fill=colour)
        draw.text((20, 20), f"photo {n}", fill=(255, 255, 255))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        made.append(buffer.getvalue())
    return made


# Seeding ------------------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    owners: dict[str, str]  # org slug -> owner's email
    phones: list[tuple[str, str, list[tuple[int, int]]]]  # (email, org slug, [(audit id, revision)])


def seed(app, phones: int) -> Seeded:
    from shopper.accounts.models import User
    from shopper.accounts.passwords import hash_password
    from shopper.audits.service import new_audit
    from shopper.checklists import service as checklists
    from shopper.extensions import db
    from shopper.orgs.models import Membership, Organization, Role, Site
    from shopper.timeutil import utcnow

    password = hash_password(_phones.PASSWORD)
    owners: dict[str, str] = {}
    seeded: list[tuple[str, str, list[tuple[int, int]]]] = []
    with app.app_context():
        for o in range((phones + PHONES_PER_ORG - 1) // PHONES_PER_ORG):
            org = Organization(slug=f"phones-{o}", name=f"Phones {o}", kind="business")
            owner = User(email=f"owner{o}@phones.test", name=f"Owner {o}", password_hash=password)
            db.session.add_all([org, owner])
            db.session.flush()
            db.session.add(Membership(org_id=org.id, user_id=owner.id, role=Role.OWNER))
            site = Site(org_id=org.id, name="High Street")
            db.session.add(site)
            db.session.flush()
            checklist = checklists.create_checklist(org.id, owner.id, title="Phones load test")
            checklists.save_draft(checklist, definition())
            checklists.publish(checklist, owner.id, utcnow())
            owners[org.slug] = owner.email
            walkers = []
            for p in range(o * PHONES_PER_ORG, min(phones, (o + 1) * PHONES_PER_ORG)):
                user = User(email=f"phone{p}@phones.test", name=f"Auditor {p}", password_hash=password)
                db.session.add(user)
                db.session.flush()
                db.session.add(Membership(org_id=org.id, user_id=user.id, role=Role.AUDITOR))
                db.session.flush()
                audits = [
                    new_audit(
                        org_id=org.id,
                        checklist=checklist,
                        site=site,
                        auditor_id=user.id,
                        created_by_id=user.id,
                        scenario=f"Walk {w + 1}",
                        due_on=None,
                        now=utcnow(),
                    )
                    for w in range(WALKS_PER_PHONE)
                ]
                walkers.append((user.email, audits))
            db.session.commit()
            for email, audits in walkers:
                seeded.append((email, org.slug, [(a.id, a.revision or 0) for a in audits]))
        db.session.remove()
        db.engine.dispose()
    return Seeded(owners, seeded)


# What the phones know -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Change:
    """One change the person made: one Idempotency-Key, one body, sent until it gets an answer."""

    kind: str  # answer | visit | photo | reupload | caption | delete | submit | late
    walk: Walk
    key: str
    method: str
    path: str
    body: bytes
    content_type: str | None
    target: str = ""  # the item, touchpoint or photo id
    sent: dict = field(default_factory=dict)  # what the person chose, client_ts included
    status: int | None = None  # the final answer to the change itself
    ok: list[tuple[int, bytes]] = field(default_factory=list)  # every 2xx answer to this key (replays too)

    @property
    def ts(self) -> int:
        return self.sent.get("client_ts", 0)

    @property
    def acked(self) -> bool:
        return bool(self.ok)


@dataclass(eq=False)
class PhotoTruth:
    id: str
    upload: Change
    caption: str
    acked: bool = False
    deleted: bool = False  # the person deleted it (the delete may still be on its way)
    delete: Change | None = None


@dataclass(eq=False)
class Walk:
    id: int
    slug: str
    revision: int
    ends_at: float
    state: str = "waiting"  # waiting | walking | draining | submitting | closing | done
    changes: list[Change] = field(default_factory=list)
    photos: dict[str, PhotoTruth] = field(default_factory=dict)
    submitted_at: float | None = None

    def api(self, tail: str) -> str:
        return f"/o/{self.slug}/api/audits/{self.id}{tail}"


@dataclass(eq=False)
class Entry:
    """An outbox entry: a change, or a replay of one (its key and body sent again)."""

    change: Change
    replay: bool = False
    server_errors: int = 0  # 5xx answers other than "busy": the outbox gives up after five
    acked_when_sent: bool = False


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.by_kind: Counter = Counter()
        self.network_errors = 0
        self.network_error_times: list[float] = []
        self.server_errors: list[str] = []
        self.latencies: list[float] = []
        self.latency_by_kind: dict[str, list[float]] = defaultdict(list)
        self.new_changes = 0
        self.replays = 0
        self.retries = 0
        self.set_aside_ok: Counter = Counter()
        self.set_aside_wrong: list[str] = []
        self.inconsistent: list[str] = []  # answers that contradict what the phone sent
        self.wrong_at_answer = 0
        self.replays_differing: list[str] = []


class Phone:
    def __init__(self, n: int, cookie: str, walks: list[Walk], port: int, stats: Stats, photos: list[bytes]):
        self.n = n
        self.cookie = cookie
        self.walks = walks
        self.current = 0
        self.port = port
        self.stats = stats
        self.photos = photos
        self.rng = random.Random(1000 + n)
        self.lock = threading.Lock()
        self.last_ts = 0
        self.changes: list[Change] = []
        self.tabs = [Tab(self, t) for t in range(2)]
        self.submitted: list[Walk] = []
        walks[0].state = "walking"

    def clock(self) -> int:
        self.last_ts = max(int(time.time() * 1000), self.last_ts + 1)
        return self.last_ts

    @property
    def walk(self) -> Walk | None:
        return self.walks[self.current] if self.current < len(self.walks) else None

    # making changes (under self.lock) ------------------------------------------------------------------------

    def next_entry(self, tab: Tab, now: float) -> float:
        """Let the person make a change in `tab` when it is time; when this tab next needs a look."""
        walk = self.walk
        if walk is None:
            return now + 0.1
        if walk.state == "walking" and now >= walk.ends_at:
            walk.state = "draining"
        if walk.state == "walking" and len(tab.outbox) < MAX_OUTBOX:
            if now >= tab.next_change:
                tab.next_change = now + self.rng.uniform(*THINK_S)
                if self.changes and self.rng.random() < REPLAY_SHARE:
                    original = self.rng.choice(self.changes)
                    tab.outbox.append(Entry(original, replay=True))
                    self.stats.replays += 1
                else:
                    change = self.make_change(walk)
                    self.changes.append(change)
                    tab.outbox.append(Entry(change))
                    self.stats.new_changes += 1
            return min(tab.next_change, walk.ends_at)
        if walk.state == "draining" and all(not t.outbox and not t.busy for t in self.tabs):
            change = Change("submit", walk, uuid.uuid4().hex, "POST", walk.api("/submit"), b"", None)
            walk.changes.append(change)
            self.changes.append(change)
            tab.outbox.append(Entry(change))
            walk.state = "submitting"
        return now + 0.1

    def _new(self, walk: Walk, kind: str, method: str, tail: str, payload: dict | None, target: str) -> Change:
        body = json.dumps(payload).encode() if payload is not None else b""
        change = Change(
            kind,
            walk,
            uuid.uuid4().hex,
            method,
            walk.api(tail),
            body,
            "application/json" if payload is not None else None,
            target=target,
            sent=payload or {},
        )
        walk.changes.append(change)
        return change

    def make_change(self, walk: Walk) -> Change:
        rng = self.rng
        live = [p for p in walk.photos.values() if p.acked and not p.deleted]
        standing = [p for p in walk.photos.values() if not p.deleted]
        acked = [p for p in walk.photos.values() if p.acked]
        weights = dict(KINDS)
        if len(standing) >= MAX_LIVE_PHOTOS:
            weights.pop("photo")
        if not live:
            weights.pop("caption")
            weights.pop("delete")
        if not acked:
            weights.pop("reupload")
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "answer":
            item, item_type = rng.choice(ANSWERED)
            payload = {
                "value": answer_value(item_type, rng),
                "note": rng.choice(["", f"Noted {rng.randint(0, 999)}"]),
                "flagged": rng.random() < 0.1,
                "client_ts": self.clock(),
            }
            return self._new(walk, "answer", "PUT", f"/answers/{item}", payload, item)
        if kind == "visit":
            touchpoint = f"tp{rng.randrange(TOUCHPOINTS)}"
            payload = {
                "effort": rng.choice([None, *range(1, 8)]),
                "promise_kept": rng.choice([True, False, None]),
                "note": rng.choice(["", f"Wrapped up {rng.randint(0, 999)}"]),
                "client_ts": self.clock(),
            }
            return self._new(walk, "visit", "PUT", f"/touchpoints/{touchpoint}", payload, touchpoint)
        if kind == "photo":
            photo_id = str(uuid.uuid4())
            touchpoint = f"tp{rng.randrange(TOUCHPOINTS)}"
            caption = f"Photo at {touchpoint} {rng.randint(0, 999)}"
            fields = {"id": photo_id, "touchpoint_key": touchpoint, "caption": caption}
            if rng.random() < 0.5:
                fields["item_key"] = f"{touchpoint}-photo"
            body, content_type = _phones.multipart(fields, "file", "photo.jpg", rng.choice(self.photos))
            change = Change("photo", walk, uuid.uuid4().hex, "POST", walk.api("/photos"), body, content_type, photo_id)
            walk.changes.append(change)
            walk.photos[photo_id] = PhotoTruth(photo_id, change, caption)
            return change
        if kind == "reupload":  # the other tab sends the same photo again, under a key of its own
            photo = rng.choice(acked)
            first = photo.upload
            change = Change(
                "reupload", walk, uuid.uuid4().hex, "POST", first.path, first.body, first.content_type, photo.id
            )
            walk.changes.append(change)
            return change
        photo = rng.choice(live)
        if kind == "caption":
            payload = {"caption": f"Caption {rng.randint(0, 10**6)}", "client_ts": self.clock()}
            return self._new(walk, "caption", "PATCH", f"/photos/{photo.id}", payload, photo.id)
        photo.deleted = True
        photo.delete = self._new(walk, "delete", "DELETE", f"/photos/{photo.id}", None, photo.id)
        return photo.delete

    # answers (under self.lock) --------------------------------------------------------------------------------

    def answered(self, entry: Entry, status: int, body: bytes, now: float) -> None:
        change = entry.change
        if 200 <= status < 300:
            change.ok.append((status, body))
            if len(set(change.ok)) > 1 and len(set(change.ok[:-1])) == 1:
                self.stats.replays_differing.append(
                    f"{change.kind} {change.path} key {change.key}: {change.ok[0]!r} then {change.ok[-1]!r}"[:600]
                )
        elif entry.replay and entry.acked_when_sent:
            self.stats.replays_differing.append(
                f"replay of an acknowledged {change.kind} {change.path} answered {status}: {body[:200]!r}"
            )
        if entry.replay:
            return
        change.status = status
        walk = change.walk
        if 200 <= status < 300:
            self._check_answer(change, status, body)
            if change.kind == "photo" and status == 201:
                walk.photos[change.target].acked = True
            elif change.kind == "submit":
                walk.submitted_at = now
                self.submitted.append(walk)
                late = self._new(
                    walk, "late", "PUT", "/answers/tp0-check", {"value": "yes", "client_ts": self.clock()}, "tp0-check"
                )
                self.changes.append(late)
                self.tabs[1].outbox.append(Entry(late))
                walk.state = "closing"
            elif change.kind == "late":
                self._wrong(change, status, body)
                self._next_walk(now)
            return
        if self._legitimate(change, status):
            self.stats.set_aside_ok[f"{change.kind} {status}"] += 1
        else:
            self._wrong(change, status, body)
        if change.kind in ("submit", "late"):
            self._next_walk(now)

    def _next_walk(self, now: float) -> None:
        self.walk.state = "done"
        self.current += 1
        walk = self.walk
        if walk is not None:
            walk.state = "walking"
            for tab in self.tabs:
                tab.next_change = now

    def _wrong(self, change: Change, status: int, body: bytes) -> None:
        self.stats.set_aside_wrong.append(f"{change.kind} {change.method} {change.path} -> {status}: {body[:300]!r}")

    def _legitimate(self, change: Change, status: int) -> bool:
        if change.kind == "late":
            return status == 409
        if change.kind in ("caption", "reupload") and status == 410:
            return change.walk.photos[change.target].deleted
        return False

    def _check_answer(self, change: Change, status: int, body: bytes) -> None:
        """What the answer says against what was sent: the state it shows is this write, or a later one."""
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            self.stats.inconsistent.append(f"{change.kind} {change.path}: not JSON {body[:200]!r}")
            return
        expect = {
            "answer": ("answer", ("value", "note", "flagged", "client_ts")),
            "visit": ("visit", ("effort", "promise_kept", "note", "client_ts")),
            "caption": ("photo", ("caption", "client_ts")),
        }.get(change.kind)
        if change.kind == "photo" and not (status == 201 and answer.get("created") is True):
            self.stats.inconsistent.append(f"first upload of {change.target} answered {status} {answer}")
        if change.kind == "reupload" and not (status == 200 and answer.get("created") is False):
            self.stats.inconsistent.append(f"second upload of {change.target} answered {status} {answer}")
        if expect is None:
            return
        name, fields = expect
        state = dict(answer.get(name) or {})
        if change.kind == "caption":
            state["client_ts"] = state.pop("caption_ts", None)
        mine = {f: change.sent.get(f) for f in fields}
        shown = {f: state.get(f) for f in fields}
        if answer.get("applied") is True and shown != mine:
            self.stats.wrong_at_answer += 1
            self.stats.inconsistent.append(f"{change.kind} {change.path}: applied, but shows {shown} for {mine}")
        elif answer.get("applied") is False and not (shown["client_ts"] or 0) > change.ts:
            self.stats.wrong_at_answer += 1
            self.stats.inconsistent.append(f"{change.kind} {change.path}: not applied, but shows {shown} for {mine}")

    def done(self) -> bool:
        return self.walk is None


class Tab(threading.Thread):
    def __init__(self, phone: Phone, number: int):
        super().__init__(daemon=True, name=f"phone{phone.n}-tab{number}")
        self.phone = phone
        self.outbox: list[Entry] = []
        self.busy = False
        self.sending: Entry | None = None
        self.next_change = 0.0
        self.retry_at = 0.0
        self.failures = 0
        self.client = _phones.Client(phone.port)
        self.deadline = float("inf")

    def run(self) -> None:
        phone, stats = self.phone, self.phone.stats
        while time.monotonic() < self.deadline:
            now = time.monotonic()
            with phone.lock:
                wake = phone.next_entry(self, now)
                entry = self.outbox[0] if self.outbox and now >= self.retry_at else None
                if entry is None:
                    if phone.done() and not self.outbox:
                        break
                    if self.outbox:
                        wake = min(wake, self.retry_at)
                else:
                    self.busy = True
                    self.sending = entry
                    entry.acked_when_sent = entry.change.acked
            if entry is None:
                time.sleep(min(0.1, max(0.005, wake - now)))
                continue
            self.send(entry, stats)
            self.sending = None
        self.client.close()

    def send(self, entry: Entry, stats: Stats) -> None:
        change = entry.change
        headers = {"Cookie": self.phone.cookie, "Idempotency-Key": change.key}
        if change.content_type:
            headers["Content-Type"] = change.content_type
        started = time.monotonic()
        try:
            response = self.client.request(change.method, change.path, body=change.body, headers=headers)
        except _phones.NetworkError:
            with stats.lock:
                stats.network_errors += 1
                stats.network_error_times.append(time.monotonic())
                stats.retries += 1
            self._wait(None)
            return
        elapsed = time.monotonic() - started
        status = response.status
        with stats.lock:
            stats.statuses[status] += 1
            stats.by_kind[("replay " if entry.replay else "") + change.kind] += 1
            if status >= 500:
                stats.server_errors.append(f"{status} {change.method} {change.path}: {response.body[:300]!r}")
            if 200 <= status < 300:
                stats.latencies.append(elapsed)
                stats.latency_by_kind[change.kind].append(elapsed)
        if status >= 500 and status not in RETRY_STATUSES:
            entry.server_errors += 1
        if status in RETRY_STATUSES or (status >= 500 and entry.server_errors < 5):
            with stats.lock:
                stats.retries += 1
            self._wait(response.retry_after())
            return
        self.failures = 0
        with self.phone.lock:
            self.outbox.pop(0)
            self.busy = False
            self.phone.answered(entry, status, response.body, time.monotonic())

    def _wait(self, retry_after: float | None) -> None:
        self.failures += 1
        pause = min(2.0, 0.25 * 2 ** (self.failures - 1))
        if retry_after is not None:
            pause = min(5.0, retry_after)
        with self.phone.lock:
            self.retry_at = time.monotonic() + pause
            self.busy = False


# Report PDFs --------------------------------------------------------------------------------------------------


class PdfReader(threading.Thread):
    """An owner who asks for the PDF of every submitted audit of `phones` as the "being prepared" page does
    (static/js/wait.js): the PDF (202), then its status after 1.5 s, 1.4 times longer each time up to 10 s, and
    the file once the status says ready."""

    def __init__(self, port: int, cookies: dict[str, str], phones: list[Phone]):
        super().__init__(daemon=True)
        self.client = _phones.Client(port)
        self.cookies = cookies
        self.phones = phones
        self.stop_at = float("inf")
        self.phones_done = threading.Event()
        self.made: dict[int, float] = {}  # audit id -> seconds from the submit's answer to the PDF
        self.waiting: dict[int, tuple[float, float]] = {}  # audit id -> (next ask, delay)
        self.asked = 0
        self.preparing = 0
        self.errors: list[str] = []
        self.network_errors = 0

    def wanted(self) -> list[Walk]:
        walks = []
        for phone in self.phones:
            with phone.lock:
                walks.extend(phone.submitted)
        return [walk for walk in walks if walk.id not in self.made]

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            wanted = self.wanted()
            if not wanted and self.phones_done.is_set():
                return
            for walk in wanted:
                due, delay = self.waiting.get(walk.id, (0.0, 1.5))
                if time.monotonic() >= due:
                    self.waiting[walk.id] = (time.monotonic() + delay, min(10.0, delay * 1.4))
                    self.ask(walk, status=due > 0)
            time.sleep(0.1)

    def ask(self, walk: Walk, status: bool) -> None:
        path = f"/o/{walk.slug}/audits/{walk.id}/report.pdf"
        headers = {"Cookie": self.cookies[walk.slug], "Accept": "application/json"}
        try:
            if status:
                response = self.client.request("GET", f"{path}/status", headers=headers)
                self.asked += 1
                if response.status != 200:
                    self.errors.append(f"{response.status} {path}/status: {response.body[:300]!r}")
                    return
                state = json.loads(response.body)["state"]
                if state != "ready":
                    if state != "preparing":
                        self.errors.append(f"{path}/status: {state}")
                    return
            response = self.client.request("GET", path, headers=headers)
        except _phones.NetworkError:
            self.network_errors += 1
            return
        self.asked += 1
        if response.status == 200 and response.body.startswith(b"%PDF"):
            self.made[walk.id] = time.monotonic() - walk.submitted_at
        elif response.status == 202:
            self.preparing += 1
        else:
            self.errors.append(f"{response.status} {path}: {response.body[:300]!r}")


# The comparison -----------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong_winners: list[str] = field(default_factory=list)
    came_back: list[str] = field(default_factory=list)
    refused_but_applied: list[str] = field(default_factory=list)
    never_answered: int = 0
    compared: Counter = field(default_factory=Counter)


def _latest(changes: list[Change]) -> Change | None:
    acked = [c for c in changes if c.acked]
    return max(acked, key=lambda c: (c.ts, c.key)) if acked else None


def _judge(verdict: Verdict, what: str, changes: list[Change], stored: dict | None, fields: tuple[str, ...]) -> None:
    """One item (answer, wrap-up or caption) of one audit: the stored state against the phone's writes."""
    verdict.compared[what.split()[0]] += 1
    expected = _latest(changes)
    if stored is None:
        if expected is not None:
            verdict.lost.append(f"{what}: nothing stored, latest acknowledged {expected.sent}")
        return
    by_ts = {c.ts: c for c in changes}
    found = by_ts.get(stored["client_ts"])
    if found is None:
        if expected is not None or stored["client_ts"] != 0:
            verdict.lost.append(f"{what}: stored {stored} is none of the phone's writes (latest {expected})")
        return
    if any(stored[f] != found.sent.get(f, "" if f == "note" else None) for f in fields if f != "client_ts"):
        verdict.lost.append(f"{what}: stored {stored} differs from the write with its client_ts {found.sent}")
    elif found is expected:
        return
    elif found.acked:
        verdict.wrong_winners.append(f"{what}: stored {stored}, but the latest acknowledged is {expected.sent}")
    elif found.status is None:
        if expected is not None and (found.ts, found.key) < (expected.ts, expected.key):
            verdict.wrong_winners.append(f"{what}: an unanswered earlier write stands over {expected.sent}")
    else:
        verdict.refused_but_applied.append(f"{what}: stored {stored}, which was answered {found.status}")


def compare(app, phones: list[Phone]) -> Verdict:
    from sqlalchemy import select

    from shopper.audits.models import Answer, Audit, Photo, PhotoTombstone, SyncOp, TouchpointVisit
    from shopper.extensions import db

    verdict = Verdict()
    walks = [walk for phone in phones for walk in phone.walks]
    ids = [walk.id for walk in walks]
    with app.app_context():
        audits = {a.id: a for a in db.session.execute(select(Audit.id, Audit.status, Audit.revision)).all()}
        answers = {
            (r.audit_id, r.item_key): dict(r._mapping)
            for r in db.session.execute(
                select(Answer.audit_id, Answer.item_key, Answer.value, Answer.note, Answer.flagged, Answer.client_ts)
            )
        }
        visits = {
            (r.audit_id, r.touchpoint_key): dict(r._mapping)
            for r in db.session.execute(
                select(
                    TouchpointVisit.audit_id,
                    TouchpointVisit.touchpoint_key,
                    TouchpointVisit.effort,
                    TouchpointVisit.promise_kept,
                    TouchpointVisit.note,
                    TouchpointVisit.client_ts,
                )
            )
        }
        photos = {
            r.id: {"audit_id": r.audit_id, "caption": r.caption, "client_ts": r.caption_ts}
            for r in db.session.execute(select(Photo.id, Photo.audit_id, Photo.caption, Photo.caption_ts))
        }
        tombstones = set(db.session.scalars(select(PhotoTombstone.id)))
        ops: dict[int, set[str]] = defaultdict(set)
        for op_id, audit_id in db.session.execute(
            select(SyncOp.op_id, SyncOp.audit_id).where(SyncOp.audit_id.in_(ids))
        ):
            ops[audit_id].add(op_id)
        db.session.remove()

    for walk in walks:
        name = f"audit {walk.id}"
        by_target: dict[tuple[str, str], list[Change]] = defaultdict(list)
        for change in walk.changes:
            if change.status is None and not change.acked:
                verdict.never_answered += 1
            if change.kind in ("answer", "visit", "caption", "late"):
                by_target[("answer" if change.kind == "late" else change.kind, change.target)].append(change)
        for item, _ in ANSWERED:
            changes = by_target.get(("answer", item), [])
            stored = answers.get((walk.id, item))
            if changes or stored:
                _judge(verdict, f"answer {item} of {name}", changes, stored, ("value", "note", "flagged"))
        for t in range(TOUCHPOINTS):
            changes = by_target.get(("visit", f"tp{t}"), [])
            stored = visits.get((walk.id, f"tp{t}"))
            if changes or stored:
                _judge(verdict, f"wrap-up tp{t} of {name}", changes, stored, ("effort", "promise_kept", "note"))
        for photo in walk.photos.values():
            verdict.compared["photo"] += 1
            row = photos.get(photo.id)
            if row is not None and row["audit_id"] != walk.id:
                verdict.duplicated.append(f"photo {photo.id} of {name} is stored in audit {row['audit_id']}")
                continue
            if photo.deleted and photo.delete.acked:
                if row is not None:
                    verdict.came_back.append(f"photo {photo.id} of {name}: deleted (204) but its row is there")
                elif photo.id not in tombstones:
                    verdict.lost.append(f"photo {photo.id} of {name}: deleted (204) but it has no tombstone")
                continue
            if photo.upload.acked and not photo.deleted:
                if row is None:
                    verdict.lost.append(f"photo {photo.id} of {name}: upload acknowledged, never deleted, not stored")
                    continue
                upload = Change("photo", walk, "", "", "", b"", None, sent={"caption": photo.caption, "client_ts": 0})
                upload.ok.append((201, b""))
                captions = [upload, *by_target.get(("caption", photo.id), [])]
                _judge(verdict, f"caption of photo {photo.id} of {name}", captions, row, ("caption",))
            elif row is not None and photo.upload.status is not None and not photo.upload.acked:
                verdict.refused_but_applied.append(f"photo {photo.id}: answered {photo.upload.status}, yet stored")
        mine = set(walk.photos)
        for photo_id, row in photos.items():
            if row["audit_id"] == walk.id and photo_id not in mine:
                verdict.duplicated.append(f"photo {photo_id} in {name}: no phone uploaded it")
        submit = next((c for c in walk.changes if c.kind == "submit"), None)
        status = audits[walk.id].status
        if submit is not None and submit.acked and status != "submitted":
            verdict.lost.append(f"{name}: submit acknowledged, status {status}")
        if status == "submitted" and (submit is None or (not submit.acked and submit.status is not None)):
            verdict.refused_but_applied.append(f"{name}: submitted without an acknowledged submit")
        acked_keys = {c.key for c in walk.changes if c.acked}
        unanswered = {c.key for c in walk.changes if c.status is None and not c.acked}
        recorded = ops.get(walk.id, set())
        for key in sorted(acked_keys - recorded):
            verdict.lost.append(f"{name}: write {key} acknowledged but not recorded")
        for key in sorted(recorded - acked_keys - unanswered):
            verdict.refused_but_applied.append(f"{name}: write {key} recorded, though answered with an error")
        bumps = audits[walk.id].revision - walk.revision
        if bumps > len(recorded):
            verdict.duplicated.append(f"{name}: revision bumped {bumps} times for {len(recorded)} recorded writes")
    return verdict


# The run ------------------------------------------------------------------------------------------------------


def line(label: str, value, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "MISS")
    print(f"  {label:<52} {value!s:>10}  {target:<14} {verdict}".rstrip(), flush=True)
    if ok is not None:
        _measure.record(ok, f"{label} {value}")


def run(label: str, url: str | None, args) -> bool:
    from shopper import jobs

    started = time.monotonic()
    app, instance = _measure.migrated_app("shopper-phones-", url)
    print(f"\n== {label}: {args.phones} phones for {args.seconds:.0f} s (load average {_load()})", flush=True)
    seeded = seed(app, args.phones)
    stack = _phones.Stack(instance, app.config["DATABASE_URL"])
    ok = True
    try:
        stack.start_jobs()
        boot = stack.start_web()
        stack.wait_jobs(app)
        with ThreadPoolExecutor(4) as pool:
            owners = list(pool.map(lambda email: _phones.sign_in(stack.port, email), seeded.owners.values()))
            owner_cookies = dict(zip(seeded.owners, owners, strict=True))
            phone_cookies = list(pool.map(lambda p: _phones.sign_in(stack.port, p[0]), seeded.phones))
        print(
            f"  seeded {len(seeded.owners)} organizations, {len(seeded.phones)} auditors, "
            f"{len(seeded.phones) * WALKS_PER_PHONE} audits; server up in {boot:.1f} s; "
            f"{len(owner_cookies) + len(phone_cookies)} sign-ins through /login "
            f"({time.monotonic() - started:.0f} s so far)",
            flush=True,
        )
        stats = Stats()
        photos = jpegs(16)
        begin = time.monotonic()
        phones = []
        for n, ((_, slug, audits), cookie) in enumerate(zip(seeded.phones, phone_cookies, strict=True)):
            rng = random.Random(n)
            first_end = begin + args.seconds * rng.uniform(0.3, 0.6)
            walks = [
                Walk(audit_id, slug, revision, first_end if w < len(audits) - 1 else begin + args.seconds)
                for w, (audit_id, revision) in enumerate(audits)
            ]
            phones.append(Phone(n, cookie, walks, stack.port, stats, photos))
        readers = [PdfReader(stack.port, owner_cookies, phones[half::2]) for half in range(2)]
        tabs = [tab for phone in phones for tab in phone.tabs]
        for tab in tabs:
            tab.deadline = begin + args.seconds + DRAIN_S
            tab.start()
        for reader in readers:
            reader.start()
        heartbeat = _phones.HeartbeatWatch(app)
        heartbeat.start()

        time.sleep(max(0.0, begin + args.seconds * KILL_AT - time.monotonic()))
        killed_at = time.monotonic() - begin
        in_flight = Counter(tab.sending.change.kind for tab in tabs if tab.sending is not None)
        killed = stack.kill_worker()
        time.sleep(max(0.0, begin + args.seconds * RESTART_AT - time.monotonic()))
        restarted_at = time.monotonic() - begin
        stopping, starting = stack.restart_web()
        for tab in tabs:
            tab.join()
        phones_done = time.monotonic() - begin
        for reader in readers:
            reader.stop_at = time.monotonic() + PDF_WAIT_S
            reader.phones_done.set()
        for reader in readers:
            reader.join()
        pdf_done = time.monotonic() - begin
        heartbeat.stop.set()
        stack.stop()
        verdict = compare(app, phones)
        media = _phones.media_against_rows(app)

        print(
            f"  worker {killed} killed (SIGKILL) at {killed_at:.1f} s, {sum(in_flight.values())} requests waiting "
            f"for their answers then ({dict(in_flight)}); "
            f"server restarted (SIGTERM, new master) at "
            f"{restarted_at:.1f} s (the old master gone after {stopping:.1f} s, the new one answering "
            f"{starting:.1f} s later); phones done at {phones_done:.1f} s, PDFs at {pdf_done:.1f} s"
        )
        sends = sum(stats.statuses.values())
        share = stats.replays / max(1, stats.new_changes + stats.replays)
        busy = sum(v for k, v in stats.statuses.items() if k in RETRY_STATUSES)
        print(
            f"  {stats.new_changes} changes and {stats.replays} replays made ({share:.0%} replays); {sends} answers "
            f"received ({sends / args.seconds:.0f}/s over the run); {stats.retries} sends again after "
            f"{stats.network_errors} network errors and {busy} busy answers"
        )
        print(f"  answers by status: {dict(sorted(stats.statuses.items()))}")
        print(f"  sends by kind: {dict(sorted(stats.by_kind.items()))}")
        if stats.latencies:
            print(
                f"  latency of 2xx answers: p50 {statistics.median(stats.latencies) * 1000:.0f} ms, "
                f"p99 {_phones.percentile(stats.latencies, 0.99) * 1000:.0f} ms; p50 by kind: "
                + ", ".join(
                    f"{kind} {statistics.median(times) * 1000:.0f}"
                    for kind, times in sorted(stats.latency_by_kind.items())
                )
            )
        print(f"  set aside as expected: {dict(sorted(stats.set_aside_ok.items()))}")
        print(f"  compared: {dict(sorted(verdict.compared.items()))}")
        submitted = [walk for phone in phones for walk in phone.submitted]
        made = {k: v for reader in readers for k, v in reader.made.items()}
        pdf_times = sorted(made.values())
        asked = sum(r.asked for r in readers)
        print(
            f"  report PDFs: {len(made)} of {len(submitted)} submitted audits, {asked} asks "
            f"({sum(r.preparing for r in readers)} answered 202), from the submit's answer to the file "
            f"median {statistics.median(pdf_times) if pdf_times else float('nan'):.1f} s, "
            f"max {max(pdf_times) if pdf_times else float('nan'):.1f} s"
        )
        renders = _render_times(app)
        if renders:
            print(
                f"  the consumer's renders: median {statistics.median(renders):.0f} ms, max {max(renders):.0f} ms "
                f"(WeasyPrint in the render process)"
            )
        pdf_errors = [e for r in readers for e in r.errors]
        print(
            f"  the consumer's heartbeat (a periodic job, queued behind the renders): at most {heartbeat.oldest:.0f} s "
            f"old; pages say it is not running past {jobs.HEARTBEAT_STALE_SECONDS} s"
        )
        checked, check_line = _phones.media_check(app)
        print(f"  media folder: {media.files} files; the media check: {check_line}")
        print()
        figures = [
            ("lost writes", len(verdict.lost), verdict.lost),
            (
                "duplicated writes",
                len(verdict.duplicated) + len(stats.replays_differing),
                verdict.duplicated + stats.replays_differing,
            ),
            ("wrong winners (final state)", len(verdict.wrong_winners), verdict.wrong_winners),
            ("wrong winners (in an answer)", stats.wrong_at_answer, stats.inconsistent),
            ("deleted photos that came back", len(verdict.came_back), verdict.came_back),
            ("writes applied though refused", len(verdict.refused_but_applied), verdict.refused_but_applied),
            (
                "responses >= 500",
                sum(v for k, v in stats.statuses.items() if k >= 500) + sum(1 for e in pdf_errors if e[:1] == "5"),
                stats.server_errors + pdf_errors,
            ),
            ("changes set aside that should not be", len(stats.set_aside_wrong), stats.set_aside_wrong),
            ("changes never answered", verdict.never_answered, []),
            (
                "orphan files (no row) + rows without files",
                len(media.orphans) + len(media.missing),
                media.orphans + media.missing,
            ),
            ("the media check's orphans + rows without files", checked, []),
            ("PDF asks answered other than 200/202", len(pdf_errors), pdf_errors),
            ("submitted audits without their PDF", len(submitted) - len(made), []),
        ]
        for name, value, examples in figures:
            line(name, value, "(target 0)", value == 0)
            ok = ok and value == 0
            for example in examples[:3]:
                print(f"      {example}")
        line("temporary upload files left behind", len(media.temp), "(printed)")
        for example in media.temp[:3]:
            print(f"      {example}")
        tracebacks = stack.tracebacks()
        if tracebacks:
            print(f"  {len(tracebacks)} tracebacks in the server logs; the first:\n{tracebacks[0]}")
        print(f"  ({time.monotonic() - started:.0f} s for this database)")
    finally:
        stack.stop()
        if ok:
            shutil.rmtree(instance, ignore_errors=True)
        else:
            print(f"  instance folder kept for a look: {instance}")
    return ok


def _render_times(app) -> list[int]:
    from sqlalchemy import select

    from shopper.extensions import db
    from shopper.reports.models import ReportPdf

    with app.app_context():
        times = list(db.session.scalars(select(ReportPdf.render_ms)))
        db.session.remove()
    return [t for t in times if t is not None]


def _load() -> str:
    import os

    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=4 if _measure.smoke() else 50)
    parser.add_argument("--seconds", type=float, default=10 if _measure.smoke() else 60)
    parser.add_argument("--database", choices=("both", "sqlite", "postgres"), default="both")
    args = parser.parse_args()
    ok = _measure.on_sqlite_and_postgres(lambda label, url: run(label, url, args), SCHEMA, only=args.database)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
