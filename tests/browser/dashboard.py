"""The dashboard in a real browser: headless Chromium driven through chromedriver (Selenium)
against a `connect-worker standalone` process. Creates a connector through the form generated
from the plugin's JSON Schema (a validation error shown beside its field first), sees it
RUNNING with a rising rate, pauses it, sees PAUSED, deletes it; saves screenshots of the main
pages. Run by .ci/browser (which installs Chromium and Selenium):

    python3 tests/browser/dashboard.py --worker target/debug/connect-worker --screenshots DIR
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker(binary, data_dir):
    port = free_port()
    log = open(os.path.join(data_dir, "worker.log"), "w")
    process = subprocess.Popen(
        [binary, "standalone", "--rest-addr", f"127.0.0.1:{port}", "--data-dir", os.path.join(data_dir, "data"),
         "--embedded-namesrv-port", "0", "--embedded-broker-port", "0"],
        stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/connectors", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            raise SystemExit("the worker did not start:\n" + open(os.path.join(data_dir, "worker.log")).read())
        time.sleep(0.3)


def postgres_reachable():
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        return True
    except OSError:
        return False


def rest(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def browser():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    data_dir = tempfile.mkdtemp(prefix="connect-browser-")
    worker, url = start_worker(args.worker, data_dir)
    driver = browser()
    wait = WebDriverWait(driver, 60)
    shot = lambda name: driver.save_screenshot(os.path.join(args.screenshots, name + ".png"))
    try:
        # The form is generated from datagen-source's JSON Schema.
        driver.get(url + "/ui/#/new")
        Select(wait.until(EC.presence_of_element_located((By.ID, "connector-class")))).select_by_value("datagen-source")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-key="records.per.second"] input')))
        help_text = driver.find_element(By.CSS_SELECTOR, '[data-key="records.per.second"] .help').text
        assert "Records per second per task" in help_text, help_text
        assert "default: 0" == driver.find_element(By.CSS_SELECTOR, '[data-key="records.per.second"] input').get_attribute("placeholder")
        # The keys are the schema's own (no guessed names), the worker's shown are tasks.max only
        # (a source), aliases and converters are not fields, and an enum is a choice.
        keys = [e.get_attribute("data-key") for e in driver.find_elements(By.CSS_SELECTOR, "#plugin-fields [data-key]")]
        assert keys[0] == "tasks.max" and "schema.string" in keys and "batch.size" in keys, keys
        assert not {"max.tasks", "value.converter", "errors.tolerance", "topics", "name"} & set(keys), keys
        choices = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, '[data-key="quickstart"] option')]
        assert choices == ["", "users", "orders", "pageviews", "stock_trades", "purchases"], choices
        driver.find_element(By.ID, "connector-name").send_keys("gen")
        # A bad value is refused beside its field as it is typed.
        rate = driver.find_element(By.CSS_SELECTOR, '[data-key="records.per.second"] input')
        rate.send_keys("fast")
        error = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-error-for="records.per.second"]').text or False)
        assert error, "no error shown"
        assert "invalid" in driver.find_element(By.CSS_SELECTOR, '[data-key="records.per.second"]').get_attribute("class")
        shot("form-with-error")
        # A create with errors is held back, the required key's error shown too.
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-error-for="topic"]').text or False)
        assert "#/new" in driver.current_url
        rate.clear()
        rate.send_keys("200")
        driver.find_element(By.CSS_SELECTOR, '[data-key="topic"] input').send_keys("browser-gen")
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-error-for="records.per.second"]').text == "")
        driver.find_element(By.ID, "submit").click()

        # Its page: RUNNING.
        wait.until(EC.url_contains("#/connectors/gen"))
        wait.until(EC.text_to_be_present_in_element((By.ID, "connector-state"), "RUNNING"))
        shot("connector")
        # The list: RUNNING with a rate that rises above zero.
        driver.get(url + "/ui/#/")
        row = '[data-connector="gen"]'
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, row + " .state"), "RUNNING"))
        def rate_above_zero(d):
            text = d.find_element(By.CSS_SELECTOR, row + " .rate").text
            return text not in ("-", "") and float(text.rstrip("/s")) > 0
        wait.until(rate_above_zero)
        time.sleep(12)  # a few refreshes for the sparkline
        shot("connectors")

        # A change-data-capture source shows how far behind its database it is (the lag column).
        if postgres_reachable():
            rest(url, "PUT", "/connectors/pg-fresh/config", {
                "connector.class": "postgres-cdc-source", "connection.url": "postgres://postgres@127.0.0.1:5432/test",
                "topic.prefix": "browser", "table.include.list": "public\\.browser_none", "slot.name": "browser_fresh",
                "publication.name": "browser_fresh", "publication.autocreate.mode": "filtered", "slot.drop.on.stop": "true"})
            fresh = '[data-connector="pg-fresh"] .lag'
            wait.until(lambda d: " s · " in d.find_element(By.CSS_SELECTOR, fresh).text)  # "0.0 s · 1.2 KiB"
            shot("connectors-freshness")
            rest(url, "DELETE", "/connectors/pg-fresh")
        elif os.environ.get("CI") == "true":
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432 (run .ci/services)")
        else:
            print("dashboard: PostgreSQL not reachable; the CDC freshness step is skipped")

        # Pause it and see PAUSED.
        driver.find_element(By.CSS_SELECTOR, row + " a").click()
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-action="pause"]'))).click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "connector-state"), "PAUSED"))
        shot("connector-paused")

        # The other pages.
        driver.get(url + "/ui/#/cluster")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#members tr[data-worker]")))
        assert "gen/0" in driver.find_element(By.ID, "members").text
        shot("cluster")
        driver.get(url + "/ui/#/plugins/datagen-source")
        wait.until(EC.text_to_be_present_in_element((By.ID, "keys"), "records.per.second"))
        shot("plugin")

        # Delete it (the button asks once more).
        driver.get(url + "/ui/#/connectors/gen")
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-action="delete"]'))).click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-action="delete"]'), "Really delete?"))
        driver.find_element(By.CSS_SELECTOR, '[data-action="delete"]').click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "view"), "No connectors yet."))
        with urllib.request.urlopen(url + "/connectors") as answer:
            assert json.load(answer) == [], "the connector is gone"
        # Nothing the page loaded came from elsewhere.
        for entry in driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"):
            assert entry.startswith(url), entry
        print("dashboard: every step passed; screenshots in", args.screenshots)
    except Exception:
        shot("failure")
        try:
            shown = driver.execute_script(
                "return [...document.querySelectorAll('.error')].filter(e => e.textContent).map(e => (e.dataset.errorFor || e.id) + ': ' + e.textContent)")
            print("errors on the page:", shown, file=sys.stderr)
        except Exception:
            pass
        print(open(os.path.join(data_dir, "worker.log")).read()[-4000:], file=sys.stderr)
        raise
    finally:
        driver.quit()
        worker.terminate()
        worker.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
