"""The device's page in a real headless browser (Selenium driving Debian's chromium and
chromium-driver) against `edge-recognize --serve` with a video playing through the loop: the token
opens it, the live image changes, a person enrolled by uploading one photo is named in the events,
and once removed is unknown again; without the token the page is refused.

`UPDATE_SCREENSHOTS=1` also saves the three pages' screenshots into docs/images/ (docs/web.md shows them)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev-serve]')"
)

from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from web_server import SCRIPTS, TOKEN, call, free_port, running  # noqa: E402

from edge_runtime.io.photo_video import SIZE, write_photo_video  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
ANN = sorted((LFW / "enrolled" / "Ann_Veneman").glob("*.jpg"))
STRANGER = sorted((LFW / "strangers").glob("*/*.jpg"))[0]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _browser():
    if not (CHROMIUM and DRIVER):
        why = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,900"):
        options.add_argument(argument)
    return webdriver.Chrome(service=DriverService(DRIVER), options=options)


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.3)
    raise AssertionError(f"not seen within {seconds} s: {what}")


@pytest.fixture(scope="module")
def door(tmp_path_factory) -> Path:
    """A long 640×480 video: Ann's second photo (always in the left half), then a stranger (the right half)."""
    root = tmp_path_factory.mktemp("door")
    write_photo_video([("Ann", ANN[1]), ("unknown", STRANGER)] * 250, root / "door.mp4", 8)
    return root / "door.mp4"


def _shot(driver, name: str, folder: Path) -> None:
    driver.save_screenshot(str(folder / name))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(folder / name, REPO / "docs" / "images" / name)


def test_watch_enrol_see_named_remove_see_unknown_in_a_browser(door, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--provider", "cpu", "-i", str(door),
               "--serve", f"127.0.0.1:{port}"]  # fmt: skip
    driver = _browser()
    try:
        with running(command, port):
            driver.get(f"{url}/?token={TOKEN}")  # once: from then on the HttpOnly cookie
            assert "?token" not in driver.current_url and driver.find_element(By.TAG_NAME, "h1").text == "Live"
            live = driver.find_element(By.CSS_SELECTOR, ".stream img")
            first = _wait(lambda: live.get_property("naturalWidth") and live.screenshot_as_png, 30, "a live frame")
            assert live.get_property("naturalWidth") == SIZE[0]
            second = _wait(lambda: (shot := live.screenshot_as_png) != first and shot, 10, "the live image change")
            assert first != second
            _shot(driver, "web-live.png", tmp_path)

            driver.get(f"{url}/people")
            driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("Ann")
            driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(ANN[0]))
            driver.find_element(By.CSS_SELECTOR, "form[enctype] button").click()
            assert "enrolled Ann" in driver.find_element(By.ID, "said").text
            assert [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#people td.named")] == ["Ann"]
            _wait(lambda: driver.find_element(By.CSS_SELECTOR, "#people img.face").get_property("naturalWidth"), 10,
                  "the enrolled face")  # fmt: skip
            _shot(driver, "web-people.png", tmp_path)

            driver.get(f"{url}/events")  # the page adds events as they come (Server-Sent Events)
            _wait(lambda: "Ann" in _who(driver), 60, "Ann named in the events")
            _wait(lambda: "unknown" in _who(driver), 60, "the stranger in the events")
            _shot(driver, "web-events.png", tmp_path)

            driver.get(f"{url}/people")
            remove = "//form[@action='/people/remove']/button"
            driver.find_element(By.XPATH, remove).click()  # a second step asks first; nothing removed yet
            _wait(lambda: driver.find_elements(By.ID, "confirm-removal"), 30, "the confirmation page")
            assert driver.find_element(By.TAG_NAME, "h1").text == "Remove a person"
            assert "Remove Ann and the 1 image" in driver.find_element(By.TAG_NAME, "main").text
            assert call("GET", f"{url}/api/people")[1] == [{"name": "Ann", "images": 1}]
            driver.find_element(By.LINK_TEXT, "Keep them").click()
            _wait(lambda: driver.find_elements(By.ID, "people"), 30, "the people page again")
            assert [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#people td.named")] == ["Ann"]
            driver.find_element(By.XPATH, remove).click()
            driver.find_element(By.ID, "confirm-removal").click()
            _wait(lambda: driver.find_elements(By.ID, "said"), 30, "the people page after the removal")
            assert "removed Ann" in driver.find_element(By.ID, "said").text
            assert not driver.find_elements(By.CSS_SELECTOR, "#people td.named")
            removed_at = max(e["id"] for e in call("GET", f"{url}/api/events?count=200")[1])
            driver.get(f"{url}/events")
            after = _wait(lambda: [e for e in _left_half_events(url) if e["id"] > removed_at], 60,
                          "Ann's face again after the removal")  # fmt: skip
            assert {e["name"] for e in after} == {"unknown"}
            shown = f"tr[data-id='{after[-1]['id']}']"
            _wait(lambda: driver.find_elements(By.CSS_SELECTOR, shown), 20,
                  f"event {after[-1]['id']} on the page, which shows {_rows(driver)}")  # fmt: skip
            assert driver.find_element(By.CSS_SELECTOR, f"{shown} td.unknown").text == "unknown"

            driver.set_window_size(390, 844)  # a phone: every page fits its width, nothing to scroll sideways
            for page in ("/", "/people", "/events"):
                driver.get(url + page)
                fits = "return document.documentElement.scrollWidth <= window.innerWidth"
                assert driver.execute_script(fits), (
                    page,
                    driver.execute_script("return document.documentElement.scrollWidth"),
                )
            _shot(driver, "web-events-phone.png", tmp_path)  # the last page looked at: events

            driver.delete_all_cookies()  # without the token: refused, the login form instead
            driver.get(f"{url}/people")
            assert driver.find_elements(By.CSS_SELECTOR, "input[name=token]") and not driver.find_elements(
                By.ID, "people"
            )
            assert call("GET", f"{url}/api/streams/door/live.mjpg", token=None)[0] == 401
    finally:
        driver.quit()


def _who(driver) -> list[str]:
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#events tr td:nth-child(2)")]


def _rows(driver) -> list[str]:
    return [row.get_attribute("data-id") for row in driver.find_elements(By.CSS_SELECTOR, "#events tr")]


def _left_half_events(url: str) -> list[dict]:
    """Events of faces in the left half of the frame: where the video shows Ann."""
    return [e for e in call("GET", f"{url}/api/events?count=200")[1] if e["box"][0] + e["box"][2] / 2 < SIZE[0] / 2]
