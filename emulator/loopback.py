"""Loopback addresses and ports: every server of the local stack binds 127.0.0.1."""

import ipaddress
import socket

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_port_free(host: str, port: int, what: str) -> None:
    """Raise OSError naming `what` if something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The same option the servers set, so a port in TIME_WAIT is not reported as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(error.errno, f"{what}: port {host}:{port} is already in use") from None


def is_loopback_host(host_header: str) -> bool:
    """Whether a request's `Host` names this machine: `localhost` or a name under it, or a
    loopback address (127.0.0.0/8, [::1]), with any port, in any letter case.

    What stops DNS rebinding: a page from a name the attacker controls, re-pointed at 127.0.0.1,
    still sends that name as Host. `*.localhost` is allowed because RFC 6761 §6.3 reserves it
    for loopback and browsers resolve it so without asking DNS, so no attacker can re-point it.
    """
    host = host_header.strip().lower()
    if host.startswith("["):  # [IPv6]:port
        literal, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return False
    else:
        literal, colon, port = host.partition(":")
        if colon and not _is_port(port):
            return False
        if literal == "localhost" or literal.endswith(".localhost"):
            return _is_hostname(literal)
    try:
        return ipaddress.ip_address(literal).is_loopback
    except ValueError:
        return False


def _is_port(text: str) -> bool:
    return 1 <= len(text) <= 5 and text.isascii() and text.isdigit()


def _is_hostname(name: str) -> bool:
    labels = name.split(".")
    return all(label and label.isascii() and label.replace("-", "").isalnum() for label in labels)
