"""The HTML pages in a real browser (issue 11): headless Chromium lays out a
feed page, a provider page and the index page of a build with a
200-character unbroken provider name and a very long word in a title, at a
phone's width (390 px) and a desktop's (1280 px); no page may be wider than
the viewport (long words wrap instead). Also two screenshots of the feed
page, at both widths.

The build folder is served over HTTP by ``feedpub.web.create_static_app``
(what ``feedpub serve --static`` runs) in a thread. The product pages have
no script: the measuring is done by a test page of ours, added to the
served folder, that shows each page in an ``<iframe>`` of each width (an
iframe is a viewport: media queries see its width) and writes what it
measured into its DOM, which ``chromium --dump-dom`` prints.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from feedpub.web import create_static_app

WIDTHS = (390, 1280)
#: One unbroken word of 200 characters, as a provider name.
LONG_PROVIDER = "Verylongprovidername" * 10
#: A title with one 120-character word in it.
LONG_TITLE = "Council approves " + "Antidisestablishmentarianism" * 4 + "izationwise plan"

#: The measuring page: every (page, width) in an iframe; after the load
#: event (all iframes loaded), for each: the document's scroll width, its
#: client width (without a vertical scrollbar), and the elements reaching
#: past it or whose content does, for the failure message.
PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>overflow probe</title></head><body>
%s
<pre id="result"></pre>
<script>
addEventListener("load", () => {
  const found = [...document.querySelectorAll("iframe")].map(frame => {
    const root = frame.contentDocument.documentElement;
    const limit = root.clientWidth;
    const wide = [...frame.contentDocument.querySelectorAll("body *")]
      .filter(element => element.getBoundingClientRect().right > limit + 0.5
                         || element.scrollWidth > element.clientWidth + 1 && element.clientWidth > 0)
      .map(element => element.tagName.toLowerCase() + (element.className ? "." + element.className : ""));
    return {page: frame.dataset.page, width: frame.width, client: limit, scroll: root.scrollWidth,
            wide: wide.slice(0, 8)};
  });
  document.getElementById("result").textContent = JSON.stringify(found);
});
</script>
</body></html>
"""


@pytest.fixture
def chromium(require_tool: Callable[[str], str]) -> str:
    return require_tool("chromium")


@pytest.fixture
def site(chromium: str, content_dir: Path, seeds_dir: Path, write_article: Callable[..., Path],
         build: Callable[..., object], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The seeds (drafts shown) and one article from a provider with a
    200-character name and a long word in its title, built and served over
    HTTP; yields the folder and the server's base URL."""
    shutil.copytree(seeds_dir, content_dir, dirs_exist_ok=True)
    write_article("long.md", "A body paragraph " + "withaverylongunbrokenword" * 8 + ".", title=LONG_TITLE,
                  provider={"name": LONG_PROVIDER, "domain": "long.example"},
                  publishedDateTime="2024-05-01T12:00:00Z", excerpt="Short excerpt " + "x" * 150,
                  images=[{"url": "https://long.example/wide.jpg", "width": 3000, "height": 400}])
    public = tmp_path / "public"
    build(content_dir, "--unpublished", out=public)
    server = make_server("127.0.0.1", 0, create_static_app(public), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield public, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with a profile of its own, no network beyond
    127.0.0.1 (images of other hosts fail at once), device scale 1."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--force-device-scale-factor=1", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={profile}", *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-4000:])
    return result


def measure(chromium: str, public: Path, base_url: str, tmp_path: Path, pages: list[str]
            ) -> dict[tuple[str, int], dict[str, object]]:
    """Layout of each page of `pages` at each of WIDTHS, by page and width."""
    frames = "\n".join(
        f'<iframe style="border:0;display:block" width="{width}" height="900" data-page="{page}" '
        f'src="{page}"></iframe>'
        for page in pages for width in WIDTHS
    )
    (public / "overflow-probe.html").write_text(PROBE % frames, encoding="utf-8")
    dom = run_chromium(chromium, tmp_path / "profile-probe", "--window-size=1400,1000", "--dump-dom",
                       f"{base_url}/overflow-probe.html").stdout
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert match and match[1], dom[-2000:]
    return {(found["page"], int(found["width"])): found for found in json.loads(match[1])}


def provider_page(public: Path) -> str:
    """Path of the long-named provider's page."""
    (page,) = [path for path in (public / "providers").glob("*.html") if LONG_PROVIDER in path.read_text()]
    return "/" + page.relative_to(public).as_posix()


def test_pages_never_overflow_at_phone_or_desktop_width(
    chromium: str, site: tuple[Path, str], tmp_path: Path
) -> None:
    """The feed page of every entry, the long-named provider's page, and the
    index, which lists the long name in its table of feeds, where issue 11
    found it widening the page on a phone. A control page (the long word,
    no wrapping rule) shows that the measuring sees an overflow."""
    public, base_url = site
    pages = ["/all.html", provider_page(public), "/"]
    assert LONG_TITLE in (public / "all.html").read_text()
    assert LONG_PROVIDER in (public / "index.html").read_text()
    (public / "control.html").write_text(f"<!DOCTYPE html><title>wide</title><p>{LONG_PROVIDER}</p>",
                                         encoding="utf-8")
    layout = measure(chromium, public, base_url, tmp_path, [*pages, "/control.html"])
    control = layout.pop(("/control.html", 390))
    assert control["scroll"] > control["client"] == 390 and "p" in control["wide"], control
    layout.pop(("/control.html", 1280))
    assert set(layout) == {(page, width) for page in pages for width in WIDTHS}
    for found in layout.values():
        assert found["client"] == int(found["width"]), found  # the iframe is the viewport asked for
        assert found["scroll"] <= found["client"], found


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the pixel data has
    (1 for a blank image) of an 8-bit PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8:offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels[1:width * 3 * 50]))  # the first rows, filter bytes and all


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshot_of_a_feed_page(chromium: str, site: tuple[Path, str], tmp_path: Path, width: int) -> None:
    _, base_url = site
    shot = tmp_path / f"all-{width}.png"
    run_chromium(chromium, tmp_path / f"profile-{width}", f"--window-size={width},2000",
                 f"--screenshot={shot}", f"{base_url}/all.html")
    width_found, height, colours = png_size_and_colours(shot.read_bytes())
    assert (width_found, height) == (width, 2000)
    assert colours > 2  # text drawn, not a blank page
