"""Finding 7 of #28: an address a mail server cannot take without SMTPUTF8 is refused at intake.

A non-ASCII local part (``josé@...``) needs SMTPUTF8: it is refused, with a reason saying so, and the
import's row goes to the rejects file. A non-ASCII domain can be written in ASCII (IDNA, ``xn--``):
it is kept in that form, which every mail server takes, so the Unicode and the ASCII spellings are
one lead.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cadence.adapters.csv_leads import parse_leads_csv
from cadence.core.leads import normalize_email
from cadence.errors import ValidationError
from tests.conftest import Cli

NOW = "2026-11-23T14:00:00+00:00"


@pytest.mark.parametrize("address", ["josé@exämple.example", "josé@example.example", "李@example.example"])
def test_an_address_with_a_non_ascii_local_part_is_refused_with_the_reason(address: str) -> None:
    with pytest.raises(ValidationError, match="before the @") as refused:
        normalize_email(address)
    assert "SMTPUTF8" in str(refused.value)


@pytest.mark.parametrize(
    "address",
    ["jose@exämple.example", "Jose@EXÄMPLE.example", "jose@xn--exmple-cua.example", "JOSE@XN--EXMPLE-CUA.EXAMPLE"],
)
def test_a_non_ascii_domain_is_kept_in_its_ascii_form_so_that_every_spelling_is_one_address(address: str) -> None:
    normalized = normalize_email(address)
    assert normalized == "jose@xn--exmple-cua.example"
    normalized.encode("ascii")  # what an SMTP server without SMTPUTF8 takes


def test_the_import_rejects_the_row_with_the_reason_and_keeps_the_others() -> None:
    data = "email,first_name\njosé@exämple.example,José\njose@exämple.example,Jose\n".encode()
    parsed = parse_leads_csv(data)
    assert [row.lead.email for row in parsed.rows] == ["jose@xn--exmple-cua.example"]
    (error,) = parsed.errors
    assert error.row == 2
    assert "SMTPUTF8" in error.reason


def test_cadence_leads_import_writes_the_refused_address_to_the_rejects_file(run_cli: Cli, tmp_path: Path) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita", "--now", NOW)
    source = tmp_path / "leads.csv"
    source.write_text("email,first_name\njosé@exämple.example,José\nann@acme.example,Ann\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"

    result = run_cli("leads", "import", str(source), "--rejects", str(rejects), "--now", NOW, "--json", expect=None)

    assert result.json()["rejected"] == 1
    assert "Traceback" not in result.stderr
    rows = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    assert [(row["email"], "SMTPUTF8" in row["reason"]) for row in rows] == [("josé@exämple.example", True)]
