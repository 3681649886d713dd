"""The console's part of the browser check (run by scripts/browser-check.sh).

A person at headless Chromium: signs in at /admin/login, sees the dashboard
with its charts, holds, releases and approves the next issue, watches a send's progress
move on the dashboard (server-sent events), looks a reader up; screenshots at
desktop (1280 px) and phone (390 px) widths; axe-core run in each page, and
any serious or critical violation fails the check.

    python3 scripts/console_check.py BASE OUT PROFILE AXE_JS NAME PASSWORD SEND_CMD...

Chromium is driven over the DevTools protocol on a pipe with Python's
standard library only.
"""
import base64, json, os, subprocess, sys, time

base, out, profile, axe_js, name, password = sys.argv[1:7]
send_cmd = sys.argv[7:]


class Chrome:
    """Chromium on a pipe: commands on fd 3, replies on fd 4, NUL-separated."""

    def __init__(self):
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        self.proc = subprocess.Popen(
            ["sh", "-c", 'i=$1; o=$2; shift 2; exec "$@" 3<&"$i" 4>&"$o"', "sh", str(cmd_r), str(res_w),
             "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
            pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self.buf, self.seq, self.pending = b"", 0, []

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise SystemExit("error: chromium did not answer in time")
            chunk = os.read(self.res_r, 1 << 16)
            if not chunk:
                raise SystemExit("error: chromium exited")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, session=None, timeout=30, **params):
        self.seq += 1
        msg = {"id": self.seq, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.seq:
                if "error" in m:
                    raise SystemExit(f"error: {method}: {m['error']}")
                return m.get("result", {})
            self.pending.append(m)

    def await_event(self, name, session, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.pending):
                if e.get("method") == name and e.get("sessionId") == session:
                    return self.pending.pop(i)
            self.pending.append(self._read(deadline))

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Page:
    def __init__(self, chrome, width):
        self.c = chrome
        target = chrome.send("Target.createTarget", url="about:blank")["targetId"]
        self.s = chrome.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        chrome.send("Page.enable", self.s)
        self.resize(width)

    def resize(self, width):
        self.width = width
        self.c.send("Emulation.setDeviceMetricsOverride", self.s, width=width, height=900,
                    deviceScaleFactor=1, mobile=width < 600)

    def eval(self, expr, wait=False):
        r = self.c.send("Runtime.evaluate", self.s, expression=expr, returnByValue=True,
                        awaitPromise=wait, timeout=60)
        if "exceptionDetails" in r:
            raise SystemExit(f"error: in the page: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url):
        self.c.pending.clear()
        self.c.send("Page.navigate", self.s, url=url)
        self.c.await_event("Page.loadEventFired", self.s)

    def text(self):
        return self.eval("document.body.innerText")

    def click(self, selector):
        """A real mouse click in the middle of the element, then the next page."""
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                        " if (!e) return null; e.scrollIntoView({block: 'center'});"
                        " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        assert box, f"nothing matches {selector} on {self.eval('location.href')}"
        self.c.pending.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.c.send("Input.dispatchMouseEvent", self.s, type=kind, x=box[0], y=box[1],
                        button="left", clickCount=1)
        self.c.await_event("Page.loadEventFired", self.s)

    def type_into(self, selector, value):
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.c.send("Input.insertText", self.s, text=value)

    def shot(self, name):
        size = self.c.send("Page.getLayoutMetrics", self.s)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.c.send("Page.captureScreenshot", self.s, format="png", clip=clip,
                           captureBeyondViewport=True)["data"]
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print(f"screenshot: {path}")

    def axe(self, what):
        """axe-core in the page; serious or critical violations fail the check."""
        with open(axe_js) as f:
            self.eval(f.read())
        result = self.eval("axe.run(document, {resultTypes: ['violations']})"
                           ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
                           " help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))",
                           wait=True)
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        for v in result:
            print(f"axe {what} @{self.width}px: {v['impact']}: {v['id']} ({v['help']}) at {v['nodes']}")
        if bad:
            raise SystemExit(f"error: axe-core found {len(bad)} serious or critical violation(s) on {what}")
        print(f"axe {what} @{self.width}px: no serious or critical violation")


chrome = Chrome()
sender = None
try:
    p = Page(chrome, 1280)
    # Without a session the console sends the browser to the sign-in page.
    p.goto(base + "/admin")
    assert p.eval("location.pathname") == "/admin/login", p.eval("location.href")
    p.shot("console-login-1280.png")
    p.axe("sign-in")
    p.type_into("#name", name)
    p.type_into("#password", password)
    p.click("form button[type=submit]")
    text = p.text()
    assert "Dashboard" in text and f"{name} (publisher)" in text, text[:800]
    charts = p.eval("document.querySelectorAll('figure svg').length")
    assert charts == 2, f"{charts} charts on the dashboard"
    assert "Gmail complaint line 0.3%" in p.eval("document.body.innerHTML")
    assert "Feed http://127.0.0.1:9/careers/feed.xml failed at" in text, text[:2000]
    p.shot("console-dashboard-1280.png")
    p.axe("dashboard")

    # Hold the next issue with a reason, then release it.
    p.type_into("#reason", "checking a link")
    p.click("form[action$='/hold'] button")
    text = p.text()
    assert "on hold" in text and "checking a link" in text, text[:800]
    p.shot("console-held-1280.png")
    p.click("form[action$='/release'] button")
    assert "on hold" not in p.text()
    print("hold and release: done")
    # Approve: the dashboard then says who approved it.
    p.click("form[action$='/approve'] button")
    text = p.text()
    assert f"approved by {name}" in text, text[:800]
    p.shot("console-approved-1280.png")
    print("approve: done")

    # A send starts: the dashboard's progress moves without a reload.
    log = open(os.path.join(out, "console-send.log"), "w")
    sender = subprocess.Popen(send_cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while "Nothing is being sent" in p.text():
        assert time.time() < deadline, "the send never showed on the dashboard"
        time.sleep(0.3)
        p.goto(base + "/admin")
    first = int(p.eval("document.getElementById('live-bar').value"))
    p.shot("console-sending-1280.png")
    moved = None
    deadline = time.time() + 30
    while time.time() < deadline:
        time.sleep(1)
        now = int(p.eval("document.getElementById('live-bar').value"))
        if now > first:
            moved = (first, now, p.eval("document.getElementById('live-rate').textContent"))
            break
    assert moved, "the progress did not move"
    print(f"progress moved live: {moved[0]} -> {moved[1]} done at {moved[2]}")
    p.shot("console-progress-1280.png")
    sender.wait(timeout=120)
    sender = None

    # A reader looked up.
    p.goto(base + "/admin/readers")
    p.type_into("#email", "reader007@example.com")
    p.click("form[role=search] button")
    text = p.text()
    assert "Reader 7" in text and "Issues (1)" in text, text[:800]
    p.shot("console-reader-1280.png")
    p.axe("reader")
    for path, label in (("/admin/content", "content"), ("/admin/audit", "audit")):
        p.goto(base + path)
        p.shot(f"console-{label}-1280.png")
        p.axe(label)
    audit = p.text()
    for action in ("sign-in", "hold", "release"):
        assert f"{name}\t{action}" in audit, audit[:1200]

    # The phone: the same pages at 390 px.
    p.resize(390)
    for path, label in (("/admin", "dashboard"), ("/admin/readers?email=reader007%40example.com", "reader")):
        p.goto(base + path)
        wide = p.eval("document.documentElement.scrollWidth")
        assert wide <= 390 + 1, f"{label} is {wide} px wide at 390 px"
        p.shot(f"console-{label}-390.png")
        p.axe(label)
    print("console check passed")
finally:
    if sender:
        sender.kill()
    chrome.close()
