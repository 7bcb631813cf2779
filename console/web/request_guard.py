"""Who may use the console's server: the user's own browser tab on this machine, nothing else.

Like every server of the stack (see emulator/dynamodb/browser_guard.py), it answers only a
loopback `Host`, so a page that re-points its own name at 127.0.0.1 (DNS rebinding) is
refused, and it sends no CORS headers, so no other page can read an answer. Unlike the
stack's APIs it *is* meant for a browser, so its own page's calls, which carry
`Origin: http://<the Host it was loaded from>` and `Sec-Fetch-Site: same-origin`, must pass;
any other Origin, or a cross-site request, is refused before anything is sent on. Without
that, any web site the user visits could POST to the proxy and, with --aws, read the user's
traces with their credentials (a "simple" cross-site POST needs no CORS preflight).
"""

from emulator.loopback import is_loopback_host

# What a browser says for requests from another site; a page's own calls say `same-origin`,
# an address typed in the bar `none`.
_CROSS_SITE = {"cross-site", "same-site"}


def host_refusal(host: str) -> str | None:
    """Why a request with this Host must be refused, or None."""
    if not is_loopback_host(host):
        return f"Host {host[:100]!r} is not a loopback name; open the console at 127.0.0.1 or localhost"
    return None


def api_refusal(host: str, origin: str | None, sec_fetch_site: str | None) -> str | None:
    """Why an API call must be refused, or None. `host` has passed host_refusal."""
    if origin is not None and origin.lower() != f"http://{host.strip().lower()}":
        return f"calls from other web pages (Origin {origin[:100]!r}) are refused"
    if sec_fetch_site is not None and sec_fetch_site.strip().lower() in _CROSS_SITE:
        return "calls from other web sites are refused"
    return None
