"""index.html in a real browser: Debian's headless chromium, driven by selenium and chromedriver.

The output folder is served by the project's own server (serve.make_app) on 127.0.0.1, as a
reader would reach it. The page's thumbnails are served from the same folder, so the browser
talks to no other host. Screenshots of every layout go to the test's tmp_path, and also to
$AGGREGATOR_SCREENSHOTS when that names a folder (to look at them).

Chromium and chromedriver come from `apt-get install chromium chromium-driver` (.ci/run does it).
Without them these tests are skipped on a developer machine, and fail in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import struct
import threading
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from aggregator.models import Carrier, Item, Story, Topic
from aggregator.publish import PublishSettings, publish_index, publish_topic
from aggregator.serve import make_app, start

CHROMIUM = next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)
CHROMEDRIVER = shutil.which("chromedriver")
NO_BROWSER = "no chromium/chromedriver on PATH (apt-get install chromium chromium-driver; .ci/run does)"

# Without the networking flags chromium calls Google hosts (updates, sync, field trials) on start.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
)
PHONE = (375, 812)
DESKTOP = (1280, 800)
FEED_TYPES = {
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
    ".opml": "text/x-opml",
}


@dataclass
class Site:
    base_url: str
    folder: Path


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain one-colour PNG (https://www.w3.org/TR/png/), so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def story(n: int, title: str, source: Carrier, thumbnail: str | None, hours_ago: int) -> Story:
    published = datetime(2021, 7, 6, 12, tzinfo=UTC) - timedelta(hours=hours_ago)
    item = Item(
        source_id=source.source_id,
        key=f"k{n}",
        link=f"{source.link}{n}",
        url_key=f"{source.link}{n}",
        title=title,
        author=None,
        published=published,
        updated=None,
        content_html=f"<p>{title}</p>",
        text=title,
        categories=("资讯",),
        thumbnail=thumbnail,
        content_hash=f"h{n}",
    )
    return Story(id=f"s{n}", item=item, carriers=[source], first_seen=published)


def site_topics(base_url: str) -> list[tuple[Topic, list[Story]]]:
    """Three topics: Chinese and English stories with wide, tall and missing thumbnails, an
    unbreakable title, and an empty topic."""
    oschina = Carrier(
        "oschina", "开源中国", "https://www.oschina.net/news/rss", "https://www.oschina.net/news/"
    )
    infoq = Carrier("infoq", "InfoQ", "https://feed.infoq.com/", "https://www.infoq.com/news/2021/07/")
    wide, tall = base_url + "thumbs/wide.png", base_url + "thumbs/tall.png"
    ai = [
        story(1, "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？", oschina, wide, 1),
        story(2, "Meta releases an open-source large language model for code", infoq, tall, 2),
        story(3, "百度发布文心大模型 3.0：" + "超大规模知识增强" * 6, oschina, None, 3),
        story(4, "https://example.org/" + "a-very-long-unbroken-url-segment" * 5, infoq, wide, 4),
        story(5, "AI 芯片创业公司完成新一轮融资", oschina, tall, 5),
        story(6, "第六条不在首页显示", oschina, wide, 6),
    ]
    events = [
        story(7, "GOTC 全球开源技术峰会 7 月 9 日在上海举办", oschina, wide, 7),
        story(8, "KubeCon + CloudNativeCon China 2021 schedule announced", infoq, None, 8),
    ]
    return [
        (
            Topic(
                "ai", "AI 人工智能", "人工智能、大模型与机器学习相关的资讯（AI, LLMs and machine learning）"
            ),
            ai,
        ),
        (Topic("oss-events", "开源活动 / Open-source events", "开源峰会、技术大会与 Meetup"), events),
        (Topic("rust", "Rust", ""), []),
    ]


def publish_site(folder: Path, base_url: str) -> None:
    settings = PublishSettings(dir=folder, base_url=base_url, title="技术资讯聚合 · Tech news")
    topics = site_topics(base_url)
    for topic, stories in topics:
        publish_topic(topic, stories, settings)
    publish_index(topics, settings)
    (folder / "thumbs").mkdir()
    (folder / "thumbs" / "wide.png").write_bytes(png(1600, 400, (70, 110, 200)))
    (folder / "thumbs" / "tall.png").write_bytes(png(300, 900, (220, 120, 60)))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The published folder, served by aggregator.serve on 127.0.0.1 from a background thread."""
    folder = tmp_path_factory.mktemp("public")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(start(make_app(folder), "127.0.0.1", 0), loop).result(10)
    port = runner.addresses[0][1]
    base_url = f"http://127.0.0.1:{port}/"
    publish_site(folder, base_url)
    try:
        yield Site(base_url, folder)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):  # CI installs chromium: a missing one is a broken CI, not a skip
            pytest.fail(f"CI must run the browser tests: {NO_BROWSER}", pytrace=False)
        pytest.skip(NO_BROWSER)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def show(driver, url: str, size: tuple[int, int], *, dark: bool = False, phone: bool = False) -> None:
    """Load `url` in a viewport of `size` CSS pixels, as a phone (touch, viewport meta) or not."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)


def screenshot(driver, name: str, folder: Path) -> Path:
    """The whole page, not only the viewport, as a PNG."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    data = base64.b64decode(shot["data"])
    path = folder / name
    path.write_bytes(data)
    if extra := os.environ.get("AGGREGATOR_SCREENSHOTS"):
        Path(extra).mkdir(parents=True, exist_ok=True)
        (Path(extra) / name).write_bytes(data)
    return path


# Measured inside the page: every number the layout checks need, in CSS pixels.
LAYOUT_JS = """
const box = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right,
  top: r.top, width: r.width, height: r.height}; };
return {
  innerWidth: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  bodyWidth: document.body.scrollWidth,
  scripts: document.scripts.length,
  sections: [...document.querySelectorAll('main section')].map((s) => ({id: s.id, ...box(s),
    visible: getComputedStyle(s).visibility === 'visible' && getComputedStyle(s).display !== 'none'})),
  buttons: [...document.querySelectorAll('a.button, nav a')].map((a) => ({text: a.textContent, ...box(a)})),
  images: [...document.querySelectorAll('main img')].map((img) => ({
    src: img.getAttribute('src'), referrer: img.referrerPolicy, loading: img.loading,
    box: box(img), item: box(img.closest('li')), section: box(img.closest('section'))})),
  overflowing: [...document.querySelectorAll('body *')].filter((el) =>
    el.getBoundingClientRect().right > window.innerWidth + 0.5).map((el) => el.outerHTML.slice(0, 80)),
  background: getComputedStyle(document.body).backgroundColor,
};
"""


def errors_in_console(driver) -> list[str]:
    return [
        entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")
    ]


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_every_subscribe_link_resolves(site: Site, browser) -> None:
    show(browser, site.base_url, DESKTOP)
    page = lxml_html.fromstring(browser.page_source)

    alternates = page.xpath("//head/link[@rel='alternate']")
    buttons = page.xpath("//main//a[@class='button']")
    assert [(a.get("href"), a.get("type")) for a in buttons] == [
        (link.get("href"), link.get("type")) for link in alternates
    ]
    assert len(alternates) == 9  # three topics, three formats each
    opml_links = set(page.xpath("//a[@type='text/x-opml']/@href"))
    assert opml_links == {site.base_url + "topics.opml"}
    for link in [*alternates, *buttons, *page.xpath("//a[@type='text/x-opml']")]:
        url = link.get("href")
        assert url.startswith(site.base_url)
        status, content_type, body = fetch(url)
        assert status == 200, url
        assert content_type == FEED_TYPES[Path(url).suffix] + "; charset=utf-8", url
        if link.get("type"):
            assert content_type.startswith(link.get("type")), url
        assert body


@pytest.mark.parametrize(
    ("size", "phone", "dark"),
    [(PHONE, True, False), (PHONE, True, True), (DESKTOP, False, False), (DESKTOP, False, True)],
    ids=["phone", "phone-dark", "desktop", "desktop-dark"],
)
def test_layout(site: Site, browser, tmp_path: Path, size: tuple[int, int], phone: bool, dark: bool) -> None:
    show(browser, site.base_url, size, phone=phone, dark=dark)
    layout = browser.execute_script(LAYOUT_JS)
    name = f"index-{size[0]}{'-dark' if dark else ''}.png"
    shot = screenshot(browser, name, tmp_path)

    assert layout["innerWidth"] == size[0]
    assert layout["scrollWidth"] <= layout["innerWidth"], (layout["overflowing"], shot)
    assert layout["overflowing"] == [], shot
    assert layout["scripts"] == 0
    assert [s["id"] for s in layout["sections"]] == ["topic-ai", "topic-oss-events", "topic-rust"]
    for section in layout["sections"]:
        assert section["visible"] and section["width"] > 0 and section["height"] > 0, section
        assert section["left"] >= 0 and section["right"] <= size[0], section
    for button in layout["buttons"]:
        assert button["height"] >= 44 and button["width"] >= 44, button  # touch targets
    assert len(layout["images"]) == 5  # four of the five AI entries shown, one of the two events
    for image in layout["images"]:
        assert image["referrer"] == "no-referrer" and image["loading"] == "lazy", image
        for container in (image["item"], image["section"]):
            assert container["left"] <= image["box"]["left"], image
            assert image["box"]["right"] <= container["right"], image
        assert image["box"]["height"] <= 64, image
    dark_background = layout["background"] == "rgb(13, 17, 23)"
    assert dark_background is dark, layout["background"]
    assert errors_in_console(browser) == []


def test_thumbnails_load_without_a_referrer(site: Site, browser) -> None:
    show(browser, site.base_url, DESKTOP)
    loaded = browser.execute_script(
        "const img = document.querySelector('main img'); img.scrollIntoView();"
        "return img.decode().then(() => [img.naturalWidth, img.naturalHeight]);"
    )

    assert loaded == [1600, 400]
    assert errors_in_console(browser) == []


def test_the_page_is_byte_identical_for_the_same_input(tmp_path: Path) -> None:
    base_url = "http://127.0.0.1:8080/"
    for name in ("one", "two"):
        settings = PublishSettings(dir=tmp_path / name, base_url=base_url)
        publish_index(site_topics(base_url), settings)

    assert (tmp_path / "one" / "index.html").read_bytes() == (tmp_path / "two" / "index.html").read_bytes()
    assert (tmp_path / "one" / "topics.opml").read_bytes() == (tmp_path / "two" / "topics.opml").read_bytes()
