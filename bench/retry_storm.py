"""Retry storms against ``xinbao serve``: what N callers released at the same instant get
back, and what the server stored, on loopback from the outside (printed, never asserted).

    .venv/bin/python bench/retry_storm.py [--callers 10] [--pay-callers 50] [--workers 1]
                                          [--database-url URL] [--keep]
    .venv/bin/python bench/retry_storm.py --smoke   # 4 callers a storm, 4 on the claim
    (or: .tools/bin/uv run python bench/retry_storm.py [--smoke] [--database-url URL])

Set-up (not part of any storm), through the use cases in this process as the other bench
scripts do: a fresh SQLite database in a temporary folder (or the empty one that
``--database-url`` names, e.g. PostgreSQL), the shipped catalogue, a funder (BANK-A, under
its agreement for CONSUMER-G), paid-in capital, and one open claim made as the first day in
README makes one: an application submitted, decided by the risk approval engine, its policy
issued on the disbursed loan, the first installment reported missed and the end-of-day
batch run past the product's trigger (the claim is opened by the system, so the payer passes
four-eyes). Three API clients: the funder's own (``funder`` role: submits and searches
applications), a claims approver (``claims_approver``: claim.pay) and an auditor (reads the
audit trail and the trial balance). The server's per-client rate limit is lifted.

Then ``xinbao serve`` runs on 127.0.0.1 on a free port, in its own process, and each storm
is N threads, each with its own keep-alive connection (opened beforehand), released together
by a barrier:

a. ``POST /v1/applications``: one Idempotency-Key, one body, N times;
b. one Idempotency-Key, N bodies (N different ``external_ref``, one borrower);
c. one body without a key, N times;
d. ``POST /v1/claims/{id}/pay`` on the one open claim, ``--pay-callers`` times.

One application of another borrower is submitted first, alone, to warm the server up. Each
storm prints one line: the status codes answered (``201 x10``), how many were 5xx, and
what was stored: the applications of that storm's borrower (``POST /v1/applications/search``)
and the distinct application ids answered; for the claim, its ``ClaimPaid`` records in the
audit trail (``GET /v1/audit/records``), the ledger's ``PayClaim`` journal entries on it (no
route or command lists entries, so these are read through the ledger's repository in this
process) and the claim's status (``GET /v1/claims/{id}``). Last, the trial balance's total
(``GET /v1/ledger/trial-balance``; must be 0) and whether the audit trail's hash chain is
intact (``GET /v1/audit/verify``). Where a storm got a 5xx, the first such answer and the
server log's last exception line are printed under it.

``--smoke`` runs the same path with 4 callers a storm and 4 on the claim, in seconds.
``--workers`` starts that many server processes (``xinbao serve --workers``). The run's
folder (database, server log) is removed afterwards, unless ``--keep`` is given or the run
fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ON = date(2025, 3, 1)  # applications' date; the claim's loan is disbursed the day after
FUNDER = "BANK-A"
PRODUCT = "CONSUMER-G"
SHA = "ab" * 32
CLIENTS = {"funder": ("bench-storm-funder", ["funder"], FUNDER),
           "payer": ("bench-storm-payer", ["claims_approver"], None),
           "auditor": ("bench-storm-auditor", ["auditor"], None)}


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (connection error, timeout)
    body: Any
    seconds: float


@dataclass(frozen=True)
class Storm:
    answers: list[Answer]
    seconds: float  # from the release to the last answer

    def codes(self) -> str:
        counts = Counter("error" if a.status is None else str(a.status) for a in self.answers)
        return ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))

    def five_xx(self) -> list[Answer]:
        return [a for a in self.answers if a.status is not None and a.status >= 500]

    def ids(self) -> set[int]:
        return {a.body["id"] for a in self.answers
                if a.status is not None and a.status < 300 and isinstance(a.body, dict)
                and "id" in a.body}


# --- set-up, in this process, through the use cases -------------------------------------

def _person(seed: int) -> dict[str, str]:
    from xinbao.simulation.identities import IdentityFactory

    ids = IdentityFactory(seed)
    return {"name": ids.person_name(),
            "id": ids.resident_id(born_between=(date(1970, 1, 1), date(1998, 1, 1))),
            "phone": ids.phone(), "card": ids.bank_card()}


def application_body(person: dict[str, str], ref: str) -> dict[str, Any]:
    """The JSON of a valid consumer application of BANK-A (the shape of
    ``tests/integration/test_api.py``'s ``application_body()``)."""
    return {
        "funder_code": FUNDER, "external_ref": ref, "product_code": PRODUCT,
        "borrower_kind": "individual", "borrower_name": person["name"],
        "borrower_id_number": person["id"], "borrower_phone": person["phone"],
        "borrower_bank_card": person["card"], "amount_fen": 3_600_000, "term_months": 12,
        "annual_rate": "0.12", "repayment_method": "equal_installment",
        "applied_on": ON.isoformat(), "monthly_income_fen": 2_000_000,
        "employment": "salaried",
        "evidence": [{"kind": "consent", "reference": f"archive://{ref}/consent.pdf",
                      "sha256": SHA},
                     {"kind": "sales_recording", "reference": f"archive://{ref}/call.mp3",
                      "sha256": SHA}]}


def prepare(url: str) -> tuple[Any, int, dict[str, tuple[str, str]]]:
    """The database with one open claim: (container, claim id, role -> (client id, secret))."""
    from xinbao.bootstrap import bootstrap
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import RegisterFunder
    from xinbao.catalogue.model.parties import FunderKind, PartyKind
    from xinbao.catalogue.model.products import RepaymentMethod
    from xinbao.config import Settings
    from xinbao.iam import services as accounts
    from xinbao.ledger import services as ledger
    from xinbao.ledger.commands import InjectCapital
    from xinbao.parameters import load_product_catalogue
    from xinbao.policy import queries as policy_queries
    from xinbao.policy import services as policies
    from xinbao.policy.commands import IssuePolicy
    from xinbao.risk import approval
    from xinbao.risk.commands import ApproveApplications
    from xinbao.servicing import services as servicing
    from xinbao.servicing.commands import RecordMissedInstallment, RunEndOfDay
    from xinbao.simulation.identities import IdentityFactory
    from xinbao.underwriting import services as applications
    from xinbao.underwriting.commands import SubmitApplication, SubmitApplicationFile
    from xinbao.underwriting.model import Evidence, EvidenceKind, Profile

    c = bootstrap(replace(Settings.from_env(), database_url=url), upgrade=True)
    ledger.inject_capital(InjectCapital(100_000_000_000, date(2025, 1, 1), "capital:bench"),
                          c.uow())
    for cmd in load_product_catalogue():
        catalogue.register_product(cmd, c.uow())
    ids = IdentityFactory(7)
    catalogue.register_funder(RegisterFunder(FUNDER, "示例银行", ids.credit_code(),
                                             FunderKind.BANK, True, Decimal("0.05"),
                                             (PRODUCT,), effective_from=date(2025, 1, 1)),
                              c.uow())
    rows = []
    for i in range(5):  # a few borrowers, in case the engine declines or refers one
        p = _person(100 + i)
        rows.append(SubmitApplication(
            funder_code=FUNDER, external_ref=f"CLAIM-{i}", product_code=PRODUCT,
            borrower_kind=PartyKind.INDIVIDUAL, borrower_name=p["name"],
            borrower_id_number=p["id"], borrower_phone=p["phone"],
            borrower_bank_card=p["card"], amount_fen=3_600_000, term_months=12,
            annual_rate=Decimal("0.12"), repayment_method=RepaymentMethod.EQUAL_INSTALLMENT,
            applied_on=ON, profile=Profile(monthly_income_fen=2_000_000,
                                           employment="salaried", device_id=f"DEV-C{i}"),
            evidence=(Evidence(EvidenceKind.CONSENT, f"archive://C{i}/c", SHA),
                      Evidence(EvidenceKind.SALES_RECORDING, f"archive://C{i}/s", SHA))))
    submitted = applications.submit_application_file(SubmitApplicationFile(tuple(rows)),
                                                     c.uow())
    decided = approval.approve_applications(
        ApproveApplications(tuple(a.id for a in submitted.accepted), ON), c.uow(), c.risk)
    approved = [r.application.id for r in decided if r.policy is not None]
    if not approved:
        raise SystemExit("the engine approved none of the set-up's applications")
    quote = policy_queries.policy_of_application(c.uow(), approved[0])
    disbursed = ON + timedelta(days=1)
    policy = policies.issue_policy(IssuePolicy(policy_id=quote.id, contract_no="LN-STORM-1",
                                               disbursed_on=disbursed, on=disbursed), c.uow())
    assert policy.loan_id is not None
    servicing.record_missed_installment(
        RecordMissedInstallment(policy.loan_id, 1, disbursed + timedelta(days=32)), c.uow())
    report = servicing.run_end_of_day(RunEndOfDay(disbursed + timedelta(days=140)), c.uow())
    if not report.claims_opened:
        raise SystemExit("the end-of-day batch opened no claim")
    now = datetime.now(UTC).replace(tzinfo=None)
    clients = {}
    for role, (client_id, roles, funder) in CLIENTS.items():
        _, secret = accounts.add_client(accounts.AddClient(client_id, "bench", roles, funder),
                                        c.uow(), c.credentials, now=now)
        clients[role] = (client_id, secret)
    return c, report.claims_opened[0], clients


def pay_entries(container: Any, claim_id: int) -> int:
    """The ledger's PayClaim journal entries on the claim (read through the repository: no
    route or command lists journal entries)."""
    from xinbao.claims.postings import claim_reference

    with container.uow() as u:
        return sum(e.source_command == "PayClaim"
                   for e in u.ledger.entries(reference=claim_reference(claim_id)))


# --- HTTP -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(conn: http.client.HTTPConnection, method: str, path: str,
          body: Any = None, headers: dict[str, str] | None = None) -> Answer:
    started = time.perf_counter()
    try:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        conn.request(method, path, data, {"Content-Type": "application/json",
                                          **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return Answer(None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Answer(response.status, parsed, time.perf_counter() - started)


class Api:
    """One caller's keep-alive connection with its bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def __call__(self, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None) -> Answer:
        return _call(self.conn, method, path, body,
                     {"Authorization": f"Bearer {self.token}", **(headers or {})})

    def close(self) -> None:
        self.conn.close()


def _token(port: int, client_id: str, secret: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/oauth/token", f"grant_type=client_credentials&client_id="
                 f"{client_id}&client_secret={secret}",
                 {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    if response.status != 200:
        raise SystemExit(f"no token for {client_id}: {response.status} {answer}")
    return answer["access_token"]


def storm(port: int, token: str, n: int,
          request: Callable[[int], tuple[str, str, Any, dict[str, str]]]) -> Storm:
    """N threads, each with its own connection (opened first), released together; request(i)
    is caller i's (method, path, body, headers)."""
    answers: list[Answer | None] = [None] * n
    released: list[float] = []
    barrier = threading.Barrier(n, action=lambda: released.append(time.perf_counter()))
    finished = [0.0] * n

    def caller(i: int) -> None:
        api = Api(port, token)
        with contextlib.suppress(OSError):  # the request below reports it
            api.conn.connect()
        method, path, body, headers = request(i)
        barrier.wait()
        answers[i] = api(method, path, body, headers)
        finished[i] = time.perf_counter()
        api.close()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Storm([a for a in answers if a is not None], max(finished) - released[0])


def _server_exception(log: Path) -> str:
    """The last line of the server log that names an exception, if any."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()
             if ("Error" in line or "Exception" in line) and not line.startswith(" ")]
    return lines[-1][:300] if lines else "(none in the server log)"


def _print_storm(label: str, s: Storm, stored: str, log: Path) -> None:
    print(f"{label}: {s.codes()}; 5xx {len(s.five_xx())}; {stored}; "
          f"{s.seconds * 1000:.0f} ms", flush=True)
    if s.five_xx():
        first = s.five_xx()[0]
        print(f"  first 5xx: {first.status} {json.dumps(first.body, ensure_ascii=False)[:300]}")
        print(f"  server log: {_server_exception(log)}")
    errors = [a for a in s.answers if a.status is None]
    if errors:
        print(f"  first connection error: {errors[0].body}")


def run_storms(port: int, tokens: dict[str, str], claim_id: int, container: Any,
               callers: int, pay_callers: int, log: Path) -> None:
    funder = Api(port, tokens["funder"])
    auditor = Api(port, tokens["auditor"])
    payer = Api(port, tokens["payer"])
    run = uuid.uuid4().hex[:8]
    warm = funder("POST", "/v1/applications", application_body(_person(1000), f"WARM-{run}"))
    if warm.status != 201:  # the storms below print what they get; this only warms up
        print(f"warm-up application: {warm.status} {str(warm.body)[:300]}")

    def stored(person: dict[str, str], s: Storm) -> str:
        found = funder("POST", "/v1/applications/search", {"id_number": person["id"]})
        count = len(found.body) if found.status == 200 else f"? ({found.status})"
        return f"applications stored {count}; ids answered {len(s.ids())}"

    def key_headers(key: str) -> dict[str, str]:
        return {"Idempotency-Key": key}

    # a. one key, one body
    person = _person(1001)
    body, key = application_body(person, f"STORM-A-{run}"), f"storm-a-{run}"
    s = storm(port, tokens["funder"], callers,
              lambda i: ("POST", "/v1/applications", body, key_headers(key)))
    _print_storm("one key, one body", s, stored(person, s), log)

    # b. one key, N bodies (different external_ref, one borrower)
    person = _person(1002)
    key = f"storm-b-{run}"
    s = storm(port, tokens["funder"], callers,
              lambda i: ("POST", "/v1/applications",
                         application_body(person, f"STORM-B-{run}-{i}"), key_headers(key)))
    _print_storm(f"one key, {callers} bodies", s, stored(person, s), log)

    # c. one body, no key
    person = _person(1003)
    body = application_body(person, f"STORM-C-{run}")
    s = storm(port, tokens["funder"], callers,
              lambda i: ("POST", "/v1/applications", body, {}))
    _print_storm("no key, one body", s, stored(person, s), log)

    # d. one open claim paid by many callers
    claim = payer("GET", f"/v1/claims/{claim_id}")
    on = claim.body["opened_on"] if claim.status == 200 else None
    s = storm(port, tokens["payer"], pay_callers,
              lambda i: ("POST", f"/v1/claims/{claim_id}/pay", {"on": on}, {}))
    records = auditor("GET", f"/v1/audit/records?limit=1000&actor=client:{CLIENTS['payer'][0]}")
    paid_events = (sum(r["name"] == "ClaimPaid" and r["aggregate_id"] == claim_id
                       for r in records.body) if records.status == 200
                   else f"? ({records.status})")
    after = payer("GET", f"/v1/claims/{claim_id}")
    status = after.body.get("status") if after.status == 200 else f"? ({after.status})"
    _print_storm(f"claim pay, {pay_callers} callers", s,
                 f"ClaimPaid events {paid_events}; PayClaim journal entries "
                 f"{pay_entries(container, claim_id)}; claim {status}", log)

    tb = auditor("GET", "/v1/ledger/trial-balance")
    if tb.status == 200:
        total = tb.body["total_debit_fen"] - tb.body["total_credit_fen"]
        print(f"trial balance total (must be 0): {total / 100:,.2f} "
              f"(balanced {tb.body['balanced']})")
    else:
        print(f"trial balance total (must be 0): ? ({tb.status})")
    verify = auditor("GET", "/v1/audit/verify")
    if verify.status == 200:
        print(f"audit trail intact: {verify.body['intact']} "
              f"({verify.body['records']:,} records)")
    else:
        print(f"audit trail intact: ? ({verify.status})")
    for api in (funder, auditor, payer):
        api.close()


def _wait_ready(port: int, log: Path, workers: int, server: subprocess.Popen) -> None:
    """/health answers, and every server process has said it listens (each logs it once its
    application is loaded)."""
    said = "Uvicorn running on" if workers == 1 else " listening on http://"
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}); see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        if ok and log.read_text(errors="replace").count(said) >= workers:
            return
        time.sleep(0.2)
    raise SystemExit(f"the server did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=10,
                        help="concurrent callers in each application storm")
    parser.add_argument("--pay-callers", type=int, default=50,
                        help="concurrent callers paying the one claim")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (xinbao serve --workers)")
    parser.add_argument("--database-url", default=None,
                        help="an empty database instead of a fresh SQLite file")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder (database, server log) after the run")
    parser.add_argument("--smoke", action="store_true",
                        help="4 callers a storm and 4 on the claim: the same path in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.callers, args.pay_callers = 4, 4
    work = Path(tempfile.mkdtemp(prefix="xinbao-bench-storm-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    env = {**os.environ, "XINBAO_DATABASE_URL": url,
           "XINBAO_SECRETS_FILE": str(work / "secrets.toml"),
           "XINBAO_MODELS_DIR": str(work / "models"), "XINBAO_LOG_LEVEL": "WARNING",
           "XINBAO_RATE_LIMIT_PER_SECOND": "1000000", "XINBAO_RATE_LIMIT_BURST": "1000000"}
    os.environ.update(env)
    print(f"Preparing one open claim and three API clients in {url.split(':')[0]} …",
          flush=True)
    container, claim_id, clients = prepare(url)
    log = work / "server.log"
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "xinbao"), "serve", "--port", str(port),
         *(["--workers", str(args.workers)] if args.workers > 1 else [])], env=env,
        stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        _wait_ready(port, log, args.workers, server)
        tokens = {role: _token(port, *clients[role]) for role in clients}
        print(f"xinbao serve on 127.0.0.1:{port}, {args.workers} process"
              f"{'es' if args.workers > 1 else ''}, {url.split(':')[0]}; {args.callers} "
              f"callers a storm, {args.pay_callers} paying claim {claim_id}", flush=True)
        run_storms(port, tokens, claim_id, container, args.callers, args.pay_callers, log)
    except BaseException:
        args.keep = True  # what went wrong is in the server's log
        raise
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        container.close()
        if args.keep:
            print(f"Work folder kept: {work} (server log: {log})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
