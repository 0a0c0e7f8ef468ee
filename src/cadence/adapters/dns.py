"""Reading TXT records from DNS (dnspython), for the sending-domain checks and DKIM verification.

By default the system's resolver (``/etc/resolv.conf``) is asked; :class:`DnsConfig` names other
nameservers and a port, which is how the tests point it at a DNS server of their own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cadence.errors import CadenceError, ValidationError, shown

if TYPE_CHECKING:
    import dns.resolver


class DnsUnavailable(CadenceError):
    """DNS could not be asked: no nameserver answered in time."""


@dataclass(frozen=True)
class DnsConfig:
    """Where to ask: ``nameservers`` (IP addresses; empty for the system's) on ``port``, within ``timeout`` s."""

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 5.0


class TxtLookup:
    """Looks up TXT records with one dnspython resolver, built once from a :class:`DnsConfig`."""

    def __init__(self, config: DnsConfig | None = None) -> None:
        self.config = config or DnsConfig()
        self._resolver = make_resolver(self.config)

    @property
    def resolver(self) -> dns.resolver.Resolver:
        """The dnspython resolver it asks (for libraries that take one, such as dkimpy's verifier)."""
        return self._resolver

    def __call__(self, name: str) -> list[str]:
        """The TXT records of ``name``, each one's strings joined; ``[]`` when the name has none or does not exist.

        Raises :class:`DnsUnavailable` when no nameserver answers, or answers with an error.
        """
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            answer = self._resolver.resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel):
            return []
        except dns.resolver.NoNameservers as exc:
            raise DnsUnavailable(f"the DNS servers could not answer for {name}: {exc}") from exc
        except dns.exception.Timeout as exc:
            raise DnsUnavailable(f"no DNS server answered for {name} within {self.config.timeout:g} s") from exc
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"looking up {name} failed: {exc}") from exc
        return [b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer]


def make_resolver(config: DnsConfig) -> dns.resolver.Resolver:
    """A dnspython resolver for ``config``: the system's, or one that asks only the nameservers named.

    Raises :class:`ValidationError` for a nameserver that is not an IP address.
    """
    import dns.resolver

    if config.nameservers:
        for server in config.nameservers:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise ValidationError(f"{shown(server)} is not the IP address of a DNS server (e.g. 1.1.1.1)") from None
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(config.nameservers)
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise DnsUnavailable("this machine has no DNS server configured (/etc/resolv.conf)") from exc
    resolver.port = config.port
    resolver.timeout = resolver.lifetime = config.timeout
    return resolver
