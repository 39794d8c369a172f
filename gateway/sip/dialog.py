"""SIP dialogs (RFC 3261 §12), as plain data.

A ``Dialog`` is created from the dialog-creating request and a response carrying a To tag:
``Dialog.uac(invite, response)`` on the calling side, ``Dialog.uas(invite, response)`` on the
answering side (a 1xx gives an early dialog, a 2xx a confirmed one). It builds in-dialog
requests (BYE, re-INVITE, INFO, ACK for a 2xx, …) with the right Request-URI, Route set,
tags and CSeq, and checks the CSeq of the requests the peer sends within it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .message import (
    CSeq,
    Headers,
    NameAddr,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
)
from .transaction import new_branch

__all__ = [
    "Dialog",
    "DialogError",
    "DialogId",
    "new_call_id",
    "new_tag",
    "uac_dialog_id",
    "uas_dialog_id",
]

DialogId = tuple[str, str, str]  # Call-ID, local tag, remote tag

# Requests that may change the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665, RFC 3515).
TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})

# URI parameters not allowed in a Request-URI (RFC 3261 §19.1.1 table): stripped when a strict
# router's Route entry becomes the Request-URI.
_NOT_IN_REQUEST_URI = ("method", "ttl")


def new_tag() -> str:
    """A From/To tag: 64 random bits (RFC 3261 §19.3 asks for at least 32)."""
    return secrets.token_hex(8)


def new_call_id(host: str | None = None) -> str:
    """A globally unique Call-ID (RFC 3261 §8.1.1.4); ``host`` is only decoration."""
    token = secrets.token_hex(16)
    return f"{token}@{host}" if host else token


class DialogError(ValueError):
    """A request or response does not fit the dialog; ``status`` is the answer to send."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


def uac_dialog_id(response: SipResponse) -> DialogId:
    """The dialog a response belongs to, seen from the UAC (local tag = From tag)."""
    return response.call_id, response.from_.tag or "", response.to.tag or ""


def uas_dialog_id(request: SipRequest) -> DialogId:
    """The dialog an incoming request belongs to, seen from the UAS (local tag = To tag)."""
    return request.call_id, request.to.tag or "", request.from_.tag or ""


@dataclass
class Dialog:
    """The state of one dialog (RFC 3261 §12.1).

    ``local_cseq`` is None until we send a request in a dialog we did not start; ``remote_cseq``
    is None until the peer sends one. ``route_set`` is kept in the order requests use it.
    ``local_target`` is our Contact, repeated in target refresh requests. ``invite_cseq`` is the
    CSeq number of our latest INVITE, which the ACK for its 2xx must repeat.
    """

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: SipUri
    remote_uri: SipUri
    remote_target: SipUri
    local_cseq: int | None = None
    remote_cseq: int | None = None
    route_set: list[NameAddr] = field(default_factory=list)
    secure: bool = False
    local_target: SipUri | None = None
    local_display_name: str | None = None
    remote_display_name: str | None = None
    early: bool = False
    invite_cseq: int | None = None

    # -- creation --

    @classmethod
    def uac(cls, request: SipRequest, response: SipResponse) -> Dialog:
        """The dialog our request created, from the response that established it (§12.1.2).

        The route set is the response's Record-Route reversed. A response without To tag
        (RFC 2543 peers) gives an empty remote tag.
        """
        if not 101 <= response.status <= 299:
            raise DialogError(f"a {response.status} response creates no dialog")
        contact = response.contact
        if contact is None:
            raise DialogError("the response has no Contact: no remote target", 400)
        from_, to = request.from_, response.to
        if from_.tag is None:
            raise DialogError("our request has no From tag")
        cseq = request.cseq.number
        return cls(
            call_id=request.call_id,
            local_tag=from_.tag,
            remote_tag=to.tag or "",
            local_uri=from_.uri.copy(),
            remote_uri=to.uri.copy(),
            remote_target=contact.uri.copy(),
            local_cseq=cseq,
            remote_cseq=None,
            route_set=[_route_entry(r) for r in reversed(response.record_routes)],
            secure=request.uri.scheme == "sips",
            local_target=request.contact.uri.copy() if request.contact else None,
            local_display_name=from_.display_name,
            remote_display_name=to.display_name,
            early=response.status < 200,
            invite_cseq=cseq if request.method == "INVITE" else None,
        )

    @classmethod
    def uas(cls, request: SipRequest, response: SipResponse) -> Dialog:
        """The dialog we establish by answering ``request`` with ``response`` (§12.1.1).

        ``response`` must carry our To tag (``make_response(..., to_tag=new_tag())``); the route
        set is the request's Record-Route in order. The secure flag follows a sips:
        Request-URI (the shell must only accept those over TLS).
        """
        if not 101 <= response.status <= 299:
            raise DialogError(f"a {response.status} response creates no dialog")
        contact = request.contact
        if contact is None:
            raise DialogError("the request has no Contact: no remote target", 400)
        from_, to = request.from_, response.to
        if to.tag is None:
            raise DialogError("our response has no To tag")
        return cls(
            call_id=request.call_id,
            local_tag=to.tag,
            remote_tag=from_.tag or "",
            local_uri=to.uri.copy(),
            remote_uri=from_.uri.copy(),
            remote_target=contact.uri.copy(),
            local_cseq=None,
            remote_cseq=request.cseq.number,
            route_set=[_route_entry(r) for r in request.record_routes],
            secure=request.uri.scheme == "sips",
            local_target=response.contact.uri.copy() if response.contact else None,
            local_display_name=to.display_name,
            remote_display_name=from_.display_name,
            early=response.status < 200,
        )

    @property
    def id(self) -> DialogId:
        return self.call_id, self.local_tag, self.remote_tag

    # -- requests we send --

    def create_request(
        self,
        method: str,
        *,
        via: Via | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
        max_forwards: int = 70,
    ) -> SipRequest:
        """A request within the dialog (§12.2.1.1).

        Every method but ACK takes the next local CSeq; ACK (for a 2xx) repeats the CSeq
        number of our latest INVITE. ``via`` is our Via; a fresh branch is filled in if it has
        none (ACK for a 2xx is a transaction of its own, so it gets a new branch too). Without
        ``via`` the caller must add one before sending. CANCEL is not built here: use
        ``message.make_cancel`` on the INVITE.
        """
        if method == "CANCEL":
            raise DialogError("CANCEL copies the INVITE: use make_cancel()")
        if method == "ACK":
            if self.invite_cseq is None:
                raise DialogError("no INVITE of ours to acknowledge")
            number = self.invite_cseq
        else:
            number = (self.local_cseq or 0) + 1
            if number >= 2**31:
                raise DialogError("local CSeq exhausted")
            self.local_cseq = number
            if method == "INVITE":
                self.invite_cseq = number

        request_uri, routes = self._request_target()
        out = Headers()
        if via is not None:
            params = dict(via.params)
            params.setdefault("branch", new_branch())
            if not params["branch"]:
                params["branch"] = new_branch()
            out.add("Via", str(replace(via, params=params)))
        for route in routes:
            out.add("Route", str(route))
        out.add("Max-Forwards", str(max_forwards))
        local = NameAddr(self.local_uri.copy(), self.local_display_name, {"tag": self.local_tag})
        remote_params: dict[str, str | None] = {"tag": self.remote_tag} if self.remote_tag else {}
        remote = NameAddr(self.remote_uri.copy(), self.remote_display_name, remote_params)
        out.add("From", str(local))
        out.add("To", str(remote))
        out.add("Call-ID", self.call_id)
        out.add("CSeq", str(CSeq(number, method)))
        if method in TARGET_REFRESH and self.local_target is not None:
            out.add("Contact", f"<{self.local_target}>")
        if content_type is not None:
            out.add("Content-Type", content_type)
        for name, value in Headers(headers) if headers is not None else ():
            out.add(name, value)
        return SipRequest(method, request_uri, out, body)

    def create_ack(
        self, *, via: Via | None = None, body: bytes = b"", content_type: str | None = None
    ) -> SipRequest:
        """The ACK for a 2xx to our latest (re-)INVITE (§13.2.2.4), e.g. carrying an answer."""
        return self.create_request("ACK", via=via, body=body, content_type=content_type)

    def _request_target(self) -> tuple[SipUri, list[NameAddr]]:
        """Request-URI and Route headers (§12.2.1.1): loose routing keeps the remote target as
        Request-URI; a strict router as first hop gets it as the last Route instead."""
        if not self.route_set:
            return self.remote_target.copy(), []
        first = self.route_set[0]
        if first.uri.loose_routing:
            return self.remote_target.copy(), [_route_entry(r) for r in self.route_set]
        request_uri = first.uri.copy()
        request_uri.headers = {}
        for name in _NOT_IN_REQUEST_URI:
            request_uri.params.pop(name, None)
        routes = [_route_entry(r) for r in self.route_set[1:]]
        routes.append(NameAddr(self.remote_target.copy()))
        return request_uri, routes

    # -- messages the peer sends --

    def receive_request(self, request: SipRequest) -> None:
        """Check and record an in-dialog request from the peer (§12.2.2).

        A CSeq lower than the last one is out of order: ``DialogError`` with status 500. ACK
        and CANCEL repeat the INVITE's number and are not checked. A target refresh request
        with a Contact replaces the remote target.
        """
        if request.call_id != self.call_id or (request.to.tag or "") != self.local_tag:
            raise DialogError("request does not belong to this dialog", 481)
        if request.method in ("ACK", "CANCEL"):
            return
        number = request.cseq.number
        if self.remote_cseq is not None and number < self.remote_cseq:
            raise DialogError(f"CSeq {number} is lower than {self.remote_cseq}", 500)
        self.remote_cseq = number
        if request.method in TARGET_REFRESH and request.contact is not None:
            self.remote_target = request.contact.uri.copy()

    def receive_response(self, request: SipRequest, response: SipResponse) -> None:
        """Update the dialog from a response to one of our requests in it.

        A 2xx confirms an early dialog, whose route set is then taken from the 2xx
        (§13.2.2.4); a 2xx to a target refresh request replaces the remote target (§12.2.1.2).
        """
        if not 200 <= response.status < 300:
            return
        if self.early:
            self.early = False
            self.route_set = [_route_entry(r) for r in reversed(response.record_routes)]
        contact = response.contact
        if request.method in TARGET_REFRESH and contact is not None:
            self.remote_target = contact.uri.copy()


def _route_entry(address: NameAddr) -> NameAddr:
    """A Record-Route value as a route set entry: the URI with all its parameters (§12.1.1)."""
    return NameAddr(address.uri.copy())
