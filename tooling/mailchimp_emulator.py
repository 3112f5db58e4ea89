"""A local emulator of the Mailchimp Marketing API v3 audience endpoints: a real HTTP server
on 127.0.0.1, for the tests of the audience sync (batch/audience_sync.py).

What it speaks, under `/3.0` (HTTP basic auth, any user name, the API key as password):

- `GET /lists/{list_id}`: the audience, or 404.
- `POST /lists/{list_id}` (batch subscribe or update, 1-500 `members`, each with its
  `status`): a new address is created; an existing one (archived too) is an error item
  unless `update_existing`, which then sets the status given. A permanently deleted
  address cannot be imported again (an error item). Answers `new_members`,
  `updated_members`, `errors`, `total_created`, `total_updated`, `error_count`.
- `PUT /lists/{id}/members/{hash}` (`email_address`, `status_if_new`, `merge_fields`): adds
  or updates one member; an existing member keeps its status unless `status` is given; an
  archived one comes back. A permanently deleted or invalid address is a 400.
- `GET /lists/{id}/segments?type=static`, `POST /lists/{id}/segments` (`name`,
  `static_segment`): the audience's tags, which are static segments.
- `POST /lists/{id}/segments/{segment_id}` (`members_to_add`, `members_to_remove`, e-mail
  addresses, up to 500 each): answers `members_added`, `members_removed`, `errors`.
- `POST /lists/{id}/members/{hash}/tags` (`tags: [{name, status: active|inactive}]`): 204.
- `PATCH /lists/{id}/members/{hash}` (`status`): the member.
- `DELETE /lists/{id}/members/{hash}`: archives, 204.
- `POST /lists/{id}/members/{hash}/actions/delete-permanent`: 204, and the address can never
  be imported again.

A member unknown (or archived, for the calls that need a live one) is a 404 in Mailchimp's
problem-details shape (`type`, `title`, `status`, `detail`, `instance`). The subscriber hash
is the MD5 of the lower-cased address.

**Limits**: more than `max_connections` (10) requests at once are answered 429, as
Mailchimp does; `max_seen` records the most at once. **Faults**: `inject(*statuses)` answers
the next calls with those statuses (429 with `Retry-After`, 500, 503), `inject_at(n,
*statuses)` from the n-th call on. `calls` lists (method, path) of every call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tooling.loopback import LoopbackServer

API_KEY = "emulator0123456789abcdef0123456789-us99"
LIST_ID = "a1b2c3d4e5"
MAX_BATCH = 500


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


@dataclass
class Member:
    email_address: str
    status: str
    merge_fields: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    archived: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"id": subscriber_hash(self.email_address), "email_address": self.email_address,
                "status": "archived" if self.archived else self.status, "merge_fields": self.merge_fields,
                "tags": [{"name": t} for t in sorted(self.tags)]}


class MailchimpEmulator(LoopbackServer):
    """One audience (`list_id`) behind one API key."""

    thread_name = "mailchimp-emulator"

    def __init__(self, api_key: str = API_KEY, list_id: str = LIST_ID, max_connections: int = 10,
                 latency_seconds: float = 0.0, port: int = 0) -> None:
        self.api_key = api_key
        self.list_id = list_id
        self.max_connections = max_connections
        self.latency_seconds = latency_seconds
        self.members: dict[str, Member] = {}          # subscriber hash -> member
        self.deleted_for_good: set[str] = set()        # hashes of permanently deleted members
        self.tags: dict[int, str] = {}                 # segment id -> tag name
        self.calls: list[tuple[str, str]] = []
        self.max_seen = 0
        self._open = 0
        self._faults: list[int] = []
        self._fault_at: dict[int, int] = {}
        self._lock = threading.Lock()
        super().__init__(_handler(self), port)

    # ---- what the tests use ----
    def inject(self, *statuses: int) -> None:
        with self._lock:
            self._faults.extend(statuses)

    def inject_at(self, call: int, *statuses: int) -> None:
        with self._lock:
            for i, status in enumerate(statuses):
                self._fault_at[call + i] = status

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_at.clear()

    def member(self, email: str) -> Member | None:
        return self.members.get(subscriber_hash(email))

    def tagged(self, tag: str) -> set[str]:
        """The addresses of live (not archived) members with this tag."""
        return {m.email_address.lower() for m in self.members.values() if tag in m.tags and not m.archived}

    # ---- the API ----
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        with self._lock:
            self.calls.append((method, path))
            n = len(self.calls)
            status = self._faults.pop(0) if self._faults else self._fault_at.pop(n, None)
        if status is not None:
            extra = {"Retry-After": "1"} if status == 429 else {}
            return status, extra, _problem(status, "Injected", "an injected fault", path)
        if not self._authorised(headers.get("authorization", "")):
            return 401, {}, _problem(401, "API Key Invalid", "Your API key may be invalid.", path)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        parts = path.split("?")[0].strip("/").split("/")
        if parts[:1] != ["3.0"] or len(parts) < 3 or parts[1] != "lists":
            return 404, {}, _problem(404, "Resource Not Found", "The requested resource could not be found.", path)
        if parts[2] != self.list_id:
            return 404, {}, _problem(404, "Resource Not Found", "The requested resource could not be found.", path)
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return 400, {}, _problem(400, "JSON Parse Error", "We encountered an unspecified JSON parsing error.", path)
        rest = parts[3:]
        with self._lock:
            return self._route(method, rest, payload, path)

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            _user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return key == self.api_key

    def _route(self, method: str, rest: list[str], payload: dict, path: str) -> tuple[int, dict, Any]:
        not_found = (404, {}, _problem(404, "Resource Not Found", "The requested resource could not be found.", path))
        if not rest:
            if method == "GET":
                subscribed = sum(1 for m in self.members.values() if m.status == "subscribed" and not m.archived)
                return 200, {}, {"id": self.list_id, "name": "Emulated audience",
                                 "stats": {"member_count": subscribed}}
            if method == "POST":
                return self._batch_upsert(payload, path)
        if rest[:1] == ["segments"]:
            if len(rest) == 1 and method == "GET":
                return 200, {}, {"segments": [{"id": i, "name": n, "type": "static"} for i, n in self.tags.items()],
                                 "total_items": len(self.tags)}
            if len(rest) == 1 and method == "POST":
                name = str(payload.get("name") or "").strip()
                if not name or name in self.tags.values():
                    return 400, {}, _problem(400, "Invalid Resource", "Sorry, that tag already exists.", path)
                segment_id = 1000 + len(self.tags)
                self.tags[segment_id] = name
                return 200, {}, {"id": segment_id, "name": name, "type": "static"}
            if len(rest) == 2 and method == "POST" and rest[1].isdigit() and int(rest[1]) in self.tags:
                return self._segment_members(self.tags[int(rest[1])], payload, path)
            return not_found
        if rest[:1] == ["members"] and len(rest) >= 2:
            member = self.members.get(rest[1])
            if len(rest) == 2 and method == "PUT":
                return self._put_member(rest[1], member, payload, path)
            if len(rest) == 2 and method == "PATCH":
                if member is None or member.archived:
                    return not_found
                if payload.get("status") in ("subscribed", "unsubscribed", "cleaned", "pending", "transactional"):
                    member.status = payload["status"]
                return 200, {}, member.as_json()
            if len(rest) == 2 and method == "DELETE":
                if member is None or member.archived:
                    return not_found
                member.archived = True
                return 204, {}, None
            if rest[2:] == ["tags"] and method == "POST":
                if member is None or member.archived:
                    return not_found
                for tag in payload.get("tags") or []:
                    if tag.get("status") == "inactive":
                        member.tags.discard(tag["name"])
                    else:
                        member.tags.add(tag["name"])
                        if tag["name"] not in self.tags.values():
                            self.tags[1000 + len(self.tags)] = tag["name"]
                return 204, {}, None
            if rest[2:] == ["actions", "delete-permanent"] and method == "POST":
                if member is None:
                    return not_found
                del self.members[rest[1]]
                self.deleted_for_good.add(rest[1])
                return 204, {}, None
        return not_found

    def _put_member(self, key: str, member: Member | None, payload: dict, path: str) -> tuple[int, dict, Any]:
        """Add or update: `status_if_new` for a new member, `status` (when given) for any; an
        archived member comes back with the status it had."""
        email = str(payload.get("email_address") or "").strip()
        if subscriber_hash(email) != key:
            return 400, {}, _problem(400, "Invalid Resource", "The email address does not match the hash.", path)
        if key in self.deleted_for_good:
            return 400, {}, _problem(400, "Forgotten Email Not Subscribed", "This contact was permanently deleted "
                                     "and cannot be re-imported.", path)
        if "@" not in email or "." not in email.rpartition("@")[2]:
            return 400, {}, _problem(400, "Invalid Resource", "Please provide a valid email address.", path)
        if member is None:
            status = payload.get("status") or payload.get("status_if_new")
            if status not in ("subscribed", "unsubscribed", "cleaned", "pending", "transactional"):
                return 400, {}, _problem(400, "Invalid Resource", "status_if_new is required for a new member.", path)
            member = self.members[key] = Member(email, status, dict(payload.get("merge_fields") or {}))
            return 200, {}, member.as_json()
        member.archived = False
        member.merge_fields.update(payload.get("merge_fields") or {})
        if payload.get("status"):
            member.status = payload["status"]
        return 200, {}, member.as_json()

    def _batch_upsert(self, payload: dict, path: str) -> tuple[int, dict, Any]:
        members = payload.get("members")
        if not isinstance(members, list) or not 1 <= len(members) <= MAX_BATCH:
            return 400, {}, _problem(400, "Invalid Resource", f"send 1-{MAX_BATCH} members", path)
        if any(not isinstance(m, dict) or not m.get("status") for m in members):
            return 400, {}, _problem(400, "Invalid Resource", "Each member needs a status.", path)
        created, updated, errors = [], [], []
        for item in members:
            email = str(item.get("email_address") or "").strip()
            key = subscriber_hash(email)
            if "@" not in email or "." not in email.rpartition("@")[2]:
                errors.append({"email_address": email, "error": f"{email} looks fake or invalid, please enter a "
                               "real email address.", "error_code": "ERROR_GENERIC"})
                continue
            if key in self.deleted_for_good:
                errors.append({"email_address": email, "error": f"{email} was permanently deleted and cannot be "
                               "re-imported. The contact must re-subscribe to get back on the list.",
                               "error_code": "ERROR_CONTACT_EXISTS"})
                continue
            member = self.members.get(key)
            if member is None:
                member = Member(email, item["status"], dict(item.get("merge_fields") or {}))
                self.members[key] = member
                created.append(member.as_json())
                continue
            if not payload.get("update_existing"):
                errors.append({"email_address": email, "error": f"{email} is already a list member.",
                               "error_code": "ERROR_CONTACT_EXISTS"})
                continue
            member.archived = False
            member.merge_fields.update(item.get("merge_fields") or {})
            if item.get("status"):
                member.status = item["status"]
            updated.append(member.as_json())
        return 200, {}, {"new_members": created, "updated_members": updated, "errors": errors,
                         "total_created": len(created), "total_updated": len(updated), "error_count": len(errors)}

    def _segment_members(self, tag: str, payload: dict, path: str) -> tuple[int, dict, Any]:
        adds, removes = payload.get("members_to_add") or [], payload.get("members_to_remove") or []
        if len(adds) > MAX_BATCH or len(removes) > MAX_BATCH:
            return 400, {}, _problem(400, "Invalid Resource", f"at most {MAX_BATCH} members each", path)
        added, removed, errors = [], [], []
        for emails, active, done in ((adds, True, added), (removes, False, removed)):
            for email in emails:
                member = self.members.get(subscriber_hash(str(email)))
                if member is None or member.archived:
                    errors.append({"email_addresses": [email], "error": "Email address is not subscribed to the list",
                                   "error_code": "ERROR_GENERIC"})
                    continue
                (member.tags.add if active else member.tags.discard)(tag)
                done.append({"email_address": member.email_address})
        return 200, {}, {"members_added": added, "members_removed": removed, "errors": errors,
                         "total_added": len(added), "total_removed": len(removed), "error_count": len(errors)}


def _problem(status: int, title: str, detail: str, instance: str) -> dict[str, Any]:
    return {"type": "https://mailchimp.com/developer/marketing/docs/errors/", "title": title, "status": status,
            "detail": detail, "instance": instance}


def _handler(emulator: MailchimpEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:  # no request lines: paths carry hashes
            pass

        def _serve(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with emulator._lock:
                emulator._open += 1
                emulator.max_seen = max(emulator.max_seen, emulator._open)
                over = emulator._open > emulator.max_connections
            try:
                if over:
                    status, headers, payload = 429, {}, _problem(
                        429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.",
                        self.path)
                else:
                    status, headers, payload = emulator.handle(
                        method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            finally:
                with emulator._lock:
                    emulator._open -= 1
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/problem+json" if status >= 400 else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

        def do_PATCH(self) -> None:  # noqa: N802
            self._serve("PATCH")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

    return Handler
