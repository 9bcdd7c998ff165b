"""A real browser runs the study: headless Chromium (Debian's chromium and
chromium-driver) driven through WebDriver (selenium) completes 20 trials,
half by clicking, half by keys, and the database must then hold exactly
those 20 judgements with the right fields. Screenshots of the intro, a trial,
the end page and the HTML report go to OUTDIR.
Usage: browser.py LAPGAN TMPDIR MODEL_DIR CC_MODEL_DIR OUTDIR"""
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import Server  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

binary, tmp, tiny, cc, shots = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)
TRIALS = 20
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    fails += not ok


def chrome():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,760",
              "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-default-apps",
              "--disable-domain-reliability", "--no-pings", "--disable-extensions",
              "--disable-client-side-phishing-detection", "--metrics-recording-only",
              "--disable-features=OptimizationHints,Translate,MediaRouter",
              # Nothing but the loopback study server can be reached.
              "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
              "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


db = os.path.join(tmp, "browser.db")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
srv = Server(binary, db, [("lapgan", tiny), ("cc", cc)], os.path.join(tmp, "browser.log"),
             ["--trials", str(TRIALS), "--pool", "2", "--exposure", "200,unlimited",
              "--fixation", "100"])
drv = chrome()
given = {}
try:
    url = f"http://127.0.0.1:{srv.port}/"
    drv.get(url)
    wait = WebDriverWait(drv, 30)
    start = wait.until(EC.element_to_be_clickable((By.ID, "start")))
    drv.save_screenshot(os.path.join(shots, "study-intro.png"))
    start.click()
    shot_taken = False
    for i in range(TRIALS):
        wait.until(EC.element_to_be_clickable((By.ID, "btn-real")))
        num = int(re.search(r"Image (\d+) of (\d+)",
                            drv.find_element(By.ID, "progress").text).group(1))
        img = drv.find_element(By.ID, "stimulus")
        if not shot_taken and img.value_of_css_property("visibility") == "visible":
            drv.save_screenshot(os.path.join(shots, "study-trial.png"))
            shot_taken = True
            size = drv.execute_script("return [arguments[0].naturalWidth, arguments[0].width]",
                                      img)
            check("image_enlarged_224px", size == [224, 224], size)
        real = i % 3 != 0
        if i % 2 == 0:  # click
            drv.find_element(By.ID, "btn-real" if real else "btn-gen").click()
        else:           # key: R / G, or the arrows
            key = ("r" if real else "g") if i % 4 == 1 else ("\ue012" if real else "\ue014")
            drv.find_element(By.TAG_NAME, "body").send_keys(key)
        given[num] = "real" if real else "generated"
        # The buttons go off until the next image is up.
        wait.until(lambda d: not d.find_element(By.ID, "btn-real").is_enabled()
                   or d.find_element(By.ID, "done").is_displayed())
    wait.until(EC.visibility_of_element_located((By.ID, "done")))
    drv.save_screenshot(os.path.join(shots, "study-done.png"))
    check("trial_screenshot", shot_taken, "the image was never visible at a check")
    check("done_page", f"All {TRIALS} answers" in drv.find_element(By.ID, "done").text,
          drv.find_element(By.ID, "done").text)
    logs = [e["message"] for e in drv.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    check("no_console_errors", not logs, logs)
    # A reload after the end does not start over.
    drv.get(url)
    time.sleep(1.0)
    check("reload_after_end_stays_done", drv.find_element(By.ID, "done").is_displayed())
    cookie = drv.get_cookie("lgs")
    check("cookie_httponly_samesite", cookie and cookie.get("httpOnly") and
          cookie.get("sameSite") == "Strict", cookie)
finally:
    rc = srv.stop()
check("clean_shutdown", rc == 0, rc)

con = sqlite3.connect(db)
rows = con.execute("SELECT trial, image_id, image_ref, source, class, exposure_ms, answer,"
                   " rt_ms, server_ms, ts_utc, session_id FROM judgements ORDER BY trial").fetchall()
con.close()
check("exactly_20_rows", len(rows) == TRIALS, len(rows))
check("one_session", len({r[10] for r in rows}) == 1, {r[10] for r in rows})
check("trials_1_to_20", [r[0] for r in rows] == list(range(1, TRIALS + 1)), [r[0] for r in rows])
check("answers_as_given", {r[0]: r[6] for r in rows} == given, ({r[0]: r[6] for r in rows}, given))
check("image_ids_opaque", all(re.fullmatch(r"[0-9a-f]{32}", r[1]) for r in rows))
check("sources_known", {r[3] for r in rows} <= {"real", "lapgan", "cc"} and
      len({r[3] for r in rows}) == 3, {r[3] for r in rows})
check("classes", all((r[4] is None) == (r[3] == "lapgan") and
                     (r[4] is None or 0 <= r[4] < 10) for r in rows),
      [(r[3], r[4]) for r in rows])
check("exposures", {r[5] for r in rows} == {200, 0}, {r[5] for r in rows})
check("response_times", all(0 < r[7] < 60000 and 0 < r[8] < 120000 for r in rows),
      [(r[7], r[8]) for r in rows])
check("timestamps_utc", all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r[9])
                            for r in rows), rows[0][9])

# The report, rendered by the same browser.
html = os.path.join(shots, "study-report.html")
if os.path.exists(html):
    os.remove(html)
r = subprocess.run([binary, "study", "report", "--db", db, "--html", html],
                   capture_output=True, text=True)
check("report_runs", r.returncode == 0 and "per source" in r.stdout, r.stderr)
drv.get("file://" + html)
drv.set_window_size(900, 1400)
drv.save_screenshot(os.path.join(shots, "study-report.png"))
text = drv.find_element(By.TAG_NAME, "body").text
check("report_page", "Human study" in text and "Wilson" in text and "real" in text, text[:200])
drv.quit()
sys.exit(1 if fails else 0)
