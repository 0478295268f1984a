"""The watched inbox (``xinbao feed watch``, issue 21), on SQLite and PostgreSQL: a funder's
file with its manifest is loaded with its agreement's mapping and moved to done/ or refused/
with its report; a file without its manifest waits; a second run, or a second watcher at the
same time, applies nothing twice and does not crash."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

from tests import support
from tests.integration.test_feed_mapping import agree_mapping, write_file, xinbao
from xinbao.entrypoints.cli.feeds import sweep


def _watch_once(c, inbox: Path):
    return xinbao(c, "feed", "watch", str(inbox), "--once", "--settle", "0", "--json")


def test_files_go_to_done_or_refused_with_their_reports_and_a_second_run_does_nothing(
        loan, tmp_path):
    c, ln = loan
    agree_mapping(c)
    inbox = tmp_path / "inbox"
    folder = inbox / "BANK-A"
    folder.mkdir(parents=True)
    write_file(folder, "0430.csv", ln, [(1, "TX-1"), (2, "TX-2")])
    write_file(folder, "bad.csv", ln, [(3, "")])
    waiting = write_file(folder, "later.csv", ln, [(3, "TX-3")])
    (folder / "later.csv.manifest.json").unlink()  # still being sent
    shutil.copy(folder / "0430.csv", tmp_path / "again.csv")

    first = _watch_once(c, inbox)
    second = _watch_once(c, inbox)

    assert first.exit_code == 0, first.output
    outcomes = {o["file_name"]: o for o in json.loads(first.stdout)}
    assert set(outcomes) == {"0430.csv", "bad.csv"}
    assert (outcomes["0430.csv"]["status"], outcomes["0430.csv"]["accepted"]) == ("applied", 2)
    assert outcomes["bad.csv"]["status"] == "refused"
    done, refused = folder / "done", folder / "refused"
    assert sorted(p.name for p in done.iterdir()) == [
        "0430.csv", "0430.csv.manifest.json", "0430.csv.report.json"]
    assert sorted(p.name for p in refused.iterdir()) == [
        "bad.csv", "bad.csv.manifest.json", "bad.csv.rejects.csv", "bad.csv.report.json"]
    assert "feed.required" in (refused / "bad.csv.rejects.csv").read_text(encoding="utf-8")
    assert json.loads((done / "0430.csv.report.json").read_text())["accepted"] == 2
    assert waiting.exists()  # no manifest: not taken
    assert json.loads(second.stdout) == []
    with c.uow() as uow:
        assert len(uow.repayments.for_loan(ln.id)) == 2  # type: ignore[arg-type]

    # The same file dropped again under its old name: a repeat, filed beside the first.
    shutil.copy(tmp_path / "again.csv", folder / "0430.csv")
    shutil.copy(done / "0430.csv.manifest.json", folder / "0430.csv.manifest.json")
    third = json.loads(_watch_once(c, inbox).stdout)
    assert [o["status"] for o in third] == ["repeat"]
    assert (done / "0430-2.csv").exists() and (done / "0430-2.csv.report.json").exists()


def test_a_file_refused_at_the_door_goes_to_refused_with_its_rule(loan, tmp_path):
    c, ln = loan
    folder = tmp_path / "BANK-A"
    folder.mkdir()
    write_file(folder, "x.csv", ln, [(1, "TX-1")])
    (folder / "x.csv.manifest.json").write_text("{not json", encoding="utf-8")

    [outcome] = json.loads(_watch_once(c, tmp_path).stdout)

    assert outcome["status"] == "refused" and outcome["refusals"][0][0] == "feed.manifest"
    assert (folder / "refused" / "x.csv").exists()


def test_an_unknown_funders_folder_is_left_alone(loan, tmp_path):
    c, ln = loan
    folder = tmp_path / "NOBODY"
    folder.mkdir()
    write_file(folder, "x.csv", ln, [(1, "TX-1")])

    watched = _watch_once(c, tmp_path)

    assert watched.exit_code == 0 and json.loads(watched.stdout) == []
    assert (folder / "x.csv").exists() and (folder / "x.csv.manifest.json").exists()
    assert not (folder / "refused").exists()


def test_two_watchers_at_once_apply_each_file_once_and_neither_crashes(loan, tmp_path):
    c, ln = loan
    agree_mapping(c)
    folder = tmp_path / "BANK-A"
    folder.mkdir()
    for n in range(1, 4):
        write_file(folder, f"{n:02d}.csv", ln, [(n, f"TX-{n}")])

    handled = support.race(2, lambda _: sweep(c, tmp_path, settle=0))

    names = sorted(o["file_name"] for outcomes in handled for o in outcomes)
    assert names == [f"{n:02d}.csv" for n in range(1, 4)]  # each taken by one watcher
    assert all(o["status"] == "applied" for outcomes in handled for o in outcomes)
    assert sorted(p.name for p in (folder / "done").iterdir() if p.suffix == ".csv") == names
    assert not any((folder / ".claimed").iterdir())
    with c.uow() as uow:
        assert len(uow.repayments.for_loan(ln.id)) == 3  # type: ignore[arg-type]


def test_a_file_still_growing_is_left_for_a_later_look(loan, tmp_path):
    c, ln = loan
    agree_mapping(c)
    folder = tmp_path / "BANK-A"
    folder.mkdir()
    path = write_file(folder, "0430.csv", ln, [(1, "TX-1")])
    complete = path.read_bytes()
    path.write_bytes(complete[:-10])  # the sender is still writing it

    def finish() -> None:
        time.sleep(0.2)
        path.write_bytes(complete)

    writer = threading.Thread(target=finish)
    writer.start()
    first = sweep(c, tmp_path, settle=1.0)
    writer.join()
    assert first == [] and path.exists() and not (folder / "done").exists()

    second = sweep(c, tmp_path, settle=0)

    assert [(o["status"], o["accepted"]) for o in second] == [("applied", 1)]
