"""The id ledger (issue 13, items 1 and 2): ids that never change when a
``sourceUrl`` is edited, and an ``updated`` that moves only with real edits.

The ledger is ``<content>/.feedpub-ids``: a sorted, tab-separated file of
eight fields a line, written by ``build`` (never by ``check`` nor by an
``--unpublished`` preview), read before ids are assigned.
"""

from __future__ import annotations

import difflib
import json
import logging
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from email.utils import format_datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from click.testing import Result
from lxml import etree

from feedpub.cli import cli

BASE_URL = "https://feeds.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
LEDGER = ".feedpub-ids"
#: Build instants: a rebuild "later" is a rebuild with a later --now.
T1, T2, T3 = "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z"
T4 = "2024-06-04T00:00:00Z"


def related_item(url: str, title: str = "Coverage elsewhere", provider: str = "Other Outlet",
                 ) -> dict[str, Any]:
    return {
        "title": title, "sourceUrl": url, "publishedDateTime": "2024-05-01T11:00:00Z",
        "provider": {"name": provider, "domain": "other.example"},
    }


def entries(out: Path, key: str = "all") -> dict[str, list[tuple[str, str]]]:
    """(id, link) of every entry of feed `key`, per format, as each format
    writes them: Atom id and link, RSS guid and link, JSON id and url."""
    atom = etree.parse(str(out / f"{key}.atom")).getroot()
    rss = etree.parse(str(out / f"{key}.rss")).getroot()
    document = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
    return {
        "atom": [(entry.findtext(f"{ATOM}id"), entry.find(f"{ATOM}link").get("href"))
                 for entry in atom.iter(f"{ATOM}entry")],
        "rss": [(item.findtext("guid"), item.findtext("link")) for item in rss.iter("item")],
        "json": [(item["id"], item["url"]) for item in document["items"]],
    }


def id_of(out: Path, link: str) -> str:
    """The id the entry linking to `link` has, the same in every format."""
    found = {fmt: [i for i, url in pairs if url == link] for fmt, pairs in entries(out).items()}
    ids = {fmt: values[0] for fmt, values in found.items() if len(values) == 1}
    assert len(ids) == 3 and len(set(ids.values())) == 1, found
    return ids["atom"]


def ledger_lines(content: Path) -> list[str]:
    """The ledger's lines, its comment header left out."""
    text = (content / LEDGER).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.startswith("#")]


def changed_lines(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """The lines the ledger lost and gained, by difflib."""
    diff = list(difflib.unified_diff(before, after, n=0, lineterm=""))
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, list(args))


def refresh(app: Any) -> None:
    """What a server's watcher and version poller do after an edit: refresh
    the store, then serve its new version (the app runs without them)."""
    live = app.extensions["feedpub"]
    live.refresh()
    live.catch_up()


@pytest.mark.parametrize("position", ["article", "related item"])
def test_an_edited_source_url_keeps_the_id_in_every_format_and_check_warns(
    position: str, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    runner: CliRunner, tmp_path: Path,
) -> None:
    """https://a.example/x → ?ref=home → https://b.example/x: the entry keeps
    its first id (Atom id, RSS guid, JSON id), links to the new URL, `check`
    warns, and each edit changes exactly one line of the ledger."""
    out = tmp_path / "public"

    def write(url: str) -> None:
        if position == "article":
            write_article("story.md", sourceUrl=url, related=[related_item("https://r.example/one")])
        else:
            write_article("story.md", sourceUrl="https://n.example/story", related=[related_item(url)])

    write("https://a.example/x")
    build(content_dir, "--now", T1)
    assert id_of(out, "https://a.example/x") == "https://a.example/x"
    assert "warning" not in invoke(runner, "check", str(content_dir)).output
    for step, url in enumerate(["https://a.example/x?ref=home", "https://b.example/x"]):
        before = ledger_lines(content_dir)
        write(url)
        build(content_dir, "--now", [T2, T3][step])
        assert id_of(out, url) == "https://a.example/x"
        checked = invoke(runner, "check", str(content_dir))
        assert checked.exit_code == 0, checked.output
        assert f"sourceUrl {url} differs from the id https://a.example/x" in checked.output
        # At the article's sourceUrl (line 2 as written); a related item's line is not known.
        where = "story.md:2: warning:" if position == "article" else "story.md: warning:"
        assert where in checked.output, checked.output
        assert f"feedpub ids --reset {url}" in checked.output
        removed, added = changed_lines(before, ledger_lines(content_dir))
        assert len(removed) == len(added) == 1, (removed, added)
        assert added[0].split("\t")[:2] == ["https://a.example/x", url]
    # Nothing edited: the ledger is left as it is.
    before = (content_dir / LEDGER).read_bytes()
    build(content_dir, "--now", T3)
    assert (content_dir / LEDGER).read_bytes() == before


@pytest.mark.parametrize(
    ("title", "provider", "kept"),
    [
        ("Old story", "New Outlet", True),
        ("Another story", "Old Outlet", True),
        ("Another story", "New Outlet", False),
    ],
    ids=["same-title", "same-provider", "neither"],
)
def test_a_new_url_keeps_the_id_only_with_the_same_title_or_provider(
    title: str, provider: str, kept: bool, content_dir: Path, write_article: Callable[..., Path],
    build: Callable[..., Result], runner: CliRunner, tmp_path: Path,
) -> None:
    """A URL edited at the same file and position keeps the id if the title
    or the provider stays; with both changed another story took the place,
    and it is published under a new id (its canonical URL)."""
    write_article("story.md", sourceUrl="https://a.example/x", title="Old story",
                  provider={"name": "Old Outlet", "domain": "old.example"})
    build(content_dir)
    write_article("story.md", sourceUrl="https://b.example/y", title=title,
                  provider={"name": provider, "domain": "new.example"})
    build(content_dir)
    out = tmp_path / "public"
    expected = "https://a.example/x" if kept else "https://b.example/y"
    assert id_of(out, "https://b.example/y") == expected
    assert len(entries(out)["atom"]) == 1
    entry_lines = [line for line in ledger_lines(content_dir) if not line.startswith("tag:")]
    assert [line.split("\t")[0] for line in entry_lines] == [expected]
    assert ("differs from the id" in invoke(runner, "check", str(content_dir)).output) == kept


def test_ids_reset_gives_the_entry_its_canonical_url_as_id(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result], runner: CliRunner,
    tmp_path: Path,
) -> None:
    write_article("story.md", sourceUrl="https://a.example/x")
    build(content_dir)
    write_article("story.md", sourceUrl="https://b.example/x?utm_source=feed")
    build(content_dir)
    out = tmp_path / "public"
    assert id_of(out, "https://b.example/x?utm_source=feed") == "https://a.example/x"

    reset = invoke(runner, "ids", str(content_dir), "--reset", "https://b.example/x?utm_source=feed")
    assert reset.exit_code == 0, reset.output
    assert "now has the id https://b.example/x (it was https://a.example/x)" in reset.output
    build(content_dir)
    assert id_of(out, "https://b.example/x?utm_source=feed") == "https://b.example/x"
    assert "differs from the id" not in invoke(runner, "check", str(content_dir)).output

    again = invoke(runner, "ids", str(content_dir), "--reset", "https://b.example/x")
    assert again.exit_code == 0 and "nothing to do" in again.output
    unknown = invoke(runner, "ids", str(content_dir), "--reset", "https://c.example/none")
    assert unknown.exit_code == 1
    assert "no entry of the id ledger" in unknown.output and "Traceback" not in unknown.output


@pytest.mark.parametrize("store", ["fresh clone", "same store"])
def test_without_a_ledger_ids_are_canonical_urls_and_updated_is_published(
    store: str, content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    tmp_path: Path,
) -> None:
    """A missing ledger starts empty: what feedpub published before the
    ledger existed, even after the history that made the ledger is lost,
    whether the site store is new (a fresh clone) or remembers it."""
    write_article("story.md", sourceUrl="https://a.example/x?utm_medium=rss#top", excerpt="First words")
    assert not (content_dir / LEDGER).exists()
    build(content_dir, "--now", T1)
    assert id_of(tmp_path / "public", "https://a.example/x?utm_medium=rss#top") == "https://a.example/x"
    write_article("story.md", sourceUrl="https://b.example/x", excerpt="Edited words")
    build(content_dir, "--now", T2)
    (content_dir / LEDGER).unlink()
    if store == "fresh clone":
        content = tmp_path / "clone"
        shutil.copytree(content_dir, content)
        build(content, "--no-cache", "--now", T3)
    else:
        content = content_dir
        build(content, "--now", T3)
    out = tmp_path / "public"
    assert id_of(out, "https://b.example/x") == "https://b.example/x"
    entry = feedparser.parse((out / "all.atom").read_bytes()).entries[0]
    assert entry.updated == entry.published == "2024-05-01T12:00:00+00:00"
    item = json.loads((out / "all.json").read_text())["items"][0]
    assert item["date_modified"] == item["date_published"] == "2024-05-01T12:00:00Z"
    assert ledger_lines(content)[0].split("\t")[:2] == ["https://b.example/x", "https://b.example/x"]


@pytest.mark.parametrize(
    ("lines", "bad_line", "message"),
    [
        (["https://a.example/x\thttps://a.example/x\tstory.md#0"], 3, "3 fields, not 8"),
        (
            ["https://a.example/x\thttps://a.example/x\tstory.md#0\tP\tabcd\tabcd\t-\ttag:a.example,2024-05-01:story/x"]
            * 2,
            4,
            "'https://a.example/x' is listed twice",
        ),
    ],
    ids=["wrong-number-of-fields", "duplicate-id"],
)
@pytest.mark.parametrize("command", ["build", "check"])
def test_a_corrupt_ledger_is_an_error_naming_its_line_and_is_left_untouched(
    command: str, lines: list[str], bad_line: int, message: str, content_dir: Path,
    write_article: Callable[..., Path], runner: CliRunner, tmp_path: Path,
) -> None:
    write_article("story.md", sourceUrl="https://a.example/x")
    ledger = content_dir / LEDGER
    ledger.write_text("# a comment\n# another\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    before = ledger.read_bytes()
    args = [command, str(content_dir)]
    if command == "build":
        args += ["--out", str(tmp_path / "public"), "--base-url", BASE_URL]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert f"Error: {ledger}:{bad_line}: " in result.output and message in result.output, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert ledger.read_bytes() == before
    assert not (tmp_path / "public" / "all.atom").exists()


def test_the_server_records_ids_in_the_ledger_too(
    content_dir: Path, write_article: Callable[..., Path], make_app: Callable[..., Any],
) -> None:
    """The refresher of a server writes the ledger as build does: an URL
    edited while it serves keeps its id, in one changed line."""
    write_article("story.md", sourceUrl="https://a.example/x")
    app = make_app()
    client = app.test_client()
    before = ledger_lines(content_dir)
    assert [line.split("\t")[0] for line in before if not line.startswith("tag:")] == ["https://a.example/x"]
    write_article("story.md", sourceUrl="https://b.example/x")
    refresh(app)
    feed = feedparser.parse(client.get("/all.atom").data)
    assert [(entry.id, entry.link) for entry in feed.entries] == [("https://a.example/x", "https://b.example/x")]
    removed, added = changed_lines(before, ledger_lines(content_dir))
    assert len(removed) == len(added) == 1
    assert added[0].split("\t")[:2] == ["https://a.example/x", "https://b.example/x"]


def test_the_ledger_location_is_configurable(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result], tmp_path: Path,
) -> None:
    """``ledger = "PATH"`` in feedpub.toml, relative to that file."""
    (content_dir / "state").mkdir()
    (content_dir / "feedpub.toml").write_text('ledger = "state/ids.tsv"\n', encoding="utf-8")
    write_article("story.md", sourceUrl="https://a.example/x")
    build(content_dir)
    write_article("story.md", sourceUrl="https://b.example/x")
    build(content_dir)
    assert id_of(tmp_path / "public", "https://b.example/x") == "https://a.example/x"
    assert not (content_dir / LEDGER).exists()
    assert "https://a.example/x\thttps://b.example/x\t" in (content_dir / "state" / "ids.tsv").read_text()


def write_unwritable_ledger_setting(content: Path) -> None:
    """Point the ledger where nobody, root included, can create a file: a
    read-only content folder cannot be made for root (no read-only bind
    mount here), but its effect on the ledger is the same."""
    (content / "feedpub.toml").write_text('ledger = "/proc/feedpub-ids"\n', encoding="utf-8")


def test_an_unwritable_ledger_location_still_builds_and_warns(
    content_dir: Path, write_article: Callable[..., Path], feedpub_script: Path, tmp_path: Path,
) -> None:
    write_unwritable_ledger_setting(content_dir)
    write_article("story.md", sourceUrl="https://a.example/x")
    out = tmp_path / "public"
    run = subprocess.run(
        [str(feedpub_script), "build", str(content_dir), "--out", str(out), "--base-url", BASE_URL],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("cannot write the id ledger /proc/feedpub-ids") == 1, run.stderr
    assert id_of(out, "https://a.example/x") == "https://a.example/x"


def test_a_server_that_cannot_write_the_ledger_serves_edits_and_warns_once(
    content_dir: Path, write_article: Callable[..., Path], make_app: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_unwritable_ledger_setting(content_dir)
    write_article("story.md", sourceUrl="https://a.example/x")
    caplog.set_level(logging.WARNING, logger="feedpub")
    app = make_app()
    client = app.test_client()
    for number in range(3):
        write_article("story.md", sourceUrl="https://a.example/x", excerpt=f"Edit {number}" + "!" * number)
        refresh(app)
        assert f"Edit {number}".encode() in client.get("/all.atom").data
    warnings = [r for r in caplog.records if "cannot write the id ledger" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


def test_previews_and_check_never_write_the_ledger(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result], runner: CliRunner,
) -> None:
    write_article("story.md", sourceUrl="https://a.example/x")
    write_article("draft.md", sourceUrl="https://a.example/draft", published=False)
    build(content_dir, "--unpublished")
    assert invoke(runner, "check", str(content_dir)).exit_code == 0
    assert not (content_dir / LEDGER).exists()

    build(content_dir)
    before = (content_dir / LEDGER).read_bytes()
    assert b"https://a.example/draft" not in before  # drafts are not published, so have no id yet
    write_article("story.md", sourceUrl="https://b.example/x", excerpt="Edited")
    write_article("more.md", sourceUrl="https://a.example/more")
    build(content_dir, "--unpublished")
    assert invoke(runner, "check", str(content_dir)).exit_code == 0
    assert (content_dir / LEDGER).read_bytes() == before


def test_the_ledger_stays_sorted_with_eight_fields_a_line(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
) -> None:
    """Also after rebuilds that add lines before, between and after the
    existing ones (the ledger is updated line by line, not rewritten)."""
    write_article("m.md", sourceUrl="https://m.example/1", related=[related_item("https://m.example/2")])
    build(content_dir)
    for name, url in [("a.md", "https://a.example/1"), ("n.md", "https://m.example/15"),
                      ("z.md", "https://z.example/1"), ("tab.md", "https://t.example/1")]:
        provider = {"name": "Tab\\Back slash", "domain": "t.example"} if name == "tab.md" else None
        write_article(name, sourceUrl=url, related=[related_item(url + "/related")],
                      **({"provider": provider} if provider else {}))
        build(content_dir)
        lines = ledger_lines(content_dir)
        assert lines == sorted(lines)
        fields = [line.split("\t") for line in lines]
        assert all(len(parts) == 8 for parts in fields), lines
        ids = [parts[0] for parts in fields]
        assert len(ids) == len(set(ids))
        for parts in fields:
            if parts[0].startswith("tag:"):  # a story's own line
                assert parts[1:5] == ["-"] * 4 and parts[7] == parts[0]
            else:
                assert parts[2].endswith(("#0", "#1")) and parts[7].startswith("tag:")
    assert len([i for i in ids if not i.startswith("tag:")]) == 10
    assert "Tab\\\\Back slash" in (content_dir / LEDGER).read_text()


def test_edits_written_in_place_or_by_copy_leave_a_ledger_that_rebuilds_the_same_feeds(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    read_tree: Callable[[Path], dict[str, bytes]], tmp_path: Path,
) -> None:
    """An edit that changes fields of fixed length rewrites its line in the
    file itself (the file keeps its inode: a 200 MB ledger is not copied for
    one edit); one that adds a line writes a new file. Either way the diff is
    the changed lines, and a build from a fresh copy of the content, ledger
    included, gives the same bytes as the incremental builds."""
    out = tmp_path / "public"
    for name in ("a", "b", "c"):
        write_article(f"{name}.md", sourceUrl=f"https://a.example/{name}", excerpt="First")
    build(content_dir, "--now", T1)
    lines = ledger_lines(content_dir)
    for step, (now, name, excerpt) in enumerate([(T2, "b", "Second"), (T3, "b", "Third"), (T4, "new", "")]):
        inode = (content_dir / LEDGER).stat().st_ino
        write_article(f"{name}.md", sourceUrl=f"https://a.example/{name}", excerpt=excerpt or None)
        build(content_dir, "--now", now)
        changed = ledger_lines(content_dir)
        # Only the lines of the edited entry (and of its story), in place of
        # the old ones; a new article adds its entry's and its story's.
        entry, story = f"https://a.example/{name}", f"tag:a.example,2024-05-01:story/{name}"
        added = {line.split("\t")[0] for line in set(changed) - set(lines)}
        gone = {line.split("\t")[0] for line in set(lines) - set(changed)}
        assert entry in added and added <= {entry, story}, added
        assert gone == (set() if name == "new" else added)
        assert changed == sorted(changed)
        # The time of the edit and the excerpt's digest are of fixed length,
        # the first edit of an entry too (its line had its publication time):
        # in place. A new entry's line is a new file.
        assert ((content_dir / LEDGER).stat().st_ino == inode) == (name != "new"), step
        lines = changed

    copy = tmp_path / "copy"
    shutil.copytree(content_dir, copy)
    build(copy, "--now", T4, "--no-cache", out=tmp_path / "fresh")
    assert read_tree(tmp_path / "fresh") == read_tree(out)


# -- updated from real edits -----------------------------------------------------


def atom_updated(out: Path, key: str = "all") -> tuple[str, dict[str, str]]:
    """The feed's updated, and each entry's by link."""
    root = etree.parse(str(out / f"{key}.atom")).getroot()
    return root.findtext(f"{ATOM}updated"), {
        e.find(f"{ATOM}link").get("href"): e.findtext(f"{ATOM}updated") for e in root.iter(f"{ATOM}entry")
    }


def test_an_edited_excerpt_moves_updated_and_a_rebuild_changes_no_byte(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    read_tree: Callable[[Path], dict[str, bytes]], tmp_path: Path,
) -> None:
    out = tmp_path / "public"
    write_article("edited.md", sourceUrl="https://a.example/edited", excerpt="Before",
                  publishedDateTime="2024-05-01T12:00:00Z", topics=["AI"])
    write_article("other.md", sourceUrl="https://a.example/other", publishedDateTime="2024-05-02T12:00:00Z",
                  topics=["Other"])
    build(content_dir, "--now", T1)
    assert atom_updated(out) == ("2024-05-02T12:00:00+00:00", {
        "https://a.example/other": "2024-05-02T12:00:00+00:00",
        "https://a.example/edited": "2024-05-01T12:00:00+00:00",
    })
    write_article("edited.md", sourceUrl="https://a.example/edited", excerpt="After",
                  publishedDateTime="2024-05-01T12:00:00Z", topics=["AI"])
    build(content_dir, "--now", T2)
    edit_time = "2024-06-02T00:00:00+00:00"
    for key in ("all", "topics/ai", "providers/example-news"):
        updated, by_link = atom_updated(out, key)
        assert updated == edit_time
        assert by_link["https://a.example/edited"] == edit_time
    assert atom_updated(out)[1]["https://a.example/other"] == "2024-05-02T12:00:00+00:00"
    assert atom_updated(out, "topics/other")[0] == "2024-05-02T12:00:00+00:00"
    items = {item["url"]: item for item in json.loads((out / "all.json").read_text())["items"]}
    assert items["https://a.example/edited"]["date_modified"] == "2024-06-02T00:00:00Z"
    assert items["https://a.example/edited"]["date_published"] == "2024-05-01T12:00:00Z"
    assert feedparser.parse((out / "all.rss").read_bytes()).feed.updated == "Sun, 02 Jun 2024 00:00:00 +0000"

    # Rebuilding, even later, changes nothing: updated is when the edit was seen.
    built = read_tree(out)
    ledger = (content_dir / LEDGER).read_bytes()
    again = build(content_dir, "--now", T3)
    assert "0 files written" in again.output, again.output
    assert read_tree(out) == built
    assert (content_dir / LEDGER).read_bytes() == ledger


def test_same_content_ledger_and_now_give_the_same_bytes(
    content_dir: Path, write_article: Callable[..., Path], build: Callable[..., Result],
    read_tree: Callable[[Path], dict[str, bytes]], tmp_path: Path,
) -> None:
    """The ledger carries the history: a clone with it and a fresh store
    builds what the original built."""
    write_article("story.md", sourceUrl="https://a.example/x", excerpt="Before",
                  related=[related_item("https://r.example/1")])
    build(content_dir, "--now", T1)
    write_article("story.md", sourceUrl="https://a.example/x?ref=home", excerpt="After",
                  related=[related_item("https://r.example/1")])
    build(content_dir, "--now", T2)
    clone = tmp_path / "clone"
    shutil.copytree(content_dir, clone)
    build(clone, "--no-cache", "--now", T2, out=tmp_path / "clone-public")
    assert read_tree(tmp_path / "clone-public") == read_tree(tmp_path / "public")
    assert (clone / LEDGER).read_bytes() == (content_dir / LEDGER).read_bytes()


def test_a_served_feed_modified_by_an_edit_answers_if_modified_since_readers(
    content_dir: Path, write_article: Callable[..., Path], make_app: Callable[..., Any],
) -> None:
    """A reader sending only If-Modified-Since (no ETag) sees the edit."""
    write_article("story.md", sourceUrl="https://a.example/x", excerpt="Before")
    app = make_app()
    client = app.test_client()
    first = client.get("/all.atom")
    last_modified = first.headers["Last-Modified"]
    assert parsedate_to_datetime(last_modified) == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert client.get("/all.atom", headers={"If-Modified-Since": last_modified}).status_code == 304

    write_article("story.md", sourceUrl="https://a.example/x", excerpt="After")
    refresh(app)
    after = client.get("/all.atom", headers={"If-Modified-Since": last_modified})
    assert after.status_code == 200
    assert b"After" in after.data
    moved = parsedate_to_datetime(after.headers["Last-Modified"])
    assert moved > parsedate_to_datetime(last_modified)
    assert moved <= datetime.now(UTC)
    later = format_datetime(moved, usegmt=True)
    assert client.get("/all.atom", headers={"If-Modified-Since": later}).status_code == 304
