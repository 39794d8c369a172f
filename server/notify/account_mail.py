"""Account e-mails: a password-reset link, and the welcome of an organiser added to an account.

Text + HTML in the user's language; every user-supplied string is escaped in HTML.
"""

from __future__ import annotations

import html

from ..store import OutboxItem

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "reset_subject": "Reset your Telekonf password",
        "reset_body": "Someone (we hope you) asked to reset the password of your Telekonf "
                      "account {number}. The link works once, for {hours} hour(s):",
        "welcome_subject": "{inviter} added you to {company} on Telekonf",
        "welcome_body": "{inviter} added you as an organiser to the Telekonf account of "
                        "{company}. Your user number is {number}. Choose your password here "
                        "(the link works once, for {hours} hour(s)):",
        "ignore": "If you did not ask for this, ignore this e-mail; nothing changes.",
        "hello": "Hello {name},",
        "footer": "Sent by Telekonf.",
    },
    "de": {
        "reset_subject": "Telekonf-Passwort zurücksetzen",
        "reset_body": "Jemand (hoffentlich Sie) möchte das Passwort Ihres Telekonf-Kontos "
                      "{number} zurücksetzen. Der Link gilt einmal, {hours} Stunde(n) lang:",
        "welcome_subject": "{inviter} hat Sie zu {company} bei Telekonf hinzugefügt",
        "welcome_body": "{inviter} hat Sie als Organisator zum Telekonf-Konto von {company} "
                        "hinzugefügt. Ihre Benutzernummer ist {number}. Wählen Sie hier Ihr "
                        "Passwort (der Link gilt einmal, {hours} Stunde(n) lang):",
        "ignore": "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail; "
                  "es ändert sich nichts.",
        "hello": "Hallo {name},",
        "footer": "Gesendet von Telekonf.",
    },
    "sl": {
        "reset_subject": "Ponastavitev gesla za Telekonf",
        "reset_body": "Nekdo (upamo, da vi) je zahteval ponastavitev gesla vašega računa "
                      "Telekonf {number}. Povezava deluje enkrat, {hours} ur(o):",
        "welcome_subject": "{inviter} vas je dodal(a) v {company} na Telekonfu",
        "welcome_body": "{inviter} vas je dodal(a) kot organizatorja v račun Telekonf "
                        "podjetja {company}. Vaša uporabniška številka je {number}. Geslo "
                        "izberite tukaj (povezava deluje enkrat, {hours} ur(o)):",
        "ignore": "Če tega niste zahtevali, to sporočilo prezrite; nič se ne spremeni.",
        "hello": "Pozdravljeni, {name},",
        "footer": "Poslal Telekonf.",
    },
}


def _texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS["en"])


def _item(kind: str, email: str, name: str, language: str, subject: str, lines: list[str],
          link: str) -> OutboxItem:
    t = _texts(language)
    e = html.escape
    hello = t["hello"].format(name=name)
    text = "\n".join([hello, "", *lines, "", link, "", t["ignore"], "", t["footer"], ""])
    body = "".join(f"<p>{e(line)}</p>" for line in lines)
    page = (
        f'<!DOCTYPE html><html lang="{e(language)}"><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head><body><p>{e(hello)}</p>{body}"
        f'<p><a href="{e(link)}">{e(link)}</a></p><p>{e(t["ignore"])}</p>'
        f"<p><small>{e(t['footer'])}</small></p></body></html>"
    )
    return OutboxItem(
        conference_id=None, kind=kind, recipient=email, recipient_name=name,
        subject=subject, body_text=text, body_html=page,
    )


def password_reset_mail(*, name: str, email: str, user_number: str, language: str,
                        link: str, hours: int) -> OutboxItem:
    t = _texts(language)
    return _item(
        "password-reset", email, name, language, t["reset_subject"],
        [t["reset_body"].format(number=user_number, hours=hours)], link,
    )


def organizer_welcome_mail(*, name: str, email: str, user_number: str, language: str,
                           inviter: str, company: str, link: str, hours: int) -> OutboxItem:
    t = _texts(language)
    return _item(
        "organizer-welcome", email, name, language,
        t["welcome_subject"].format(inviter=inviter, company=company),
        [t["welcome_body"].format(inviter=inviter, company=company, number=user_number,
                                  hours=hours)],
        link,
    )
