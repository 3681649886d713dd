#!/usr/bin/env bash
# A person's check of `tipsheet serve` in a real browser (headless Chromium):
# open an issue's unsubscribe link, click the button, check that the address
# is suppressed; follow "Manage your data" to /privacy, ask for a link, open
# the mailed link from the outbox, see its two buttons, download the data and
# delete it (once); screenshot the pages and `/preview` to PNG files; then the
# issue email as sent at 600 and 380 px (salaries side by side, then stacked);
# then the console (scripts/console_check.py: sign-in, dashboard and charts,
# hold, release and approve, a send's live progress, a reader, axe-core).
#
#   scripts/browser-check.sh [OUT_DIR]     (default: target/browser-check)
#
# Installs Debian's `chromium` if it is missing (needs root and apt). Drives it
# over the DevTools protocol on a pipe (--remote-debugging-pipe) with Python's
# standard library only: no websocket client, no npm. The last step of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=${1:-$repo/target/browser-check}
mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$(date +%s)

if ! command -v chromium >/dev/null; then
    echo "installing chromium (apt-get)…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 2; }

# The binary `cargo test` already built (same profile, same features): a plain
# `cargo build` would compile every dependency again without the dev-dependency
# feature set, doubling `target/`.
cargo test --locked --quiet --no-run
bin=${CARGO_TARGET_DIR:-$repo/target}/debug/tipsheet

site=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$site"
}
trap cleanup EXIT

# A throwaway site: the shipped config and content, a small list.
cp config.toml "$site/"
cp -r content "$site/"
mkdir -p "$site/subscribers"
cat >"$site/subscribers/subscribers.csv" <<'CSV'
email,name,subscribed_at
ana@example.com,Ana Lima,2026-09-14T10:22:00Z
bob@example.com,Bob,2026-09-15
CSV
printf 'email,reason,at\n' >"$site/subscribers/suppressed.csv"
export TIPSHEET_SECRET=browser-check-secret-at-least-32-bytes
export TIPSHEET_CONFIG=$site/config.toml
now=2026-11-26T12:00:00Z

# Send issue #1 to the outbox, to take a real unsubscribe link from it.
"$bin" --now "$now" send >/dev/null 2>&1
# Also keep its HTML part as sent, to look at the email itself.
link=$(python3 - "$site/state/outbox" "$site/email.html" <<'PY'
import email, email.policy, email.utils, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.eml")):
    m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
    if email.utils.parseaddr(m["To"])[1].lower() == "ana@example.com":
        v = " ".join(m["List-Unsubscribe"].split())
        print(v[1 : v.index(">")])
        pathlib.Path(sys.argv[2]).write_text(m.get_body(("html",)).get_content())
        break
PY
)
[ -n "$link" ] || { echo "error: no unsubscribe link in the outbox" >&2; exit 1; }

# A feed that is down (nothing listens on the discard port): `fetch` fails,
# and the console's dashboard warns about it.
printf '\n[[content.feeds]]\nurl = "http://127.0.0.1:9/careers/feed.xml"\n' >>"$site/config.toml"
if "$bin" --now "$now" fetch >/dev/null 2>&1; then
    echo "error: fetch of a feed that is down succeeded" >&2
    exit 1
fi
fifo=$site/stdout
mkfifo "$fifo"
TIPSHEET_ADMIN_TOKEN=browser-check-admin "$bin" --now "$now" serve --listen 127.0.0.1:0 >"$fifo" 2>"$site/serve.log" &
server_pid=$!
exec 3<"$fifo"
read -r first <&3
base=${first#listening on }
case $base in http://*) ;; *) echo "error: serve said: $first" >&2; cat "$site/serve.log" >&2; exit 1 ;; esac
url=${link/https:\/\/news.example.com/$base}
echo "serve: $base"

python3 - "$url" "$base" "$out" "$site/chrome" "$site/email.html" "$site/state/outbox/confirmations" <<'PY'
import base64, email, email.policy, json, os, pathlib, subprocess, sys, time

url, base, out, profile, email_html, mailed = sys.argv[1:7]

# Chromium reads commands from fd 3 and writes replies to fd 4, NUL-separated.
cmd_r, cmd_w = os.pipe()
res_r, res_w = os.pipe()
# The shell moves the pipe ends to fds 3 and 4, then becomes chromium.
chrome = subprocess.Popen(
    ["sh", "-c", 'i=$1; o=$2; shift 2; exec "$@" 3<&"$i" 4>&"$o"', "sh", str(cmd_r), str(res_w),
     "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--user-data-dir=" + profile, "--remote-debugging-pipe", "--window-size=800,1000",
     "about:blank"],
    pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(cmd_r)
os.close(res_w)
buf = b""
next_id = 0
events = []

def read_message(deadline):
    global buf
    while b"\0" not in buf:
        if time.time() > deadline:
            raise SystemExit("error: chromium did not answer in time")
        chunk = os.read(res_r, 65536)
        if not chunk:
            raise SystemExit("error: chromium exited")
        buf += chunk
    raw, buf = buf.split(b"\0", 1)
    return json.loads(raw)

def call(method, session=None, timeout=30, **params):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params}
    if session:
        msg["sessionId"] = session
    os.write(cmd_w, json.dumps(msg).encode() + b"\0")
    deadline = time.time() + timeout
    while True:
        m = read_message(deadline)
        if m.get("id") == next_id:
            if "error" in m:
                raise SystemExit(f"error: {method}: {m['error']}")
            return m.get("result", {})
        events.append(m)

def wait_event(name, session, timeout=30):
    deadline = time.time() + timeout
    while True:
        for i, e in enumerate(events):
            if e.get("method") == name and e.get("sessionId") == session:
                return events.pop(i)
        events.append(read_message(deadline))

def evaluate(session, expr):
    return call("Runtime.evaluate", session, expression=expr, returnByValue=True)["result"].get("value")

def shot(session, name):
    size = call("Page.getLayoutMetrics", session)["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    data = call("Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True)["data"]
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))
    print(f"screenshot: {path}")

def goto(session, target):
    events.clear()
    call("Page.navigate", session, url=target)
    wait_event("Page.loadEventFired", session)

def click(session, selector, index=0, load=True):
    """A real mouse click in the middle of the index-th element matching selector."""
    box = evaluate(session, f"(() => {{ const r = document.querySelectorAll({json.dumps(selector)})[{index}]"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    events.clear()
    for kind in ("mousePressed", "mouseReleased"):
        call("Input.dispatchMouseEvent", session, type=kind, x=box[0], y=box[1], button="left", clickCount=1)
    if load:
        wait_event("Page.loadEventFired", session)

def privacy_link(to, timeout=10):
    """The privacy link mailed to `to`, from the outbox, pointed at this server."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in sorted(pathlib.Path(mailed).glob("*.eml")):
            m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            text = m.get_body(("plain",)).get_content()
            if email.utils.parseaddr(m["To"])[1].lower() == to and "/privacy/link?" in text:
                at = text.index("https://news.example.com/privacy/link?")
                return text[at:].split()[0].replace("https://news.example.com", base, 1)
        time.sleep(0.1)
    raise SystemExit(f"error: no privacy link for {to} in {mailed}")

try:
    target = call("Target.createTarget", url="about:blank")["targetId"]
    s = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    call("Page.enable", s)
    call("Emulation.setDeviceMetricsOverride", s, width=800, height=1000, deviceScaleFactor=1, mobile=False)

    # The unsubscribe link: a page with a button, and nothing unsubscribed yet.
    goto(s, url)
    text = evaluate(s, "document.body.innerText")
    assert "Unsubscribe from" in text, text
    shot(s, "unsubscribe.png")
    click(s, "form button")
    text = evaluate(s, "document.body.innerText")
    assert "You are unsubscribed" in text, text
    assert "Download my data" not in text, text  # the unsubscribe token opens no data
    shot(s, "unsubscribed.png")

    # "Manage your data": ask for a link, as bob, by typing into the form.
    click(s, "a[href='privacy']")
    text = evaluate(s, "document.body.innerText")
    assert "Email me a link" in text, text
    shot(s, "privacy.png")
    evaluate(s, "document.querySelector('#email').focus()")
    call("Input.insertText", s, text="bob@example.com")
    click(s, "form button")
    text = evaluate(s, "document.body.innerText")
    assert "Check your inbox" in text, text
    shot(s, "privacy-sent.png")
    # The mailed link: two buttons, and opening it changes nothing.
    link = privacy_link("bob@example.com")
    goto(s, link)
    text = evaluate(s, "document.body.innerText")
    assert "Download my data" in text and "Delete my data" in text, text
    shot(s, "privacy-link.png")
    # Download: a JSON file, the link still there to use.
    call("Browser.setDownloadBehavior", behavior="allow", downloadPath=out, eventsEnabled=True)
    click(s, "form button", 0, load=False)
    deadline = time.time() + 30
    while True:
        e = wait_event("Browser.downloadProgress", None)
        if e["params"]["state"] == "completed":
            break
        assert e["params"]["state"] != "canceled", e
        assert time.time() < deadline, "download did not complete"
    data = json.loads(pathlib.Path(out, "my-data.json").read_text())
    assert data["email"] == "bob@example.com" and data["list"], data
    print(f"download: {os.path.join(out, 'my-data.json')}")
    # Delete: erased, and the link works once.
    goto(s, link)
    click(s, "form button", 1)
    text = evaluate(s, "document.body.innerText")
    assert "Your data is deleted" in text, text
    shot(s, "privacy-deleted.png")
    goto(s, link)
    text = evaluate(s, "document.body.innerText")
    assert "This link was already used" in text, text
    shot(s, "privacy-used.png")

    # The admin page needs the admin token, from loopback too.
    call("Network.enable", s)
    call("Network.setExtraHTTPHeaders", s, headers={"Authorization": "Bearer browser-check-admin"})
    goto(s, base + "/preview")
    call("Network.setExtraHTTPHeaders", s, headers={})
    text = evaluate(s, "document.body.innerText")
    assert "PREVIEW" in text.upper() and "Career Tips #2" in text, text[:500]
    shot(s, "preview.png")
    goto(s, base + "/subscribe")
    shot(s, "subscribe.png")
    goto(s, base + "/issues/")
    shot(s, "archive.png")
    goto(s, base + "/issues/1")
    text = evaluate(s, "document.body.innerText")
    assert "Hi there," in text and "ana@example.com" not in text, text[:500]
    shot(s, "issue-1.png")

    # The email as sent: both roles' salaries side by side at 600 px, stacked
    # (the second under the first) at 380 px, after CSS inlining.
    cells = ("[...document.querySelectorAll('td.salary')].slice(0, 2).map(td => {"
             " const r = td.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    for width, side_by_side in ((600, True), (380, False)):
        call("Emulation.setDeviceMetricsOverride", s, width=width, height=1000,
             deviceScaleFactor=1, mobile=False)
        goto(s, "file://" + email_html)
        a, b = evaluate(s, cells)
        if side_by_side:
            assert abs(a[1] - b[1]) < 1 and b[0] >= a[2] - 1, f"{width} px: not side by side: {a} {b}"
        else:
            assert b[1] >= a[3] - 1 and abs(a[0] - b[0]) < 1, f"{width} px: not stacked: {a} {b}"
        print(f"email at {width} px: salaries {'side by side' if side_by_side else 'stacked'}")
        shot(s, f"email-{width}.png")

    try:
        call("Browser.close", timeout=5)
    except SystemExit:
        pass
    chrome.wait(timeout=10)
finally:
    if chrome.poll() is None:
        chrome.kill()
        chrome.wait()
PY

# The console (/admin): a publisher, and a list long enough, sent slowly
# enough, to watch a send's progress move. axe-core (the npm package) is
# installed once into a cache folder outside the repository.
axe_dir=${XDG_CACHE_HOME:-$HOME/.cache}/tipsheet-axe
axe_js=$axe_dir/node_modules/axe-core/axe.min.js
if [ ! -f "$axe_js" ]; then
    command -v npm >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    }
    npm install --silent --no-audit --no-fund --prefix "$axe_dir" axe-core@4
fi
console_password="a console password for the browser check"
echo "$console_password" | "$bin" admin add pat --role publisher --password-stdin >/dev/null
python3 - "$site/subscribers/subscribers.csv" <<'PY'
import sys
with open(sys.argv[1], "a") as f:
    for i in range(400):
        f.write(f"reader{i:03}@example.com,Reader {i},2026-10-01\n")
PY
sed -i 's/^rate_per_second = 0/rate_per_second = 40/' "$site/config.toml"
python3 scripts/console_check.py "$base" "$out" "$site/chrome-console" "$axe_js" \
    pat "$console_password" "$bin" --now 2026-12-15T14:01:00Z send

if grep -q '^ana@example.com,unsubscribed,' "$site/subscribers/suppressed.csv"; then
    echo "suppressed: ana@example.com"
    if grep -qi 'bob@example.com' "$site/subscribers/subscribers.csv"; then
        echo "error: bob@example.com is still on the list after \"Delete my data\"" >&2
        exit 1
    fi
    echo "erased: bob@example.com"
else
    echo "error: ana@example.com is not in suppressed.csv:" >&2
    cat "$site/subscribers/suppressed.csv" >&2
    exit 1
fi
echo "browser check passed in $(($(date +%s) - started))s; screenshots in $out"
