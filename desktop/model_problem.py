"""Why the model could not be loaded, in one plain sentence for the window's dialog.

A failed download reaches the window as a ModelUnavailableError whose message ends with
the Hugging Face library's own exception ("Got: ConnectError: [Errno -2] ..."). The user
needs to know only which case it is: this computer is offline, or the server refused;
the whole chain goes to the log.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)

NOT_DOWNLOADED = "The model could not be downloaded: "
OFFLINE = NOT_DOWNLOADED + "this computer seems to be offline."
OFFLINE_MODE = NOT_DOWNLOADED + "downloads are turned off here ({variable} is set)."
REFUSED = NOT_DOWNLOADED + "the Hugging Face server refused{code}."
_NETWORK = {"ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout",
            "TimeoutException", "NetworkError", "ProxyError", "OfflineModeIsEnabled",
            "MaxRetryError", "NewConnectionError"}
_REFUSALS = {"RepositoryNotFoundError", "GatedRepoError", "DisabledRepoError"}


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _status(error: BaseException) -> int | None:
    code = getattr(getattr(error, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def plain_reason(error: BaseException) -> str:
    """One sentence for the user; the details (every exception in the chain) are logged."""
    chain = _chain(error)
    log.warning("the model could not be loaded: %s",
                " <- ".join(f"{type(e).__name__}: {e}" for e in chain))
    if "offline mode is on" in str(error):
        variable = next((name for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
                         if os.environ.get(name)), "HF_HUB_OFFLINE")
        return OFFLINE_MODE.format(variable=variable)
    for cause in chain[1:]:
        status = _status(cause)
        if status is not None or type(cause).__name__ in _REFUSALS:
            return REFUSED.format(code=f" (HTTP {status})" if status else "")
        if (type(cause).__name__ in _NETWORK
                or isinstance(cause, (ConnectionError, TimeoutError, socket.gaierror))):
            return OFFLINE
    return _own_words(error, chain)


def _own_words(error: BaseException, chain: list[BaseException]) -> str:
    """Pictor's own message (a folder that is not a model, ...), without the text of the
    library exception it may end with."""
    text = str(error)
    for cause in chain[1:]:
        tail = f": {cause}"
        if str(cause) and text.endswith(tail):
            text = text[: -len(tail)]
    text = text.replace("pass --model /path/to/folder", "choose a model folder").strip()
    if not text:
        return "The model could not be loaded."
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
