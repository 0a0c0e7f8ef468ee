"""``cadence mail``: checks of what receiving mail servers see of our sending domains."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, emit_json, run

mail_app = typer.Typer(help="Checks of the sending domains: SPF, DKIM and DMARC.", no_args_is_help=True)

_MARKS = {"problem": "PROBLEM", "warning": "warning", "ok": "ok"}


@mail_app.command("check-domain")
def check_domain_command(
    domain: Annotated[str, typer.Argument(help="The domain mail is sent from (the part after @ in From:).")],
    selector: Annotated[
        list[str] | None,
        typer.Option("--selector", help="A DKIM selector to check (repeatable). Default: the common ones."),
    ] = None,
    nameserver: Annotated[
        list[str] | None,
        typer.Option("--nameserver", help="Ask this DNS server (IP address, repeatable). Default: the system's."),
    ] = None,
    dns_port: Annotated[int, typer.Option("--dns-port", min=1, max=65535, help="The DNS servers' port.")] = 53,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=60, help="Seconds to wait for DNS.")] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """Say what is missing or wrong in a sending domain's SPF, DKIM and DMARC records, and what to do."""

    def go() -> None:
        from cadence.adapters.dns import DnsConfig, TxtLookup
        from cadence.services.domain_check import check_domain

        lookup = TxtLookup(DnsConfig(nameservers=tuple(nameserver or ()), port=dns_port, timeout=timeout))
        report = check_domain(domain, lookup, selectors=selector or ())
        if as_json:
            emit_json(report.as_dict())
            return
        problems = sum(f.severity == "problem" for f in report.findings)
        typer.echo(f"{report.domain}: " + (f"{problems} problem(s) to fix" if problems else "no problem found"))
        for finding in report.findings:
            typer.echo(f"  {_MARKS[finding.severity]:<8} {finding.record:<5} {finding.message}")

    run(go)
