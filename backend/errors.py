"""One error type for every refusal a service makes: a message for the person, the form field it concerns
and the HTTP status to answer with.

Each domain keeps its own subclass (``RequestError``, ``WishError``…) so callers can still catch one
domain's refusals, but the web answers all of them in one place (``backend.web.errors.domain_error_handler``):
the form re-shown with its field marked, the 4xx page, or the htmx fragment.

Messages are message ids in the source language (Chinese), marked with ``N_`` for extraction, with their
variable parts as ``params`` (``N_("说明不能超过 {max} 字"), max=2000``): ``message`` translates them into
the reader's language when it is read, so a service needs no locale.
"""

from __future__ import annotations

from typing import Any

from backend.i18n import N_, gettext

__all__ = ["N_", "DomainError", "translate"]


def translate(msgid: str, params: dict[str, Any] | None = None) -> str:
    """``msgid`` in the current locale, formatted with ``params`` (a message with stray braces stays as is)."""
    text = gettext(msgid)
    if not params:
        return text
    # Labels passed as parameters ("已派单", "结束日期") are message ids too; other text is left as it is.
    shown = {k: gettext(v) if isinstance(v, str) and v else v for k, v in params.items()}
    try:
        return text.format(**shown)
    except (KeyError, IndexError, ValueError):
        return text


class DomainError(Exception):
    """A refused action. ``field`` names the form field it concerns (None: the form as a whole); ``fields``
    holds several field errors at once (field → message id) when a whole form was checked."""

    status: int = 400
    field: str | None = None

    def __init__(self, message: str, field: str | None = None, status: int | None = None, *,
                 fields: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(message)
        self.msgid = message
        self.field = field
        if status is not None:
            self.status = status
        self.params = params
        self.fields = dict(fields or {})

    @property
    def message(self) -> str:
        """The message in the reader's language."""
        return translate(self.msgid, self.params)

    @message.setter
    def message(self, value: str) -> None:  # subclasses written before this base set it in their constructor
        self.msgid = value

    def __str__(self) -> str:
        return self.message

    def field_errors(self, default_field: str = "form") -> dict[str, str]:
        """Every field error, translated: field → message (the one message under ``field`` or ``default_field``)."""
        if self.fields:
            return {f: translate(m, self.params) for f, m in self.fields.items()}
        return {self.field or default_field: self.message}
